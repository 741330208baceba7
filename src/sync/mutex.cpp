// mutex.cpp — goro::Mutex, Go's sync.Mutex algorithm on goro's Sema.
//
// Two modes. Normal: waiters queue FIFO, but a woken waiter competes with goroutines
// that just arrived (and hold a CPU), so it often loses; this is fast. Starvation:
// once a waiter has waited more than 1 ms it marks the mutex starving; unlock then
// hands ownership straight to the oldest waiter, and arrivals queue at the tail
// without trying. The mutex returns to normal when the waiter it was handed to is
// the last one or waited less than 1 ms. So no waiter starves (api.md "fair under
// contention").
//
// state_: bit 0 locked, bit 1 woken (a waiter is awake and competing, unlock need
// not wake another), bit 2 starving, bits 3.. number of queued waiters.
// Memory order: acquire on every transition that takes the lock, release on unlock;
// Sema's hand-off orders the starving path.
#include "goro/sync.h"
#include "sched/platform.h"
#include "sched/sched.h"

namespace goro {
namespace {
constexpr std::int32_t kWoken = 2;
constexpr std::int32_t kStarving = 4;
constexpr int kWaiterShift = 3;
constexpr std::int64_t kStarvationNs = 1000000;

void spin_pause() noexcept {
  for (int i = 0; i < 30; ++i) detail::cpu_relax();
}
}  // namespace

bool Mutex::try_lock() noexcept {
  std::int32_t old = state_.load(std::memory_order_relaxed);
  if (old & (kLocked | kStarving)) return false;
  return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

void Mutex::lock_slow() {
  std::int64_t wait_start = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the holder may release soon (not in starvation: ownership is handed
    // to waiters then, so spinning is pointless).
    if ((old & (kLocked | kStarving)) == kLocked && detail::sync_can_spin(iter)) {
      // Tell unlock not to wake another waiter while we are awake and trying.
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed))
        awoke = true;
      spin_pause();
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t next = old;
    if ((old & kStarving) == 0) next |= kLocked;  // a starving mutex is not for newcomers
    if (old & (kLocked | kStarving)) next += 1 << kWaiterShift;
    if (starving && (old & kLocked)) next |= kStarving;
    if (awoke) {
      GORO_CHECK((next & kWoken) != 0, "sync: inconsistent mutex state");
      next &= ~kWoken;
    }
    if (state_.compare_exchange_weak(old, next, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      if ((old & (kLocked | kStarving)) == 0) return;  // took it
      bool lifo = wait_start != 0;
      if (wait_start == 0) wait_start = detail::nanotime();
      sema_.acquire(detail::WaitReason::sync_mutex, lifo);
      starving = starving || detail::nanotime() - wait_start > kStarvationNs;
      old = state_.load(std::memory_order_relaxed);
      if (old & kStarving) {
        // Handed to us: the lock bit is not set and we are still counted as a waiter.
        GORO_CHECK((old & (kLocked | kWoken)) == 0 && (old >> kWaiterShift) != 0,
                   "sync: inconsistent mutex state");
        std::int32_t delta = kLocked - (1 << kWaiterShift);
        if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;  // back to normal
        state_.fetch_add(delta, std::memory_order_acquire);
        return;
      }
      awoke = true;
      iter = 0;
    }
  }
}

void Mutex::unlock_slow(std::int32_t next) {
  if (((next + kLocked) & kLocked) == 0) detail::fatal("sync: unlock of unlocked mutex");
  if ((next & kStarving) == 0) {
    std::int32_t old = next;
    for (;;) {
      // Nobody to wake, or someone is already awake / took the lock / it is starving.
      if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) return;
      std::int32_t n = (old - (1 << kWaiterShift)) | kWoken;
      if (state_.compare_exchange_weak(old, n, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        sema_.release(false);
        return;
      }
    }
  }
  // Starving: hand ownership to the oldest waiter and let it run now.
  sema_.release(true);
}

}  // namespace goro
