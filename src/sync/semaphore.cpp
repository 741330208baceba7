// semaphore.cpp — goro::Semaphore, the weighted FIFO semaphore of Go's
// golang.org/x/sync/semaphore (Weighted): a count of units taken and a queue of
// waiters, each a detail::Waiter with the weight it asks for.
//
// Invariants (whenever lock_ is free):
//  S1. 0 <= cur_ <= size_.
//  S2. A waiter is on the queue only while it cannot be served: the queue is empty, or
//      its head asks for more than size_ - cur_. acquire() takes units directly only
//      when the queue is empty (FIFO: nobody overtakes a waiter, not even a smaller
//      request that would fit), and release() serves waiters from the head for as
//      long as they fit.
//  S3. Whoever unlinks a waiter has already added its weight to cur_ (the waiter owns
//      its units when it wakes), and wakes it once, after releasing lock_; it reads
//      nothing of it afterwards (the waiter's frame may be gone).
#include <stdexcept>
#include <string>

#include "goro/sync.h"
#include "sched/platform.h"
#include "sched/waiter.h"

namespace goro {
namespace detail {

// One blocked acquire(), on its caller's stack.
struct SemaphoreWaiter {
  Waiter waiter;
  std::int64_t n = 0;               // units it asks for
  SemaphoreWaiter* next = nullptr;  // guarded by the semaphore's lock_
};

}  // namespace detail

namespace {

void check_weight(std::int64_t n, const char* what) {
  if (n < 0)
    throw std::invalid_argument(std::string("goro::Semaphore::") + what + ": negative n (" +
                                std::to_string(n) + ")");
}

}  // namespace

Semaphore::Semaphore(std::int64_t capacity) : size_(capacity) {
  if (capacity < 0)
    throw std::invalid_argument("goro::Semaphore: negative capacity (" + std::to_string(capacity) +
                                ")");
}

void Semaphore::acquire(std::int64_t n) {
  check_weight(n, "acquire");
  lock_.lock();
  if (head_ == nullptr && size_ - cur_ >= n) {  // S2: nobody to overtake
    cur_ += n;
    lock_.unlock();
    return;
  }
  if (n > size_) {
    lock_.unlock();
    throw std::invalid_argument("goro::Semaphore::acquire: n (" + std::to_string(n) +
                                ") exceeds the capacity (" + std::to_string(size_) +
                                "), so it could never be acquired");
  }
  detail::SemaphoreWaiter w;
  w.n = n;
  if (tail_ == nullptr)
    head_ = &w;
  else
    tail_->next = &w;
  tail_ = &w;
  // Woken only once served (S3): the units are ours.
  w.waiter.wait(detail::WaitReason::semacquire, &detail::Lock::unlock_fn, &lock_);
}

bool Semaphore::try_acquire(std::int64_t n) {
  check_weight(n, "try_acquire");
  lock_.lock();
  bool ok = head_ == nullptr && size_ - cur_ >= n;
  if (ok) cur_ += n;
  lock_.unlock();
  return ok;
}

void Semaphore::release(std::int64_t n) {
  check_weight(n, "release");
  lock_.lock();
  if (n > cur_) {
    lock_.unlock();
    detail::fatal("semaphore: released more than held");
  }
  cur_ -= n;
  // Serve waiters from the head while they fit (S2), and wake them after the unlock.
  detail::SemaphoreWaiter* first = head_;
  detail::SemaphoreWaiter* last = nullptr;
  while (head_ != nullptr && size_ - cur_ >= head_->n) {
    cur_ += head_->n;
    last = head_;
    head_ = head_->next;
  }
  if (head_ == nullptr) tail_ = nullptr;
  lock_.unlock();
  if (last == nullptr) return;
  last->next = nullptr;
  for (detail::SemaphoreWaiter* w = first; w != nullptr;) {
    detail::SemaphoreWaiter* next = w->next;  // S3: read before the wake
    w->waiter.wake();
    w = next;
  }
}

}  // namespace goro
