// once.cpp — goro::Once (Go's sync.Once): the slow path of call(), one state word and
// a Sema for the callers that arrive while f runs.
//
// Go's Once takes a Mutex around f; here the callers that must wait count themselves
// in the state word and park on a Sema, so a dump shows them as [sync.Once] and the
// runner wakes them all in one release_many.
//
// Invariants:
//  O1. state_: bit 0 done, bit 1 running (a caller won the right to run f), bits 2..
//      waiters. Done is set once, never cleared; running is set once, by the winner.
//  O2. Waiters are counted only while running is set and done is not. The winner sets
//      done and clears the count in one exchange, and releases exactly that many
//      counts on sema_: each counted waiter takes one, no count is left over.
//  O3. After that exchange the winner touches only sema_'s table (Sema, Q3): a
//      waiter, or a caller on the fast path, may destroy the Once at once.
#include "goro/sync.h"

namespace goro {
namespace {
constexpr std::uint32_t kRunning = 2;
constexpr std::uint32_t kWaiter = 4;  // one waiter, in bits 2..
}  // namespace

void Once::call_slow(void (*run)(void*), void* f) {
  std::uint32_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (s & kDone) return;  // acquire (load or failed CAS): f's effects are visible
    if ((s & kRunning) == 0) {
      if (state_.compare_exchange_weak(s, s | kRunning, std::memory_order_acquire,
                                       std::memory_order_acquire))
        break;  // we run f
      continue;
    }
    if (state_.compare_exchange_weak(s, s + kWaiter, std::memory_order_acquire,
                                     std::memory_order_acquire)) {
      // O2: the winner releases one count for us after f; Sema orders f before this.
      sema_.acquire(detail::WaitReason::sync_once);
      return;
    }
  }
  // Mark done (release: pairs with the fast path's acquire load) and wake the
  // waiters, whether f returned or threw (Go: a panicking f counts as done).
  auto finish = [this] {
    std::uint32_t old = state_.exchange(kDone, std::memory_order_acq_rel);
    std::uint32_t waiters = old / kWaiter;
    if (waiters != 0) sema_.release_many(waiters);  // O3: *this may be gone after this
  };
  try {
    run(f);
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

}  // namespace goro
