// goro/sync.h — locks, wait groups, once, condition variables and semaphores that park
// goroutines, not threads (Go's sync, plus x/sync/semaphore).
//
//   Mutex      mutual exclusion (sync.Mutex), fair under contention
//   RWMutex    readers-writer lock (sync.RWMutex); a waiting writer stops new readers
//   WaitGroup  wait for a collection of goroutines to finish (sync.WaitGroup)
//   Once       run a function exactly once (sync.Once)
//   CondVar    wait for a condition under a Mutex (sync.Cond)
//   Semaphore  weighted FIFO semaphore (x/sync/semaphore.Weighted)
//
// Every type here is non-copyable, works from goroutines and from plain threads (a
// goroutine parks and frees its thread; a plain thread blocks), and goroutines and
// threads may share one object. The locks meet the standard library's requirements,
// so std::lock_guard, std::unique_lock, std::shared_lock and std::scoped_lock work
// with them.
//
// Memory ordering, as in Go: an unlock happens before the next lock that succeeds
// (for RWMutex: unlock() before any later lock or lock_shared; unlock_shared() before
// a later lock()); done() happens before the wait() it releases returns; the return
// of Once's f happens before every call() returns; a release() happens before the
// acquire() it satisfies returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

#include "goro/detail/mutex_unlock.h"
#include "goro/detail/sema.h"

namespace goro {
class Mutex;
}
namespace goro::detail::testing {
// 0, 1 or 2: how far `mu` is from never contended (0) to unlocking atomically for good (2).
std::uint32_t mutex_contended(const goro::Mutex& mu) noexcept;
}  // namespace goro::detail::testing

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
#if defined(GORO_DETAIL_MUTEX_RSEQ)
    // A mutex that has never had a waiter unlocks with a plain store (detail/mutex_unlock.h).
    if (detail::g_mutex_rseq.enabled && detail::mutex_unlock_rseq(&state_, &contended_)) return;
#endif
    std::int32_t next = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (next != 0) unlock_slow(next);
  }

 private:
  friend std::uint32_t detail::testing::mutex_contended(const Mutex&) noexcept;
  static constexpr std::int32_t kLocked = 1;
  void lock_slow();
  void unlock_slow(std::int32_t next);
  void mark_contended();
  // bit 0 locked, bit 1 a woken waiter is running, bit 2 starving (hand-off mode),
  // bits 3.. the number of waiters.
  std::atomic<std::int32_t> state_{0};
  // 0 until a locker first finds the mutex held; then 1, and 2 once no unlock can take
  // the plain-store path any more (src/sync/mutex.cpp U1-U3).
  std::atomic<std::uint32_t> contended_{0};
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

// A readers-writer lock (Go's sync.RWMutex): any number of readers, or one writer.
// Writers are preferred: once a writer is blocked in lock(), new lock_shared() calls
// block until that writer has had the lock, so a stream of readers cannot starve a
// writer. Consequently a reader must not take the read lock again while holding it
// (recursive read locking can deadlock against a waiting writer), as in Go. Not
// recursive. Like Go's, a lock is not tied to a goroutine or thread: another one may
// release it.
//
//   goro::RWMutex mu;
//   std::map<std::string, int> table;  // guarded by mu
//   int get(const std::string& k) { std::shared_lock lock(mu); return table.at(k); }
//   void put(const std::string& k, int v) { std::unique_lock lock(mu); table[k] = v; }
class RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // Blocks until the caller holds the lock exclusively: first behind other writers,
  // then until the readers that hold it have left.
  void lock();
  // Takes the lock exclusively if nobody holds it in any mode; never blocks.
  bool try_lock() noexcept;
  // Releases the exclusive lock and lets the readers that queued behind it in.
  // Unlocking an RWMutex that is not write-locked is a fatal error ("fatal error:
  // sync: Unlock of unlocked RWMutex"), as in Go.
  void unlock();

  // Blocks until the caller holds the lock shared: while a writer holds it or waits
  // for it.
  void lock_shared() {
    // acquire: pairs with the release in unlock() (a writer that came and went).
    if (reader_count_.fetch_add(1, std::memory_order_acquire) < 0) lock_shared_slow();
  }
  // Takes the lock shared unless a writer holds it or waits for it; never blocks.
  bool try_lock_shared() noexcept;
  // Releases a shared lock. Releasing one that is not held is a fatal error ("fatal
  // error: sync: RUnlock of unlocked RWMutex"), as in Go.
  void unlock_shared() {
    // release: pairs with the acquire in lock() (the writer waits for this reader).
    std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) unlock_shared_slow(r);
  }

 private:
  static constexpr std::int32_t kMaxReaders = 1 << 30;
  void lock_shared_slow();
  void unlock_shared_slow(std::int32_t r);
  Mutex writer_;  // held by the writer that holds or is taking the lock
  // Readers holding the lock or blocked on it; minus kMaxReaders while a writer holds
  // or is taking the lock.
  std::atomic<std::int32_t> reader_count_{0};
  std::atomic<std::int32_t> reader_wait_{0};  // readers a pending writer waits for
  // The pending writer waits here for the readers that were in to leave.
  detail::Sema writer_sem_;
  // Readers wait here for the writer to unlock.
  detail::Sema reader_sem_;
};

// Runs a function exactly once (Go's sync.Once).
//
// call(f) runs f if no call on this Once has run it yet; all other calls block until
// that f has finished, then return without running theirs. So every call() returns
// only after f has completed, and f's effects are visible to every caller. The check
// when f has already run is one atomic load.
//
// If f throws, the exception propagates to the caller that ran it, and the Once still
// counts as done: later calls return at once without running f, and calls waiting
// meanwhile return normally (as in Go, where a panicking f counts as having returned).
// f must not call call() on the same Once: that waits for itself forever (Go
// deadlocks too).
//
//   goro::Once once;
//   Config* config;
//   const Config& get_config() {
//     once.call([] { config = load_config(); });
//     return *config;
//   }
class Once {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  template <class F>
  void call(F&& f) {
    static_assert(std::is_invocable_v<F&&>, "goro::Once::call: f is not callable with ()");
    // acquire: pairs with the release that marks the Once done, after f returned.
    if (state_.load(std::memory_order_acquire) == kDone) return;
    if constexpr (std::is_function_v<std::remove_reference_t<F>>) {
      auto* fp = &f;  // a function, not an object: call it through a pointer
      call_slow(&invoke<decltype(fp)&>, &fp);
    } else {
      call_slow(&invoke<F>, const_cast<void*>(static_cast<const void*>(std::addressof(f))));
    }
  }

 private:
  static constexpr std::uint32_t kDone = 1;
  template <class F>
  static void invoke(void* f) {
    std::invoke(std::forward<F>(*static_cast<std::remove_reference_t<F>*>(f)));
  }
  void call_slow(void (*run)(void*), void* f);
  // bit 0 done, bit 1 f is running, bits 2.. callers waiting for it.
  std::atomic<std::uint32_t> state_{0};
  detail::Sema sema_;  // callers wait here while f runs
};

// A condition variable (Go's sync.Cond) for goro::Mutex: goroutines and threads wait
// for a condition that others change under the mutex and announce with notify_one or
// notify_all.
//
// A notify wakes only callers that were already waiting: notify_one the one that has
// waited longest, notify_all all of them. A notify with nobody waiting is not
// remembered: a later wait() blocks until the next notify. Check the condition in a
// loop (or use the predicate form): another goroutine may change it between the
// notify and the waiter getting the mutex back. The notifier need not hold the mutex.
//
//   goro::Mutex mu;
//   goro::CondVar cv;
//   std::deque<Job> queue;  // guarded by mu
//
//   // consumer:
//   std::unique_lock lock(mu);
//   cv.wait(lock, [&] { return !queue.empty(); });
//   Job job = std::move(queue.front());
//   queue.pop_front();
//
//   // producer:
//   { std::lock_guard lock(mu); queue.push_back(job); }
//   cv.notify_one();
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Atomically releases the lock's mutex and blocks until notified, then takes the
  // mutex again before returning. Throws std::system_error (operation_not_permitted)
  // if `lock` does not own its mutex, as std::unique_lock::unlock would.
  void wait(std::unique_lock<Mutex>& lock);
  // while (!pred()) wait(lock);
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lock, Pred pred) {
    while (!pred()) wait(lock);
  }
  // Wakes the longest-waiting caller of wait(), if any.
  void notify_one() noexcept;
  // Wakes every caller of wait() that is waiting now.
  void notify_all() noexcept;

 private:
  void wait_ticket(std::uint32_t ticket);
  // A ticket scheme (Go's notifyList): each wait takes the next ticket from wait_;
  // notify_ is the first ticket not yet notified. wait_ is incremented under the
  // caller's mutex; notify_ is written under lock_ and read without it by the fast
  // path of notify.
  std::atomic<std::uint32_t> wait_{0};
  std::atomic<std::uint32_t> notify_{0};
  detail::Lock lock_;
  detail::Waiter* head_ = nullptr;  // guarded by lock_: parked waiters, oldest first
  detail::Waiter* tail_ = nullptr;  // guarded by lock_
};

namespace detail {
struct SemaphoreWaiter;
}

// A weighted semaphore (Go's golang.org/x/sync/semaphore.Weighted): a capacity of
// `capacity` units, of which acquire(n) takes n and release(n) gives n back.
//
// Waiters are served in FIFO order: a waiter asking for more than is free blocks the
// ones behind it, even smaller ones that would fit, so large requests are not
// starved (as Weighted does).
//
//   goro::Semaphore sem(4);  // at most 4 downloads at once
//   for (auto& url : urls)
//     goro::go([&, url] { sem.acquire(); fetch(url); sem.release(); });
class Semaphore {
 public:
  // Throws std::invalid_argument if capacity < 0.
  explicit Semaphore(std::int64_t capacity);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Blocks until n units are free and no earlier waiter is still waiting, then takes
  // them. Throws std::invalid_argument if n < 0 or n > capacity (Go's Weighted would
  // block for ever on the latter).
  void acquire(std::int64_t n = 1);
  // Takes n units if they are free and nobody is waiting; never blocks. False if
  // n > capacity. Throws std::invalid_argument if n < 0.
  bool try_acquire(std::int64_t n = 1);
  // Gives back n units and wakes the waiters at the head of the queue that now fit.
  // Releasing more than is held is a fatal error ("fatal error: semaphore: released
  // more than held"; Weighted panics). Throws std::invalid_argument if n < 0.
  void release(std::int64_t n = 1);

 private:
  detail::Lock lock_;
  const std::int64_t size_;
  std::int64_t cur_ = 0;                     // guarded by lock_: units taken
  detail::SemaphoreWaiter* head_ = nullptr;  // guarded by lock_: FIFO of waiters
  detail::SemaphoreWaiter* tail_ = nullptr;  // guarded by lock_
};

}  // namespace goro
