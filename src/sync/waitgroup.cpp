// waitgroup.cpp — goro::WaitGroup, Go's sync.WaitGroup: a 32-bit counter and a 32-bit
// waiter count in one atomic word, waiters parked on a Sema.
//
// Invariant: when the counter reaches zero with waiters, the goroutine that brought
// it there owns the word: it resets it to 0 and releases exactly that many waiters.
// An add() racing with that is misuse (Go panics; so do we).
#include <stdexcept>

#include "goro/sync.h"
#include "sched/platform.h"

namespace goro {

void WaitGroup::add(std::int64_t delta) {
  std::uint64_t d = static_cast<std::uint64_t>(delta) << 32;
  std::uint64_t s = state_.fetch_add(d, std::memory_order_acq_rel) + d;
  auto v = static_cast<std::int32_t>(s >> 32);
  auto w = static_cast<std::uint32_t>(s);
  if (v < 0) {
    state_.fetch_sub(d, std::memory_order_relaxed);  // leave the group as it was
    throw std::logic_error("sync: negative WaitGroup counter");
  }
  if (w != 0 && delta > 0 && v == static_cast<std::int32_t>(delta))
    throw std::logic_error("sync: WaitGroup misuse: add called concurrently with wait");
  if (v > 0 || w == 0) return;
  if (state_.load(std::memory_order_relaxed) != s)
    throw std::logic_error("sync: WaitGroup misuse: add called concurrently with wait");
  state_.store(0, std::memory_order_relaxed);
  sema_.release_many(w);
}

void WaitGroup::wait() {
  std::uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((s >> 32) == 0) return;
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      sema_.acquire(detail::WaitReason::sync_waitgroup);
      if (state_.load(std::memory_order_acquire) != 0)
        throw std::logic_error("sync: WaitGroup is reused before previous wait has returned");
      return;
    }
  }
}

}  // namespace goro
