// sema.cpp — the wait-queue lock, wait lists, and the semaphore every sync type is
// built on (Go's runtime/sema.go, for one word instead of a table of addresses).
//
// Invariants:
//  Q1. A Waiter is on at most one list; it is linked and unlinked only under the
//      owning Sema's lock_, and woken (Waiter::wake) exactly once, by whoever
//      unlinked it, after releasing the lock.
//  Q2. nwait_ counts waiters that are queued or about to queue (between their
//      increment and their park). release() may skip the lock only when it reads 0
//      after incrementing count_ (both seq_cst): a waiter that incremented nwait_
//      first re-checks count_ under the lock before parking, so one side sees the
//      other.
#include <sched.h>

#include "goro/detail/sema.h"
#include "goro/runtime.h"
#include "sched/platform.h"
#include "sched/waiter.h"

namespace goro::detail {

void Lock::lock_slow() noexcept {
  // Spin a little: holders keep the lock for a few instructions.
  for (int i = 0; i < 64; ++i) {
    std::uint32_t expected = 0;
    if (word_.load(std::memory_order_relaxed) == 0 &&
        word_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    cpu_relax();
  }
  // Then sleep, marking the lock contended (2) so unlock wakes us.
  while (word_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&word_, 2);
}

void Lock::unlock_slow() noexcept { futex_wake(&word_, 1); }

void WaitList::push_back(Waiter* w) noexcept {
  w->next = nullptr;
  w->prev = tail;
  if (tail != nullptr)
    tail->next = w;
  else
    head = w;
  tail = w;
}

void WaitList::push_front(Waiter* w) noexcept {
  w->prev = nullptr;
  w->next = head;
  if (head != nullptr)
    head->prev = w;
  else
    tail = w;
  head = w;
}

Waiter* WaitList::pop_front() noexcept {
  Waiter* w = head;
  if (w == nullptr) return nullptr;
  head = w->next;
  if (head != nullptr)
    head->prev = nullptr;
  else
    tail = nullptr;
  w->next = w->prev = nullptr;
  return w;
}

bool Sema::try_take() noexcept {
  std::uint32_t v = count_.load(std::memory_order_acquire);
  while (v > 0) {
    if (count_.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_acquire))
      return true;
  }
  return false;
}

void Sema::acquire(WaitReason reason, bool lifo) {
  if (try_take()) return;
  Waiter w;
  for (;;) {
    lock_.lock();
    nwait_.fetch_add(1, std::memory_order_seq_cst);
    if (try_take()) {
      nwait_.fetch_sub(1, std::memory_order_relaxed);
      lock_.unlock();
      return;
    }
    if (lifo)
      list_.push_front(&w);
    else
      list_.push_back(&w);
    w.woken.store(0, std::memory_order_relaxed);
    w.wait(reason, &Lock::unlock_fn, &lock_);
    if (w.ticket != 0) return;  // the count was handed to us
    if (try_take()) return;
    lifo = true;  // woken but beaten to it: we are the oldest waiter now
  }
}

void Sema::release(bool handoff) {
  count_.fetch_add(1, std::memory_order_seq_cst);
  if (nwait_.load(std::memory_order_seq_cst) == 0) return;
  lock_.lock();
  if (nwait_.load(std::memory_order_relaxed) == 0) {
    lock_.unlock();
    return;
  }
  Waiter* w = list_.pop_front();
  if (w == nullptr) {  // a waiter is between its nwait_ increment and queueing: it re-checks count_
    lock_.unlock();
    return;
  }
  nwait_.fetch_sub(1, std::memory_order_relaxed);
  bool handed = handoff && try_take();
  w->ticket = handed ? 1 : 0;
  lock_.unlock();
  w->wake();  // w may be gone after this
  // A starving mutex: let the waiter we handed to run now (Go's goyield).
  if (handed && current_g() != nullptr) goro::yield();
}

void Sema::release_many(std::uint32_t n) {
  if (n == 0) return;
  count_.fetch_add(n, std::memory_order_seq_cst);
  // Wake in chunks: one lock round per chunk, and each waiter (on a stack that may
  // be cold) touched while it is still in cache.
  constexpr std::uint32_t kChunk = 64;
  while (n > 0 && nwait_.load(std::memory_order_seq_cst) != 0) {
    Waiter* woken[kChunk];
    std::uint32_t k = 0;
    lock_.lock();
    while (k < n && k < kChunk) {
      Waiter* w = list_.pop_front();
      if (w == nullptr) break;
      w->ticket = 0;
      woken[k++] = w;
    }
    nwait_.fetch_sub(k, std::memory_order_relaxed);
    lock_.unlock();
    if (k == 0) return;
    for (std::uint32_t i = 0; i < k; ++i) woken[i]->wake();  // Q1: after the unlock
    n -= k;
  }
}

const char* wait_reason_name(WaitReason r) noexcept {
  switch (r) {
    case WaitReason::none: return "waiting";
    case WaitReason::chan_receive: return "chan receive";
    case WaitReason::chan_send: return "chan send";
    case WaitReason::select: return "select";
    case WaitReason::select_no_cases: return "select (no cases)";
    case WaitReason::sleep: return "sleep";
    case WaitReason::io_wait: return "IO wait";
    case WaitReason::sync_mutex: return "sync.Mutex";
    case WaitReason::sync_rwmutex_lock: return "sync.RWMutex.Lock";
    case WaitReason::sync_rwmutex_rlock: return "sync.RWMutex.RLock";
    case WaitReason::sync_waitgroup: return "sync.WaitGroup";
    case WaitReason::sync_cond: return "sync.Cond";
    case WaitReason::sync_once: return "sync.Once";
    case WaitReason::semacquire: return "semacquire";
    case WaitReason::completion: return "goro.run";
    case WaitReason::forever: return "forever";
  }
  return "waiting";
}

}  // namespace goro::detail
