// sched.cpp — the M:N scheduler: spawning, switching, parking, run queues, idle and
// spinning threads. The design essay is docs/design.md; the invariants (I1..I4) are
// in sched.h.
//
// Switching. Every switch goes through switch_to(): the departing context fills a
// SwitchAction on its own stack and jumps; the context it lands in runs
// after_switch(), which saves the departing context and then does what it asked
// (requeue it, publish its waiter, or free it). A goroutine that parks or yields
// switches straight to the next goroutine of its P when there is one (one jump),
// and to the M's scheduler context (g0) only when the P has nothing local: g0 then
// searches (global queue, stealing) and sleeps when there is nothing to do.
//
// Spinning (Go's proc.go "Worker thread parking/unparking"): at most one M is woken
// per new piece of work, and only when no M is already spinning; a spinning M that
// finds work wakes another spinner before running it; one that finds none
// decrements nmspinning and re-checks every queue before sleeping (I4).
//
// Timers (src/time/timers.h, docs/design.md "Timers"): the switch path notices that
// its P has an expired timer and goes through g0, which runs it; an M about to give
// up its P runs every P's expired timers; and when every M is idle, exactly one of
// them, the idle sleeper, waits in the network poller until the earliest deadline or
// a socket event (idle_m).
//
// The network poller (src/netpoll/netpoll.h, docs/design.md "The network poller"):
// an M out of local work polls without blocking before it steals (poll_network), and
// the idle sleeper's wait is an epoll_wait, so sockets and timers wake it alike.
#include <cxxabi.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/detail/fcontext.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/runtime.h"
#include "netpoll/netpoll.h"
#include "sched/internal.h"
#include "sched/waiter.h"

#if defined(GORO_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GORO_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace bctx = boost::context::detail;

namespace goro::detail {
namespace {

// ---------------------------------------------------------------------------
// Global scheduler state.

struct Sched {
  Lock lock;  // guards gq_head/gq_tail, pidle, midle, nmidle, mcount
  // The global run queue: a FIFO of batches (a batch is a schedlink chain whose head
  // carries batch_next and batch_len), so that taking or returning work holds the
  // lock for O(1) steps: walking a batch (a cache miss per cold G) happens outside.
  G* gq_head = nullptr;
  G* gq_tail = nullptr;
  std::atomic<std::int64_t> gq_size{0};  // written under lock; read anywhere
  // Goroutines ever taken off the global queue (written under lock; read by the
  // monitor, which only wants to know whether anyone takes from it).
  std::atomic<std::uint64_t> gq_taken{0};
  P* pidle = nullptr;
  std::atomic<std::int32_t> npidle{0};  // written under lock; read anywhere (I4)
  M* midle = nullptr;
  int nmidle = 0;
  int mcount = 0;
  std::atomic<std::int32_t> nmspinning{0};  // I4

  P* ps = nullptr;
  int nprocs = 1;
  // Spare Ps (ps[nprocs .. nprocs + nspare)): lent by the monitor while a P runs one
  // goroutine too long (see "The monitor"). spare_free is guarded by lock, and so are
  // nspare_active's writes (read anywhere: thieves look at spares only while one is
  // active).
  int nspare = 0;
  P* spare_free = nullptr;
  std::atomic<int> nspare_active{0};
  // At 1 P: whether the lone P's run queue can have no thief (no spare P is active),
  // so its owner may skip the locked instructions (owner_swap_next). Turned off by
  // the monitor before a spare P may steal (with the membarrier hand-shake there),
  // back on by the last spare to retire (release; the owner reads it acquire).
  std::atomic<bool> alone{false};
  bool membarrier_ok = false;  // MEMBARRIER_CMD_PRIVATE_EXPEDITED is registered
  int max_threads = 10000;     // Options::max_threads
  // The monitor sleeps on this (1) while every P is idle; whoever takes an idle P
  // wakes it (sysmon_kick).
  std::atomic<std::uint32_t> sysmon_sleeping{0};
  // 1 while the monitor sleeps a backed-off tick (1 ms or more): a goroutine entering
  // goro::blocking wakes it (sysmon_hurry), so a call that blocks is handed off
  // after ~20 us, not after up to 10 ms.
  std::atomic<std::uint32_t> sysmon_slow{0};
  // CLOCK_MONOTONIC_COARSE as of the monitor's last tick (or the kick that woke it):
  // when a goroutine parked, for dumps' "N minutes", without a clock read per park.
  std::atomic<std::int64_t> coarse_now{0};
  // Threads that are not Ms polling the network now (poll_network_if_stale).
  std::atomic<std::int32_t> polling_outside{0};
  bool stall_report = false;                  // GORO_STALL_REPORT
  std::atomic<std::uint64_t> spares_lent{0};  // for tests (relaxed)
  std::atomic<std::uint64_t> handoffs{0};

  Lock glock;                     // guards gchunks and gchunks_free (the free G records)
  std::atomic<G*> allg{nullptr};  // registry of every G record ever made (push-only)

  std::atomic<std::uint64_t> goid_gen{0};
  std::atomic<std::int64_t> thread_live{0};  // goroutines started from plain threads
  std::atomic<std::uint64_t> created{0};
  std::atomic<std::uint64_t> migrations{0};

  // The idle sleeper (idle_m), the one M blocked in the network poller: 0 when there
  // is none; kClaimed while one is deciding its deadline, or when it sleeps with no
  // deadline (for sockets only); else the deadline it sleeps until. seq_cst: a Dekker
  // pair with the timer heaps' when0 (see idle_m and timer_armed) and with the
  // poller's waiter count (netpoll_need_poller).
  std::atomic<std::int64_t> sleeper_until{0};
  // The idle sleeper while it may be handed a P (startm, when no M sleeps on its
  // futex), guarded by lock.
  M* poller_m = nullptr;
  // When the network was last polled (nanotime; 0: never): for the monitor thread
  // (poll_network_if_stale). Relaxed: a stale value only moves a poll.
  std::atomic<std::int64_t> lastpoll{0};

  // Deadlock detection (sched.h).
  std::atomic<std::int32_t> thread_waiters{0};  // plain threads blocked in goro (seq_cst)
  std::atomic<std::int32_t> runtime_threads{0};
  std::atomic<bool (*)() noexcept> wake_sources[8] = {};

  // wait_goroutines_at_most: exiting goroutines bump quiesce_seq when someone waits.
  std::atomic<std::uint32_t> quiesce_waiters{0};
  std::atomic<std::uint32_t> quiesce_seq{0};
};

Sched sched;
std::atomic<bool> g_started{false};
std::mutex g_start_mu;
Options g_options;  // guarded by g_start_mu until started, then read-only
bool g_options_set = false;

}  // namespace
// The current M (I3). Named for current_m's assembly in sched.h; read it only there.
thread_local M* t_m asm("goro_detail_t_m") = nullptr;
// The P the current M holds: a copy of m->p, kept beside t_m so that the switch path
// reads it from the thread directly rather than through the M (fs -> P instead of
// fs -> M -> P: one dependent load less before the run queue; yield at 1 P 0.98x in
// 30 interleaved pairs with fcontext's entry placed alike, docs/HACKING.md "Code
// placement"). Written only through set_p, always by the M's own
// thread (every m->p change is made by the M itself), so t_p == t_m->p on every M and
// null on plain threads and inside goro::blocking, which gives up the P.
thread_local P* t_p asm("goro_detail_t_p") = nullptr;
namespace {

// Read and written like current_m (sched.h, I3): never through a kept address.
#if defined(__x86_64__) && defined(__linux__)
inline P* current_p() noexcept {
  P* p;
  GORO_DETAIL_READ_TLS("goro_detail_t_p", p);
  return p;
}
inline void set_p(M* m, P* p) noexcept {
  m->p = p;
  std::uintptr_t off;
  asm volatile(
      "movq goro_detail_t_p@gottpoff(%%rip), %0\n\t"
      "movq %1, %%fs:(%0)"
      : "=&r"(off)
      : "r"(p)
      : "memory");
}
#else
GORO_NOINLINE P* current_p() noexcept {
  P* p = t_p;
  asm volatile("" ::: "memory");
  return p;
}
GORO_NOINLINE void set_p(M* m, P* p) noexcept {
  m->p = p;
  t_p = p;
  asm volatile("" ::: "memory");
}
#endif

// ---------------------------------------------------------------------------
// Per-thread state a goroutine carries with it (runtime.md "thread-local hazards").
// The accessors are noinline with a compiler barrier so that no address of
// thread-local storage is kept across a switch.

GORO_NOINLINE int* errno_ptr() noexcept {
  int* p = &errno;
  asm volatile("" ::: "memory");
  return p;
}
GORO_NOINLINE EhGlobals* eh_globals() noexcept {
  auto* p = reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
  asm volatile("" ::: "memory");
  return p;
}

// m is the M we run on now; its cached addresses are this thread's. What a switching
// goroutine carries is kept in its switching frame (switch_out's ThreadState), which
// the switch preserves: errno, and whether the exception state went into the G. That
// state is nearly always empty at a switch (it is not only inside a catch block or an
// unwinding destructor), so it is copied into the G only when it is not: the common
// switch reads two words of it and writes none, and touches no line of the G for
// either. (Kept in the G, errno and the flag cost a store and two loads in the G's
// third line each switch: without them pingpong at 1 P 0.95x, yield 0.99x, ring 1.00x,
// interleaved pairs with fcontext's entry placed alike.)
struct ThreadState {
  int err;
  bool has_eh;
};
inline ThreadState save_thread_state(M* m, G* g) noexcept {
  ThreadState s{*m->errno_addr, false};
  EhGlobals* eh = m->eh;
  // One test of both words (caught || uncaught).
  if (GORO_UNLIKELY((reinterpret_cast<std::uintptr_t>(eh->caught) | eh->uncaught) != 0)) {
    g->eh = *eh;
    *eh = EhGlobals{};
    s.has_eh = true;
  }
  return s;
}
inline void restore_thread_state(M* m, G* g, ThreadState s) noexcept {
  if (GORO_UNLIKELY(s.has_eh)) *m->eh = g->eh;
  *m->errno_addr = s.err;
}

std::uint64_t fastrand(std::uint64_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

// ---------------------------------------------------------------------------
// G records: allocated in chunks, never freed (the registry walks them), recycled
// through a per-P cache and per-chunk free masks.
//
// G1. Free records are reused by address: a P caches up to kGFreeMax in an array (the
//     most recently freed last); every other free record is a bit in its chunk's free
//     mask (gchunks, under glock), and a P that runs out takes a batch from the
//     earliest chunks (in the order they were made) that have free records, lowest
//     first. Nothing is linked through the records, so pooling one never reads it.
//     (Goroutines end in whatever order their work finishes; a LIFO free list handed
//     their records to the next burst in that order, scattered over all of them: a TLB
//     miss and cache misses per spawn. docs/design.md "G records".)

constexpr std::uint32_t kGFreeMax = P::kGFreeMax;
constexpr int kGChunk = 256;

struct GChunk {
  G* base;
  std::uint32_t nfree;
  std::uint64_t mask[kGChunk / 64];  // bit i: base[i] is free
};
// Never destroyed: runtime threads may still free records while the process exits.
std::vector<GChunk>& gchunks = *new std::vector<GChunk>;
// Bit c: gchunks[c] has a free record. Finding the earliest such chunk reads one word
// per 64 chunks (16,384 records), however many chunks are full.
std::vector<std::uint64_t>& gchunks_free = *new std::vector<std::uint64_t>;

void set_chunk_free(std::size_t c, bool free) noexcept {
  std::uint64_t bit = std::uint64_t(1) << (c % 64);
  if (free)
    gchunks_free[c / 64] |= bit;
  else
    gchunks_free[c / 64] &= ~bit;
}

// A new chunk of G records, registered and all free. Allocates with no lock held (the
// allocation may throw, out of spawn_begin, as std::thread's constructor would).
void galloc_chunk() {
  G* chunk = new G[kGChunk];
  for (int i = 0; i < kGChunk; ++i) {
    G* g = &chunk[i];
    G* head = sched.allg.load(std::memory_order_relaxed);
    do {
      g->alllink = head;
    } while (!sched.allg.compare_exchange_weak(head, g, std::memory_order_release,
                                               std::memory_order_relaxed));
  }
  GChunk c{chunk, kGChunk, {}};
  for (auto& w : c.mask) w = ~std::uint64_t(0);
  std::lock_guard<Lock> hold(sched.glock);  // push_back may throw too
  auto index = std::uint32_t(gchunks.size());
  for (int i = 0; i < kGChunk; ++i) chunk[i].chunk = index;
  if (gchunks_free.size() * 64 <= index) gchunks_free.push_back(0);
  gchunks.push_back(c);
  set_chunk_free(index, true);
}

// glock held: takes up to `want` free records, the earliest chunk's first and each
// chunk's in address order, into out. Returns how many (0: none is free).
std::uint32_t gfree_take_locked(G** out, std::uint32_t want) noexcept {
  std::uint32_t n = 0;
  std::size_t w = 0;
  while (n < want) {
    while (w < gchunks_free.size() && gchunks_free[w] == 0) ++w;
    if (w == gchunks_free.size()) break;
    std::size_t ci = w * 64 + std::size_t(__builtin_ctzll(gchunks_free[w]));
    GChunk& c = gchunks[ci];
    for (int k = 0; k < kGChunk / 64 && n < want; ++k) {
      while (c.mask[k] != 0 && n < want) {
        int bit = __builtin_ctzll(c.mask[k]);
        c.mask[k] &= c.mask[k] - 1;
        out[n++] = &c.base[k * 64 + bit];
        --c.nfree;
      }
    }
    if (c.nfree == 0) set_chunk_free(ci, false);
  }
  return n;
}

// Takes up to `want` (>= 1) free records into out, making a chunk when none is free.
// Returns how many (>= 1).
std::uint32_t gfree_take(G** out, std::uint32_t want) {
  for (;;) {
    sched.glock.lock();
    std::uint32_t n = gfree_take_locked(out, want);
    sched.glock.unlock();
    if (n > 0) return n;
    galloc_chunk();
  }
}

// glock held: g is free.
void gfree_put_locked(G* g) noexcept {
  GChunk& c = gchunks[g->chunk];
  auto i = std::size_t(g - c.base);
  c.mask[i / 64] |= std::uint64_t(1) << (i % 64);
  if (c.nfree++ == 0) set_chunk_free(g->chunk, true);
}

G* gfree_get(P* p) {
  G* g = nullptr;
  if (p == nullptr) {  // a plain thread
    gfree_take(&g, 1);
  } else {
    if (p->ngfree == 0) {
      G* got[kGFreeMax / 2];
      std::uint32_t n = gfree_take(got, kGFreeMax / 2);
      std::reverse_copy(got, got + n, p->gfree);  // popped from the end: lowest first
      p->ngfree = n;
    }
    g = p->gfree[--p->ngfree];
  }
  return g;
}

void gfree_put(P* p, G* g) noexcept {
  if (p->ngfree < kGFreeMax) {
    p->gfree[p->ngfree++] = g;
    return;
  }
  // Spill the older half; the newer half, likelier to be in the cache, stays.
  constexpr std::uint32_t half = kGFreeMax / 2;
  sched.glock.lock();
  for (std::uint32_t i = 0; i < half; ++i) gfree_put_locked(p->gfree[i]);
  sched.glock.unlock();
  std::copy(p->gfree + half, p->gfree + kGFreeMax, p->gfree);
  p->ngfree = kGFreeMax - half;
  p->gfree[p->ngfree++] = g;
}

std::uint64_t new_goid(P* p) noexcept {
  constexpr std::uint64_t kBatch = 16;
  if (p == nullptr) return sched.goid_gen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (p->goid_next == p->goid_end) {
    p->goid_next = sched.goid_gen.fetch_add(kBatch, std::memory_order_relaxed) + 1;
    p->goid_end = p->goid_next + kBatch;
  }
  return p->goid_next++;
}

// ---------------------------------------------------------------------------
// Run queues.

// Starts a spinning M if a P is idle and no M spins. The caller has just published
// work (a run queue, the global queue, a poller): the seq_cst fence orders that
// before our reads of npidle and nmspinning, against a spinner that stops spinning
// and then looks at the queues (I4), so that one of the two sees the other. fenced:
// the caller published with a seq_cst read-modify-write (runnext's exchange), which
// already is that fence.
void wakep(bool fenced = false);

// Scheduler lock held: appends a chain of n Gs as one batch.
void global_put_batch_locked(G* head, G* tail, std::int64_t n) noexcept {
  tail->schedlink = nullptr;
  head->batch_len = std::uint32_t(n);
  head->batch_next = nullptr;
  if (sched.gq_tail != nullptr)
    sched.gq_tail->batch_next = head;
  else
    sched.gq_head = head;
  sched.gq_tail = head;
  sched.gq_size.store(sched.gq_size.load(std::memory_order_relaxed) + n, std::memory_order_release);
}

// Scheduler lock held: puts a batch back at the front (it was taken from there).
void global_return_front_locked(G* head, std::uint32_t n) noexcept {
  head->batch_len = n;
  head->batch_next = sched.gq_head;
  sched.gq_head = head;
  if (sched.gq_tail == nullptr) sched.gq_tail = head;
  sched.gq_size.store(sched.gq_size.load(std::memory_order_relaxed) + n, std::memory_order_release);
}

// Scheduler lock held: takes the first batch, or null.
G* global_take_batch_locked(std::uint32_t* n) noexcept {
  G* b = sched.gq_head;
  if (b == nullptr) return nullptr;
  sched.gq_head = b->batch_next;
  if (sched.gq_head == nullptr) sched.gq_tail = nullptr;
  *n = b->batch_len;
  sched.gq_size.store(sched.gq_size.load(std::memory_order_relaxed) - b->batch_len,
                      std::memory_order_relaxed);
  sched.gq_taken.store(sched.gq_taken.load(std::memory_order_relaxed) + b->batch_len,
                       std::memory_order_relaxed);
  return b;
}

void global_put(G* g) noexcept {
  sched.lock.lock();
  global_put_batch_locked(g, g, 1);
  sched.lock.unlock();
}

// Owner of p, with a batch taken off the global queue: returns its first G, moves up
// to `max - 1` more (0: as many as fit) to p's local queue, and gives any rest back to
// the front of the global queue. Walks the batch without the lock.
G* global_unpack(P* p, G* batch, std::uint32_t n, std::int64_t max) noexcept {
  G* g = batch;
  G* rest = g->schedlink;
  g->schedlink = nullptr;
  --n;
  std::int64_t room = RunQueue::kSize - p->runq.size();
  std::int64_t limit = max > 0 ? std::min<std::int64_t>(max - 1, room) : room;
  for (std::int64_t i = 0; i < limit && rest != nullptr; ++i) {
    G* x = rest;
    if (G* a = x->ahead) {
      __builtin_prefetch(a, 1);
      __builtin_prefetch(&a->ahead);
    }
    rest = x->schedlink;
    x->schedlink = nullptr;
    p->runq.push(x);  // fits: limit <= room
    --n;
  }
  if (rest != nullptr) {
    sched.lock.lock();
    global_return_front_locked(rest, n);
    sched.lock.unlock();
    wakep();  // others may take the rest
  }
  return g;
}

G* global_get(P* p, std::int64_t max) noexcept {
  if (sched.gq_size.load(std::memory_order_acquire) == 0) return nullptr;
  std::uint32_t n = 0;
  sched.lock.lock();
  G* b = global_take_batch_locked(&n);
  sched.lock.unlock();
  return b != nullptr ? global_unpack(p, b, n, max) : nullptr;
}

// The owner of p's run queue operations that may skip locked instructions when p is
// the lone P (sched.alone). The hand-shake with the monitor, which turns `alone` off
// before a spare P steals from p: the owner raises owner_op, then reads alone; the
// monitor stores alone = false, runs membarrier (a full barrier on every thread of
// the process), then waits for owner_op to read 0. Either the owner's read of alone
// came after the barrier (and sees false), or its owner_op = 1 is visible to the
// monitor, which waits for the operation to end. The owner pays two plain stores.
inline G* owner_swap_next(P* p, G* g) noexcept {
  if (sched.nprocs != 1) return p->runq.swap_next(g, false);
  p->owner_op.store(1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  G* old = p->runq.swap_next(g, sched.alone.load(std::memory_order_acquire));
  p->owner_op.store(0, std::memory_order_release);
  return old;
}
inline G* owner_pop(P* p) noexcept {
  if (sched.nprocs != 1) return p->runq.pop(false);
  p->owner_op.store(1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  G* g = p->runq.pop(sched.alone.load(std::memory_order_acquire));
  p->owner_op.store(0, std::memory_order_release);
  return g;
}

// Owner of p: queues g locally (runnext with next), spilling half to the global
// queue when the ring is full: to its tail, or with spill_front to its front (the
// spilled goroutines were next in line here; a woken sleeper should not wait behind
// everything queued globally).
GORO_NOINLINE void put_local_spill(P* p, G* g, bool spill_front) noexcept {
  while (!p->runq.push(g)) {
    std::uint32_t n = 0;
    G* batch = p->runq.grab_half_for_global(g, &n);
    if (batch != nullptr) {
      sched.lock.lock();
      if (spill_front)
        global_return_front_locked(batch, n);
      else
        global_put_batch_locked(batch, g, n);
      sched.lock.unlock();
      return;
    }
  }
}
// The common case is inline (into ready, above all): runnext, or the ring with room.
inline __attribute__((always_inline)) void put_local(P* p, G* g, bool next,
                                                     bool spill_front = false) noexcept {
  if (next) {
    g = owner_swap_next(p, g);
    if (g == nullptr) return;
  }
  if (GORO_LIKELY(p->runq.push(g))) return;
  put_local_spill(p, g, spill_front);
}

// Whether p has a timer whose deadline has passed; *now, if given, gets the clock read
// that told. While p has no timer at all (the common case) this is one relaxed load of
// a line nobody writes.
GORO_NOINLINE bool timers_due_slow(std::int64_t when0, std::int64_t* now) noexcept {
  std::int64_t t = nanotime();
  if (now != nullptr) *now = t;
  return t >= when0;
}
inline bool timers_due(P* p, std::int64_t* now = nullptr) noexcept {
  std::int64_t w = p->timers.when0.load(std::memory_order_relaxed);
  return GORO_UNLIKELY(w != 0) && timers_due_slow(w, now);
}

// Every kGlobalEvery-th scheduling tick a P takes the global queue's head before its
// own queue (fairness: Go does it every 61st). A multiple of P::kCheckEvery, so that
// the switch path, which looks only on those ticks (next_local), sees it too.
constexpr std::uint32_t kGlobalEvery = 64;
static_assert(kGlobalEvery % P::kCheckEvery == 0);

// The local queue, then the global queue.
inline __attribute__((always_inline)) G* local_then_global(P* p) noexcept {
  if (G* g = owner_pop(p)) return g;
  if (GORO_LIKELY(sched.gq_size.load(std::memory_order_relaxed) == 0)) return nullptr;
  return global_get(p, 0);
}
// The next queued goroutine of p: the global queue now and then (fairness), the local
// queue, then the global queue.
inline __attribute__((always_inline)) G* next_queued(P* p) noexcept {
  if (GORO_UNLIKELY(p->schedtick.load(std::memory_order_relaxed) % kGlobalEvery == 0) &&
      sched.gq_size.load(std::memory_order_relaxed) > 0) {
    if (G* g = global_get(p, 1)) return g;
  }
  return local_then_global(p);
}

// Whether spare p's ward still runs the goroutine it ran when p was lent: it has
// scheduled nothing since, is not inside a blocking call, and has an M (a ward whose
// goroutine ended and which then found nothing to do is idle, not stuck: otherwise
// the spare would go on serving, alone, while the regular P slept).
inline bool ward_stuck(const P* p) noexcept {
  const P* w = p->ward;
  return w->schedtick.load(std::memory_order_relaxed) == p->ward_tick &&
         (w->syscall.load(std::memory_order_relaxed) & 1) == 0 &&
         w->m.load(std::memory_order_relaxed) != nullptr;
}

// The next goroutine to run on p without leaving the M's current context (a switch
// straight from one goroutine to the next), or null to go through g0: when there is
// none, or when p has an expired timer.
//
// What most switches need not look at is looked at only when p's schedtick is a
// multiple of P::kCheckEvery (every switch of a spare P: its check_mask is 0), in one
// test: the timers, the spare P's ward, and the fairness turn of the global queue
// (kGlobalEvery, a multiple). With a timer armed each look at the timers reads the
// clock (~20 ns, as much as two yields), and 100,000 sleepers made 2.5 reads each when
// every switch looked; a due timer waits at most three switches more (microseconds),
// and g0 looks every time it runs. Timers are not run here: this runs on the departing
// goroutine's stack, maybe holding the lock its park will release (a timer that sends
// on that very channel would deadlock); g0 runs them (find_runnable). A spare P
// switches straight to its own next goroutine only while its ward is still stuck;
// otherwise (or with nothing of its own) g0 decides (spare_next).
GORO_NOINLINE G* spare_next_local(P* p) noexcept {
  if (!ward_stuck(p)) return nullptr;
  return p->runq.pop(false);
}
inline __attribute__((always_inline)) G* next_local_checked(P* p) noexcept {
  if (timers_due(p)) return nullptr;
  if (GORO_UNLIKELY(p->spare)) return spare_next_local(p);
  return next_queued(p);
}
inline __attribute__((always_inline)) G* next_local(P* p) noexcept {
  if (GORO_UNLIKELY((p->schedtick.load(std::memory_order_relaxed) & p->check_mask) == 0))
    return next_local_checked(p);
  return local_then_global(p);  // the fairness turn falls on a checked tick
}

// ---------------------------------------------------------------------------
// Idle Ps and Ms.

// Cuts the monitor's backed-off tick short (sysmon_slow).
void sysmon_hurry() noexcept {
  if (sched.sysmon_slow.load(std::memory_order_relaxed) != 0 &&
      sched.sysmon_slow.exchange(0, std::memory_order_relaxed) != 0)
    futex_wake(&sched.sysmon_slow, 1);
}

// Wakes the monitor if it sleeps because every P was idle (see sysmon_main): the
// other half of its Dekker pair (its flag store; fence; npidle read). The clock the
// monitor keeps (coarse_now) is refreshed here too: it has not ticked while asleep.
void sysmon_kick() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.sysmon_sleeping.load(std::memory_order_relaxed) != 0 &&
      sched.sysmon_sleeping.exchange(0, std::memory_order_acq_rel) != 0) {
    sched.coarse_now.store(coarse_nanotime(), std::memory_order_relaxed);
    futex_wake(&sched.sysmon_sleeping, 1);
  }
}

// Scheduler lock held. Taking a P out of the idle list ends "every P idle", so the
// monitor is woken if it sleeps (rare: a futex wake-up only on that transition).
P* pidle_get_locked() noexcept {
  P* p = sched.pidle;
  if (p != nullptr) {
    sched.pidle = p->link;
    sched.npidle.store(sched.npidle.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    sysmon_kick();
  }
  return p;
}
void pidle_put_locked(P* p) noexcept {
  p->m = nullptr;
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.store(sched.npidle.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
}

// Scheduler lock held: a spare P goes back to the monitor's list. Its schedtick moves
// (no M runs on it any more: the caller is its last owner, or the monitor that could
// not start one for it): a spare lent to this one, as its ward, sees it move on, and
// the monitor does not take its next lending for the old stall. The last active spare
// gives the lone P (at 1 P) its lock-free run queue back (release: the spare's last
// steal comes before the owner's next unlocked operation; owner_swap_next).
void spare_return_locked(P* p) noexcept {
  p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  p->ward = nullptr;
  p->home = nullptr;
  p->m = nullptr;
  p->link = sched.spare_free;
  sched.spare_free = p;
  int active = sched.nspare_active.load(std::memory_order_relaxed) - 1;
  sched.nspare_active.store(active, std::memory_order_relaxed);
  if (active == 0 && sched.membarrier_ok) sched.alone.store(true, std::memory_order_release);
}

void mstart(M* m);

// Starts a thread for p; `id` was counted in mcount by the caller (startm).
void newm(P* p, bool spinning, int id) {
  M* m = new M;
  m->seen = new M::Seen[std::size_t(sched.nprocs)];
  m->nextp = p;
  m->spinning = spinning;
  m->id = id;
  m->rand = 0x9E3779B97F4A7C15ull * std::uint64_t(m->id + 1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  int rc = pthread_create(
      &tid, &attr,
      [](void* arg) -> void* {
        mstart(static_cast<M*>(arg));
        return nullptr;
      },
      m);
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("goro: cannot create a runtime thread (pthread_create failed)");
}

// Gives an idle P (or p) to an idle or new M. With spinning, the caller has already
// counted the M in nmspinning; that count is undone if no P is free.
void startm(P* p, bool spinning) {
  sched.lock.lock();
  if (p == nullptr) {
    p = pidle_get_locked();
    if (p == nullptr) {
      sched.lock.unlock();
      if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
  }
  M* m = sched.midle;
  int new_id = -1;
  if (m != nullptr) {
    sched.midle = m->link;
    --sched.nmidle;
  } else if (sched.poller_m == nullptr && sched.mcount >= sched.max_threads) {
    // Options::max_threads reached (every thread is busy or inside a blocking call):
    // leave p idle. The next thread to come back from a blocking call takes it.
    if (p->spare)
      spare_return_locked(p);
    else
      pidle_put_locked(p);
    sched.lock.unlock();
    if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  } else if (sched.poller_m == nullptr) {
    new_id = sched.mcount++;  // counted now, under the lock, so the bound holds
  } else {
    // No M sleeps on its futex, but the idle sleeper is blocked in the network
    // poller: hand it the P and break its wait rather than start another thread.
    m = sched.poller_m;
    sched.poller_m = nullptr;
    m->nextp = p;
    m->spinning = spinning;
    sched.lock.unlock();
    netpoll_break();
    return;
  }
  sched.lock.unlock();
  if (m == nullptr) {
    newm(p, spinning, new_id);
    return;
  }
  m->nextp = p;
  m->spinning = spinning;
  m->wake.store(1, std::memory_order_release);
  futex_wake(&m->wake, 1);
}

// Called after publishing work (I4): wakes one spinning M if there are idle Ps and
// nobody is spinning.
void wakep(bool fenced) {
  if (!fenced) std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.npidle.load(std::memory_order_seq_cst) == 0) return;
  std::int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_seq_cst) != 0 ||
      !sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst))
    return;
  startm(nullptr, true);
}

void reset_spinning(M* m) {
  m->spinning = false;
  std::int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1;
  GORO_CHECK(n >= 0, "goro: negative nmspinning");
  // We found work, so there may be more: keep one spinner around.
  wakep();
}

bool any_runq_nonempty() noexcept {
  if (sched.gq_size.load(std::memory_order_acquire) != 0) return true;
  for (int i = 0; i < sched.nprocs + sched.nspare; ++i)
    if (!sched.ps[i].runq.empty()) return true;
  return false;
}

// Threads in this process now, from /proc/self/stat (field 20), or -1.
int count_process_threads() noexcept {
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  for (int field = 2; field < 20; ++field) {
    p = std::strchr(p + 1, ' ');
    if (p == nullptr) return -1;
  }
  return std::atoi(p + 1);
}

// Threads of the process that are not the sanitizer runtime's: TSan starts a
// background thread when the process first creates a thread, and it never exits.
int count_user_threads() noexcept {
  int n = count_process_threads();
#if defined(GORO_TSAN)
  if (n > 1) --n;
#endif
  return n;
}

// Scheduler lock held. Whether nothing can ever wake a goroutine again (sched.h,
// "Deadlock detection"). Cheapest tests first: this runs whenever the last M goes
// idle, and whenever a plain thread blocks while every M is idle.
bool deadlocked_locked() noexcept {
  if (sched.nmidle != sched.mcount) return false;  // an M runs (or is starting)
  if (any_runq_nonempty()) return false;
  std::int32_t waiters = sched.thread_waiters.load(std::memory_order_seq_cst);
  if (waiters <= 0 && goro::num_goroutines() == 0) return false;  // nobody waits
  for (auto& src : sched.wake_sources) {
    auto f = src.load(std::memory_order_acquire);
    if (f != nullptr && f()) return false;
  }
  // Every thread must be accounted for: a thread we do not know of (not an M, not a
  // runtime thread, not blocked in goro) could still send, unlock or close.
  int expected = sched.mcount + sched.runtime_threads.load(std::memory_order_acquire) + waiters;
  if (count_user_threads() != expected) return false;
  // Re-read what a thread could have changed while we looked. The monitor's poll
  // last: it counts itself before it takes goroutines off their sockets, so if the
  // wake sources above missed one it had taken, the count shows it.
  return sched.thread_waiters.load(std::memory_order_seq_cst) == waiters && !any_runq_nonempty() &&
         sched.polling_outside.load(std::memory_order_seq_cst) == 0;
}

[[noreturn]] void report_deadlock() noexcept { fatal("all goroutines are asleep - deadlock!"); }

// Sleeps the M until startm hands it a P.
void stopm(M* m) {
  sched.lock.lock();
  m->link = sched.midle;
  sched.midle = m;
  ++sched.nmidle;
  if (deadlocked_locked()) {
    sched.lock.unlock();
    report_deadlock();
  }
  sched.lock.unlock();
  while (m->wake.load(std::memory_order_acquire) == 0) futex_wait(&m->wake, 0);
  m->wake.store(0, std::memory_order_relaxed);
  set_p(m, m->nextp);
  m->nextp = nullptr;
  m->p->m = m;
}

// How long a spinning M polls before it gives its P back and sleeps: kSpinBeforeSleepNs,
// doubled (up to kSpinMaxNs) each time it is woken again within kQuickWakeNs of going
// to sleep without having found work, and back to the start once it finds some. A
// pair of goroutines ping-ponging on one P makes every ready() wake the idle M, which
// finds nothing and sleeps again: each round costs the pair's thread a futex wake
// (microseconds in a VM), so the M that keeps being woken for nothing waits longer.
constexpr std::int64_t kSpinBeforeSleepNs = 30000;
constexpr std::int64_t kSpinMaxNs = 1000000;
constexpr std::int64_t kQuickWakeNs = 200000;

// ---------------------------------------------------------------------------
// The idle sleeper and the network poller (runtime.md "Timers" and "Netpoller").
//
// While timers are armed or someone waits on a socket, and every M is idle, exactly
// one M — whoever claims sched.sleeper_until — blocks in the network poller
// (netpoll: epoll_wait) until the earliest timer's deadline (without one when only
// sockets wait) or a socket event; the other idle Ms sleep in stopm until handed a
// P. Waking the sleeper is netpoll_break (an eventfd: sticky, so a break before the
// wait makes the wait return at once). Arming a timer and falling asleep are a
// Dekker pair, as I4:
//   sleeper: claim (CAS 0 -> kClaimed); seq_cst fence; read every heap's when0 and
//            the socket waiters; publish the deadline; netpoll.
//   armer:   publish its heap's when0; seq_cst fence; read sleeper_until: 0 -> wakep
//            (no sleeper: an idle M comes and becomes it), a later deadline or
//            kClaimed -> netpoll_break.
// Either the sleeper sees the new timer or the armer sees the sleeper. A socket
// waiter needs no such pair for the sleeper's sake (any event ends its epoll_wait),
// only to make sure some M will poll at all (netpoll_need_poller).
//
// The sleeper is not on the idle-M list: when new work needs an M and none sleeps on
// its futex, startm hands the sleeper the P and breaks its wait.
constexpr std::int64_t kClaimed = INT64_MAX;

// A G taken off a poll descriptor, about to run without passing a run queue.
inline void mark_ready(G* g) noexcept {
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
  g->state.store(GState::runnable, std::memory_order_relaxed);
}

// An M holding a P, out of local work: a goroutine the network made ready (the
// others are queued on its P), or null. Skipped while an M is blocked in the poller:
// it gets the events.
G* poll_network() noexcept {
  if (!netpoll_has_waiters() || sched.sleeper_until.load(std::memory_order_relaxed) != 0)
    return nullptr;
  GList list = netpoll(0);
  G* g = list.pop();
  if (g == nullptr) return nullptr;
  mark_ready(g);
  ready_list(list);  // onto the caller's P
  return g;
}

// m holds no P and is not spinning. Returns holding a P: a goroutine to run (the
// network made it ready), or null to look for work again.
G* idle_m(M* m) {
  for (;;) {
    // Pairs with timer_armed's fence (via nmspinning or npidle, which the caller has
    // just updated): an armer that saw neither a spinner nor an idle P published its
    // timer where we read it now.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t unclaimed = 0;
    if ((timers_earliest() == 0 && !netpoll_has_waiters()) ||
        !sched.sleeper_until.compare_exchange_strong(unclaimed, kClaimed,
                                                     std::memory_order_seq_cst)) {
      stopm(m);  // nothing to wait for, or another M is the sleeper
      return nullptr;
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t until = timers_earliest();
    if (until == 0 && !netpoll_has_waiters()) {
      // Disarmed, or the waiters left, meanwhile: give the claim back, look again.
      sched.sleeper_until.store(0, std::memory_order_seq_cst);
      continue;
    }
    sched.sleeper_until.store(until != 0 ? until : kClaimed, std::memory_order_seq_cst);
    sched.lock.lock();
    sched.poller_m = m;
    sched.lock.unlock();
    std::int64_t now = nanotime();
    GList list = netpoll(until == 0 ? -1 : until > now ? until - now : 0);
    sched.lastpoll.store(nanotime(), std::memory_order_relaxed);
    sched.sleeper_until.store(0, std::memory_order_seq_cst);
    // A deadline passed, an event came, an earlier timer was armed, startm handed us a
    // P, or a spurious wake-up. Take a P and run what is due (T4: timers run only on
    // an M holding a P).
    sched.lock.lock();
    P* p;
    if (sched.poller_m == m) {
      sched.poller_m = nullptr;
      p = pidle_get_locked();
    } else {
      p = m->nextp;  // startm handed us a P (and maybe the spinning role)
      m->nextp = nullptr;
    }
    sched.lock.unlock();
    if (p == nullptr) {
      // Every P is held: each one's M runs its timers at its scheduling points, and
      // the first to go idle becomes the sleeper; what the network made ready goes on
      // the global queue for them.
      ready_list(list);
      stopm(m);
      return nullptr;
    }
    set_p(m, p);
    p->m = m;
    run_all_due_timers(nanotime());
    G* g = list.pop();
    if (g == nullptr) return nullptr;
    mark_ready(g);
    ready_list(list);
    return g;
  }
}

// A spare P's M, in g0 (every switch on a spare P comes here: next_local): work for
// the spare while its ward is still stuck, or null once the spare has retired (m then
// holds no P). Its work: its own queue, the ward's (stolen half at a time), timers
// that are due anywhere (the ward's M cannot run them), the global queue, the
// network. When the ward's M schedules again, or nothing is left, the spare's queue
// goes to the global queue and the spare back to the monitor.
G* spare_next(M* m, P* p) {
  P* w = p->ward;
  if (ward_stuck(p)) {
    std::int64_t now = nanotime();
    if (std::int64_t e = timers_earliest(); e != 0 && e <= now) run_all_due_timers(now);
    // The ward's queue first: that is what the spare is for, and a goroutine here
    // may be yielding while it waits for one there. A steal moves up to half a ring
    // into ours, so only while ours has room for it (others only ever take from a
    // spare's queue, never add to it); its runnext slot too, for the same yielding
    // reason.
    if (p->runq.size() <= RunQueue::kSize / 2)
      if (G* g = p->runq.steal_from(w->runq, &w->schedtick)) return g;
    if (G* g = p->runq.pop(false)) return g;
    if (G* g = global_get(p, 0)) return g;
    if (G* g = poll_network()) return g;
  }
  // Retire. What is queued here goes to the global queue, for the regular Ps.
  GList rest;
  while (G* g = p->runq.pop(false)) rest.push(g);
  if (!rest.empty()) {
    sched.lock.lock();
    global_put_batch_locked(rest.head, rest.tail, rest.n);
    sched.lock.unlock();
  }
  sched.lock.lock();
  spare_return_locked(p);
  set_p(m, nullptr);
  sched.lock.unlock();
  if (!rest.empty()) wakep();
  return nullptr;
}

// A spinning M takes the goroutine in another P's runnext slot only once that P's owner
// has scheduled nothing for kStuckRunnextNs (50 us). The owner is most likely about to
// run it: a goroutine readied by a channel operation runs as soon as its waker blocks,
// typically within ~100 ns. And a host that deschedules a vCPU for a few microseconds
// now and then (every ~0.5 ms here) made a 3 us grace move a ping-pong pair, or a
// whole ring, to the other CPU 400-800 times in a 0.3 s pingpong run, each move costing
// the pair its caches (pingpong at 2 Ps: 90 -> 80 ns a round trip with 50 us; select
// 0.91, ring 0.93 at 2 Ps). Go's runqgrab waits with usleep(3), which with Linux's
// default 50 us timer slack sleeps about as long. The owner's schedtick is read at most
// every kRunnextLookNs, and its runnext only once the tick has stood still.
constexpr std::int64_t kStuckRunnextNs = 50'000;
constexpr std::int64_t kRunnextLookNs = 5'000;
G* take_stuck_runnext(M* m, P* p, std::int64_t now) noexcept {
  if (now - m->seen_at < kRunnextLookNs) return nullptr;
  m->seen_at = now;
  for (int i = 0; i < sched.nprocs; ++i) {
    P* victim = &sched.ps[i];
    if (victim == p) continue;
    std::uint32_t tick = victim->schedtick.load(std::memory_order_relaxed);
    M::Seen& s = m->seen[i];
    if (tick != s.tick || s.since == 0) {
      s.tick = tick;
      s.since = now;
      continue;
    }
    if (now - s.since < kStuckRunnextNs) continue;
    if (G* g = victim->runq.take_next()) return g;
  }
  return nullptr;
}

// Whether some other P, stuck since this M's looks began (take_stuck_runnext), holds a
// goroutine in its runnext slot whose grace has not ended yet: the spin goes on for it.
bool runnext_grace_running(M* m, P* p, std::int64_t now) noexcept {
  for (int i = 0; i < sched.nprocs; ++i) {
    P* victim = &sched.ps[i];
    const M::Seen& s = m->seen[i];
    if (victim == p || s.since == 0 || now - s.since >= kStuckRunnextNs) continue;
    if (victim->schedtick.load(std::memory_order_relaxed) == s.tick && victim->runq.has_next())
      return true;
  }
  return false;
}

// A spinning M's last look before the global queue: the queues of lent spare Ps. A
// spare's M may itself be running one goroutine for a long time (one it took from its
// stalled ward), with others queued behind it that nobody else would run while this
// P's M looked for work.
G* steal_from_spares(P* p) noexcept {
  if (sched.nspare_active.load(std::memory_order_relaxed) == 0) return nullptr;
  for (int i = sched.nprocs; i < sched.nprocs + sched.nspare; ++i) {
    P* victim = &sched.ps[i];
    if (G* g = p->runq.steal_from(victim->runq, &victim->schedtick)) return g;
  }
  return nullptr;
}

// g0: finds a goroutine to run, sleeping when there is none. Returns holding a P.
G* find_runnable(M* m) {
  for (;;) {
    bool spin_found_nothing = false;
    P* p = m->p;
    if (GORO_UNLIKELY(p->spare)) {
      if (G* g = spare_next(m, p)) return g;
      // Retired: idle like any M that gave its P back (which may make it the one
      // that waits in the network poller: sockets need one).
      if (G* g = idle_m(m)) return g;
      continue;
    }
    if (std::int64_t now = 0; timers_due(p, &now)) run_timers(&p->timers, now);
    if (G* g = next_queued(p)) return g;
    if (G* g = poll_network()) return g;

    // Steal, if spinning is worthwhile (bounded as in Go: spinning Ms <= busy Ps / 2).
    if (sched.nprocs > 1 &&
        (m->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                            sched.nprocs - sched.npidle.load(std::memory_order_relaxed))) {
      if (!m->spinning) {
        m->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      // Steal; if nothing, poll briefly before sleeping: a futex sleep and wake-up
      // costs the waker microseconds, more than new work usually takes to appear.
      std::int64_t spin_until = 0;
      bool timer_due = false;
      auto found = [m](G* g) {  // finding work resets the adaptive spin
        m->spin_ns = kSpinBeforeSleepNs;
        return g;
      };
      for (;;) {
        for (int round = 0; round < 4; ++round) {
          int start = int(fastrand(m->rand) % std::uint64_t(sched.nprocs));
          for (int i = 0; i < sched.nprocs; ++i) {
            P* victim = &sched.ps[(start + i) % sched.nprocs];
            if (victim == p) continue;
            if (G* g = p->runq.steal_from(victim->runq, nullptr)) return found(g);
          }
        }
        std::int64_t now = nanotime();
        if (G* g = take_stuck_runnext(m, p, now)) return found(g);
        if (G* g = steal_from_spares(p)) return found(g);
        if (G* g = global_get(p, 0)) return found(g);
        // Someone waits on the network and nobody is blocked in the poller: rather
        // than spin, go and block there (idle_m), where an event wakes us at once.
        if (netpoll_has_waiters() && sched.sleeper_until.load(std::memory_order_relaxed) == 0)
          break;
        std::int64_t w = p->timers.when0.load(std::memory_order_relaxed);
        if (w != 0 && w <= now) {
          timer_due = true;
          break;
        }
        if (spin_until == 0) {
          if (m->spin_ns == 0) m->spin_ns = kSpinBeforeSleepNs;
          if (m->slept_at != 0 && now - m->slept_at < kQuickWakeNs)
            m->spin_ns = std::min(m->spin_ns * 2, kSpinMaxNs);
          m->slept_at = 0;
          spin_until = now + m->spin_ns;
        }
        // Out of time, unless a goroutine waits in a stuck P's runnext slot for its
        // grace to end: nobody else would take it before the monitor (10 ms).
        if (now >= spin_until && !runnext_grace_running(m, p, now)) {
          spin_found_nothing = true;
          break;
        }
        for (int i = 0; i < 64; ++i) cpu_relax();  // poll, but not so often that the
        // owners of the queues we read keep losing their cache lines to us
      }
      if (timer_due) continue;
    }

    // Before giving the P up: timers that are due on any P (an idle P's have no M of
    // their own to run them).
    if (std::int64_t e = timers_earliest(); e != 0) {
      std::int64_t now = nanotime();
      if (e <= now && run_all_due_timers(now) > 0) continue;
    }

    // A spare's queue (at 1 P there was no stealing above; at more, this M may not
    // have spun): the monitor wakes an idle P's M for those (sysmon_tick).
    if (G* g = steal_from_spares(p)) return g;

    // Nothing: give the P back and sleep.
    sched.lock.lock();
    std::uint32_t n = 0;
    if (G* b = global_take_batch_locked(&n)) {
      sched.lock.unlock();
      return global_unpack(p, b, n, 0);
    }
    pidle_put_locked(p);
    set_p(m, nullptr);
    sched.lock.unlock();

    if (m->spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      // I4: re-check after no longer counting as a spinner.
      if (any_runq_nonempty()) {
        sched.lock.lock();
        P* np = pidle_get_locked();
        sched.lock.unlock();
        if (np != nullptr) {
          set_p(m, np);
          np->m = m;
          m->spinning = true;
          sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
          continue;
        }
      }
    }
    // A spin that found nothing: if the next wake-up comes soon, spin longer then.
    m->slept_at = spin_found_nothing ? nanotime() : 0;
    if (G* g = idle_m(m)) return g;
  }
}

// ---------------------------------------------------------------------------
// Switching.

template <bool kInYield = false>
inline void after_switch(M* m, bctx::transfer_t t) noexcept;

void bind_stack(P* p, G* g);

// How a switch enters the target context. A new stack's first entry goes through
// jump_fcontext (make_fcontext's entry reads the transfer from other registers). A
// saved context is resumed through ontop_fcontext with land(), which only returns:
// ontop_fcontext leaves the target's return address on its stack and jumps to land,
// whose `ret` resumes the target. jump_fcontext resumes with an indirect jmp instead,
// so the call that suspended the caller pushed a return-stack-buffer entry that no
// ret ever pops: every ret on the resumed side was then predicted one frame off and
// mispredicted (~20 cycles each) until its call chain was new. With the ret, the
// prediction is right whenever both sides suspended from the same call site, which
// is nearly always (switch_to). Measured at 1 P, interleaved: yield 21 -> 11 ns per
// switch, pingpong 83 -> 67 ns per round trip, ring 65 -> 54 ns per hop.
// Both functions save the same frame (docs/design.md "Switching"), so dumps and
// sanitizer annotations see no difference.
GORO_NOINLINE __attribute__((no_sanitize_address)) bctx::transfer_t land(
    bctx::transfer_t t) noexcept {
  return t;
}

inline bctx::transfer_t enter(bool fresh, void* target, SwitchAction* act) noexcept {
  if (fresh) return bctx::jump_fcontext(target, act);
  return bctx::ontop_fcontext(target, act, &land);
}

// Switches from the running context (goroutine `from`, or g0 when null) to `to`
// (a goroutine, or g0 when null; `fresh`: to's first run, as prepare() said). Returns
// when `from` is resumed, maybe on another thread; returns the M it resumed on (the
// caller's `m` is stale: I3).
template <bool kInYield = false>
inline M* switch_to(M* m, [[maybe_unused]] G* from, G* to, bool fresh, SwitchAction* act) noexcept {
  void* target = to != nullptr ? to->ctx : m->g0ctx;
  act->m = m;
#if defined(GORO_ASAN)
  void** fake = from != nullptr ? &from->asan_fake_stack : &m->g0_fake_stack;
  if (to != nullptr)
    __sanitizer_start_switch_fiber(fake, to->stack_lo, std::size_t(to->stack_hi - to->stack_lo));
  else
    __sanitizer_start_switch_fiber(fake, m->g0_bottom, m->g0_size);
#endif
#if defined(GORO_TSAN)
  __tsan_switch_to_fiber(to != nullptr ? to->tsan_fiber : m->g0_fiber, 0);
#endif
  bctx::transfer_t t = enter(fresh, target, act);
  // Resumed. `m` is stale from here on (I3): the context that switched to us says
  // which M we are on now.
  m = static_cast<SwitchAction*>(t.data)->m;
#if defined(GORO_ASAN)
  __sanitizer_finish_switch_fiber(from != nullptr ? from->asan_fake_stack : m->g0_fake_stack,
                                  nullptr, nullptr);
#endif
  after_switch<kInYield>(m, t);
  return m;
}

// A dying goroutine's last switch, to `to` (null: g0). Not instrumented by ASan and
// never inlined: this frame is on the goroutine's real stack, whereas an instrumented
// one would be on its fake stack, which __sanitizer_start_switch_fiber(nullptr, ...)
// destroys (and poisons) before the jump.
[[noreturn]] GORO_NOINLINE __attribute__((no_sanitize_address)) void switch_exit(
    M* m, G* to, bool fresh, SwitchAction* act) noexcept {
  void* target = to != nullptr ? to->ctx : m->g0ctx;
  act->m = m;
#if defined(GORO_ASAN)
  if (to != nullptr)
    __sanitizer_start_switch_fiber(nullptr, to->stack_lo, std::size_t(to->stack_hi - to->stack_lo));
  else
    __sanitizer_start_switch_fiber(nullptr, m->g0_bottom, m->g0_size);
#endif
#if defined(GORO_TSAN)
  __tsan_switch_to_fiber(to != nullptr ? to->tsan_fiber : m->g0_fiber, 0);
#endif
  enter(fresh, target, act);
  __builtin_unreachable();
}

// Makes `g` the running goroutine of m's P (p), binding a stack on its first run;
// returns whether this is that first run (the switch enters the new stack's entry).
inline bool prepare(M* m, P* p, G* g) {
  p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  m->curg = g;
  g->state.store(GState::running, std::memory_order_relaxed);
  if (GORO_LIKELY(g->ctx != nullptr)) return false;
  bind_stack(p, g);
  return true;
}

// A goroutine's first frame.
[[noreturn]] GORO_NOINLINE void g_main(bctx::transfer_t t) noexcept;

// A goroutine's first frame: under ASan, only tells ASan that the new fiber has begun,
// and calls g_main. Its own frame must not live on ASan's fake stack: a frame set up
// before __sanitizer_finish_switch_fiber is carved from the fake stack of the context
// that switched here (another thread's, maybe), which reclaims it later while this
// goroutine still uses it (reported as a stack-use-after-return in the exit switch).
[[noreturn]] __attribute__((no_sanitize_address)) void g_entry(bctx::transfer_t t) noexcept {
#if defined(GORO_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  g_main(t);
}

// The goroutine proper: runs its function, then switches away for good.
[[noreturn]] void g_main(bctx::transfer_t t) noexcept {
  M* m = static_cast<SwitchAction*>(t.data)->m;
  after_switch(m, t);
  G* g = m->curg;
  *m->errno_addr = 0;
  void* closure = g->closure();
  try {
    g->call(closure);
  } catch (...) {
    crash_uncaught_exception(g);
  }
  g->destroy(closure);
  if (g->closure_on_heap) {
    ::operator delete(closure, std::align_val_t(alignof(std::max_align_t)));
    g->closure_on_heap = false;
  }

  // Exit: switch away for good; the next context frees our stack (I1).
  m = current_m();
  P* p = m->p;
  g->state.store(GState::dead, std::memory_order_relaxed);
  // release: whoever sees the count drop (wait_goroutines_at_most) sees our writes.
  p->live.store(p->live.load(std::memory_order_relaxed) - 1, std::memory_order_release);
  G* next = next_local(p);
  // The action lives in the M, not in this frame: under ASan this frame is on the
  // goroutine's fake stack, which the exit switch destroys before the landing side
  // reads the action. The M's next exit (the earliest rewrite) comes after that read.
  // Only the fields an exit uses are set (switch_exit sets m): value-initialising the
  // whole action compiled to a `rep stos`, slow to start for 48 bytes, on every exit.
  SwitchAction* act = &m->exit_act;
  act->kind = SwitchAction::exit;
  act->save_to = &g->ctx;
  act->g = g;
  bool fresh = false;
  if (next != nullptr)
    fresh = prepare(m, p, next);
  else
    m->curg = nullptr;
  switch_exit(m, next, fresh, act);
}

void bind_stack(P* p, G* g) {
  char* lo = nullptr;
  char* top = stacks::get(&p->stacks, &lo);
  // Atomic (relaxed) stores of what a goroutine dump reads from other threads (the
  // stack bounds and the context): a dump may be formatting this G right now.
  __atomic_store_n(&g->stack_lo, lo, __ATOMIC_RELAXED);
  __atomic_store_n(&g->stack_hi, top, __ATOMIC_RELAXED);
  g->min_sp = top;
  __atomic_store_n(&g->ctx, bctx::make_fcontext(top, std::size_t(top - lo), &g_entry),
                   __ATOMIC_RELAXED);
#if defined(GORO_TSAN)
  g->tsan_fiber = __tsan_create_fiber(0);
#endif
}

void release_dead(P* p, G* g) noexcept {
#if defined(GORO_TSAN)
  __tsan_destroy_fiber(g->tsan_fiber);
  g->tsan_fiber = nullptr;
#endif
#if defined(GORO_ASAN)
  // The stack will be reused by another goroutine: forget its poisoning.
  __asan_unpoison_memory_region(g->stack_lo, std::size_t(g->stack_hi - g->stack_lo));
  g->asan_fake_stack = nullptr;
#endif
  stacks::put(&p->stacks, g->stack_hi, g->min_sp);
  // Atomic (relaxed): a dump may still be formatting this G (see bind_stack).
  __atomic_store_n(&g->stack_lo, nullptr, __ATOMIC_RELAXED);
  __atomic_store_n(&g->stack_hi, nullptr, __ATOMIC_RELAXED);
  __atomic_store_n(&g->ctx, nullptr, __ATOMIC_RELAXED);
  g->state.store(GState::free, std::memory_order_release);
  gfree_put(p, g);
  if (sched.quiesce_waiters.load(std::memory_order_relaxed) != 0) {
    sched.quiesce_seq.fetch_add(1, std::memory_order_release);
    futex_wake(&sched.quiesce_seq, INT32_MAX);
  }
}

// Runs in the context we landed in, on behalf of the one we left (I1).
GORO_NOINLINE void after_switch_rest(M* m, const SwitchAction* act,
                                     SwitchAction::Kind kind) noexcept;
template <bool kInYield>
inline void after_switch(M* m, bctx::transfer_t t) noexcept {
  // Read what we need before publishing: the departing stack (where *act lives) may
  // be reused as soon as its goroutine is visible to others.
  const auto* act = static_cast<const SwitchAction*>(t.data);
  SwitchAction::Kind kind = act->kind;
  // Atomic (relaxed) only for goroutine dumps, which read a parked G's context from
  // other threads; everyone else reads it after a run-queue or wait-queue hand-off.
  __atomic_store_n(act->save_to, t.fctx, __ATOMIC_RELAXED);
  if (kind == SwitchAction::none) return;
  G* g = act->g;
  if (static_cast<char*>(t.fctx) < g->min_sp) g->min_sp = static_cast<char*>(t.fctx);
  // A yield's requeue, inline while the ring has room (the rest: after_switch_rest).
  // Where the landing is yield's own (kInYield: the resumed goroutine had yielded),
  // a lone requeued goroutine goes to runnext (RunQueue::push_requeue). Only there:
  // the same code inlined into every other switch (park's, above all) made them
  // larger and moved fcontext's entry across a cache line in the benchmark binaries
  // (docs/HACKING.md, "Code placement"); the other landings push to the ring, which
  // at one P orders the queue the same way.
  if (kind == SwitchAction::requeue &&
      GORO_LIKELY(kInYield ? current_p()->runq.push_requeue(g, sched.nprocs == 1)
                           : current_p()->runq.push(g)))
    return;
  after_switch_rest(m, act, kind);
}
void after_switch_rest(M* m, const SwitchAction* act, SwitchAction::Kind kind) noexcept {
  G* g = act->g;
  P* p = m->p;
  switch (kind) {
    case SwitchAction::requeue: put_local(p, g, false); break;
    case SwitchAction::to_global: global_put(g); break;
    case SwitchAction::park:
      // release: a dump that reads `waiting` (acquire) sees the saved context and the
      // stack as the goroutine left it. Before unlockf: once that has run, a waker may
      // make g runnable.
      g->state.store(GState::waiting, std::memory_order_release);
      if (!act->unlockf(act->arg)) {
        g->state.store(GState::runnable, std::memory_order_relaxed);
        put_local(p, g, true);
      }
      break;
    case SwitchAction::exit: release_dead(p, g); break;
    case SwitchAction::none: break;
  }
}

// Switches the running goroutine g out (act says what to do with it) to next, or to
// g0 when next is null; returns once g runs again, on whatever thread, having
// restored what it carries and counted a migration if the thread is another.
template <bool kInYield = false>
inline __attribute__((always_inline)) void switch_out(M* m, G* g, G* next,
                                                      SwitchAction* act) noexcept {
  ThreadState ts = save_thread_state(m, g);
  M* from = m;  // only compared after the switch, never dereferenced (I3)
  act->save_to = &g->ctx;
  act->g = g;
  bool fresh = false;
  if (next != nullptr)
    fresh = prepare(m, m->p, next);
  else
    m->curg = nullptr;
  m = switch_to<kInYield>(m, g, next, fresh, act);
  restore_thread_state(m, g, ts);
  if (m != from) sched.migrations.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// M main loop.

void mstart(M* m) {
  t_m = m;
  m->thread = pthread_self();
  // Named for ps/top/gdb ("goro-m<id>"); a new thread would otherwise inherit the name
  // of whichever thread created it (the monitor's, for one it hands a P to).
  char name[16];
  std::snprintf(name, sizeof name, "goro-m%d", m->id);
  prctl(PR_SET_NAME, name);
  m->errno_addr = errno_ptr();
  m->eh = eh_globals();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    m->g0_bottom = addr;
    m->g0_size = size;
    pthread_attr_destroy(&attr);
  }
#if defined(GORO_TSAN)
  m->g0_fiber = __tsan_get_current_fiber();
#endif
  setup_thread_signals(m);
  set_p(m, m->nextp);
  m->nextp = nullptr;
  m->p->m = m;
  for (;;) {
    if (GORO_UNLIKELY(m->p == nullptr)) {
      // Back from a goroutine that came out of a blocking call to find its P taken
      // and none idle (blocking_exit): it is on the global queue. Take an idle P if
      // one has turned up since, else sleep like any idle M.
      sched.lock.lock();
      P* p = pidle_get_locked();
      sched.lock.unlock();
      if (p != nullptr) {
        set_p(m, p);
        p->m = m;
      } else {
        stopm(m);
      }
    }
    G* g = find_runnable(m);
    if (m->spinning) reset_spinning(m);
    bool fresh = prepare(m, m->p, g);
    SwitchAction act;
    act.save_to = &m->g0ctx;
    m = switch_to(m, nullptr, g, fresh, &act);
  }
}

// ---------------------------------------------------------------------------
// The monitor (Go's sysmon; runtime.md "Blocking calls and stalls").
//
// One runtime thread, holding no P, that looks at every P every tick: 20 us, doubling
// after 1 ms without anything to do up to 10 ms, and asleep (sysmon_sleeping) while
// every P is idle, until someone takes one (pidle_get_locked); a goroutine entering
// goro::blocking cuts a backed-off tick short (sysmon_hurry). Each tick it:
// - retakes a P whose M has been inside goro::blocking for a whole tick, when the P
//   has work or nobody else looks for work (or after 10 ms regardless), and hands it
//   to another M (handoff);
// - finds a P that has run the same goroutine for 10 ms (its schedtick has not moved)
//   while others wait on it, and lends a spare P to another M to run them (lend_spare):
//   goro cannot preempt a goroutine (C++ code has no safe points), so the goroutine
//   keeps its thread and the ones waiting behind it move;
// - polls the network if nobody has for 10 ms;
// - once a second starts a round of the stack scavenger (stack.h S3), whose steps
//   it runs until the round's stacks are given back, waking for them even while
//   every P is idle.
// It hands out Ps only while the Ms stay within Options::max_threads.

constexpr std::int64_t kSysmonMinDelayNs = 20'000;
constexpr std::int64_t kSysmonMaxDelayNs = 10'000'000;
constexpr std::int64_t kSysmonSlowNs = 1'000'000;  // ticks this long: sysmon_slow
constexpr std::int64_t kStallNs = 10'000'000;      // a goroutine this long on its P stalls it
constexpr std::int64_t kRetakeAnywayNs = 10'000'000;
constexpr std::int64_t kScavengePeriodNs = 1'000'000'000;  // stack.h S3
constexpr std::int64_t kScavengeStepNs = 10'000'000;

struct SysmonSeen {
  std::uint64_t syscall = 0;  // P.syscall as last seen
  std::int64_t syscall_since = 0;
  std::uint32_t schedtick = 0;  // P.schedtick as last seen
  std::int64_t sched_since = 0;
  std::uint32_t runq_taken = 0;  // P.runq.taken() as last seen
  bool reported = false;         // the stall at this schedtick was reported
};

// Whether another M may be put to work: an idle one exists, or a new one stays within
// the bound. Racy (a hint): the bound may be overshot by the few Ms started at once.
bool may_use_another_m() noexcept {
  sched.lock.lock();
  bool ok = sched.nmidle > 0 || sched.poller_m != nullptr || sched.mcount < sched.max_threads;
  sched.lock.unlock();
  return ok;
}

// The monitor owns p (taken from a blocking call): gives it to an M if there is
// anything for it to do, else puts it on the idle list (Go's handoffp).
void handoff(P* p) {
  if (p->spare || !p->runq.empty() || p->timers.when0.load(std::memory_order_relaxed) != 0) {
    startm(p, false);
    return;
  }
  sched.lock.lock();
  if (sched.gq_head != nullptr) {
    sched.lock.unlock();
    startm(p, false);
    return;
  }
  // Nobody spinning and no P idle: nobody would notice new work; be that M.
  if (sched.nmspinning.load(std::memory_order_relaxed) == 0 &&
      sched.npidle.load(std::memory_order_relaxed) == 0) {
    sched.lock.unlock();
    std::int32_t zero = 0;
    if (sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
      startm(p, true);
      return;
    }
    sched.lock.lock();
  }
  pidle_put_locked(p);
  sched.lock.unlock();
  // Sockets need a poller: if nobody sleeps in it, wake an M to (idle_m).
  if (netpoll_has_waiters() && sched.sleeper_until.load(std::memory_order_seq_cst) == 0) wakep();
}

// Lends a spare P to another M to run what waits on `ward`, which has run one
// goroutine since schedtick `tick`. False if no spare is free. A ward may have more
// than one: the monitor lends another only after a further 10 ms in which nobody took
// from its queue (the first spare may itself be running, for good, a goroutine it
// took from there).
bool lend_spare(P* ward, std::uint32_t tick) {
  sched.lock.lock();
  P* sp = sched.spare_free;
  if (sp == nullptr) {
    sched.lock.unlock();
    return false;
  }
  sched.spare_free = sp->link;
  sp->link = nullptr;
  sp->ward = ward;
  sp->ward_tick = tick;
  sp->home = ward->spare ? ward->home : ward;  // ward is active: its home is set
  sched.nspare_active.store(sched.nspare_active.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
  bool handshake = sched.alone.load(std::memory_order_relaxed);
  sched.alone.store(false, std::memory_order_relaxed);
  sched.lock.unlock();
  if (handshake) {
    // The lone P's owner may be inside an unlocked run-queue operation: make it see
    // alone == false from now on, and wait out the one in flight (owner_swap_next).
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
      fatal("goro: membarrier failed after it was registered");
    while (ward->owner_op.load(std::memory_order_acquire) != 0) cpu_relax();
  }
  sched.spares_lent.fetch_add(1, std::memory_order_relaxed);
  startm(sp, false);
  return true;
}

void report_stall(P* p, std::int64_t ran_ns) {
  if (M* m = p->m.load(std::memory_order_acquire)) request_stall_report(m, ran_ns);
}

// One look at every P. Returns whether it did anything (for the back-off).
bool sysmon_tick(SysmonSeen* seen, std::uint64_t* gq_taken_seen, std::int64_t now) {
  bool acted = false;
  std::uint64_t gq_taken = sched.gq_taken.load(std::memory_order_relaxed);
  bool global_stuck =
      sched.gq_size.load(std::memory_order_relaxed) > 0 && gq_taken == *gq_taken_seen;
  *gq_taken_seen = gq_taken;
  // Not "acted": polling is paced by staleness, not by the tick (as Go's sysmon).
  poll_network_if_stale(kStallNs);
  int nall = sched.nprocs + sched.nspare;
  for (int i = 0; i < nall; ++i) {
    P* p = &sched.ps[i];
    SysmonSeen& s = seen[i];
    std::uint64_t word = p->syscall.load(std::memory_order_acquire);
    if ((word & 1) != 0) {
      // In a blocking call. Give it a whole tick first.
      if (s.syscall != word) {
        s.syscall = word;
        s.syscall_since = now;
        continue;
      }
      bool busy_elsewhere = sched.nmspinning.load(std::memory_order_relaxed) +
                                sched.npidle.load(std::memory_order_relaxed) >
                            0;
      if (p->runq.empty() && busy_elsewhere && now - s.syscall_since < kRetakeAnywayNs) continue;
      if (!may_use_another_m()) continue;
      if (p->syscall.compare_exchange_strong(word, word & ~std::uint64_t(1),
                                             std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
        sched.handoffs.fetch_add(1, std::memory_order_relaxed);
        handoff(p);
        acted = true;
      }
      continue;
    }
    // Lent spares too: one may be running a goroutine it took from its ward for as
    // long, with others queued behind it (then a spare is lent to it in turn, while
    // one is free; idle regular Ps' Ms steal from it as well: steal_from_spares).
    std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
    // Whether others took from its queue since the last look (thieves serve it).
    std::uint32_t taken = p->runq.taken();
    bool served = taken != s.runq_taken;
    s.runq_taken = taken;
    if (s.schedtick != tick || s.sched_since == 0 ||
        p->bulk_wake.load(std::memory_order_relaxed) != 0) {  // BulkWakeScope: not a stall
      s.schedtick = tick;
      s.sched_since = now;
      s.reported = false;
      continue;
    }
    if (now - s.sched_since < kStallNs) continue;
    if (p->m.load(std::memory_order_relaxed) == nullptr) continue;  // idle, not stuck
    // One goroutine (or its M's scheduler, stuck) for 10 ms. Does anything wait on it?
    std::int64_t w = p->timers.when0.load(std::memory_order_relaxed);
    // Its queue, unless other Ps' threads are taking from it (they steal: nothing
    // starves); an overdue timer; or global work nobody has taken since the last look,
    // with no P idle.
    bool waiting = (!p->runq.empty() && !served) || (w != 0 && w <= now) ||
                   (global_stuck && sched.npidle.load(std::memory_order_relaxed) == 0);
    if (!waiting) continue;
    if (sched.npidle.load(std::memory_order_relaxed) > 0 && !p->runq.empty() &&
        sched.nmspinning.load(std::memory_order_relaxed) == 0) {
      wakep();  // an idle P's M can steal them
      acted = true;
      continue;
    }
    if (!may_use_another_m()) continue;
    if (lend_spare(p, tick)) {
      acted = true;
      if (sched.stall_report && !s.reported) report_stall(p, now - s.sched_since);
      s.reported = true;
      s.sched_since = now;  // another spare for p only after 10 ms more unserved
    }
  }
  return acted;
}

void sysmon_main() {
  std::vector<SysmonSeen> seen(std::size_t(sched.nprocs + sched.nspare));
  std::uint64_t gq_taken_seen = 0;
  std::int64_t delay = kSysmonMinDelayNs;
  int idle = 0;
  std::int64_t next_round = nanotime() + kScavengePeriodNs;
  std::int64_t next_step = 0;
  bool scavenging = false;  // a round still has stacks to give back
  for (;;) {
    if (idle == 0)
      delay = kSysmonMinDelayNs;
    else if (idle > 50)
      delay = std::min(delay * 2, kSysmonMaxDelayNs);
    struct timespec ts {
      0, long(delay)
    };
    if (delay < kSysmonSlowNs) {
      nanosleep(&ts, nullptr);
    } else {
      sched.sysmon_slow.store(1, std::memory_order_relaxed);
      futex_wait(&sched.sysmon_slow, 1, &ts);
      // Cleared by someone else: a blocking call began. Tick fast again.
      if (sched.sysmon_slow.exchange(0, std::memory_order_relaxed) == 0) idle = 0;
    }
    sched.coarse_now.store(coarse_nanotime(), std::memory_order_relaxed);
    // The stack scavenger (stack.h S3): a round a second, given back in steps of at
    // most ~1 ms of madvise calls, one every 10 ms (the monitor's other duties wait
    // while it runs one).
    if (std::int64_t now = nanotime(); now >= next_round) {
      stacks::scavenge_round();
      next_round = now + kScavengePeriodNs;
      scavenging = true;
    }
    if (std::int64_t now = nanotime(); scavenging && now >= next_step) {
      scavenging = stacks::scavenge_step();
      next_step = now + kScavengeStepNs;
    }
    // Every P idle: nothing can be stuck or blocked. Sleep until a P is taken (the
    // Dekker pair with sysmon_kick: our flag store; fence; npidle read).
    // (Unless sockets wait and nobody sleeps in the poller: then keep polling them.
    // Or a spare P is still lent: its M may run a goroutine that never yields, with
    // others queued behind it. Only the monitor lends spares: none can appear while
    // it sleeps.)
    auto poller_missing = [] {
      return netpoll_has_waiters() && sched.sleeper_until.load(std::memory_order_seq_cst) == 0;
    };
    if (sched.npidle.load(std::memory_order_relaxed) == sched.nprocs && !poller_missing() &&
        sched.nspare_active.load(std::memory_order_relaxed) == 0) {
      sched.sysmon_sleeping.store(1, std::memory_order_seq_cst);
      if (sched.npidle.load(std::memory_order_seq_cst) == sched.nprocs && !poller_missing()) {
        // With pooled stacks to give back, wake for the scavenger's next step or round.
        std::int64_t wait = scavenging ? kSysmonMaxDelayNs
                            : stacks::has_surplus()
                                ? std::max<std::int64_t>(next_round - nanotime(), 1)
                                : 0;
        struct timespec rel {
          time_t(wait / 1'000'000'000), long(wait % 1'000'000'000)
        };
        futex_wait(&sched.sysmon_sleeping, 1, wait > 0 ? &rel : nullptr);
      }
      sched.sysmon_sleeping.store(0, std::memory_order_relaxed);
      // Back at the pace it had (as Go's sysmon after its idle sleep would not be:
      // there, only a system call wakes it). A server whose P goes idle between
      // requests took a P thousands of times a second, and each kick put the monitor
      // back at 20 us ticks: ~9% of a core at 1 P under wrk.
      continue;
    }
    if (sysmon_tick(seen.data(), &gq_taken_seen, nanotime()))
      idle = 0;
    else
      ++idle;
  }
}

void start_sysmon() {
  sched.coarse_now.store(coarse_nanotime(), std::memory_order_relaxed);
  note_runtime_thread(+1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t tid;
  int rc = pthread_create(
      &tid, &attr,
      [](void*) -> void* {
        prctl(PR_SET_NAME, "goro-sysmon");
        prctl(PR_SET_TIMERSLACK, 1000UL);  // a 20 us tick, not 20 + 50 us
        sysmon_main();
        return nullptr;
      },
      nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("goro: cannot create the monitor thread (pthread_create failed)");
}

// ---------------------------------------------------------------------------
// Start-up.

int cgroup_cpu_limit() {
  // cgroup v2: "max 100000" or "<quota> <period>".
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {
    char quota[32] = {0};
    long period = 0;
    int n = std::fscanf(f, "%31s %ld", quota, &period);
    std::fclose(f);
    if (n == 2 && std::strcmp(quota, "max") != 0 && period > 0) {
      long q = std::atol(quota);
      return int(std::max(1L, (q + period - 1) / period));
    }
    return 0;
  }
  // cgroup v1.
  long q = -1, period = 0;
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r")) {
    if (std::fscanf(f, "%ld", &q) != 1) q = -1;
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r")) {
    if (std::fscanf(f, "%ld", &period) != 1) period = 0;
    std::fclose(f);
  }
  if (q > 0 && period > 0) return int(std::max(1L, (q + period - 1) / period));
  return 0;
}

int default_procs() {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  int limit = cgroup_cpu_limit();
  if (limit > 0 && limit < n) n = limit;
  return n;
}

[[noreturn]] void bad_env(const char* name, const char* value, const char* want) {
  std::fprintf(stderr, "goro: invalid %s=%s (%s)\n", name, value, want);
  std::exit(2);
}

std::size_t parse_size(const char* name, const char* s) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s)
    bad_env(name, s, "a size in bytes, with an optional K, M or G suffix");
  switch (*end) {
    case 'k':
    case 'K':
      v <<= 10;
      ++end;
      break;
    case 'm':
    case 'M':
      v <<= 20;
      ++end;
      break;
    case 'g':
    case 'G':
      v <<= 30;
      ++end;
      break;
    default: break;
  }
  if (*end == 'i' || *end == 'I') ++end;
  if (*end == 'b' || *end == 'B') ++end;
  if (*end != '\0') bad_env(name, s, "a size in bytes, with an optional K, M or G suffix");
  return std::size_t(v);
}

Options resolve_options(Options o) {
  if (o.procs <= 0) {
    if (const char* s = std::getenv("GORO_PROCS"); s != nullptr && *s != '\0') {
      char* end = nullptr;
      long v = std::strtol(s, &end, 10);
      if (end == s || *end != '\0' || v < 1 || v > 1024)
        bad_env("GORO_PROCS", s, "a number from 1 to 1024");
      o.procs = int(v);
    } else {
      o.procs = default_procs();
    }
  }
  if (o.stack_size == 0) {
    if (const char* s = std::getenv("GORO_STACK_SIZE"); s != nullptr && *s != '\0')
      o.stack_size = parse_size("GORO_STACK_SIZE", s);
    else
      o.stack_size = std::size_t(128) << 10;
  }
  if (o.stack_size < (std::size_t(16) << 10)) o.stack_size = std::size_t(16) << 10;
  if (o.max_threads <= 0) {
    if (const char* s = std::getenv("GORO_MAX_THREADS"); s != nullptr && *s != '\0') {
      char* end = nullptr;
      long v = std::strtol(s, &end, 10);
      if (end == s || *end != '\0' || v < 1 || v > 1000000)
        bad_env("GORO_MAX_THREADS", s, "a number from 1 to 1000000");
      o.max_threads = int(v);
    } else {
      o.max_threads = 10000;
    }
  }
  if (o.max_threads < o.procs + 1) o.max_threads = o.procs + 1;
  if (o.stack_guard == Options::StackGuard::automatic) {
    if (const char* s = std::getenv("GORO_STACK_GUARD"); s != nullptr && *s != '\0') {
      if (std::strcmp(s, "madvise") == 0)
        o.stack_guard = Options::StackGuard::madvise;
      else if (std::strcmp(s, "mprotect") == 0)
        o.stack_guard = Options::StackGuard::mprotect;
      else if (std::strcmp(s, "auto") != 0)
        bad_env("GORO_STACK_GUARD", s, "auto, madvise or mprotect");
    }
  }
  return o;
}

void start_locked() {
  Options o = resolve_options(g_options);
  bool automatic = o.stack_guard == Options::StackGuard::automatic;
  stacks::init(
      o.stack_size,
      o.stack_guard == Options::StackGuard::mprotect ? GuardMode::mprotect : GuardMode::madvise,
      automatic);
  o.stack_size = stacks::config().stack_size;
  if (automatic)
    o.stack_guard = stacks::config().mode == GuardMode::madvise ? Options::StackGuard::madvise
                                                                : Options::StackGuard::mprotect;
  g_options = o;
  sched.nprocs = o.procs;
  // Two spares per P: a spare lent to a stalled P may itself take from it a goroutine
  // that never yields, and then another is lent (lend_spare). Each is a few KB; its
  // thread is made only when it is lent.
  sched.nspare = 2 * o.procs;
  sched.max_threads = o.max_threads;
  sched.ps = new P[std::size_t(o.procs + sched.nspare)];
  for (int i = o.procs - 1; i >= 0; --i) {
    P* p = &sched.ps[i];
    p->id = i;
    p->rand = 0x2545F4914F6CDD1Dull * std::uint64_t(i + 1);
    pidle_put_locked(p);
  }
  for (int i = o.procs + sched.nspare - 1; i >= o.procs; --i) {
    P* p = &sched.ps[i];
    p->id = i;
    p->rand = 0x2545F4914F6CDD1Dull * std::uint64_t(i + 1);
    p->spare = true;
    p->check_mask = 0;  // next_local looks at the ward on every switch
    p->link = sched.spare_free;
    sched.spare_free = p;
  }
  // The lone P skips locked instructions on its run queue until a spare P is lent,
  // which needs membarrier to stop it safely (owner_swap_next); without membarrier
  // it never skips them.
  if (o.procs == 1 && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0) {
    sched.membarrier_ok = true;
    sched.alone.store(true, std::memory_order_relaxed);
  }
  if (const char* s = std::getenv("GORO_STALL_REPORT");
      s != nullptr && *s != '\0' && std::strcmp(s, "0") != 0) {
    sched.stall_report = true;
    install_stall_report_handler();
  }
  install_signal_handlers();
  register_wake_source(&timers_pending);  // a pending timer can still wake a goroutine
  netpoll_init();                         // where the idle sleeper waits, for timers too
  start_sysmon();
  g_started.store(true, std::memory_order_release);
}

}  // namespace

// ---------------------------------------------------------------------------
// Internal API.

#if !(defined(__x86_64__) && defined(__linux__))
GORO_NOINLINE M* current_m() noexcept {
  M* m = t_m;
  asm volatile("" ::: "memory");
  return m;
}

GORO_NOINLINE G* current_g() noexcept {
  M* m = t_m;
  asm volatile("" ::: "memory");
  return m != nullptr ? m->curg : nullptr;
}
#endif

bool started() noexcept { return g_started.load(std::memory_order_acquire); }

void ensure_started() {
  if (GORO_LIKELY(g_started.load(std::memory_order_acquire))) return;
  std::lock_guard<std::mutex> lk(g_start_mu);
  if (g_started.load(std::memory_order_relaxed)) return;
  start_locked();
}

int nprocs() noexcept { return sched.nprocs; }

P* all_ps() noexcept { return sched.ps; }

void timer_armed(std::int64_t when) noexcept {
  // The Dekker pair with idle_m: the caller's when0 store before our read of the
  // sleeper's state.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::int64_t until = sched.sleeper_until.load(std::memory_order_relaxed);
  if (until == 0)
    wakep();  // nobody sleeps with a deadline: an idle M (if any P is idle) comes to look
  else if (when < until)
    netpoll_break();
}

void timers_maybe_gone() noexcept {
  // Let the sleeper give up its deadline and, with nothing else to do, go idle where
  // the deadlock detector can see it.
  if (sched.sleeper_until.load(std::memory_order_seq_cst) != 0 && !timers_pending() &&
      !netpoll_has_waiters())
    netpoll_break();
}

void thread_block_end() noexcept { sched.thread_waiters.fetch_sub(1, std::memory_order_seq_cst); }
void thread_blocked() noexcept {
  sched.thread_waiters.fetch_add(1, std::memory_order_seq_cst);
  if (!started()) return;
  // Cheap pre-check (racy; the lock decides): is every M idle?
  if (sched.npidle.load(std::memory_order_seq_cst) != sched.nprocs) return;
  sched.lock.lock();
  bool dead = deadlocked_locked();
  sched.lock.unlock();
  if (dead) report_deadlock();
}

void register_wake_source(bool (*pending)() noexcept) noexcept {
  for (auto& src : sched.wake_sources) {
    bool (*expected)() noexcept = nullptr;
    if (src.compare_exchange_strong(expected, pending, std::memory_order_acq_rel)) return;
    if (expected == pending) return;
  }
  fatal("goro: too many wake sources registered");
}

void note_runtime_thread(int delta) noexcept {
  sched.runtime_threads.fetch_add(delta, std::memory_order_acq_rel);
}

std::uint32_t cheap_rand() noexcept {
  if (M* m = current_m()) return static_cast<std::uint32_t>(fastrand(m->rand) >> 32);
  thread_local std::uint64_t state = 0;
  if (state == 0) state = reinterpret_cast<std::uintptr_t>(&state) * 0x9E3779B97F4A7C15ull | 1;
  return static_cast<std::uint32_t>(fastrand(state) >> 32);
}

bool sync_can_spin(int iter) noexcept {
  if (iter >= 4 || sched.nprocs <= 1) return false;
  if (sched.nprocs <= sched.npidle.load(std::memory_order_relaxed) +
                          sched.nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  M* m = current_m();
  if (m != nullptr && m->p != nullptr && !m->p->runq.empty()) return false;
  return true;
}

void park(WaitReason reason, bool (*unlockf)(void*), void* arg) {
  M* m = current_m();
  G* g = m->curg;
  GORO_CHECK(g != nullptr, "goro: park called outside a goroutine");
  g->wait_reason.store(reason, std::memory_order_relaxed);
  g->wait_since.store(sched.coarse_now.load(std::memory_order_relaxed), std::memory_order_relaxed);
  SwitchAction act;  // after_switch marks g waiting once its context is saved
  act.kind = SwitchAction::park;
  act.unlockf = unlockf;
  act.arg = arg;
  switch_out(m, g, next_local(m->p), &act);
}

// ---------------------------------------------------------------------------
// Blocking calls (goro::blocking; Go's entersyscall / exitsyscall).
//
// enter: the goroutine's M gives up its P (P.syscall gets in_call, with a fresh
// generation) and runs f as a plain thread would (curg and p are null, so whatever
// f does with goro blocks the thread). The P stays where it is: if f returns soon,
// exit takes it back with one CAS and nobody else ever knew. If f takes longer than
// a monitor tick (~20 us) and the P has work (or nobody else is looking for work),
// the monitor takes the P with the same CAS and hands it to another M (retake). exit
// then takes an idle P if there is one, else puts the goroutine on the global queue
// and lets its M sleep: the goroutine continues wherever a P picks it up.

void* blocking_enter() noexcept {
  M* m = current_m();
  if (m == nullptr || m->curg == nullptr) return nullptr;  // plain thread, or nested
  G* g = m->curg;
  P* p = m->p;
  m->oldp = p;
  m->blocking_g = g;
  m->curg = nullptr;
  set_p(m, nullptr);
  g->state.store(GState::syscall, std::memory_order_release);
  std::uint64_t word = ((p->syscall.load(std::memory_order_relaxed) >> 1) + 1) << 1 | 1;
  // release: what the owner did with p comes before whoever takes it (the monitor's
  // acquire CAS).
  m->syscall_word = word;
  p->syscall.store(word, std::memory_order_release);
  sysmon_hurry();
  return g;
}

void blocking_exit(void* token) noexcept {
  if (token == nullptr) return;
  auto* g = static_cast<G*>(token);
  M* m = current_m();
  P* p = m->oldp;
  m->oldp = nullptr;
  m->blocking_g = nullptr;
  m->curg = g;
  // From exactly the word we stored: p may have gone round to another M's blocking
  // call since (a new generation), which is not ours to take.
  std::uint64_t word = m->syscall_word;
  if (p->syscall.compare_exchange_strong(word, word & ~std::uint64_t(1), std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
    set_p(m, p);  // nobody took it: carry on
    g->state.store(GState::running, std::memory_order_relaxed);
    return;
  }
  // The monitor handed p to another M. An idle P?
  sched.lock.lock();
  P* np = pidle_get_locked();
  sched.lock.unlock();
  if (np != nullptr) {
    set_p(m, np);
    np->m = m;
    g->state.store(GState::running, std::memory_order_relaxed);
    return;
  }
  // None: queue the goroutine globally and let this M sleep (mstart).
  g->state.store(GState::runnable, std::memory_order_relaxed);
  SwitchAction act;
  act.kind = SwitchAction::to_global;
  switch_out(m, g, nullptr, &act);
}

BulkWakeScope::BulkWakeScope() noexcept {
  M* m = current_m();
  p_ = m != nullptr ? m->p : nullptr;
  if (p_ != nullptr)
    p_->bulk_wake.store(p_->bulk_wake.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}
BulkWakeScope::~BulkWakeScope() {
  // Same P: waking never switches goroutines.
  if (p_ != nullptr)
    p_->bulk_wake.store(p_->bulk_wake.load(std::memory_order_relaxed) - 1,
                        std::memory_order_relaxed);
}

G* current_g_for_crash() noexcept {
  M* m = current_m();
  if (m == nullptr) return nullptr;
  return m->curg != nullptr ? m->curg : m->blocking_g;
}

void note_unwinding() noexcept {
  G* g = current_g();
  // Only the goroutine itself and its own switches' landings write min_sp.
  if (g != nullptr) g->min_sp = g->stack_lo;
}

void ready(G* g, bool next) noexcept {
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
  g->state.store(GState::runnable, std::memory_order_relaxed);
  M* m = current_m();
  if (m != nullptr && m->p != nullptr) {
    put_local(m->p, g, next, !next);
    // With more than one P, runnext is taken with a seq_cst exchange (RunQueue::swap_next).
    if (sched.nprocs > 1) wakep(/*fenced=*/next);
  } else {
    global_put(g);
    wakep();
  }
}

void ready_list(GList list, bool behind_global) noexcept {
  if (list.empty()) return;
  for (G* g = list.head; g != nullptr; g = g->schedlink) mark_ready(g);
  M* m = current_m();
  if (m != nullptr && m->p != nullptr &&
      !(behind_global && sched.gq_size.load(std::memory_order_relaxed) > 0)) {
    while (G* g = list.pop()) put_local(m->p, g, false);
  } else {
    sched.lock.lock();
    global_put_batch_locked(list.head, list.tail, list.n);
    sched.lock.unlock();
  }
  wakep();  // an idle P may share them (its spinner steals half)
}

void netpoll_need_poller() noexcept {
  // The caller raised the waiter count (seq_cst) first. The idle sleeper, if there is
  // one (or an M claiming the role, which reads the count after its claim), waits in
  // epoll_wait and sees the event; else wake an idle P's M, which polls once it finds
  // nothing else. A spinning or running M that goes idle reads the count after giving
  // up its P (seq_cst), so if wakep sees no idle P and no spinner, that M sees the
  // count (the argument of I4).
  if (sched.sleeper_until.load(std::memory_order_seq_cst) != 0) return;
  wakep();
}

int poll_network_if_stale(std::int64_t stale_ns) noexcept {
  if (!netpoll_has_waiters() || sched.sleeper_until.load(std::memory_order_relaxed) != 0)
    return 0;  // nobody waits, or the sleeper is blocked in the poller
  std::int64_t last = sched.lastpoll.load(std::memory_order_relaxed);
  std::int64_t now = nanotime();
  if (now - last < stale_ns) return 0;
  if (!sched.lastpoll.compare_exchange_strong(last, now, std::memory_order_relaxed)) return 0;
  // Counted while the goroutines it finds are in its hands, off their sockets (no
  // longer netpoll waiters) and not yet queued: the deadlock check reads the count
  // after the waiters (deadlocked_locked). The monitor is not an M, so without it an
  // M going idle meanwhile saw every M idle, no queue, no waiter, and reported a
  // deadlock with the goroutine "runnable" in the dump (TSan CI, PeerReset at 1 P).
  sched.polling_outside.fetch_add(1, std::memory_order_seq_cst);
  GList list = netpoll(0);
  int n = list.n;
  ready_list(list);
  sched.polling_outside.fetch_sub(1, std::memory_order_seq_cst);
  return n;
}

void for_each_g(void (*f)(G*, void*), void* arg) {
  for (G* g = sched.allg.load(std::memory_order_acquire); g != nullptr; g = g->alllink)
    if (g->state.load(std::memory_order_acquire) != GState::free) f(g, arg);
}

// ---------------------------------------------------------------------------
// Spawning.

Spawn spawn_begin(std::size_t size, std::size_t align) {
  ensure_started();
  M* m = current_m();
  G* g = gfree_get(m != nullptr ? m->p : nullptr);
  if (size > G::kInline || align > 16) {
    GORO_CHECK(align <= alignof(std::max_align_t), "goro::go: over-aligned closure");
    *reinterpret_cast<void**>(g->inline_buf) =
        ::operator new(size, std::align_val_t(alignof(std::max_align_t)));
    g->closure_on_heap = true;
  }
  // Atomic (relaxed), as the id in spawn_commit: a dump that found this G alive a
  // moment ago may be reading its record while it is reused.
  __atomic_store_n(&g->created_pc, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)),
                   __ATOMIC_RELAXED);
  return Spawn{g, g->closure()};
}

void spawn_abort(Spawn s) noexcept {
  G* g = s.g;
  if (g->closure_on_heap) {
    ::operator delete(g->closure(), std::align_val_t(alignof(std::max_align_t)));
    g->closure_on_heap = false;
  }
  M* m = current_m();
  if (m != nullptr && m->p != nullptr) {
    gfree_put(m->p, g);
  } else {
    sched.glock.lock();
    gfree_put_locked(g);
    sched.glock.unlock();
  }
}

void spawn_commit(Spawn s, void (*call)(void*), void (*destroy)(void*) noexcept) {
  G* g = s.g;
  g->call = call;
  g->destroy = destroy;
  M* m = current_m();
  P* p = m != nullptr ? m->p : nullptr;
  __atomic_store_n(&g->id, new_goid(p), __ATOMIC_RELAXED);  // see spawn_begin
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
  g->state.store(GState::runnable, std::memory_order_release);
  if (p != nullptr) {
    p->live.store(p->live.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    put_local(p, g, true);
    if (sched.nprocs > 1) wakep();
  } else {
    sched.thread_live.fetch_add(1, std::memory_order_relaxed);
    global_put(g);
    wakep();
  }
}

// ---------------------------------------------------------------------------
// Completion.

namespace {
struct CompletionPark {
  std::atomic<std::uintptr_t>* state;
  Waiter* w;
};
bool completion_publish(void* arg) {
  auto* cp = static_cast<CompletionPark*>(arg);
  std::uintptr_t expected = 0;
  return cp->state->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(cp->w),
                                            std::memory_order_acq_rel, std::memory_order_acquire);
}
}  // namespace

void Completion::signal() noexcept {
  std::uintptr_t old = state_.exchange(1, std::memory_order_acq_rel);
  GORO_CHECK(old != 1, "goro: Completion signalled twice");
  if (old != 0) reinterpret_cast<Waiter*>(old)->wake();
}

void Completion::wait() {
  if (state_.load(std::memory_order_acquire) == 1) return;
  ensure_started();
  Waiter w;
  CompletionPark cp{&state_, &w};
  w.wait(WaitReason::completion, &completion_publish, &cp);
  GORO_CHECK(state_.load(std::memory_order_acquire) == 1, "goro: Completion woken early");
}

}  // namespace goro::detail

// ---------------------------------------------------------------------------
// Public API.

namespace goro {

using namespace goro::detail;

void configure(const Options& options) {
  std::lock_guard<std::mutex> lk(g_start_mu);
  if (g_started.load(std::memory_order_relaxed))
    throw std::logic_error("goro::configure: the runtime has already started");
  g_options = options;
  g_options_set = true;
}

Options current_options() {
  ensure_started();
  return g_options;
}

void yield() {
  M* m = current_m();
  if (m == nullptr || m->curg == nullptr) {
    sched_yield();
    return;
  }
  G* g = m->curg;
  P* p = current_p();
  G* next = next_local(p);
  // Nothing else to run: carry on, unless a timer is due (g0 runs it; we queue), or
  // this is a spare P: it goes through g0 to look at its ward's queue too.
  if (next == nullptr && !timers_due(p) && !GORO_UNLIKELY(p->spare)) return;
  g->state.store(GState::runnable, std::memory_order_relaxed);
  SwitchAction act;
  act.kind = SwitchAction::requeue;
  switch_out<true>(m, g, next, &act);
}

std::int64_t num_goroutines() noexcept {
  if (!started()) return 0;
  std::int64_t n = sched.thread_live.load(std::memory_order_acquire);
  for (int i = 0; i < sched.nprocs + sched.nspare; ++i)
    n += sched.ps[i].live.load(std::memory_order_acquire);
  return n;
}

int procs() {
  ensure_started();
  return sched.nprocs;
}

bool in_goroutine() noexcept { return current_g() != nullptr; }

namespace detail::testing {

bool wait_goroutines_at_most(std::int64_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  sched.quiesce_waiters.fetch_add(1, std::memory_order_seq_cst);
  bool ok = false;
  for (;;) {
    std::uint32_t seq = sched.quiesce_seq.load(std::memory_order_acquire);
    if (num_goroutines() <= n) {
      ok = true;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    // Woken by each goroutine exit; the 1 ms cap covers an exit that raced with our
    // registration.
    struct timespec ts {
      0, 1000000
    };
    futex_wait(&sched.quiesce_seq, seq, &ts);
  }
  sched.quiesce_waiters.fetch_sub(1, std::memory_order_seq_cst);
  return ok;
}

std::uint64_t migrations() noexcept { return sched.migrations.load(std::memory_order_relaxed); }

std::int32_t threads_waiting() noexcept {
  return sched.thread_waiters.load(std::memory_order_seq_cst);
}

std::uint64_t goroutine_id() noexcept {
  G* g = current_g();
  return g != nullptr ? g->id : 0;
}

std::uintptr_t g_record() noexcept { return reinterpret_cast<std::uintptr_t>(current_g()); }

int thread_index() noexcept {
  M* m = current_m();
  return m != nullptr ? m->id : -1;
}

int threads_started() noexcept {
  sched.lock.lock();
  int n = sched.mcount;
  sched.lock.unlock();
  return n;
}

std::uint64_t spares_lent() noexcept { return sched.spares_lent.load(std::memory_order_relaxed); }
int idle_ps() noexcept { return sched.npidle.load(std::memory_order_seq_cst); }
int spare_ps() noexcept { return sched.nspare; }
bool on_spare_p() noexcept {
  M* m = current_m();
  return m != nullptr && m->curg != nullptr && m->p != nullptr && m->p->spare;
}
bool thread_p_matches() noexcept {
  M* m = current_m();
  return current_p() == (m != nullptr ? m->p : nullptr);
}
std::uint64_t blocking_handoffs() noexcept {
  return sched.handoffs.load(std::memory_order_relaxed);
}

const char* stack_guard_mode() {
  ensure_started();
  return stacks::mode_name();
}

std::size_t stack_mappings() noexcept { return stacks::mappings(); }
std::size_t stacks_reserved() noexcept { return stacks::reserved(); }
std::size_t stacks_warm_pooled() noexcept { return stacks::warm_pooled(); }
std::uint64_t stack_scavenge_rounds() noexcept { return stacks::scavenge_rounds(); }
std::uint64_t stack_deep_releases() noexcept { return stacks::deep_releases(); }
std::size_t stack_size() noexcept {
  ensure_started();
  return stacks::config().stack_size;
}

}  // namespace detail::testing
}  // namespace goro
