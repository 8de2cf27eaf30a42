// Internal: IndexVector, a std::vector of row indices whose resize() leaves the new entries
// uninitialised.  A row order of 4e7 rows is 320 MB: value-initialising it is a memset on
// one thread that faults in every page (on the 2-core VM the kernel's page clearing alone
// took ~0.35 s per such array), after which the order is written again anyway.  With this
// allocator the first write, on every thread, is also the first touch.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace steepest::detail {

/// std::allocator, but construct() with no arguments default-initialises (for an
/// int64_t: leaves it as it is) instead of value-initialising.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() noexcept = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::allocator_traits<std::allocator<T>>::construct(static_cast<std::allocator<T>&>(*this), p,
                                                         std::forward<Args>(args)...);
  }
};

/// Row indices or positions; resize() leaves new entries for the caller to write.
using IndexVector = std::vector<std::int64_t, DefaultInitAllocator<std::int64_t>>;
/// Words of a message between processes (train/shuffle_across.cpp), the same way.
using WordVector = std::vector<std::uint64_t, DefaultInitAllocator<std::uint64_t>>;

}  // namespace steepest::detail
