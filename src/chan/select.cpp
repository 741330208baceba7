// select.cpp — select over several channel operations (Go's runtime/select.go).
//
// 1. Lock every channel of the select, once each, in address order (two selects over
//    the same channels cannot deadlock each other).
// 2. Look at the cases in a random order and perform the first that can proceed:
//    that makes the choice uniform among the ready ones.
// 3. None can: with a default case, unlock and take it. Otherwise queue a Sudog on
//    every channel, all sharing one SelectState, and park; the park protocol unlocks
//    the channels once the goroutine is off its stack (sched.h I1).
// 4. Whoever completes one of the Sudogs first wins the SelectState's claim (C3 in
//    chan_internal.h) and wakes us; the others find the claim taken and drop our
//    Sudogs. Awake, we lock the channels again and unlink the Sudogs still queued.
#include <algorithm>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "chan/chan_internal.h"
#include "sched/platform.h"
#include "sched/waiter.h"

namespace goro::detail {
namespace {

// The channels of a select, in lock order (addresses ascending, with repeats).
struct LockSet {
  const SelectCase* cases;
  const std::uint32_t* order;
  std::size_t n;

  void lock() const noexcept {
    for (std::size_t k = 0; k < n; ++k) {
      ChanCore* c = cases[order[k]].chan;
      if (k == 0 || c != cases[order[k - 1]].chan) c->lock.lock();
    }
  }
  void unlock() const noexcept {
    for (std::size_t k = n; k-- > 0;) {
      ChanCore* c = cases[order[k]].chan;
      if (k == 0 || c != cases[order[k - 1]].chan) c->lock.unlock();
    }
  }
  static bool unlock_fn(void* self) noexcept {
    static_cast<LockSet*>(self)->unlock();
    return true;
  }
};

// Small selects keep their scratch arrays on the stack.
constexpr std::size_t kInlineCases = 8;

}  // namespace

int select_impl(SelectCase* cases, std::size_t n, bool has_default) {
  GORO_CHECK(n < (std::size_t(1) << 31), "goro::select: too many cases");
  std::uint32_t poll_inline[kInlineCases], lock_inline[kInlineCases];
  std::unique_ptr<std::uint32_t[]> heap_orders;
  std::uint32_t* poll = poll_inline;
  std::uint32_t* order = lock_inline;
  if (n > kInlineCases) {
    heap_orders.reset(new std::uint32_t[2 * n]);
    poll = heap_orders.get();
    order = poll + n;
  }

  // The non-nil cases in a random order (inside-out Fisher-Yates), and in lock order:
  // by channel address, the cases of one channel in a random order among themselves
  // (which of them a blocked select's first partner completes stays random). The lock
  // order is sorted starting from the cases' own order, not from the random one: the
  // same select then makes the same comparisons every time, and walks its locks and
  // queues in the same order, which branch predictors learn. (Sorting the random
  // order mispredicted several branches a select: bench select took 0.79x the time
  // once it stopped, 1 P and 2 Ps alike.)
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].chan == nullptr) continue;
    std::size_t j = cheap_rand() % (m + 1);
    poll[m] = poll[j];
    poll[j] = static_cast<std::uint32_t>(i);
    order[m] = static_cast<std::uint32_t>(i);
    ++m;
  }
  if (m == 0) {
    if (has_default) return -1;
    block_forever(WaitReason::select);
  }
  auto by_address = [cases](std::uint32_t a, std::uint32_t b) {
    return std::less<const ChanCore*>()(cases[a].chan, cases[b].chan);
  };
  if (m <= kInlineCases) {  // insertion sort: a select rarely has many cases
    for (std::size_t k = 1; k < m; ++k)
      for (std::size_t j = k; j > 0 && by_address(order[j], order[j - 1]); --j)
        std::swap(order[j], order[j - 1]);
  } else {
    std::sort(order, order + m, by_address);
  }
  // The same channel in several cases: shuffle each run of them (rare; the test of
  // each neighbour is a branch that is then always predicted).
  for (std::size_t k = 1, run = 0; k < m; ++k) {
    if (GORO_LIKELY(cases[order[k]].chan != cases[order[k - 1]].chan)) {
      run = k;
      continue;
    }
    std::size_t j = run + cheap_rand() % (k - run + 1);
    std::swap(order[k], order[j]);
  }
  LockSet locks{cases, order, m};
  locks.lock();

  // Pass 1: the first case, in poll order, that can proceed now.
  for (std::size_t k = 0; k < m; ++k) {
    std::uint32_t i = poll[k];
    ChanCore* c = cases[i].chan;
    void* elem = cases[i].elem;
    if (cases[i].is_send) {
      if (c->closed.load(std::memory_order_relaxed)) {
        locks.unlock();
        throw_closed("send on closed channel");
      }
      if (Sudog* r = c->recvq.dequeue()) {
        chan_send_to(c, r, elem);
        locks.unlock();
        r->wake();
        return static_cast<int>(i);
      }
      if (c->buffer_has_room()) {
        chan_buffer_put(c, elem);
        locks.unlock();
        return static_cast<int>(i);
      }
    } else {
      if (Sudog* s = c->sendq.dequeue()) {
        chan_recv_from(c, s, elem);
        locks.unlock();
        s->wake();
        return static_cast<int>(i);
      }
      if (c->buffer_has_value()) {
        chan_buffer_take(c, elem);
        locks.unlock();
        return static_cast<int>(i);
      }
      if (c->closed.load(std::memory_order_relaxed)) {
        locks.unlock();
        return static_cast<int>(i);  // elem stays empty
      }
    }
  }
  if (has_default) {
    locks.unlock();
    return -1;
  }

  // Pass 2: queue on every channel and park.
  ensure_started();
  Waiter w;
  SelectState state;
  // Raw storage, a Sudog constructed for each of the m cases only: value-initialising
  // all kInlineCases of them compiled to a `rep stos` of 448 bytes on every select
  // that parks.
  alignas(Sudog) unsigned char sudogs_inline[kInlineCases * sizeof(Sudog)];
  std::unique_ptr<unsigned char[]> sudogs_heap;
  unsigned char* sudogs_buf = sudogs_inline;
  if (m > kInlineCases) {
    sudogs_heap.reset(new unsigned char[m * sizeof(Sudog)]);
    sudogs_buf = sudogs_heap.get();
  }
  auto slot = [sudogs_buf](std::size_t k) -> void* { return sudogs_buf + k * sizeof(Sudog); };
  static_assert(std::is_trivially_destructible_v<Sudog>);
  for (std::size_t k = 0; k < m; ++k) {
    std::uint32_t i = order[k];
    Sudog& s = *::new (slot(k)) Sudog;
    s.set_waiter(&w);
    s.sel = &state;
    s.elem = cases[i].elem;
    s.case_index = i;
    (cases[i].is_send ? cases[i].chan->sendq : cases[i].chan->recvq).push(&s);
  }
  w.wait(WaitReason::select, &LockSet::unlock_fn, &locks);

  // Pass 3: one Sudog fired (C3); unlink the others still queued.
  Sudog* fired = state.fired;
  locks.lock();
  for (std::size_t k = 0; k < m; ++k) {
    Sudog& s = *std::launder(static_cast<Sudog*>(slot(k)));
    if (!s.linked) continue;
    const SelectCase& sc = cases[s.case_index];
    (sc.is_send ? sc.chan->sendq : sc.chan->recvq).unlink(&s);
  }
  locks.unlock();
  std::uint32_t i = fired->case_index;
  if (cases[i].is_send && !fired->success) throw_closed("send on closed channel");
  return static_cast<int>(i);
}

}  // namespace goro::detail
