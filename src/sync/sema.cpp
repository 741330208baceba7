// sema.cpp — the wait-queue lock, and the semaphore every sync type is built on
// (Go's runtime/sema.go: a table of wait queues keyed by address).
//
// Invariants:
//  Q1. A Waiter is on at most one queue; it is linked and unlinked only under its
//      bucket's lock, and woken (Waiter::wake) exactly once, by whoever unlinked
//      it, after releasing the lock.
//  Q2. A bucket's nwait counts waiters that are queued or about to queue (between
//      their increment and their park). A release may skip the lock only when it
//      reads 0 after incrementing the count (both seq_cst): a waiter that
//      incremented nwait first re-checks the count under the lock before parking,
//      so one side sees the other.
//  Q3. After a release has made its count available, it touches only the table,
//      never the semaphore's object, which a waiter may already have destroyed.
#include <sched.h>

#include "goro/detail/sema.h"
#include "goro/runtime.h"
#include "sched/platform.h"
#include "sched/waiter.h"

namespace goro::detail {

void Lock::lock_slow() noexcept {
  // Spin a little: holders keep the lock for a few instructions. Look at the word
  // only every few dozen pauses: each look takes the line away from the holder,
  // which then pays a miss to release it.
  for (int i = 0; i < 8; ++i) {
    for (int k = 0; k < 30; ++k) cpu_relax();
    std::uint32_t expected = 0;
    if (word_.load(std::memory_order_relaxed) == 0 &&
        word_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                    std::memory_order_relaxed))
      return;
  }
  // Then sleep: announce ourselves (seq_cst, before the last look at the word), and
  // sleep while the word says locked, for at most 1 ms (see Lock in sema.h).
  constexpr struct timespec kSleep = {0, 1000000};
  for (;;) {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::uint32_t expected = 0;
    if (word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    futex_wait(&word_, 1, &kSleep);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    expected = 0;
    if (word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed))
      return;
  }
}

void Lock::unlock_slow() noexcept { futex_wake(&word_, 1); }

namespace {

// The semaphore table (Go's semtable): waiters queue here, keyed by their semaphore's
// address, so that the semaphore itself is one word and is never touched by a
// release after its count was made available (see Sema in sema.h).
//
// Each bucket holds, under its lock, a chain of per-address queues: the first waiter
// of each address's FIFO links the next address (qnext) and knows its tail (qtail).
struct alignas(64) Bucket {
  Lock lock;
  std::atomic<std::uint32_t> nwait{0};  // Q2
  Waiter* queues = nullptr;             // guarded by lock
};
constexpr std::size_t kBuckets = 251;
Bucket g_table[kBuckets];

Bucket& bucket_for(const void* addr) noexcept {
  return g_table[(reinterpret_cast<std::uintptr_t>(addr) >> 3) % kBuckets];
}

// Bucket lock held. The first waiter for addr, and where the chain points to it.
Waiter* find_queue(Bucket& b, const void* addr, Waiter*** link) noexcept {
  Waiter** l = &b.queues;
  for (Waiter* q = *l; q != nullptr; l = &q->qnext, q = *l) {
    if (q->sema_addr == addr) {
      *link = l;
      return q;
    }
  }
  *link = l;
  return nullptr;
}

// Bucket lock held.
void enqueue(Bucket& b, const void* addr, Waiter* w, bool lifo) noexcept {
  w->sema_addr = addr;
  w->next = w->prev = nullptr;
  Waiter** link = nullptr;
  Waiter* head = find_queue(b, addr, &link);
  if (head == nullptr) {  // a new queue, at the chain's end
    w->qnext = nullptr;
    w->qtail = w;
    *link = w;
  } else if (lifo) {  // w becomes the head
    w->next = head;
    head->prev = w;
    w->qtail = head->qtail;
    w->qnext = head->qnext;
    *link = w;
  } else {
    Waiter* tail = head->qtail;
    tail->next = w;
    w->prev = tail;
    head->qtail = w;
  }
}

// Bucket lock held. Removes and returns the oldest waiter for addr, or null.
Waiter* dequeue(Bucket& b, const void* addr) noexcept {
  Waiter** link = nullptr;
  Waiter* head = find_queue(b, addr, &link);
  if (head == nullptr) return nullptr;
  Waiter* next = head->next;
  if (next != nullptr) {
    next->prev = nullptr;
    next->qtail = head->qtail;
    next->qnext = head->qnext;
    *link = next;
  } else {
    *link = head->qnext;
  }
  head->next = head->qnext = head->qtail = nullptr;
  return head;
}

}  // namespace

bool Sema::try_take() noexcept {
  std::uint32_t v = count_.load(std::memory_order_acquire);
  while (v > 0) {
    if (count_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                     std::memory_order_acquire))
      return true;
  }
  return false;
}

void Sema::acquire(WaitReason reason, bool lifo) {
  if (try_take()) return;
  Bucket& b = bucket_for(this);
  Waiter w;
  for (;;) {
    b.lock.lock();
    b.nwait.fetch_add(1, std::memory_order_seq_cst);
    if (try_take()) {
      b.nwait.fetch_sub(1, std::memory_order_relaxed);
      b.lock.unlock();
      return;
    }
    enqueue(b, this, &w, lifo);
    w.woken.store(0, std::memory_order_relaxed);
    w.wait(reason, &Lock::unlock_fn, &b.lock);
    if (w.ticket != 0) return;  // the count was handed to us
    if (try_take()) return;
    lifo = true;  // woken but beaten to it: we are the oldest waiter now
  }
}

void Sema::release(bool handoff) {
  Bucket& b = bucket_for(this);
  count_.fetch_add(1, std::memory_order_seq_cst);
  // From here on *this may be gone (a waiter took the count and returned), except
  // with handoff (the caller guarantees it): touch only the bucket.
  if (b.nwait.load(std::memory_order_seq_cst) == 0) return;
  b.lock.lock();
  Waiter* w = b.nwait.load(std::memory_order_relaxed) != 0 ? dequeue(b, this) : nullptr;
  if (w == nullptr) {  // no waiter queued for us (one between its nwait++ and queueing
    b.lock.unlock();   // re-checks the count under the lock)
    return;
  }
  b.nwait.fetch_sub(1, std::memory_order_relaxed);
  bool handed = handoff && try_take();
  w->ticket = handed ? 1 : 0;
  b.lock.unlock();
  w->wake();  // w may be gone after this
  // A starving mutex: let the waiter we handed to run now (Go's goyield).
  if (handed && current_g() != nullptr) goro::yield();
}

void Sema::release_many(std::uint32_t n) {
  if (n == 0) return;
  Bucket& b = bucket_for(this);
  count_.fetch_add(n, std::memory_order_seq_cst);
  // *this may be gone from here on: touch only the bucket. Wake in chunks: one lock
  // round per chunk, each waiter (on a stack that may be cold) touched while it is
  // still in cache. Waiters that had not queued yet find the count and do not block.
  constexpr std::uint32_t kChunk = 64;
  BulkWakeScope bulk;
  while (b.nwait.load(std::memory_order_seq_cst) != 0) {
    Waiter* woken[kChunk];
    std::uint32_t k = 0;
    b.lock.lock();
    while (k < n && k < kChunk) {
      Waiter* w = dequeue(b, this);
      if (w == nullptr) break;
      w->ticket = 0;
      woken[k++] = w;
    }
    b.nwait.fetch_sub(k, std::memory_order_relaxed);
    b.lock.unlock();
    for (std::uint32_t i = 0; i < k; ++i) woken[i]->wake();  // Q1: after the unlock
    n -= k;
    if (k < kChunk || n == 0) return;
  }
}

const char* wait_reason_name(WaitReason r) noexcept {
  switch (r) {
    case WaitReason::none: return "waiting";
    case WaitReason::chan_receive: return "chan receive";
    case WaitReason::chan_send: return "chan send";
    case WaitReason::chan_receive_nil: return "chan receive (nil chan)";
    case WaitReason::chan_send_nil: return "chan send (nil chan)";
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
