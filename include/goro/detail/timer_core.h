// goro/detail/timer_core.h — the non-template core that goro/time.h's templates are
// thin shells over. Not part of the public API: names here may change. The core lives
// in src/time/.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>

#include "goro/chan.h"

namespace goro::detail {

// Nanoseconds in d, rounded up (a sleep never ends early), clamped to
// [0, INT64_MAX]: a negative duration is "now", a huge one "never".
template <class Rep, class Period>
std::int64_t duration_ns(const std::chrono::duration<Rep, Period>& d) noexcept {
  // long double holds any count times the ratio without overflow.
  long double ns = std::chrono::duration<long double, std::nano>(d).count();
  if (!(ns > 0)) return 0;
  if (ns >= 9.2e18L) return INT64_MAX;
  return std::int64_t(std::ceil(ns));
}

// A time point of steady_clock in nanoseconds since its epoch (CLOCK_MONOTONIC's).
template <class Duration>
std::int64_t time_point_ns(
    const std::chrono::time_point<std::chrono::steady_clock, Duration>& t) noexcept {
  long double ns = std::chrono::duration<long double, std::nano>(t.time_since_epoch()).count();
  if (!(ns > 0)) return 0;
  if (ns >= 9.2e18L) return INT64_MAX;
  return std::int64_t(std::ceil(ns));
}

// Parks the calling goroutine (or blocks the calling thread) until CLOCK_MONOTONIC
// reads deadline_ns; returns at once if it already has.
void sleep_until_ns(std::int64_t deadline_ns);
// The same, for d_ns from now (0: returns at once).
void sleep_for_ns(std::int64_t d_ns);

// A function for after_func, type-erased: call(obj) runs it (in a goroutine of its
// own, once per firing), destroy(obj) frees it with its timer.
struct TimerFunc {
  void* obj = nullptr;
  void (*call)(void* obj) = nullptr;
  void (*destroy)(void* obj) noexcept = nullptr;
};

struct TimerCore;  // opaque: src/time/time.cpp

// A new armed timer: fires in d_ns, then every period_ns if period_ns > 0. With
// fn.call null it sends the time on its channel (capacity 1, never blocking); else
// it runs fn in a new goroutine. Owns fn from the call on, even if it throws. The
// caller holds the one reference returned.
TimerCore* timer_new(std::int64_t d_ns, std::int64_t period_ns, TimerFunc fn);
void timer_retain(TimerCore* t) noexcept;
void timer_release(TimerCore* t) noexcept;
// Disarms; true if that prevented a firing.
bool timer_stop(TimerCore* t) noexcept;
// Disarms and re-arms for d_ns from now (then every period_ns); true if it was armed.
bool timer_reset(TimerCore* t, std::int64_t d_ns, std::int64_t period_ns);
// The timer's channel (nil for an after_func timer).
Chan<std::chrono::steady_clock::time_point> timer_channel(const TimerCore* t) noexcept;
// A channel that receives the time once, d_ns from now (Go's time.After).
Chan<std::chrono::steady_clock::time_point> after_ns(std::int64_t d_ns);

}  // namespace goro::detail
