// internal.h — P and M, and what the rest of src/ (debug, sync, time) may ask the
// scheduler.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sched/runq.h"
#include "sched/sched.h"
#include "stack/stack.h"
#include "time/timers.h"

namespace goro::detail {

// A processor: the right to run goroutines. Owned by at most one M (I2); every field
// without a comment is touched only by the owning M.
struct P {
  int id = 0;
  RunQueue runq;  // owner pushes; anyone steals
  // The M holding it: written by that M (or whoever idles it), read by the monitor to
  // find a stalled P's thread (GORO_STALL_REPORT). Not on any hot path.
  std::atomic<M*> m{nullptr};
  P* link = nullptr;  // idle list (or spare list), guarded by the scheduler lock
  // Goroutines scheduled on this P: written by the owner (load + store, relaxed), read
  // by the monitor (sysmon) to tell a P that has run one goroutine for too long.
  std::atomic<std::uint32_t> schedtick{0};
  // The switch path looks at timers, the ward and the global queue when schedtick &
  // check_mask is 0 (sched.cpp, next_local): every kCheckEvery-th switch; every switch
  // on a spare P (0).
  static constexpr std::uint32_t kCheckEvery = 4;  // a power of two
  std::uint32_t check_mask = kCheckEvery - 1;
  StackCache stacks;
  std::uint64_t goid_next = 0, goid_end = 0;  // a batch of goroutine ids
  std::uint64_t rand = 0;
  // Goroutines started minus goroutines ended on this P. Written only by the owner
  // (load + store; the exit's store is release), read (acquire) by anyone summing
  // num_goroutines(): a count seen to drop orders the exited goroutines' writes.
  std::atomic<std::int64_t> live{0};
  // This P's timers (src/time/timers.h): armed by anyone, run by whoever holds a P.
  TimerHeap timers;

  // --- blocking calls and stalls (sched.cpp, "The monitor") ---
  // (generation << 1) | in_call. Its M sets in_call (release) in blocking_enter and
  // gives the P up with that; then either the M takes it back on return, or the
  // monitor takes it to hand to another M, each by a CAS from the exact value the M
  // stored (the generation rules out taking back a P that went round to another M's
  // blocking call meanwhile).
  std::atomic<std::uint64_t> syscall{0};
  // At 1 P the owner reads and writes its run queue without locked instructions while
  // no other P exists (sched.alone): owner_op is 1 (relaxed) around each such
  // operation, so that the monitor, before letting a spare P steal from this one, can
  // wait out one in flight (see owner_swap_next).
  std::atomic<std::uint32_t> owner_op{0};
  // BulkWakeScopes open on this P (owner: load + store, relaxed; read by the monitor).
  std::atomic<std::uint32_t> bulk_wake{0};
  // A spare P (after the nprocs regular ones): lent by the monitor to another M while
  // `ward` (a regular P, or a spare lent before) runs one goroutine too long with other
  // work waiting. ward and ward_tick (its schedtick then) are written by the monitor
  // before the hand-off and read by the M holding the spare.
  bool spare = false;
  P* ward = nullptr;
  std::uint32_t ward_tick = 0;
  // The regular P whose timer heap takes the timers armed on this spare (spares keep
  // none: only regular Ps' heaps are run and looked at): the ward, or, for a spare
  // lent to a stalled spare, that spare's home. Written with ward.
  P* home = nullptr;

  // Free G records (sched.cpp G1), the most recently freed last.
  static constexpr std::uint32_t kGFreeMax = 64;
  std::uint32_t ngfree = 0;
  G* gfree[kGFreeMax];
};

// An OS thread running the scheduler loop on its own stack ("g0") and goroutines on
// theirs.
struct M {
  // First member: current_g (sched.h) reads it there.
  G* curg = nullptr;  // running goroutine, null in g0
  int id = 0;
  P* p = nullptr;                      // held P
  P* nextp = nullptr;                  // P handed over by whoever woke us (startm)
  P* oldp = nullptr;                   // the P it gave up for a blocking call
  std::uint64_t syscall_word = 0;      // what it stored in oldp->syscall then
  G* blocking_g = nullptr;             // the goroutine in goro::blocking on this M
  SwitchAction exit_act;               // a dying goroutine's last switch (g_main)
  void* g0ctx = nullptr;               // g0's saved context while a goroutine runs
  bool spinning = false;               // looking for work (counted in nmspinning)
  std::int64_t spin_ns = 0;            // how long it spins before sleeping (0: the default)
  std::int64_t slept_at = 0;           // when it last slept after a fruitless spin, or 0
  std::atomic<std::uint32_t> wake{0};  // futex: 1 once handed a P
  M* link = nullptr;                   // idle list, guarded by the scheduler lock
  std::uint64_t rand = 0;
  // While spinning: each regular P's schedtick as this M last saw it, and since when
  // (take_stuck_runnext), and when it last looked at them.
  struct Seen {
    std::uint32_t tick = 0;
    std::int64_t since = 0;
  };
  Seen* seen = nullptr;  // nprocs of them (newm)
  std::int64_t seen_at = 0;
  int* errno_addr = nullptr;        // this thread's errno and C++ exception state,
  EhGlobals* eh = nullptr;          // looked up once (the thread never changes)
  pthread_t thread{};               // for the monitor's stall report (a signal)
  const void* g0_bottom = nullptr;  // the thread's own stack, for ASan switches
  std::size_t g0_size = 0;
#if defined(GORO_ASAN)
  void* g0_fake_stack = nullptr;
#endif
#if defined(GORO_TSAN)
  void* g0_fiber = nullptr;
#endif
};
static_assert(std::is_standard_layout_v<M> && offsetof(M, curg) == 0,
              "current_g (sched.h) reads curg as M's first member");

// Calls f(g) for every G record that holds a goroutine (not free). Racy by design:
// for dumps.
void for_each_g(void (*f)(G*, void*), void* arg);

// The Ps, nprocs() of them; null before the runtime starts. Never freed. (The spare
// Ps follow them in the same array; see sched.cpp.)
P* all_ps() noexcept;

// The goroutine the calling thread runs, including one inside goro::blocking (which
// current_g() does not report): for crash reports.
G* current_g_for_crash() noexcept;

// time/: a timer was armed at `when` and is its heap's new earliest deadline. Wakes the
// timed sleeper if it sleeps past `when`, or, when no M sleeps with a deadline, an idle
// M to become it (Go's wakeNetPoller).
void timer_armed(std::int64_t when) noexcept;
// time/: a heap became empty. If no timer is left anywhere, wakes the timed sleeper so
// that it stops waiting for a deadline nobody needs (and, with nothing else to do, the
// deadlock detector can run).
void timers_maybe_gone() noexcept;

// debug/: crash and overflow reporting.
void install_signal_handlers();
void setup_thread_signals(M* m);  // alternate signal stack for an M
// GORO_STALL_REPORT: the monitor found that the goroutine on `m` has run for `ran_ns`
// without a scheduling point; m's thread prints its stack, once, from a signal.
void install_stall_report_handler();
void request_stall_report(M* m, std::int64_t ran_ns) noexcept;
[[noreturn]] void crash_uncaught_exception(G* g) noexcept;

}  // namespace goro::detail
