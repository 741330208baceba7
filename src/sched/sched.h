// sched.h — goroutines (G), OS threads (M), processors (P) and the one park/ready path
// every blocking primitive goes through. docs/design.md is the long-form essay; the
// rules that code must keep are here.
//
// Ownership of a G, by state (who may touch its stack and context):
//   free      on a P's or the global free list; nobody runs it.
//   runnable  in exactly one run queue (a P's ring, a runnext slot, or the global
//             queue); the M that takes it out owns it.
//   running   the M whose curg it is. Only that M switches away from it.
//   waiting   parked: owned by the wait queue it is on. Whoever takes it off the queue
//             (under that queue's lock) calls ready() exactly once.
//   dead      returned; its record and stack go back to the P it died on.
//   syscall   inside goro::blocking(f): its M runs f holding no P, as a plain thread
//             would (blocking_enter / blocking_exit); nobody else touches it.
//
// Invariants:
//  I1. A G's saved context is written before the G becomes visible to anyone who can
//      resume it. The switch code guarantees it: the departing side's context is
//      saved, and its "after" action (queue it, or release the wait-queue lock) is
//      run, by the context it switched to, after the jump (Go's gopark(unlockf)).
//  I2. An M runs goroutines only while it holds a P; a P is held by at most one M.
//  I3. Runtime thread-locals are read only through the accessors below (current_m,
//      current_g: never cached, never an address kept) and re-read after every
//      switch: a goroutine may resume on another thread.
//  I4. Lost wake-ups: whoever publishes work does (publish; seq_cst fence; read
//      npidle/nmspinning); a spinning M that gives up does (nmspinning--, seq_cst;
//      re-check every run queue). One side always sees the other.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "goro/detail/sema.h"
#include "sched/platform.h"

namespace goro::detail {

struct P;
struct M;

enum class GState : std::uint32_t { free, runnable, running, waiting, dead, syscall };

// Mirror of the Itanium C++ ABI's per-thread exception state (__cxa_eh_globals):
// saved per goroutine so a goroutine parked inside a catch block keeps its exception.
struct EhGlobals {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// A goroutine. Kept small: a million parked goroutines cost a stack page each plus
// this. Laid out by use: what `go` writes and a first run reads fills the first two
// cache lines (a spawned G often runs, and dies, on another core, and every line it
// touches crosses over); what only parking, dumps and queues use is in the third.
struct alignas(64) G {
  // --- hot: spawn, first run, exit ---
  void* ctx = nullptr;       // saved fcontext; null before the first run
  G* schedlink = nullptr;    // run queue / free list link (owner: whoever holds the G)
  char* stack_lo = nullptr;  // lowest usable byte (just above the guard); null: no stack
  char* stack_hi = nullptr;  // top of the stack
  char* min_sp = nullptr;    // lowest saved SP seen: tells a deep stack at release
  void (*call)(void*) = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
  std::uintptr_t created_pc = 0;  // where go() was called
  std::uint64_t id = 0;
  std::atomic<GState> state{GState::free};
  std::atomic<WaitReason> wait_reason{WaitReason::none};
  bool closure_on_heap = false;  // else the closure is in inline_buf
  static constexpr std::size_t kInline = 48;
  // The closure, or (closure_on_heap) a pointer to it.
  alignas(16) unsigned char inline_buf[kInline];

  // --- cold: parking, dumps, global queues ---
  std::atomic<std::int64_t> wait_since{0};  // when it parked: the monitor's coarse clock
  EhGlobals eh;                             // exception state carried while switched out (if any)
  G* alllink = nullptr;                     // registry chain (never changes once set)
  G* batch_next = nullptr;                  // global queue: next batch (batch heads only)
  std::uint32_t batch_len = 0;              // global queue: Gs in this batch (heads only)
  std::uint32_t chunk = 0;  // the chunk of records it belongs to (fixed; sched.cpp G1)
  // Global queue: the G kBatchAhead places further along its batch, set where a batch is
  // made from the ring (RunQueue::grab_half_for_global), so that a walk of the batch
  // can fetch records ahead instead of one miss at a time. A hint only: it may be stale
  // (records are never freed, so it always points at a G record).
  G* ahead = nullptr;
#if defined(GORO_ASAN)
  void* asan_fake_stack = nullptr;
#endif
#if defined(GORO_TSAN)
  void* tsan_fiber = nullptr;
#endif

  void* closure() noexcept {
    return closure_on_heap ? *reinterpret_cast<void**>(inline_buf) : static_cast<void*>(inline_buf);
  }
};
static_assert(offsetof(G, wait_since) <= 128, "G's hot fields must fit in two cache lines");

// What the context we switch to must do for the one we left (invariant I1).
struct SwitchAction {
  // requeue: onto the P's queue; to_global: onto the global queue (its M has no P);
  // park: publish the waiter (unlockf); exit: free it.
  // Only `kind` has a default: each switch sets the rest it uses (switch_out: save_to
  // and g; switch_to: m; park: unlockf and arg), and zeroing them cost stores on every
  // yield and park (154 -> 149 instructions a yield).
  enum Kind : std::uint8_t { none, requeue, to_global, park, exit } kind = none;
  void** save_to;          // where the departing context is saved
  M* m;                    // the M switching: the landing side runs on it too
  G* g;                    // the departing goroutine (requeue, park, exit)
  bool (*unlockf)(void*);  // park: publishes the waiter; false aborts the park
  void* arg;
};

// --- The calling thread's runtime identity (invariant I3) ---
// current_m: null on a plain thread. current_g: null on a plain thread and on an M's
// scheduler context. Neither may be cached across a switch (runtime.md: the compiler
// may keep a thread-local's address, or its value, across a call that switches). On
// x86-64 each is an inline `asm volatile` with a memory clobber that reads the TLS slot
// through %fs: it cannot be merged with another read, moved across a call, or keep an
// address, and it costs no call (pingpong makes ~6 reads a round trip). Elsewhere
// they are noinline functions with a compiler barrier.
#if defined(__x86_64__) && defined(__linux__)
// Loads into `out` the runtime thread-local whose assembler name is `sym` (t_m here,
// and sched.cpp's t_p), as described above.
#define GORO_DETAIL_READ_TLS(sym, out)    \
  asm volatile("movq " sym                \
               "@gottpoff(%%rip), %0\n\t" \
               "movq %%fs:(%0), %0"       \
               : "=r"(out)                \
               :                          \
               : "memory")
inline M* current_m() noexcept {
  M* m;
  GORO_DETAIL_READ_TLS("goro_detail_t_m", m);
  return m;
}
inline G* current_g() noexcept {
  M* m = current_m();  // M's first member is curg (static_assert in internal.h)
  return m != nullptr ? *reinterpret_cast<G* const*>(m) : nullptr;
}
#else
M* current_m() noexcept;
G* current_g() noexcept;
#endif

// --- The one park/ready path ---
// Parks the current goroutine. After it has left its stack, unlockf(arg) runs on the
// thread's next context; if it returns false the park is cancelled and the goroutine
// resumes. Must be called from a goroutine.
void park(WaitReason reason, bool (*unlockf)(void*), void* arg);
// Makes a parked goroutine runnable. From a goroutine (or an M's scheduler context), it
// goes on the caller's P: with `next` it runs next (inheriting the time slice, as Go's
// runnext), else at the tail of the local queue (timers use that, so that goroutines
// woken together run in deadline order), spilling to the front of the global queue if
// the local one is full. From a plain thread it goes on the global queue and an idle
// P is woken.
void ready(G* g, bool next = true) noexcept;

// Called by goro just before it throws from a goroutine (a network error, a closed
// channel): the unwinding that follows runs libgcc's unwinder below the throwing
// frame (a few KB), deeper than any switch shows in min_sp, and touches stack pages
// the goroutine never uses otherwise. Marks the running goroutine's stack deep, so
// that its pages below the top are given back when it ends (S1), not kept committed
// in the pools: 10,000 connections reset at once left 10,000 stacks with a second
// page each (the http server's RSS 47.9 -> 88.5 MB). A no-op on a plain thread.
void note_unwinding() noexcept;

// Marks a runtime loop that wakes many goroutines at once (closing a channel, a
// semaphore releasing its waiters): the goroutine running it is not computing, so the
// monitor does not count the loop as a stall and lends no spare P meanwhile (the
// woken goroutines run as soon as the loop ends; lending a P to share them was
// measured to make the wake-up slower, not faster). Go cannot preempt such a loop
// either. Nests; a no-op on a plain thread.
class BulkWakeScope {
 public:
  BulkWakeScope() noexcept;
  ~BulkWakeScope();
  BulkWakeScope(const BulkWakeScope&) = delete;
  BulkWakeScope& operator=(const BulkWakeScope&) = delete;

 private:
  P* p_;
};

// A list of goroutines chained through schedlink (the netpoller's ready list).
struct GList {
  G* head = nullptr;
  G* tail = nullptr;
  int n = 0;
  bool empty() const noexcept { return head == nullptr; }
  void push(G* g) noexcept {
    g->schedlink = nullptr;
    if (tail != nullptr)
      tail->schedlink = g;
    else
      head = g;
    tail = g;
    ++n;
  }
  G* pop() noexcept {
    G* g = head;
    if (g != nullptr) {
      head = g->schedlink;
      if (head == nullptr) tail = nullptr;
      g->schedlink = nullptr;
      --n;
    }
    return g;
  }
};
// Makes a list of parked goroutines runnable at once (Go's injectglist): onto the
// caller's P's queue when it holds one, else onto the global queue as one batch; then
// wakes an idle P to share them. Each G must have been taken off its wait queue by
// the caller, as for ready().
//
// With behind_global (sleepers whose timers fired), onto the global queue also while
// that holds goroutines: a woken sleeper does not overtake a backlog that overflowed
// there (those goroutines have waited longer than any on the local queue, which is
// served first), so 100,000 goroutines just spawned start before the sleepers among
// them that woke meanwhile run again. (Go readies a timer's goroutine to run next. At
// the local queue's tail, ahead of the global backlog, 100,000 sleepers took ~1.5x as
// long to start at 2 Ps: bench sleep, docs/design.md "Timers".)
void ready_list(GList list, bool behind_global = false) noexcept;

// --- The netpoller's side of the scheduler (src/netpoll, runtime.md "Netpoller") ---
// A plain thread has just published a waiter on a socket: makes sure some M will
// poll the network (wakes an idle P's M if nobody is blocked in the poller).
void netpoll_need_poller() noexcept;
// For the monitor thread (sysmon): polls the network without blocking if nobody has
// for `stale_ns` (runtime.md: 10 ms) and queues what it finds. Returns how many
// goroutines it made runnable. Safe from any thread, M or not.
int poll_network_if_stale(std::int64_t stale_ns) noexcept;

// Whether a goroutine or thread that found a sync lock held should spin a little
// before queueing (iteration `iter`): only on a multicore runtime with other work
// running and nothing else waiting for this P (Go's sync_runtime_canSpin).
bool sync_can_spin(int iter) noexcept;

// --- Deadlock detection (runtime.md "Deadlock detection") ---
// When every M is idle, every run queue is empty, no wake source is pending, and
// every thread of the process is a runtime thread or a plain thread blocked in a goro
// primitive, nothing can ever wake a goroutine again: goro prints
// "fatal error: all goroutines are asleep - deadlock!" and the dump, and exits 2.
//
// A plain thread that has published its waiter (Waiter::wait) calls thread_blocked(),
// which counts it as blocked and may run the check; whoever wakes a plain thread calls
// thread_block_end() before the wake. The count may only ever fall short of the
// threads truly asleep, never exceed it: a thread counted as blocked while it runs
// could make the check report a deadlock that is not there. So the count goes up only
// after the publish succeeded (a thread whose publish is refused never counted), and
// a waker that gets there before the increment leaves it one short for that moment.
void thread_blocked() noexcept;
void thread_block_end() noexcept;
// Subsystems that can wake goroutines from outside (timers, the netpoller, blocking
// calls) register a function saying whether they might now; at most 8.
void register_wake_source(bool (*pending)() noexcept) noexcept;
// Threads the runtime itself runs besides its Ms (a monitor, a poller): +1 when one
// starts, -1 when it ends.
void note_runtime_thread(int delta) noexcept;

// A cheap pseudo-random number (xorshift; per M, or per plain thread). Not for
// anything but scheduling choices.
std::uint32_t cheap_rand() noexcept;

// The runtime, started on first use.
void ensure_started();
bool started() noexcept;
int nprocs() noexcept;

}  // namespace goro::detail
