// goro/detail/sema.h — the wait queue and semaphore that every goro sync type is built
// on (Go's runtime sema). Not part of the public API: names here may change.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct Waiter;

// Why a goroutine is parked, as goro::debug::dump prints it.
enum class WaitReason : std::uint8_t {
  none,
  chan_receive,
  chan_send,
  chan_receive_nil,
  chan_send_nil,
  select,
  select_no_cases,
  sleep,
  io_wait,
  sync_mutex,
  sync_rwmutex_lock,
  sync_rwmutex_rlock,
  sync_waitgroup,
  sync_cond,
  sync_once,
  semacquire,
  completion,
  forever,
};
const char* wait_reason_name(WaitReason r) noexcept;

// A small lock for runtime wait queues and channels: spins briefly, then sleeps on
// a futex. Held only for a few instructions, never across a park (the park protocol
// releases it after the goroutine has left its stack).
//
// Unlock is a plain release store, not an atomic exchange: a locked instruction costs
// ~5 ns here, and a channel operation is a lock and an unlock. The price is that an
// unlock may read a stale `sleepers_` (it reads before its store, see unlock()) and
// skip the wake of a locker that was just going to sleep; so sleepers sleep with
// a timeout (1 ms) and look again. A missed wake-up can only delay a contended
// locker by that much, never lose the lock; uncontended, nobody sleeps.
class Lock {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (!word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      lock_slow();
  }
  void unlock() noexcept {
    // sleepers_ is read before the release: once the word is 0, another thread may
    // take the lock and free the object holding it (a channel whose last handle it
    // drops). The wake-up after the store only passes the address to the kernel.
    bool sleepers = sleepers_.load(std::memory_order_relaxed) != 0;
    word_.store(0, std::memory_order_release);
    if (sleepers) unlock_slow();
  }
  // For the park protocol's unlock function.
  static bool unlock_fn(void* lock) noexcept {
    static_cast<Lock*>(lock)->unlock();
    return true;
  }

 private:
  void lock_slow() noexcept;
  void unlock_slow() noexcept;
  std::atomic<std::uint32_t> word_{0};      // 0 free, 1 locked
  std::atomic<std::uint32_t> sleepers_{0};  // lockers asleep (or about to be) on word_
};

// A counting semaphore on one word (Go's runtime_Semacquire / runtime_Semrelease).
// Its waiters queue in a global table keyed by the semaphore's address, never in the
// object: a release never touches the object after making the count available, so a
// waiter may return and destroy it (a WaitGroup on a goroutine's stack) at once.
class Sema {
 public:
  // Waits until the count is > 0 and decrements it. `lifo` queues at the front
  // (for a waiter that has waited before, as Go's mutex does).
  void acquire(WaitReason reason, bool lifo = false);
  // Increments the count and wakes one waiter. With `handoff`, the count goes to the
  // woken waiter directly and the caller yields to it (a starving mutex's hand-off;
  // the caller must know the object outlives the call).
  void release(bool handoff = false);
  // Adds n to the count and wakes up to n waiters, a lock round per chunk of them.
  void release_many(std::uint32_t n);

 private:
  bool try_take() noexcept;
  std::atomic<std::uint32_t> count_{0};
};

}  // namespace goro::detail
