// goro/time.h — sleeping, timers and tickers (Go's time package).
//
//   goro::sleep_for(std::chrono::milliseconds(10));     // parks the goroutine
//
//   goro::select(                                       // a receive with a timeout
//       goro::case_recv(results, [&](std::optional<int> v) { use(v); }),
//       goro::case_recv(goro::after(std::chrono::seconds(1)), [&] { timed_out(); }));
//
//   goro::Ticker ticker(std::chrono::milliseconds(100));
//   for (int i = 0; i < 3; ++i) ticker.channel().recv();  // three ticks
//
// Time is goro::Clock, std::chrono::steady_clock (CLOCK_MONOTONIC on Linux). Every
// duration is rounded up to nanoseconds, so a sleep never ends early; a negative
// duration means "now". Timers live in per-P heaps and are run by the scheduler: a
// sleeping goroutine holds no thread, and 100,000 of them cost 100,000 heap entries,
// not threads. A timer fires at its deadline or later (never earlier): as in Go, a
// busy P runs its due timers at its next scheduling point.
//
// Everything here works from goroutines and from plain threads: a goroutine parks, a
// thread blocks. Timer and Ticker channels have capacity 1 and the timer sends
// without blocking, so a slow reader of a Ticker misses ticks rather than queueing
// them, as in Go. The send of a fire happens before the receive that gets its value.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "goro/chan.h"
#include "goro/detail/timer_core.h"

namespace goro {

// The clock of every deadline and of the values timers send.
using Clock = std::chrono::steady_clock;

// Pauses the caller for at least d (Go's time.Sleep): a goroutine parks (shown as
// [sleep] in goroutine dumps) and frees its thread; a plain thread blocks. Returns at
// once if d <= 0. Throws nothing but std::bad_alloc.
//
//   goro::sleep_for(std::chrono::milliseconds(5));
template <class Rep, class Period>
void sleep_for(const std::chrono::duration<Rep, Period>& d) {
  detail::sleep_for_ns(detail::duration_ns(d));
}

// Pauses the caller until t (at least). Returns at once if t has passed. A time point
// of another clock is converted through that clock's now().
//
//   auto next = goro::Clock::now();
//   for (;;) { next += period; work(); goro::sleep_until(next); }
template <class Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration>& t) {
  detail::sleep_until_ns(detail::time_point_ns(t));
}
template <class C, class Duration>
void sleep_until(const std::chrono::time_point<C, Duration>& t) {
  sleep_for(t - C::now());
}

// A single event in the future (Go's *time.Timer): when it fires it sends the time on
// its channel, or, made by after_func, runs a function in a new goroutine.
//
// A Timer is a handle: copies refer to the same timer. Dropping every handle does not
// stop it (as in Go, it fires and is then freed); stop() it to cancel. A default-
// constructed Timer has no timer: stop, reset and channel throw std::logic_error.
//
//   goro::Timer t(std::chrono::seconds(1));
//   goro::select(goro::case_recv(done), goro::case_recv(t.channel(), [] { late(); }));
//   t.stop();
class Timer {
 public:
  Timer() noexcept = default;
  // A timer that sends the time on channel() once, d from now (Go's time.NewTimer).
  template <class Rep, class Period>
  explicit Timer(const std::chrono::duration<Rep, Period>& d)
      : core_(detail::timer_new(detail::duration_ns(d), 0, detail::TimerFunc{})) {}

  Timer(const Timer& o) noexcept : core_(o.core_) {
    if (core_ != nullptr) detail::timer_retain(core_);
  }
  Timer(Timer&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  Timer& operator=(const Timer& o) noexcept {
    Timer(o).swap(*this);
    return *this;
  }
  Timer& operator=(Timer&& o) noexcept {
    Timer(std::move(o)).swap(*this);
    return *this;
  }
  ~Timer() {
    if (core_ != nullptr) detail::timer_release(core_);
  }
  void swap(Timer& o) noexcept { std::swap(core_, o.core_); }
  explicit operator bool() const noexcept { return core_ != nullptr; }

  // Prevents the timer from firing. Returns true if this call stopped it, false if it
  // had already fired (or started to), or was stopped. Exactly one of "stop returns
  // true" and "the timer fires" happens per arming. Does not drain or close the
  // channel; for an after_func timer, a function already started keeps running.
  bool stop() { return detail::timer_stop(core("stop")); }

  // Re-arms the timer to fire d from now (an after_func timer runs its function again).
  // Returns true if the timer had been armed. As in Go, reset a Timer with a channel
  // only once it is stopped or has fired and its channel is drained: otherwise a value
  // from the previous arming may still be received after the reset.
  template <class Rep, class Period>
  bool reset(const std::chrono::duration<Rep, Period>& d) {
    return detail::timer_reset(core("reset"), detail::duration_ns(d), 0);
  }

  // The channel the time is sent on (capacity 1); the nil channel for an after_func
  // timer. Do not close it (a closed timer channel drops the timer's sends).
  Chan<Clock::time_point> channel() const { return detail::timer_channel(core("channel")); }

 private:
  template <class Rep, class Period, class F>
  friend Timer after_func(const std::chrono::duration<Rep, Period>& d, F&& f);
  explicit Timer(detail::TimerCore* c) noexcept : core_(c) {}
  detail::TimerCore* core(const char* op) const {
    if (core_ == nullptr)
      throw std::logic_error(std::string("goro::Timer::") + op + " on an empty Timer");
    return core_;
  }
  detail::TimerCore* core_ = nullptr;
};

// Runs f() in its own goroutine d from now (Go's time.AfterFunc). The Timer returned
// may stop it before it starts, or reset it to run f again later; dropping it changes
// nothing. f is decay-copied now and called as an lvalue, once per firing (if a
// reset makes it fire again while a previous call runs, the calls overlap). An
// exception escaping f is fatal, as one escaping any goroutine.
//
//   goro::Timer t = goro::after_func(std::chrono::seconds(5), [] { std::puts("late"); });
//   if (finished_in_time) t.stop();
template <class Rep, class Period, class F>
Timer after_func(const std::chrono::duration<Rep, Period>& d, F&& f) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "goro::after_func: f must be callable with no arguments");
  detail::TimerFunc fn;
  fn.obj = new Fn(std::forward<F>(f));
  fn.call = [](void* obj) { (*static_cast<Fn*>(obj))(); };
  fn.destroy = [](void* obj) noexcept { delete static_cast<Fn*>(obj); };
  return Timer(detail::timer_new(detail::duration_ns(d), 0, fn));  // owns fn.obj now
}

// A channel that receives the time once, d from now (Go's time.After). The timer
// behind it cannot be stopped: for a timeout in a loop that usually ends early,
// prefer a Timer and stop() it.
//
//   auto v = goro::select(goro::case_recv(ch), goro::case_recv(goro::after(1s)));
template <class Rep, class Period>
Chan<Clock::time_point> after(const std::chrono::duration<Rep, Period>& d) {
  return detail::after_ns(detail::duration_ns(d));
}

// Sends the time on its channel every period (Go's *time.Ticker), dropping ticks
// that a slow reader has not made room for. Unlike Go's, a Ticker owns its timer:
// destroying it stops it (so a forgotten Ticker cannot tick forever). Move-only.
//
//   goro::Ticker t(std::chrono::milliseconds(100));
//   while (auto tick = t.channel().recv()) { if (poll()) break; }
class Ticker {
 public:
  // Throws std::invalid_argument if period <= 0 (Go panics).
  template <class Rep, class Period>
  explicit Ticker(const std::chrono::duration<Rep, Period>& period)
      : core_(make(checked_period(detail::duration_ns(period)))) {}
  Ticker(Ticker&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  Ticker& operator=(Ticker&& o) noexcept {
    Ticker(std::move(o)).swap(*this);
    return *this;
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;
  ~Ticker() {
    if (core_ != nullptr) {
      detail::timer_stop(core_);
      detail::timer_release(core_);
    }
  }
  void swap(Ticker& o) noexcept { std::swap(core_, o.core_); }

  // Turns the ticker off: no tick is sent after stop returns, except one whose send
  // was already under way (as in Go). Does not close the channel. No effect on a
  // moved-from Ticker.
  void stop() noexcept {
    if (core_ != nullptr) detail::timer_stop(core_);
  }
  // Stops the ticker and restarts it with a new period: the next tick comes one
  // period from now. Throws std::invalid_argument if period <= 0, std::logic_error on
  // a moved-from Ticker.
  template <class Rep, class Period>
  void reset(const std::chrono::duration<Rep, Period>& period) {
    std::int64_t ns = checked_period(detail::duration_ns(period));
    detail::timer_reset(core("reset"), ns, ns);
  }
  // The channel ticks arrive on (capacity 1).
  Chan<Clock::time_point> channel() const { return detail::timer_channel(core("channel")); }

 private:
  static std::int64_t checked_period(std::int64_t ns) {
    if (ns <= 0) throw std::invalid_argument("goro::Ticker: non-positive interval");
    return ns;
  }
  static detail::TimerCore* make(std::int64_t ns) {
    return detail::timer_new(ns, ns, detail::TimerFunc{});
  }
  detail::TimerCore* core(const char* op) const {
    if (core_ == nullptr)
      throw std::logic_error(std::string("goro::Ticker::") + op + " on a moved-from Ticker");
    return core_;
  }
  detail::TimerCore* core_ = nullptr;
};

}  // namespace goro
