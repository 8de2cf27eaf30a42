// Internal: a TrainingState as bytes, for the C API's checkpoints (steepest.h).  A
// versioned binary format of this library: the magic "STPSTATE", a 32-bit version, then
// every field in a fixed order (integers and reals as 8 bytes in the machine's byte order,
// vectors and strings as an 8-byte count and their elements).  Not the CLI's JSON
// checkpoint (host/cli/checkpoint_file.cpp), which stays readable by people.
#pragma once

#include <cstddef>
#include <string>

#include "steepest/state.hpp"

namespace steepest::detail {

std::string state_to_bytes(const TrainingState& s);
/// Throws InvalidArgument naming what is wrong: not this format, another version, cut
/// short, trailing bytes, or a state validate_state refuses.
TrainingState state_from_bytes(const void* bytes, std::size_t size);

}  // namespace steepest::detail
