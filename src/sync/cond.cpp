// cond.cpp — goro::CondVar, Go's sync.Cond over a notify list (runtime/sema.go's
// notifyList): a ticket per wait, a counter of tickets notified, and a list of the
// parked waiters, each a detail::Waiter.
//
// wait() takes a ticket while its caller still holds the user's mutex, then unlocks
// the mutex and parks unless its ticket has been notified meanwhile. notify_one
// notifies the oldest ticket not yet notified and wakes its waiter if it has parked
// (if not, that waiter finds its ticket notified and does not park); notify_all
// notifies every ticket taken so far. So a notify wakes only waits that began
// before it — a wait after a notify is not woken by it (Go's semantics) — and no
// notify is lost between a waiter's unlock and its park.
//
// Invariants:
//  N1. notify_ <= wait_ (modulo 2^32, compared with less()). Tickets in
//      [notify_, wait_) belong to waits not yet notified; each is on the list, or its
//      waiter is between taking the ticket and taking lock_.
//  N2. The list holds, under lock_, exactly the parked waiters whose tickets are not
//      notified. Whoever unlinks a waiter wakes it once, after releasing lock_, and
//      reads nothing of it after the wake (its frame may be gone).
//  N3. notify_ is written only under lock_ (relaxed store; lock_ orders it for the
//      waiters), and read without it only by the fast path of notify, where a stale
//      value costs a trip to the lock, never a lost wake-up.
#include <system_error>

#include "goro/sync.h"
#include "sched/waiter.h"

namespace goro {
namespace {

// Ticket a was taken before ticket b (wrap-around safe).
bool less(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}

}  // namespace

void CondVar::wait(std::unique_lock<Mutex>& lock) {
  if (!lock.owns_lock())
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "goro::CondVar::wait: the lock does not own its mutex");
  // Relaxed: taken under the user's mutex, whose unlock (below) orders it before any
  // notifier that takes the mutex after us; a notifier that does not lock the mutex
  // gets no ordering, as in Go.
  std::uint32_t ticket = wait_.fetch_add(1, std::memory_order_relaxed);
  lock.unlock();
  wait_ticket(ticket);
  lock.lock();
}

void CondVar::wait_ticket(std::uint32_t ticket) {
  detail::Waiter w;
  lock_.lock();
  if (less(ticket, notify_.load(std::memory_order_relaxed))) {  // notified already
    lock_.unlock();
    return;
  }
  w.ticket = ticket;
  w.next = nullptr;
  if (tail_ == nullptr)
    head_ = &w;
  else
    tail_->next = &w;
  tail_ = &w;
  w.wait(detail::WaitReason::sync_cond, &detail::Lock::unlock_fn, &lock_);
}

void CondVar::notify_one() noexcept {
  // Fast path: no wait since the last notify (N3; relaxed: see wait()).
  if (wait_.load(std::memory_order_relaxed) == notify_.load(std::memory_order_relaxed)) return;
  lock_.lock();
  std::uint32_t t = notify_.load(std::memory_order_relaxed);
  if (t == wait_.load(std::memory_order_relaxed)) {
    lock_.unlock();
    return;
  }
  notify_.store(t + 1, std::memory_order_relaxed);
  // Ticket t's waiter is on the list if it has parked already; the list is in
  // ticket order only roughly (waiters take lock_ in their own order), so search.
  detail::Waiter* prev = nullptr;
  for (detail::Waiter* w = head_; w != nullptr; prev = w, w = w->next) {
    if (w->ticket != t) continue;
    if (prev != nullptr)
      prev->next = w->next;
    else
      head_ = w->next;
    if (tail_ == w) tail_ = prev;
    lock_.unlock();
    w->next = nullptr;
    w->wake();  // N2
    return;
  }
  // Not parked yet: it will see its ticket notified and not park.
  lock_.unlock();
}

void CondVar::notify_all() noexcept {
  if (wait_.load(std::memory_order_relaxed) == notify_.load(std::memory_order_relaxed)) return;
  lock_.lock();
  detail::Waiter* w = head_;
  head_ = tail_ = nullptr;
  notify_.store(wait_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  lock_.unlock();
  while (w != nullptr) {
    detail::Waiter* next = w->next;  // N2: read before the wake
    w->next = nullptr;
    w->wake();
    w = next;
  }
}

}  // namespace goro
