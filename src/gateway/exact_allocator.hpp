// An allocator for the handler of a long-pending operation (an idle connection's wait
// for readability). Asio's default allocator recycles per-thread blocks and hands out
// any cached block that is large enough, so a small operation pending for hours can
// pin a block sized for some earlier, larger one (up to 1 KiB). This one allocates
// exactly what is asked, with plain new/delete. Use: boost::asio::bind_allocator.
#pragma once

#include <cstddef>
#include <new>

namespace streamer {

template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace streamer
