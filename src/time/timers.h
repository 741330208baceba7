// timers.h — timers inside the runtime: a deadline and what to do when it passes,
// kept in per-P 4-ary min-heaps (Go's runtime/time.go) and run by the scheduler.
// goro/time.h (sleep_for, Timer, Ticker, after, after_func) is built on this.
//
// Where timers live. Each P has a TimerHeap with its own lock, so that any thread may
// arm a timer on it: a goroutine arms on its M's P; a plain thread, or an M without a
// P, on a random P. 100,000 sleeping goroutines spread over the Ps' heaps and never
// meet on one lock.
//
// Who runs them (docs/design.md "Timers"):
//  - the M holding a P runs that P's expired timers at scheduling points: the switch
//    path notices one (next_local in sched.cpp: one relaxed load while the heap is
//    empty) and goes through g0, which runs them (find_runnable);
//  - an M about to give up its P runs every P's expired timers (idle Ps' heaps have
//    no M of their own);
//  - when every M is idle and timers are armed, exactly one M sleeps until the
//    earliest deadline (sched.cpp, "the idle sleeper": it waits in the network
//    poller's epoll_wait), then takes an idle P and runs what is due. Arming a timer
//    earlier than that sleep's deadline wakes it (timer_armed, Go's wakeNetPoller).
//
// Invariants:
//  T1. A node is on at most one heap. `heap` says which (null: not armed); it is
//      written only under that heap's lock. `when`, `period` and `index` are guarded
//      by the lock of the heap the node is on.
//  T2. A heap's `when0` is its earliest deadline, or 0 when it is empty; written under
//      its lock, read by anyone (relaxed: a stale value only delays or repeats a look).
//  T3. Each arming of a node ends exactly once: either timer_del takes it off (and
//      returns true) or a runner pops it to fire (a periodic node is re-armed in place
//      instead, and fires once per period). Both happen under the heap's lock, so
//      "stop returns true iff it prevented the fire" holds.
//  T4. Timers run only on an M that holds a P, so that at one P they fire one at a
//      time, in deadline order, and what they wake goes to that P's local queue
//      (sleepers: behind the global queue's goroutines too, if it holds any;
//      sched.h ready_list).
//  T5. Reference-counted nodes (destroy != null): the heap holds a reference while the
//      node is armed, and a runner holds one while it calls fire. A node that is not
//      counted (a sleeper's, on its own stack) is never touched after fire returns
//      (fire's wake-up may let its owner return at once).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "goro/detail/sema.h"

namespace goro::detail {

struct G;
struct TimerHeap;

// A deadline and what to do when it passes. Embed it (a sleeper's on its stack, a
// goro::Timer's in its heap-allocated core).
struct TimerNode {
  // Set before the node is first armed; constant while an arming or fire can be in
  // flight. fire(t, now) runs without any lock held, on an M that holds a P (T4),
  // once per arming (once per period for a periodic node). It must not block.
  void (*fire)(TimerNode* t, std::int64_t now) noexcept = nullptr;
  // Reference counting (T5); null for a node that is not counted.
  void (*destroy)(TimerNode* t) noexcept = nullptr;
  // Whether timer_del may be called on it. A node that is never disarmed (a sleep's)
  // has no need for `index`, and the heap does not write it: the node sits on a cold
  // goroutine stack, and that write was most of the cost of a heap operation.
  bool removable = true;
  std::atomic<std::uint32_t> refs{1};
  // Serialises the owner's operations on this node (arm, stop, reset) when several
  // threads may do them at once (a goro::Timer shared by goroutines). Never taken by
  // a runner. Lock order: op, then a heap's lock.
  Lock op;

  // T1: guarded by the lock of `heap`.
  std::int64_t when = 0;
  std::int64_t period = 0;  // > 0: re-armed every period after it fires (a ticker)
  std::uint32_t index = 0;  // position in heap->entries (kept only if removable)
  // release stores (under the heap's lock), acquire loads: whoever sees the node off
  // a heap also sees everything the heap's last holder did to it.
  std::atomic<TimerHeap*> heap{nullptr};
};

static_assert(alignof(TimerNode) >= 8,
              "TimerHeap::Entry keeps flags in a node pointer's bits 0 to 2");

// One P's timers (T1, T2). Its own cache line: other threads arm timers on it, and the
// owner's switch path reads when0.
struct alignas(64) TimerHeap {
  Lock lock;
  std::atomic<std::int64_t> when0{0};  // T2
  struct Entry {
    std::int64_t when;  // a copy of node->when: sifting reads no node
    // The node, with bit 0 set if it is removable and bit 1 if it is periodic; or
    // (bit 2) a sleeping goroutine, which the entry wakes without any node (nodes and
    // Gs are at least 8-byte aligned).
    std::uintptr_t bits;
    static constexpr std::uintptr_t kRemovable = 1, kPeriodic = 2, kSleeper = 4;
    TimerNode* node() const noexcept {
      return reinterpret_cast<TimerNode*>(bits & ~std::uintptr_t(7));
    }
    G* sleeper() const noexcept { return reinterpret_cast<G*>(bits & ~std::uintptr_t(7)); }
    bool removable() const noexcept { return (bits & kRemovable) != 0; }
    bool periodic() const noexcept { return (bits & kPeriodic) != 0; }
    bool is_sleeper() const noexcept { return (bits & kSleeper) != 0; }
  };
  std::vector<Entry> entries;  // guarded by lock: a 4-ary min-heap on when
};

// Arms t to fire at `when` (ns on CLOCK_MONOTONIC, the clock of
// std::chrono::steady_clock), then every `period` ns if period > 0. t must not be
// armed. On the caller's P's heap, else a random P's. The runtime must be started.
void timer_add(TimerNode* t, std::int64_t when, std::int64_t period);
// Arms a wake-up of goroutine g at `when`, on the caller's P's heap: g must be
// parked already (this runs from its park's unlock function) and nothing can cancel
// it. The heap holds g itself, no node: firing it reads nothing from g's stack, a
// page that is rarely in the TLB by then. The caller must hold a P.
void timer_add_sleeper(G* g, std::int64_t when);
// Disarms t if it is armed; returns whether it was (T3: true means this call
// prevented the fire).
bool timer_del(TimerNode* t) noexcept;
// Drops a reference to a counted node (T5); the last one destroys it.
inline void timer_unref(TimerNode* t) noexcept {
  // acq_rel: the last holder sees every other holder's use of the node.
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) t->destroy(t);
}

// Scheduler side (T4: the caller holds a P). Runs h's timers whose deadline is <= now;
// returns how many fired.
int run_timers(TimerHeap* h, std::int64_t now);
// Runs every P's due timers; returns how many fired.
int run_all_due_timers(std::int64_t now);
// The earliest deadline armed on any P, or 0 if none.
std::int64_t timers_earliest() noexcept;
// Whether any timer is armed on any P (for the deadlock detector: a pending timer can
// still wake a goroutine).
bool timers_pending() noexcept;

}  // namespace goro::detail
