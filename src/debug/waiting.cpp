// waiting.cpp — detail::testing::goroutines_waiting: how many goroutines are parked
// for a given reason, for tests that must know a waiter has parked (and that a
// wake-up released exactly the ones it should) without sleeping.
#include <cstring>

#include "goro/detail/testing.h"
#include "sched/internal.h"

namespace goro::detail::testing {

std::int64_t goroutines_waiting(const char* reason) noexcept {
  struct Count {
    const char* reason;
    std::int64_t n;
  } count{reason, 0};
  // Racy by design, like a dump: each G's state is read once (acquire, pairs with the
  // release that marks it waiting), its reason after.
  for_each_g(
      [](G* g, void* arg) {
        auto* c = static_cast<Count*>(arg);
        if (g->state.load(std::memory_order_acquire) != GState::waiting) return;
        WaitReason r = g->wait_reason.load(std::memory_order_relaxed);
        if (std::strcmp(wait_reason_name(r), c->reason) == 0) ++c->n;
      },
      &count);
  return count.n;
}

}  // namespace goro::detail::testing
