// idle_wait.h — the one place where an idle M blocks until "something may have
// happened" with a deadline: today the earliest timer; once the netpoller lands, also
// I/O readiness. The netpoller replaces this interface's implementation
// (idle_wait_futex.cpp) with epoll_wait on the same deadline, and idle_wake with a
// write to an eventfd the epoll set watches (Go's netpoll(delay) and netpollBreak);
// the scheduler's side (sched.cpp, "the timed sleeper") stays as it is.
//
// Contract:
//  - At most one M is inside idle_wait at a time: the scheduler's timed-sleeper claim
//    (sched.cpp) decides which.
//  - idle_wait(until) returns once CLOCK_MONOTONIC reads `until` (ns), or earlier after
//    idle_wake(), or spuriously; the caller re-evaluates in every case.
//  - idle_wake() is sticky, like an eventfd: a wake that comes before the wait makes the
//    next idle_wait return at once. So a waker never needs to know whether the sleeper
//    has started to sleep yet, only that it will look at the state the waker changed.
#pragma once

#include <cstdint>

namespace goro::detail {

void idle_wait(std::int64_t until) noexcept;
void idle_wake() noexcept;

}  // namespace goro::detail
