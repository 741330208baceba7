// goro/sync.h — locks and wait groups that park goroutines, not threads (Go's sync).
//
// Every type here is non-copyable, works from goroutines and from plain threads (a
// goroutine parks and frees its thread; a plain thread blocks), and meets the
// standard library's requirements, so std::lock_guard, std::unique_lock and
// std::scoped_lock work with them. Unlock "happens before" the next lock that
// succeeds; done() happens before the wait() it releases returns.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/detail/sema.h"

namespace goro {

// A mutual-exclusion lock (Go's sync.Mutex). Not recursive. Fair under contention:
// a waiter that has waited more than 1 ms switches the mutex to hand-off mode, in
// which unlock passes ownership straight to the oldest waiter, so no waiter starves.
//
//   goro::Mutex mu;
//   { std::lock_guard lock(mu); ++counter; }
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks until the mutex is held by the caller.
  void lock() {
    std::int32_t expected = 0;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return;
    lock_slow();
  }
  // Takes the mutex if free; never blocks.
  bool try_lock() noexcept;
  // Releases the mutex. Unlocking a mutex that is not locked is a fatal error
  // ("fatal error: sync: unlock of unlocked mutex"), as in Go.
  void unlock() {
    std::int32_t next = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (next != 0) unlock_slow(next);
  }

 private:
  static constexpr std::int32_t kLocked = 1;
  void lock_slow();
  void unlock_slow(std::int32_t next);
  // bit 0 locked, bit 1 a woken waiter is running, bit 2 starving (hand-off mode),
  // bits 3.. the number of waiters.
  std::atomic<std::int32_t> state_{0};
  detail::Sema sema_;
};

// Waits for a collection of goroutines to finish (Go's sync.WaitGroup).
//
//   goro::WaitGroup wg;
//   wg.add(n);
//   for (...) goro::go([&] { work(); wg.done(); });
//   wg.wait();
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds delta (may be negative) to the counter; at zero, releases every waiter.
  // Throws std::logic_error("sync: negative WaitGroup counter") if the counter would
  // go below zero (a panic in Go: fatal if it escapes a goroutine).
  void add(std::int64_t delta);
  // add(-1).
  void done() { add(-1); }
  // Blocks until the counter is zero.
  void wait();

 private:
  // high 32 bits: counter; low 32 bits: waiters.
  std::atomic<std::uint64_t> state_{0};
  detail::Sema sema_;
};

}  // namespace goro
