// chan.cpp — channels (Go's runtime/chan.go): one lock, a ring buffer, and queues of
// waiting senders and receivers. The invariants C1..C4 are in chan_internal.h.
//
// A send to a waiting receiver moves the value straight into the receiver's
// std::optional (on its stack) and readies it; from a goroutine, the receiver runs
// next on the sender's P (runnext), which is what makes a ping-pong cheap. A send
// that cannot proceed queues a Sudog pointing at the sender's object and parks
// (the park protocol releases the channel's lock only after the goroutine has left
// its stack: sched.h I1); whoever completes it moves the value and wakes it.
#include <cstdlib>
#include <cstring>
#include <new>

#include "chan/chan_internal.h"
#include "goro/chan.h"
#include "sched/platform.h"
#include "sched/waiter.h"

namespace goro::detail {

[[noreturn]] void throw_closed(const char* what) {
  note_unwinding();
  throw ClosedChannelError(what);
}

ChanCore* chan_make(std::size_t capacity, const ElemOps* ops) {
  std::size_t align = ops->align > alignof(ChanCore) ? ops->align : alignof(ChanCore);
  std::size_t header = (sizeof(ChanCore) + align - 1) / align * align;
  if (capacity > (std::size_t(1) << 40) / (ops->size ? ops->size : 1))
    throw std::length_error("goro::Chan: capacity too large");
  void* mem = ::operator new(header + capacity * ops->size, std::align_val_t(align));
  auto* c = ::new (mem) ChanCore;
  c->cap = capacity;
  c->ops = ops;
  c->buf = static_cast<unsigned char*>(mem) + header;
  return c;
}

void chan_retain(ChanCore* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(ChanCore* c) noexcept {
  // acq_rel: the last release sees every other handle's use of the channel.
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // No handle is left, so no waiter either (a waiter holds a handle).
  std::size_t n = c->count.load(std::memory_order_relaxed);
  for (std::size_t i = 0, x = c->recvx; i < n; ++i, x = x + 1 == c->cap ? 0 : x + 1)
    c->ops->destroy(c->slot(x));
  std::size_t align = c->ops->align > alignof(ChanCore) ? c->ops->align : alignof(ChanCore);
  c->~ChanCore();
  ::operator delete(static_cast<void*>(c), std::align_val_t(align));
}

std::size_t chan_size(const ChanCore* c) noexcept {
  return c->count.load(std::memory_order_relaxed);
}
std::size_t chan_capacity(const ChanCore* c) noexcept { return c->cap; }

// --- the steps (lock held) ---

void chan_send_to(ChanCore* c, Sudog* r, void* src) noexcept {
  c->ops->emplace(r->elem, src);
  r->success = true;
}

void chan_buffer_put(ChanCore* c, void* src) noexcept {
  c->ops->move_construct(c->slot(c->sendx), src);
  if (++c->sendx == c->cap) c->sendx = 0;
  c->count.store(c->count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void chan_buffer_take(ChanCore* c, void* dst) noexcept {
  void* slot = c->slot(c->recvx);
  c->ops->emplace(dst, slot);
  c->ops->destroy(slot);
  if (++c->recvx == c->cap) c->recvx = 0;
  c->count.store(c->count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void chan_recv_from(ChanCore* c, Sudog* s, void* dst) noexcept {
  if (c->cap == 0) {
    c->ops->emplace(dst, s->elem);
  } else {
    // Full buffer: take the oldest value; the sender's value goes into the slot it
    // frees, which becomes the newest (the queue stays FIFO).
    void* slot = c->slot(c->recvx);
    c->ops->emplace(dst, slot);
    c->ops->destroy(slot);
    c->ops->move_construct(slot, s->elem);
    if (++c->recvx == c->cap) c->recvx = 0;
    c->sendx = c->recvx;
  }
  s->success = true;
}

// --- blocking forever ---

namespace {
bool never_wake(void*) noexcept { return true; }
}  // namespace

[[noreturn]] void block_forever(WaitReason reason) {
  ensure_started();
  Waiter w;
  w.wait(reason, &never_wake, nullptr);
  fatal("goro: a goroutine blocked forever was woken");
}

// --- send / receive / close ---

bool chan_send(ChanCore* c, void* src, bool block) {
  if (c == nullptr) {
    if (!block) return false;
    block_forever(WaitReason::chan_send_nil);
  }
  // Fast path for a non-blocking send that cannot proceed (Go's chansend): not
  // closed, and full (no receiver waiting, and no room). The reads may be stale
  // together; any answer they give was true at some instant during the call.
  if (!block && !c->closed.load(std::memory_order_relaxed) &&
      (c->cap == 0 ? c->recvq.empty() : c->count.load(std::memory_order_relaxed) == c->cap))
    return false;

  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw_closed("send on closed channel");
  }
  if (Sudog* r = c->recvq.dequeue()) {
    chan_send_to(c, r, src);
    c->lock.unlock();
    r->wake();  // C2: after the unlock; r is gone after this
    return true;
  }
  if (c->buffer_has_room()) {
    chan_buffer_put(c, src);
    c->lock.unlock();
    return true;
  }
  if (!block) {
    c->lock.unlock();
    return false;
  }
  ensure_started();
  Waiter w;
  Sudog s;
  s.set_waiter(&w);
  s.elem = src;
  c->sendq.push(&s);
  w.wait(WaitReason::chan_send, &Lock::unlock_fn, &c->lock);
  // Completed by a receiver (the value was moved), or woken by close.
  if (!s.success) throw_closed("send on closed channel");
  return true;
}

bool chan_recv(ChanCore* c, void* dst, bool block) {
  if (c == nullptr) {
    if (!block) return false;
    block_forever(WaitReason::chan_receive_nil);
  }
  // Fast path for a non-blocking receive on an empty channel (Go's chanrecv).
  if (!block && (c->cap == 0 ? c->sendq.empty() : c->count.load(std::memory_order_relaxed) == 0)) {
    // acquire: pairs with close's release store, so that a closed, drained channel
    // is reported with the closer's writes visible.
    if (!c->closed.load(std::memory_order_acquire)) return false;
    // Closed: empty now means empty for ever (nothing can be sent any more), but
    // re-check, as a value sent before the close may have just arrived.
    if (c->cap == 0 ? c->sendq.empty() : c->count.load(std::memory_order_acquire) == 0) return true;
  }

  c->lock.lock();
  if (Sudog* s = c->sendq.dequeue()) {
    chan_recv_from(c, s, dst);
    c->lock.unlock();
    s->wake();
    return true;
  }
  if (c->buffer_has_value()) {
    chan_buffer_take(c, dst);
    c->lock.unlock();
    return true;
  }
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    return true;  // dst stays empty
  }
  if (!block) {
    c->lock.unlock();
    return false;
  }
  ensure_started();
  Waiter w;
  Sudog r;
  r.set_waiter(&w);
  r.elem = dst;
  c->recvq.push(&r);
  w.wait(WaitReason::chan_receive, &Lock::unlock_fn, &c->lock);
  return true;  // filled by a sender, or left empty by close
}

void chan_close(ChanCore* c) {
  if (c == nullptr) throw_closed("close of nil channel");
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw_closed("close of closed channel");
  }
  c->closed.store(true, std::memory_order_release);
  // Take every waiter off (receivers get nothing, senders fail: C1 says only one
  // queue is non-empty), and wake them after unlocking (C2). Goroutines are collected
  // by their G records, so each waiter's stack is visited once, here: with a million
  // waiters every Sudog is on a page of its own, a TLB miss each. Plain threads keep
  // their Sudogs (s->next is free once s is off the queue) for a futex wake each.
  GList gs;
  Sudog* threads = nullptr;
  Sudog** tail = &threads;
  for (WaitQueue* q : {&c->recvq, &c->sendq}) {
    while (Sudog* s = q->dequeue()) {
      s->success = false;
      if (G* g = s->g) {
        gs.push(g);
      } else {
        *tail = s;
        tail = &s->next;
      }
    }
  }
  c->lock.unlock();
  BulkWakeScope bulk;
  ready_list(gs);
  while (threads != nullptr) {
    Sudog* s = threads;
    threads = s->next;  // read before the wake: s may be gone after it
    s->waiter->wake();
  }
}

}  // namespace goro::detail
