// libsteepest.so is the static library's objects, linked whole (CMakeLists.txt); CMake
// wants at least one source of the shared target's own, and this is it.
