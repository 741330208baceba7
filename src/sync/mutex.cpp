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
//
// The uncontended unlock (x86-64): a restartable sequence that stores 0 over state_
// with a plain store, ~2 ns less than the locked subtraction (detail/mutex_unlock.h).
// A plain store of the whole word would lose any bit another thread set between the
// sequence's read and its store (a waiter's registration, the woken bit), so:
//  U1. contended_ only rises, 0 -> 1 -> 2. The sequence commits only if it read
//      contended_ == 0 and state_ == kLocked, both inside the sequence.
//  U2. No one but the holder writes state_ while it is locked before seeing
//      contended_ == 2: lock_slow (which registers waiters and sets the woken and
//      starving bits, all while the mutex is held) first calls mark_contended.
//      try_lock and lock's fast path write only an unlocked state_, which no
//      sequence can be storing over (it reads exactly kLocked).
//  U3. mark_contended stores 1, then asks the kernel to abort every sequence in
//      flight in this process (membarrier PRIVATE_EXPEDITED_RSEQ, also a full
//      barrier on each CPU running one of our threads), then stores 2. A sequence
//      that read contended_ == 0 either committed before the call returned or was
//      aborted (and unlocked atomically instead); one that starts later reads >= 1.
//      So after 2 no plain store can overwrite a waiter's write, and that mutex
//      keeps Go's algorithm, unchanged, from then on.
// The cost: the first contention of each mutex pays one membarrier (~0.4 us here),
// and a mutex once contended unlocks atomically for good. Off where the kernel or
// libc lacks rseq or membarrier's RSEQ commands, under TSan, or with
// GORO_MUTEX_RSEQ=0 in the environment.
#include <linux/membarrier.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "goro/detail/testing.h"
#include "goro/sync.h"
#include "sched/platform.h"
#include "sched/sched.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#include <sys/rseq.h>
#define GORO_HAVE_GLIBC_RSEQ 1
#endif

namespace goro {
namespace detail {

MutexRseq g_mutex_rseq;

namespace {

// Before main and before any goroutine: U3 needs every unlock that may take the
// sequence to see `enabled` set, so it is never set while mutexes are in use.
__attribute__((constructor(101))) void mutex_rseq_init() noexcept {
#if defined(GORO_DETAIL_MUTEX_RSEQ) && defined(GORO_HAVE_GLIBC_RSEQ)
  const char* env = std::getenv("GORO_MUTEX_RSEQ");
  if (env != nullptr && std::strcmp(env, "0") == 0) return;
  // cpu_id and rseq_cs must lie in the registered area (the original ABI's 20 bytes).
  if (__rseq_size < 20) return;  // glibc did not register rseq (tunable, kernel, Valgrind)
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) != 0) return;
  g_mutex_rseq.rseq_offset = __rseq_offset;
  g_mutex_rseq.enabled = true;
#endif
}

}  // namespace
}  // namespace detail

namespace {
constexpr std::int32_t kWoken = 2;
constexpr std::int32_t kStarving = 4;
constexpr int kWaiterShift = 3;
constexpr std::int64_t kStarvationNs = 1000000;
// Go spins on a held mutex only while its P has nothing else to run (sync_can_spin).
// When it has, a waiter still watches the word a little before it parks (with more
// than one P, where the holder may be running): a park and the wake-up that follows
// cost a microsecond or more of CPU, more than the whole watch, and a critical section
// is usually far shorter. bench mutex at 2 Ps: 24-39 -> 12-21 ns per lock with 16
// looks, 4 pauses apart (~1.6 us at most here: PAUSE is ~25 ns on this CPU). The same
// watch in 4 looks, 16 pauses apart, is a little faster again: each look from another
// M takes the mutex's cache line from the holder, whose next lock or unlock must
// fetch it back (interleaved, 16 pairs: 13.0 -> 11.5 ns per lock, per-pair 0.94;
// 0.93 in 10 pairs in a slower hour of the machine).
constexpr int kBriefSpins = 4;
constexpr int kBriefPauses = 16;

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

// U3: no unlock may take the plain-store path once this returns.
void Mutex::mark_contended() {
  if (!detail::g_mutex_rseq.enabled) {  // none ever does
    contended_.store(2, std::memory_order_relaxed);
    return;
  }
  // Ours to fence if we saw it below 2: store 1 first, so that sequences starting
  // now already fail, then wait out the ones that read 0. Two lockers may both do it.
  if (contended_.load(std::memory_order_relaxed) == 0)
    contended_.store(1, std::memory_order_seq_cst);
  if (detail::membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0) {
    // Registration is per process: a child of fork may need its own.
    int err = errno;
    if (detail::membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) != 0 ||
        detail::membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0) {
      char msg[160];
      std::snprintf(msg, sizeof msg, "goro: membarrier(PRIVATE_EXPEDITED_RSEQ) failed: %s",
                    std::strerror(err));
      detail::fatal(msg);
    }
  }
  contended_.store(2, std::memory_order_release);
}

void Mutex::lock_slow() {
  if (contended_.load(std::memory_order_acquire) != 2) mark_contended();
  std::int64_t wait_start = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  int brief = 0;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the holder may release soon (not in starvation: ownership is handed
    // to waiters then, so spinning is pointless).
    if ((old & (kLocked | kStarving)) == kLocked) {
      bool full = detail::sync_can_spin(iter);
      if (full || (brief < kBriefSpins && detail::nprocs() > 1)) {
        // Tell unlock not to wake another waiter while we are awake and trying.
        if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
            state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed))
          awoke = true;
        if (full) {
          spin_pause();
          ++iter;
        } else {
          for (int k = 0; k < kBriefPauses; ++k) detail::cpu_relax();
          ++brief;
        }
        old = state_.load(std::memory_order_relaxed);
        continue;
      }
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
      brief = 0;
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

namespace detail::testing {
std::uint32_t mutex_contended(const goro::Mutex& mu) noexcept {
  return mu.contended_.load(std::memory_order_acquire);
}
bool mutex_rseq_enabled() noexcept { return g_mutex_rseq.enabled; }
void mutex_abort_sequences() {
  if (g_mutex_rseq.enabled)
    GORO_CHECK(membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) == 0, "goro: membarrier failed");
}
}  // namespace detail::testing

}  // namespace goro
