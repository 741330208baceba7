// chan_internal.h — the channel structure (Go's hchan) and its wait queues, shared by
// chan.cpp (send, receive, close) and select.cpp.
//
// Invariants (each holds whenever the channel's lock is free):
//  C1. At most one of recvq and sendq is non-empty, and a queue holds waiters only
//      while the operation cannot proceed: recvq non-empty => count == 0 and not
//      closed; sendq non-empty => count == cap (the buffer is full, or unbuffered)
//      and not closed.
//  C2. A Sudog is linked on at most one queue; it is linked and unlinked only under
//      its channel's lock. Whoever unlinks a Sudog of a blocking operation completes
//      it (moves the value, sets success) and then wakes its waiter exactly once,
//      after releasing the lock; it touches neither afterwards (the waiter's frame
//      may be gone).
//  C3. A select's Sudogs share one SelectState. Only the party that wins the claim
//      (done 0 -> 1, acq_rel) may complete one of them; a party that unlinks a Sudog
//      whose select was already claimed drops it and looks at the next one. The
//      select itself unlinks its remaining Sudogs after it wakes, under each
//      channel's lock.
//  C4. Elements are moved only under the channel's lock, from the sender's object or
//      a buffer slot into the receiver's std::optional or a buffer slot (ElemOps are
//      noexcept). A sender's object is moved from only if its send happens.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "goro/detail/chan_core.h"
#include "goro/detail/sema.h"
#include "sched/waiter.h"

namespace goro::detail {

// A select in progress: the claim word all its Sudogs share (C3), and which one
// fired.
struct SelectState {
  std::atomic<std::uint32_t> done{0};
  struct Sudog* fired = nullptr;  // written by the claim's winner before the wake
};

// One goroutine's or thread's pending operation on one channel (Go's sudog). Lives
// on the waiter's stack.
struct Sudog {
  // The waiting goroutine (a copy of waiter->g), or null for a plain thread. The
  // waker reads it here rather than through `waiter`, which may lie on another line
  // of the waiter's frame: with 10,000 goroutines in a ring, every line a send
  // touches on the receiver's stack is a cache miss.
  G* g = nullptr;
  Waiter* waiter = nullptr;
  SelectState* sel = nullptr;  // null: a plain send or receive
  void* elem = nullptr;        // send: the T to move from; receive: std::optional<T>*
  Sudog* next = nullptr;       // queue links, guarded by the channel's lock (C2)
  Sudog* prev = nullptr;
  std::uint32_t case_index = 0;
  bool linked = false;   // on a queue now (guarded by the channel's lock)
  bool success = false;  // set by the completer: false means woken by close

  void set_waiter(Waiter* w) noexcept {
    waiter = w;
    g = w->g;
  }
  // Wakes the waiter (C2: after the channel's lock is released; the Sudog may be gone
  // once this returns). For a goroutine this is what waiter->wake() does, without
  // reading the Waiter.
  void wake() noexcept {
    if (g != nullptr)
      ready(g);
    else
      waiter->wake();
  }
};

// A FIFO of Sudogs. Guarded by the channel's lock; `first` is also read without it
// by the non-blocking fast paths (relaxed: a stale answer only means "try the lock").
struct WaitQueue {
  std::atomic<Sudog*> first{nullptr};
  Sudog* last = nullptr;

  bool empty() const noexcept { return first.load(std::memory_order_relaxed) == nullptr; }

  void push(Sudog* s) noexcept {
    s->next = nullptr;
    s->prev = last;
    s->linked = true;
    if (last != nullptr)
      last->next = s;
    else
      first.store(s, std::memory_order_relaxed);
    last = s;
  }

  void unlink(Sudog* s) noexcept {
    if (s->prev != nullptr)
      s->prev->next = s->next;
    else
      first.store(s->next, std::memory_order_relaxed);
    if (s->next != nullptr)
      s->next->prev = s->prev;
    else
      last = s->prev;
    s->next = s->prev = nullptr;
    s->linked = false;
  }

  // Unlinks and returns the oldest Sudog that may be completed now (C3: a select's
  // Sudog only if we win its claim; the select's stale Sudogs are dropped on the
  // way), or null.
  Sudog* dequeue() noexcept {
    for (;;) {
      Sudog* s = first.load(std::memory_order_relaxed);
      if (s == nullptr) return nullptr;
      unlink(s);
      if (s->sel == nullptr) return s;
      std::uint32_t expected = 0;
      // acq_rel: pairs with the other parties' claims on this select.
      if (s->sel->done.compare_exchange_strong(expected, 1, std::memory_order_acq_rel,
                                               std::memory_order_relaxed)) {
        s->sel->fired = s;
        return s;
      }
    }
  }
};

// Laid out by use. The first cache line holds everything an operation on an
// unbuffered channel touches (the lock, closed, cap, ops and both queues), so that a
// send to a receiver parked long ago (a ring of 10,000 goroutines) misses one line,
// not two; the buffer's bookkeeping and the handle count are in the second.
struct alignas(64) ChanCore {
  Lock lock;  // guards everything below but cap, ops and refs
  // Written under the lock; also read without it by fast paths (relaxed, or acquire
  // where a decision rests on it).
  std::atomic<bool> closed{false};
  std::size_t cap = 0;
  const ElemOps* ops = nullptr;
  WaitQueue recvq;
  WaitQueue sendq;
  // --- buffered channels only (count stays 0 when cap is 0, and is read only when
  // cap > 0 on the hot paths) ---
  std::atomic<std::size_t> count{0};   // values in the buffer; read without the lock too
  std::size_t sendx = 0;               // next slot to fill
  std::size_t recvx = 0;               // next slot to empty
  unsigned char* buf = nullptr;        // cap slots of ops->size bytes, after this struct
  std::atomic<std::uint32_t> refs{1};  // handles; the last release frees (acq_rel)

  // Whether a value can go into / come out of the buffer now (lock held).
  bool buffer_has_room() const noexcept {
    return cap != 0 && count.load(std::memory_order_relaxed) < cap;
  }
  bool buffer_has_value() const noexcept {
    return cap != 0 && count.load(std::memory_order_relaxed) > 0;
  }
  void* slot(std::size_t i) noexcept { return buf + i * ops->size; }
};
static_assert(offsetof(ChanCore, count) == 64, "an unbuffered operation's fields fill line one");

// Channel lock held, by select.cpp and chan.cpp: the steps of one operation that can
// proceed now. The caller wakes the Sudog it completed, if any, after unlocking (C2).
//
// Sends the T at src to a waiting receiver r (unbuffered or empty buffer).
void chan_send_to(ChanCore* c, Sudog* r, void* src) noexcept;
// Puts the T at src into the buffer (count < cap).
void chan_buffer_put(ChanCore* c, void* src) noexcept;
// Receives into the optional at dst from a waiting sender s (unbuffered: directly;
// full buffer: the oldest value, and s's value takes its slot).
void chan_recv_from(ChanCore* c, Sudog* s, void* dst) noexcept;
// Takes the oldest buffered value into the optional at dst (count > 0).
void chan_buffer_take(ChanCore* c, void* dst) noexcept;

[[noreturn]] void throw_closed(const char* what);

}  // namespace goro::detail
