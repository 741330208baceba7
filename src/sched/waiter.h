// waiter.h — the one waiter type. A goroutine or a plain thread that must wait for
// something puts a Waiter (on its own stack) on a wait queue and parks; whoever takes
// it off the queue calls wake(). A goroutine parks through the scheduler; a plain
// thread sleeps on the waiter's futex word. Channels, select and every sync type use
// this and nothing else.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/detail/sema.h"
#include "sched/sched.h"

namespace goro::detail {

struct Waiter {
  G* g = nullptr;                       // the goroutine, or null for a plain thread
  std::atomic<std::uint32_t> woken{0};  // plain thread: 1 once woken (futex word)
  Waiter* next = nullptr;               // guarded by the owning queue's lock
  Waiter* prev = nullptr;
  std::uint32_t ticket = 0;  // Sema hand-off: the count was given to us
  // Sema table (sema.cpp), guarded by the bucket's lock: which semaphore this waits
  // on; on the first waiter of an address's queue, the next address's queue and the
  // tail of this one.
  const void* sema_addr = nullptr;
  Waiter* qnext = nullptr;
  Waiter* qtail = nullptr;

  Waiter() : g(current_g()) {}

  // Parks the caller until wake(). unlockf(arg) runs once the caller can be woken
  // (for a goroutine: after it has left its stack); it returns false to cancel.
  void wait(WaitReason reason, bool (*unlockf)(void*), void* arg) {
    if (g != nullptr) {
      park(reason, unlockf, arg);
      return;
    }
    if (!unlockf(arg)) return;
    thread_blocked();
    while (woken.load(std::memory_order_acquire) == 0) futex_wait(&woken, 0);
  }

  // Wakes the waiter. The waiter may return and pop its frame at once: touch
  // nothing of it afterwards. `runnext` as for ready().
  void wake(bool runnext = true) noexcept {
    if (g != nullptr) {
      ready(g, runnext);
      return;
    }
    thread_block_end();
    // The futex wake after the store may hit a frame that has already gone; that is
    // harmless (a spurious wake-up, which every futex waiter re-checks for).
    woken.store(1, std::memory_order_release);
    futex_wake(&woken, 1);
  }
};

}  // namespace goro::detail
