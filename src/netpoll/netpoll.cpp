// netpoll.cpp — the platform-independent half of the network poller: poll
// descriptors and their wait slots, close, deadlines, and the count of waiters the
// scheduler and the deadlock detector look at. The state machine and its invariants
// (N1..N5) are in netpoll.h; the backend (epoll) is netpoll_epoll.cpp.
#include "netpoll/netpoll.h"

#include <cerrno>
#include <cstdint>

#include "goro/detail/testing.h"
#include "sched/internal.h"
#include "sched/platform.h"
#include "sched/waiter.h"

namespace goro::detail {
namespace {

// Published waiters, plus commits in flight (N4). seq_cst: pairs with the scheduler's
// reads when an M decides between blocking in the poller and sleeping.
std::atomic<std::int32_t> g_waiters{0};
// Whether a netpoll() is blocked now (set by the backend), for the last waiter
// leaving to break it.
std::atomic<bool> g_blocked{false};

// The descriptor cache: allocated in blocks, never freed (N5).
struct PollCache {
  Lock lock;
  PollDesc* free = nullptr;  // guarded by lock
};
PollCache g_cache;
constexpr int kPollBlock = 64;

PollDesc* pd_alloc() {
  g_cache.lock.lock();
  if (g_cache.free == nullptr) {
    auto* block = new PollDesc[kPollBlock];
    for (int i = 0; i < kPollBlock; ++i) {
      block[i].link = g_cache.free;
      g_cache.free = &block[i];
    }
  }
  PollDesc* pd = g_cache.free;
  g_cache.free = pd->link;
  g_cache.lock.unlock();
  pd->link = nullptr;
  return pd;
}

void pd_free(PollDesc* pd) noexcept {
  g_cache.lock.lock();
  pd->link = g_cache.free;
  g_cache.free = pd;
  g_cache.lock.unlock();
}

bool has_waiters_source() noexcept { return netpoll_has_waiters(); }

std::atomic<std::uintptr_t>& slot_of(PollDesc* pd, PollMode mode) noexcept {
  return mode == PollMode::read ? pd->rg : pd->wg;
}

// A waiter was taken out of a slot (N4).
void waiter_left() noexcept {
  if (g_waiters.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      g_blocked.load(std::memory_order_seq_cst))
    netpoll_break();  // let the poller go idle (and the deadlock check run)
}

// Moves a slot on an event (ioready) or a close/expiry (!ioready); returns the
// waiter to wake, if one was parked.
Waiter* unblock(PollDesc* pd, PollMode mode, bool ioready) noexcept {
  auto& slot = slot_of(pd, mode);
  std::uintptr_t old = slot.load(std::memory_order_acquire);
  for (;;) {
    if (old == PollDesc::kReady) return nullptr;           // already pending
    if (old == 0 && !ioready) return nullptr;              // nobody to tell
    std::uintptr_t next = ioready ? PollDesc::kReady : 0;  // a close leaves no readiness
    // seq_cst: the close/expiry side of N3 (its `info` store came first).
    if (slot.compare_exchange_weak(old, next, std::memory_order_seq_cst, std::memory_order_acquire))
      break;
  }
  if (old == 0 || old == PollDesc::kWait) return nullptr;  // a kWait waiter sees the change
  waiter_left();
  return reinterpret_cast<Waiter*>(old);
}

PollError check_err(PollDesc* pd, PollMode mode) noexcept {
  std::uint32_t info = pd->info.load(std::memory_order_seq_cst);  // N3
  if (info & PollDesc::kClosing) return PollError::closing;
  if (mode == PollMode::read && (info & PollDesc::kReadExpired)) return PollError::timeout;
  if (mode == PollMode::write && (info & PollDesc::kWriteExpired)) return PollError::timeout;
  return PollError::ok;
}

// pd->lock held: republishes the summary waiters read (N3).
void publish_info(PollDesc* pd) noexcept {
  std::uint32_t info = 0;
  if (pd->closing) info |= PollDesc::kClosing;
  if (pd->rd < 0) info |= PollDesc::kReadExpired;
  if (pd->wd < 0) info |= PollDesc::kWriteExpired;
  pd->info.store(info, std::memory_order_seq_cst);
}

struct CommitArgs {
  std::atomic<std::uintptr_t>* slot;
  Waiter* w;
};

// The park protocol's commit (runs once the goroutine has left its stack, or on the
// plain thread before it sleeps): publish the waiter unless the slot moved on.
bool commit(void* arg) {
  auto* a = static_cast<CommitArgs*>(arg);
  // Read before the publish: once the waiter is out, it may be woken and its frame
  // gone (its goroutine resumed elsewhere and its stack reused).
  bool plain_thread = a->w->g == nullptr;
  g_waiters.fetch_add(1, std::memory_order_seq_cst);  // N4: before anyone can take it
  std::uintptr_t expected = PollDesc::kWait;
  // release: whoever takes the waiter out reads it (and the G) after this.
  if (!a->slot->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(a->w),
                                        std::memory_order_seq_cst, std::memory_order_relaxed)) {
    g_waiters.fetch_sub(1, std::memory_order_seq_cst);
    return false;  // readiness, a close or an expiry came first: do not sleep
  }
  // A goroutine's M polls once it runs out of work (or the monitor thread does, if
  // that takes long: poll_network_if_stale); a plain thread has no M, so make sure
  // someone polls for it. (Waking an idle M for goroutines too was measured: it costs
  // the http benchmark ~15% in extra wake-ups.)
  if (plain_thread) netpoll_need_poller();
  return true;
}

// Waits for readiness in one direction; true if I/O is ready, false if woken by a
// close or a deadline (or the slot was reset under us: the caller re-checks).
bool block(PollDesc* pd, PollMode mode) noexcept {
  auto& slot = slot_of(pd, mode);
  std::uintptr_t old = slot.load(std::memory_order_acquire);
  for (;;) {
    if (old == PollDesc::kReady) {
      if (slot.compare_exchange_weak(old, 0, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
      continue;
    }
    GORO_CHECK(old == 0, "goro: two waiters on one socket in the same direction (N1)");
    // seq_cst: the waiter's side of N3 (the check_err below comes after).
    if (slot.compare_exchange_weak(old, PollDesc::kWait, std::memory_order_seq_cst,
                                   std::memory_order_acquire))
      break;
  }
  if (check_err(pd, mode) == PollError::ok) {
    Waiter w;
    CommitArgs args{&slot, &w};
    w.wait(WaitReason::io_wait, &commit, &args);
  }
  // Woken (or never parked): whoever moved the slot left kReady or 0 in it.
  old = slot.exchange(0, std::memory_order_acq_rel);
  GORO_CHECK(old <= PollDesc::kWait, "goro: poll descriptor slot corrupted");
  return old == PollDesc::kReady;
}

// pd->lock held for the deadline fields. Expires the directions in `mode` now.
void expire_locked(PollDesc* pd, PollMode mode, Waiter** rw, Waiter** ww) noexcept {
  if (unsigned(mode) & unsigned(PollMode::read)) pd->rd = -1;
  if (unsigned(mode) & unsigned(PollMode::write)) pd->wd = -1;
  publish_info(pd);  // N3: before unblocking
  if (unsigned(mode) & unsigned(PollMode::read)) *rw = unblock(pd, PollMode::read, false);
  if (unsigned(mode) & unsigned(PollMode::write)) *ww = unblock(pd, PollMode::write, false);
}

// A deadline timer fired (on an M holding a P, no lock held): expire its direction if
// its deadline has passed, waking the waiter with a timeout.
void deadline_fire(TimerNode* node, std::int64_t now) noexcept {
  auto* t = reinterpret_cast<PollDesc::DeadlineTimer*>(node);
  PollDesc* pd = t->pd;
  Waiter* rw = nullptr;
  Waiter* ww = nullptr;
  pd->lock.lock();
  std::int64_t d = t->mode == PollMode::read ? pd->rd : pd->wd;
  if (!pd->closing && d > 0 && d <= now) expire_locked(pd, t->mode, &rw, &ww);
  pd->lock.unlock();
  if (rw != nullptr) rw->wake();
  if (ww != nullptr) ww->wake();
}

}  // namespace

PollDesc::PollDesc() noexcept {
  rt.pd = wt.pd = this;
  rt.mode = PollMode::read;
  wt.mode = PollMode::write;
  rt.node.fire = wt.node.fire = &deadline_fire;
}

void netpoll_init() {
  if (!netpoll_backend_init())
    fatal("goro: cannot set up the network poller (epoll_create1 or eventfd failed)");
  // Goroutines or threads waiting on sockets can be woken by the outside world: while
  // there are any, the runtime is not deadlocked.
  register_wake_source(&has_waiters_source);
}

bool netpoll_has_waiters() noexcept { return g_waiters.load(std::memory_order_seq_cst) > 0; }

void netpoll_note_blocked(bool blocked) noexcept {
  g_blocked.store(blocked, std::memory_order_seq_cst);
}

PollDesc* poll_open(int fd) noexcept {
  ensure_started();  // the runtime sets the poller up (netpoll_init)
  PollDesc* pd = pd_alloc();
  pd->lock.lock();
  pd->fd = fd;
  pd->closing = false;
  pd->rd = pd->wd = 0;
  publish_info(pd);
  pd->lock.unlock();
  // A stale event (N5) may still set kReady here after these stores: a spurious
  // wake-up at worst.
  pd->rg.store(0, std::memory_order_relaxed);
  pd->wg.store(0, std::memory_order_relaxed);
  pd->hup.store(false, std::memory_order_relaxed);
  if (int err = netpoll_backend_open(fd, pd); err != 0) {
    pd_free(pd);
    errno = err;
    return nullptr;
  }
  return pd;
}

void poll_close(PollDesc* pd) noexcept {
  GORO_CHECK(pd->closing, "goro: poll_close without poll_evict");
  std::uintptr_t r = pd->rg.load(std::memory_order_acquire);
  std::uintptr_t w = pd->wg.load(std::memory_order_acquire);
  GORO_CHECK(r <= PollDesc::kReady && w <= PollDesc::kReady,
             "goro: poll descriptor closed while a waiter is parked on it");
  netpoll_backend_close(pd->fd);
  pd_free(pd);
}

PollError poll_prepare(PollDesc* pd, PollMode mode) noexcept {
  PollError e = check_err(pd, mode);
  if (e != PollError::ok) return e;
  // The caller is the direction's only user (N1) and is about to try the syscall,
  // which sees for itself whether the fd is ready. acquire: whoever set kReady set
  // pd->hup before (net.cpp F4 relies on seeing it).
  auto& slot = slot_of(pd, mode);
  if (slot.load(std::memory_order_relaxed) != 0) slot.exchange(0, std::memory_order_acquire);
  return PollError::ok;
}

PollError poll_check_drained(PollDesc* pd, bool* may_wait) noexcept {
  PollError e = check_err(pd, PollMode::read);
  // acquire: pairs with netpoll_ready's release store, through the slot exchange that
  // consumed the event (block, poll_prepare).
  *may_wait = e == PollError::ok && !pd->hup.load(std::memory_order_acquire);
  return e;
}

PollError poll_wait(PollDesc* pd, PollMode mode) noexcept {
  for (;;) {
    PollError e = check_err(pd, mode);
    if (e != PollError::ok) return e;
    if (block(pd, mode)) return PollError::ok;
    // Woken without readiness: closed or expired (reported above next time round),
    // or a deadline that was moved while we slept: wait again.
  }
}

void poll_evict(PollDesc* pd) noexcept {
  pd->lock.lock();
  GORO_CHECK(!pd->closing, "goro: poll descriptor evicted twice");
  pd->closing = true;
  publish_info(pd);  // N3: before unblocking
  Waiter* rw = unblock(pd, PollMode::read, false);
  Waiter* ww = unblock(pd, PollMode::write, false);
  timer_del(&pd->rt.node);
  timer_del(&pd->wt.node);
  pd->lock.unlock();
  if (rw != nullptr) rw->wake();
  if (ww != nullptr) ww->wake();
}

void poll_set_deadline(PollDesc* pd, std::int64_t when, PollMode mode) noexcept {
  Waiter* rw = nullptr;
  Waiter* ww = nullptr;
  pd->lock.lock();
  if (pd->closing) {
    pd->lock.unlock();
    return;
  }
  bool past = when != 0 && when <= nanotime();
  for (PollDesc::DeadlineTimer* t : {&pd->rt, &pd->wt}) {
    if (!(unsigned(mode) & unsigned(t->mode))) continue;
    (t->mode == PollMode::read ? pd->rd : pd->wd) = when;
    // Disarm the old deadline's timer; if it is firing right now, it will find the
    // new deadline under our lock and leave it alone (or expire it, if that passed).
    timer_del(&t->node);
    if (when != 0 && !past) timer_add(&t->node, when, 0);
  }
  publish_info(pd);
  if (past) expire_locked(pd, mode, &rw, &ww);
  pd->lock.unlock();
  if (rw != nullptr) rw->wake();
  if (ww != nullptr) ww->wake();
}

void netpoll_ready(GList* list, PollDesc* pd, PollMode mode, bool hup) noexcept {
  // Before the slots move (whose CAS orders it for the reader): net.cpp F4.
  if (hup && !pd->hup.load(std::memory_order_relaxed))
    pd->hup.store(true, std::memory_order_release);
  Waiter* ws[2] = {nullptr, nullptr};
  if (unsigned(mode) & unsigned(PollMode::read)) ws[0] = unblock(pd, PollMode::read, true);
  if (unsigned(mode) & unsigned(PollMode::write)) ws[1] = unblock(pd, PollMode::write, true);
  for (Waiter* w : ws) {
    if (w == nullptr) continue;
    if (w->g != nullptr)
      list->push(w->g);  // the scheduler queues them in one batch (ready_list)
    else
      w->wake();  // a plain thread
  }
}

}  // namespace goro::detail

namespace goro::detail::testing {
std::int64_t io_waiters() noexcept { return g_waiters.load(std::memory_order_seq_cst); }
bool netpoll_blocked() noexcept { return g_blocked.load(std::memory_order_seq_cst); }
}  // namespace goro::detail::testing
