// time.cpp — goro/time.h on the runtime's timers (timers.h): sleeping, Timer, Ticker,
// after and after_func.
//
// A sleep arms a timer node on the sleeper's own stack from the park's unlock
// function — that is, only once the goroutine has left its stack (sched.h I1), so the
// timer cannot ready it before it has parked (Go's resetForSleep) — and the timer
// wakes it through the one Waiter. A plain thread sleeps the same way, on the Waiter's
// futex. Timers, Tickers and after() share a heap-allocated, reference-counted core
// (timers.h T5): the handles hold references, the heap holds one while it is armed,
// and a runner holds one while it fires it, so a timer whose handles are all gone
// still fires, and is then freed.
#include <new>
#include <utility>

#include "goro/runtime.h"
#include "goro/time.h"
#include "sched/internal.h"
#include "sched/platform.h"
#include "sched/waiter.h"
#include "time/timers.h"

namespace goro::detail {

// A Timer's, Ticker's or after()'s state.
struct TimerCore : TimerNode {
  Chan<Clock::time_point> ch = Chan<Clock::time_point>::nil();  // nil for after_func
  TimerFunc fn;                                                 // after_func's
};

namespace {

std::int64_t deadline_after(std::int64_t d_ns) noexcept {
  std::int64_t now = nanotime();
  return d_ns > INT64_MAX - now ? INT64_MAX : now + d_ns;
}

// --- sleeping ---

// A plain thread's sleep (a goroutine's needs no node: sleep_until_ns).
struct SleepNode : TimerNode {
  Waiter* waiter = nullptr;
  std::int64_t deadline = 0;
};

// Wakes the sleeping thread. The node is on its stack: nothing touches it after this.
void sleep_fire(TimerNode* t, std::int64_t) noexcept {
  static_cast<SleepNode*>(t)->waiter->wake(false);
}

// The wait's unlock function: the thread is about to wait on its futex, so the timer
// may fire from now on.
bool sleep_arm(void* arg) {
  auto* n = static_cast<SleepNode*>(arg);
  timer_add(n, n->deadline, 0);
  return true;
}

// --- Timer, Ticker, after, after_func ---

void core_destroy(TimerNode* t) noexcept {
  auto* c = static_cast<TimerCore*>(t);
  if (c->fn.destroy != nullptr) c->fn.destroy(c->fn.obj);
  delete c;
}

// Sends the time without blocking: a full channel (a reader that has not taken the
// previous value) drops it, as Go's sendTime does.
void chan_fire(TimerNode* t, std::int64_t) noexcept {
  auto* c = static_cast<TimerCore*>(t);
  try {
    c->ch.try_send(Clock::now());
  } catch (const ClosedChannelError&) {
    // Someone closed the timer's channel (Go's type system forbids it): drop the send.
  }
}

// Runs the function in a goroutine of its own, which holds a reference to the core.
void func_fire(TimerNode* t, std::int64_t) noexcept {
  auto* c = static_cast<TimerCore*>(t);
  c->refs.fetch_add(1, std::memory_order_relaxed);
  goro::go([c] {
    c->fn.call(c->fn.obj);
    timer_unref(c);
  });
}

}  // namespace

namespace {

// Sleeps until deadline_ns, which the caller found still ahead.
void sleep_to(std::int64_t deadline_ns) {
  ensure_started();
  if (G* g = current_g()) {
    // A goroutine: the heap holds the G itself (timer_add_sleeper), armed once it has
    // left its stack, and the firing readies it, touching nothing on that stack.
    struct Arm {
      G* g;
      std::int64_t deadline;
    } arm{g, deadline_ns};
    park(
        WaitReason::sleep,
        [](void* a) {
          auto* s = static_cast<Arm*>(a);
          timer_add_sleeper(s->g, s->deadline);
          return true;
        },
        &arm);
    return;
  }
  Waiter w;
  SleepNode n;
  n.fire = &sleep_fire;
  n.removable = false;  // a sleep is never cancelled
  n.waiter = &w;
  n.deadline = deadline_ns;
  w.wait(WaitReason::sleep, &sleep_arm, &n);
}

}  // namespace

void sleep_until_ns(std::int64_t deadline_ns) {
  if (deadline_ns > nanotime()) sleep_to(deadline_ns);
}

void sleep_for_ns(std::int64_t d_ns) {
  if (d_ns > 0) sleep_to(deadline_after(d_ns));  // one clock read, not two
}

TimerCore* timer_new(std::int64_t d_ns, std::int64_t period_ns, TimerFunc fn) {
  TimerCore* c;
  try {
    ensure_started();
    c = new TimerCore;
    if (fn.call == nullptr) c->ch = Chan<Clock::time_point>(1);
  } catch (...) {
    if (fn.destroy != nullptr) fn.destroy(fn.obj);
    throw;
  }
  c->fn = fn;
  c->fire = fn.call != nullptr ? &func_fire : &chan_fire;
  c->destroy = &core_destroy;  // refs starts at 1: the caller's
  timer_add(c, deadline_after(d_ns), period_ns);
  return c;
}

void timer_retain(TimerCore* t) noexcept { t->refs.fetch_add(1, std::memory_order_relaxed); }
void timer_release(TimerCore* t) noexcept { timer_unref(t); }

bool timer_stop(TimerCore* t) noexcept {
  t->op.lock();
  bool was_armed = timer_del(t);
  t->op.unlock();
  return was_armed;
}

bool timer_reset(TimerCore* t, std::int64_t d_ns, std::int64_t period_ns) {
  struct Unlock {
    Lock& op;
    ~Unlock() { op.unlock(); }
  };
  t->op.lock();
  Unlock unlock{t->op};  // timer_add may throw std::bad_alloc
  bool was_armed = timer_del(t);
  timer_add(t, deadline_after(d_ns), period_ns);
  return was_armed;
}

Chan<Clock::time_point> timer_channel(const TimerCore* t) noexcept { return t->ch; }

Chan<Clock::time_point> after_ns(std::int64_t d_ns) {
  TimerCore* c = timer_new(d_ns, 0, TimerFunc{});
  Chan<Clock::time_point> ch = c->ch;
  timer_unref(c);  // the heap keeps it until it fires
  return ch;
}

}  // namespace goro::detail
