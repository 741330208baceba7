// goro/detail/testing.h — hooks for goro's own tests and benchmarks. Not part of the
// public API: names here may change.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace goro {
class Context;
}

namespace goro::detail::testing {

// Blocks (without busy-waiting) until num_goroutines() <= n or the timeout passes;
// returns whether the count got there. For leak checks: a goroutine that has just
// signalled a WaitGroup may not have returned yet.
bool wait_goroutines_at_most(std::int64_t n, std::chrono::milliseconds timeout);

// Goroutines parked now whose wait reason is `reason` as goro::debug::dump prints it
// ("sync.Cond", "semacquire", ...). A goroutine counts from the moment it has parked
// until a waker makes it runnable (ready() is synchronous), so a test can wait until
// n goroutines are parked, act, and check how many a wake-up released.
std::int64_t goroutines_waiting(const char* reason) noexcept;

// Plain threads blocked in goro now (on a channel, a mutex, a WaitGroup, goro::run's
// wait, ...). A thread counts from the moment it is queued as a waiter until it is
// woken, so a test can wait until its threads have really blocked.
std::int32_t threads_waiting() noexcept;

// Times a goroutine resumed on a different OS thread from the one it parked or
// yielded on (migrations), since the process started.
std::uint64_t migrations() noexcept;

// The calling goroutine's id (Go's goid; 1 is the first goroutine), 0 on a plain thread.
std::uint64_t goroutine_id() noexcept;

// The address of the calling goroutine's record (its G), 0 on a plain thread: for tests
// of the order in which records are reused.
std::uintptr_t g_record() noexcept;

// Index of the runtime thread (M) the caller runs on, -1 on a plain thread.
int thread_index() noexcept;

// Runtime threads that run goroutines or blocking calls (Ms) started so far; they
// never exit, so this is also the most that ever existed at once.
int threads_started() noexcept;

// Times the monitor lent a spare P because a goroutine held its P too long with others
// waiting, and times it handed a P on from a blocking call, since the process started.
std::uint64_t spares_lent() noexcept;
// Regular Ps idle now (no M holds them).
int idle_ps() noexcept;
// Spare Ps the runtime keeps (the monitor lends them; each has its own caches).
int spare_ps() noexcept;
// Whether the calling goroutine runs on a spare P (one the monitor lent); false on a
// plain thread.
bool on_spare_p() noexcept;
std::uint64_t blocking_handoffs() noexcept;

// Whether the calling thread's copy of its M's P (what the switch path reads) is that
// P: after every change of P (blocking calls, idle threads taking one, spare Ps lent
// and retired) it must be. Both are null on a plain thread.
bool thread_p_matches() noexcept;

// "madvise" or "mprotect": how stack guard pages are made in this process.
const char* stack_guard_mode();

// Kernel mappings goro's stacks use now (slabs plus mprotect guard splits).
std::size_t stack_mappings() noexcept;

// Timers armed now on every P's heap (sleepers, Timers, Tickers, after, after_func).
std::size_t timers_armed() noexcept;

// Stacks reserved (in use or pooled) and the reservation size of each.
std::size_t stacks_reserved() noexcept;
std::size_t stack_size() noexcept;
// Committed stacks waiting in the global pool now (the scavenger's bound is 1,024).
std::size_t stacks_warm_pooled() noexcept;
// Scavenger rounds started so far (the monitor starts one a second).
std::uint64_t stack_scavenge_rounds() noexcept;
// Stacks given back below their top page when their goroutine ended (found deep, or
// the periodic sweep), since the process started.
std::uint64_t stack_deep_releases() noexcept;

// goro::Context nodes alive now (contexts not yet freed), in the whole process.
std::int64_t context_nodes_alive() noexcept;

// Children registered with ctx now (cancelled children have detached); 0 for
// background().
std::size_t context_children(const goro::Context& ctx) noexcept;

// Goroutines and plain threads parked on a socket now (the network poller's
// waiters), for tests that must know a reader is blocked before they act.
std::int64_t io_waiters() noexcept;
// Whether a runtime thread is blocked in the network poller (epoll_wait) now.
bool netpoll_blocked() noexcept;

// Whether goro::Mutex unlocks an uncontended mutex with a restartable sequence
// (src/sync/mutex.cpp U1-U3), and a way to make the kernel abort every such sequence
// now in flight in this process (what a mutex's first contention does).
bool mutex_rseq_enabled() noexcept;
void mutex_abort_sequences();

}  // namespace goro::detail::testing
