// runq.h — a P's local run queue: a fixed ring of 256 goroutines plus the runnext slot.
//
// One producer (the owning P's M) pushes at the tail; the owner and thieves take from
// the head with a CAS. The owner handle (push/pop) and the thief call (steal_into)
// are separate so a reader sees who may do what.
//
// Memory order: the owner publishes a slot with tail.store(release); a consumer reads
// tail with acquire, reads the slot, then claims it with head CAS (release, so that
// the producer's acquire load of head sees the slot free before reusing it).
#pragma once

#include <atomic>
#include <cstdint>

#include "sched/sched.h"

namespace goro::detail {

class RunQueue {
 public:
  static constexpr std::uint32_t kSize = 256;
  // How far ahead a batch's walk fetches records (G::ahead).
  static constexpr std::uint32_t kBatchAhead = 8;

  // Owner only. With next, g goes to runnext and the G it displaces to the ring.
  // Returns false if the ring is full: the caller moves half to the global queue
  // (see put_slow in sched.cpp), which gets back the batch in *batch.
  bool push(G* g) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h < kSize) {
      buf_[t % kSize].store(g, std::memory_order_relaxed);
      tail_.store(t + 1, std::memory_order_release);
      return true;
    }
    return false;
  }
  // Owner only: a yielding goroutine's requeue. With `to_next` and nothing else
  // queued, g goes to runnext instead of the ring: it is next either way, and the next
  // pop takes it with one load instead of the ring's head and then its slot (two
  // goroutines yielding to each other at 1 P: 0.95x a switch). Used at one regular P
  // only: with more, an idle P steals from the ring at once but leaves a busy P's
  // runnext alone for a grace period, which would hold a yielder back. The store needs
  // no locked instruction even while a spare P may steal: thieves only ever take
  // from runnext, so the null read here cannot have changed.
  bool push_requeue(G* g, bool to_next) noexcept {
    if (to_next && runnext_.load(std::memory_order_relaxed) == nullptr &&
        head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_relaxed)) {
      runnext_.store(g, std::memory_order_release);
      return true;
    }
    return push(g);
  }
  // Owner only: g becomes runnext; returns the G it displaced. `alone` as for pop():
  // with no thief possible, a load and a store do (no locked instruction).
  G* swap_next(G* g, bool alone) noexcept {
    if (alone) {
      G* old = runnext_.load(std::memory_order_relaxed);
      runnext_.store(g, std::memory_order_relaxed);
      return old;
    }
    // seq_cst: ready() counts on it as wakep's fence.
    return runnext_.exchange(g, std::memory_order_seq_cst);
  }

  // Owner only: takes half the ring (plus g) off for the global queue, linked through
  // schedlink. Returns the batch's head and its size in *n, or null if a thief got
  // there first (then push again).
  G* grab_half_for_global(G* g, std::uint32_t* n) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t k = (t - h) / 2;
    if (k != kSize / 2) return nullptr;
    G* batch[kSize / 2 + 1];
    for (std::uint32_t i = 0; i < k; ++i)
      batch[i] = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + k, std::memory_order_release,
                                       std::memory_order_relaxed))
      return nullptr;
    batch[k] = g;
    for (std::uint32_t i = 0; i < k; ++i) batch[i]->schedlink = batch[i + 1];
    g->schedlink = nullptr;
    for (std::uint32_t i = 0; i <= k; ++i)
      batch[i]->ahead = i + kBatchAhead <= k ? batch[i + kBatchAhead] : nullptr;
    *n = k + 1;
    return batch[0];
  }

  // Owner only: runnext first, then the ring's head. `alone` says no other P exists,
  // so no thief can race the owner and the claims need no CAS.
  __attribute__((always_inline)) G* pop(bool alone) noexcept {
    if (alone) {
      G* next = runnext_.load(std::memory_order_relaxed);
      if (next != nullptr) {
        runnext_.store(nullptr, std::memory_order_relaxed);
        return next;
      }
      std::uint32_t h = head_.load(std::memory_order_relaxed);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      G* g = buf_[h % kSize].load(std::memory_order_relaxed);
      head_.store(h + 1, std::memory_order_relaxed);
      if (t != h + 1) prefetch_context(buf_[(h + 1) % kSize].load(std::memory_order_relaxed));
      return g;
    }
    return pop_shared();
  }
  // pop() while thieves may race: runnext and the head are claimed with a CAS.
  __attribute__((noinline)) G* pop_shared() noexcept {
    G* next = runnext_.load(std::memory_order_relaxed);
    if (next != nullptr && runnext_.compare_exchange_strong(
                               next, nullptr, std::memory_order_acquire, std::memory_order_relaxed))
      return next;
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      G* g = buf_[h % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_strong(h, h + 1, std::memory_order_release,
                                        std::memory_order_relaxed)) {
        if (t != h + 1) prefetch_context(buf_[(h + 1) % kSize].load(std::memory_order_relaxed));
        return g;
      }
    }
  }

  bool has_next() const noexcept { return runnext_.load(std::memory_order_relaxed) != nullptr; }
  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire) &&
           runnext_.load(std::memory_order_acquire) == nullptr;
  }
  // How many goroutines have left the ring (by the owner or thieves), mod 2^32: the
  // monitor compares two readings to tell whether anyone takes from a busy P's queue.
  std::uint32_t taken() const noexcept { return head_.load(std::memory_order_relaxed); }
  std::uint32_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

  // Thief: takes this queue's runnext goroutine, if it has one, to run it. For a queue
  // whose owner is known to be stuck (see take_stuck_runnext in sched.cpp).
  G* take_next() noexcept {
    G* next = runnext_.load(std::memory_order_relaxed);
    return next != nullptr && claim_next(next) ? next : nullptr;
  }

  // Thief: moves half of victim's ring into this queue, whose owner is the caller
  // and which must have room for half a ring (kSize / 2) more. Returns one G to run now, or null.
  // With victim_tick (the victim P's schedtick), also tries the victim's runnext when
  // its ring is empty.
  G* steal_from(RunQueue& victim, const std::atomic<std::uint32_t>* victim_tick) noexcept {
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = victim.grab(buf_, t, victim_tick);
    if (n == 0) return nullptr;
    --n;
    G* g = buf_[(t + n) % kSize].load(std::memory_order_relaxed);
    if (n != 0) tail_.store(t + n, std::memory_order_release);
    return g;
  }

 private:
  std::uint32_t grab(std::atomic<G*>* dst, std::uint32_t dst_tail,
                     const std::atomic<std::uint32_t>* tick) noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n == 0) {
        if (tick != nullptr) {
          G* next = runnext_.load(std::memory_order_acquire);
          if (next == nullptr) return 0;
          // Used against Ps that may be held by one goroutine for long: a spare's
          // stalled ward, and lent spares (whoever steals from them, spare or regular:
          // steal_from_spares). Regular Ps' runnext waits far longer for a spinning M
          // (take_stuck_runnext in sched.cpp). Give the owner ~3 us before taking it:
          // it is most likely about to run it. An
          // owner that scheduled anything meanwhile is not stuck: leave the slot to
          // it. (Comparing the slot alone is not enough: a pair ping-ponging on the
          // owner puts the same G back in it every other exchange.)
          std::uint32_t tick0 = tick->load(std::memory_order_relaxed);
          std::int64_t until = nanotime() + kRunnextGraceNs;
          while (runnext_.load(std::memory_order_relaxed) == next && nanotime() < until) {
            for (int i = 0; i < 16; ++i) cpu_relax();
            if (tick->load(std::memory_order_relaxed) != tick0) return 0;
          }
          if (claim_next(next)) {
            dst[dst_tail % kSize].store(next, std::memory_order_relaxed);
            return 1;
          }
        }
        return 0;
      }
      if (n > kSize / 2) continue;  // inconsistent h/t read; retry
      for (std::uint32_t i = 0; i < n; ++i)
        dst[(dst_tail + i) % kSize].store(buf_[(h + i) % kSize].load(std::memory_order_relaxed),
                                          std::memory_order_relaxed);
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                        std::memory_order_relaxed))
        return n;
    }
  }

  // A thief's claim of runnext, expecting `next` there (the one claim for all thieves).
  bool claim_next(G* next) noexcept {
    return runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel);
  }

  static constexpr std::int64_t kRunnextGraceNs = 3000;

  // Starts loading the saved context of g, the goroutine the owner will run after
  // the one pop() just took from the ring: one that parked long ago resumes with its
  // stack's page out of the TLB and its top out of the caches, and the fetch now
  // overlaps with the run before it (bench park's wake-up at 1 P: ~20 % less per
  // goroutine, with chan_close's single pass). ctx is read atomically: a thief may
  // have taken g meanwhile and be running it.
  static void prefetch_context(G* g) noexcept {
    if (void* ctx = __atomic_load_n(&g->ctx, __ATOMIC_RELAXED)) __builtin_prefetch(ctx);
  }

  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<G*> runnext_{nullptr};
  std::atomic<G*> buf_[kSize]{};
};

}  // namespace goro::detail
