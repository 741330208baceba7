// netpoll.h — the network poller's contract: how a socket's readers and writers wait
// for readiness without holding a thread, and what the scheduler and a backend must
// provide each other (runtime.md "Netpoller"; Go's runtime/netpoll.go).
//
// Pieces:
//   netpoll.cpp        the platform-independent part: poll descriptors, their wait
//                      slots, close and deadlines, the waiter count.
//   netpoll_epoll.cpp  the Linux backend (epoll, edge-triggered, one eventfd to break a
//                      blocked poll). Another backend (io_uring) would be another file
//                      implementing the four backend_* functions and netpoll/netpoll_break.
//   sched.cpp          polls without blocking before stealing, and lets exactly one
//                      idle M (the idle sleeper) block in netpoll() until the
//                      earliest timer or an event, while others sleep on their futex.
//   net.cpp            sockets (goro::net) on top of poll descriptors.
//
// A poll descriptor (PollDesc, Go's pollDesc) belongs to one non-blocking fd, which is
// registered with the backend once, for reading and writing, edge-triggered. It has
// two wait slots, one per direction, each a small state machine in one atomic word:
//
//   0         nothing pending, nobody waiting
//   kReady    readiness arrived while nobody waited; the next wait consumes it
//   kWait     a waiter is about to park (it has not published itself yet)
//   Waiter*   a waiter is parked (a goroutine) or blocked (a plain thread)
//
// Transitions: a waiter moves 0 -> kWait, then, in the park protocol's commit (after
// the goroutine has left its stack, invariant I1 of sched.h), kWait -> Waiter*. An
// I/O event moves 0 or kWait -> kReady, and Waiter* -> kReady taking the waiter to
// wake it. Close and deadlines move kWait -> 0 and Waiter* -> 0 taking the waiter.
// The waiter, once it runs again (or when its commit failed because the word left
// kWait), swaps the slot to 0 and learns from the old value whether I/O is ready.
//
// Invariants:
//  N1. At most one waiter per slot. The socket layer serialises readers and writers
//      (net.cpp); a second concurrent waiter is a fatal error, never a lost wake-up.
//  N2. Readiness is never lost: an event that arrives between a failed syscall
//      (EAGAIN) and the park lands in the slot (kReady, or makes the commit fail), so
//      the waiter retries instead of sleeping.
//  N3. Close and expired deadlines are published in `info` (seq_cst, under the
//      descriptor's lock) before the slots are unblocked; a waiter re-reads `info`
//      (seq_cst) after its 0 -> kWait CAS. One side always sees the other, so a
//      waiter never parks after a close or an expiry that it would not be woken from.
//  N4. `waiters` counts published Waiter* (plus commits in flight); it is raised
//      before the kWait -> Waiter* CAS and lowered by whoever takes the waiter out, so
//      it never reads lower than the number of parked waiters. While it is above
//      zero the deadlock detector treats the poller as a pending wake source, and an
//      idle M prefers to block in netpoll() over sleeping.
//  N5. Poll descriptors are never freed (a free list recycles them): an event for an
//      fd closed an instant ago may still name one. Such a stale event only touches
//      the atomic slots and can at worst cause a spurious wake-up, which every
//      waiter tolerates (it retries the syscall and waits again).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "goro/detail/sema.h"
#include "sched/sched.h"
#include "time/timers.h"

namespace goro::detail {

struct Waiter;

enum class PollMode : std::uint8_t { read = 1, write = 2, read_write = 3 };
enum class PollError : std::uint8_t { ok, closing, timeout };

struct PollDesc {
  static constexpr std::uintptr_t kReady = 1;
  static constexpr std::uintptr_t kWait = 2;
  // Bits of `info`.
  static constexpr std::uint32_t kClosing = 1;
  static constexpr std::uint32_t kReadExpired = 2;
  static constexpr std::uint32_t kWriteExpired = 4;

  int fd = -1;               // constant while in use
  PollDesc* link = nullptr;  // free list, guarded by the cache's lock
  // The wait slots (see above). Any thread, atomically.
  std::atomic<std::uintptr_t> rg{0};
  std::atomic<std::uintptr_t> wg{0};
  // A summary of closing/rd/wd for waiters, which cannot take the lock: written
  // (seq_cst) only under `lock`, read (seq_cst) by anyone (N3).
  std::atomic<std::uint32_t> info{0};
  // Set (release, before the slots are moved) once the backend reported a hang-up or
  // an error: the peer shut its side or the connection failed, so reads no longer
  // block. Sticky until the descriptor is reused (net.cpp F4 reads it, acquire).
  std::atomic<bool> hup{false};

  // Lock order: pd->lock, then a timer heap's lock (arming and disarming rt/wt).
  Lock lock;  // guards what follows; never held across a park or a wake
  bool closing = false;
  // Deadlines as nanotime(): 0 none, -1 expired.
  std::int64_t rd = 0;
  std::int64_t wd = 0;
  // The deadlines' timers (src/time/timers.h), armed (under `lock`) while rd or wd is
  // in the future. A timer that fires expires its direction only if the deadline it
  // finds then (under `lock`) has passed: a deadline moved, cleared or closed after
  // the arming needs no sequence number to make an old timer harmless. Never freed
  // (N5), so a fire in flight never touches freed memory.
  struct DeadlineTimer {
    TimerNode node;  // first: fire() gets the node's address
    PollDesc* pd = nullptr;
    PollMode mode = PollMode::read;
  };
  DeadlineTimer rt;
  DeadlineTimer wt;
  static_assert(std::is_standard_layout_v<DeadlineTimer>, "fire() casts the node back");

  PollDesc() noexcept;
};

// --- The socket layer's interface (net.cpp) ---
// Registers a non-blocking fd with the poller (starting the runtime if needed).
// Returns null and sets errno if the backend refuses the fd.
PollDesc* poll_open(int fd) noexcept;
// Unregisters and recycles pd. The fd must still be open, and nobody may wait on pd
// (the caller evicted them and waited for its own users to leave).
void poll_close(PollDesc* pd) noexcept;
// Before an I/O attempt: reports close or an expired deadline, and forgets a stale
// readiness notification (the syscall is about to look for itself).
PollError poll_prepare(PollDesc* pd, PollMode mode) noexcept;
// Whether a read that emptied the socket may wait for readiness before its next
// syscall (net.cpp F4): no hang-up or error was reported, and neither close nor an
// expired deadline stands in the way (then it returns that error, the slot
// untouched).
PollError poll_check_drained(PollDesc* pd, bool* may_wait) noexcept;
// After an attempt failed with EAGAIN: blocks (parks a goroutine, blocks a plain
// thread) until the fd may be ready in that direction, is closed, or the direction's
// deadline passes. One waiter per direction (N1).
PollError poll_wait(PollDesc* pd, PollMode mode) noexcept;
// Close: from now on every prepare/wait reports `closing`, and the waiters are woken.
void poll_evict(PollDesc* pd) noexcept;
// Sets the deadline of one or both directions: `when` is a nanotime() (0: none; a
// time not after now: expired at once, waking the waiter).
void poll_set_deadline(PollDesc* pd, std::int64_t when, PollMode mode) noexcept;

// --- The scheduler's interface (sched.cpp) ---
// Whether anyone (goroutine or thread) waits on a poll descriptor now (N4). seq_cst.
bool netpoll_has_waiters() noexcept;
// Polls the backend. timeout_ns < 0 blocks until an event or netpoll_break();
// 0 returns at once; > 0 waits at most about that long. Ready goroutines are
// returned (for the scheduler to queue: ready_list); ready plain threads are woken
// here. Non-blocking polls may run on several threads at once; the scheduler lets
// at most one thread block.
GList netpoll(std::int64_t timeout_ns) noexcept;
// Makes a blocked netpoll() return soon (an earlier timer, new work for its M, the
// last waiter or timer gone). Sticky: a break before the wait makes the next
// blocking netpoll() return at once. Cheap when a break is already pending.
void netpoll_break() noexcept;
// Sets the poller up; the runtime calls it once, at start (the idle sleeper waits in
// the poller for timers too, so it always exists). Fatal if the OS refuses.
void netpoll_init();

// --- Between netpoll.cpp and a backend ---
// The backend: set up once (returns false and sets errno on failure), register an fd
// for edge-triggered read and write readiness, unregister it.
bool netpoll_backend_init() noexcept;
int netpoll_backend_open(int fd, PollDesc* pd) noexcept;  // 0 or an errno
void netpoll_backend_close(int fd) noexcept;
// Called by the backend's netpoll() for each ready descriptor: takes the waiters of
// the ready directions and adds goroutines to `list` (plain threads are woken). `hup`:
// the event reported a hang-up or an error (sets pd->hup first).
void netpoll_ready(GList* list, PollDesc* pd, PollMode mode, bool hup) noexcept;
// Set by the backend around a blocking wait, so that the last waiter leaving can
// break it (the poller then goes idle, where the deadlock detector can see it).
void netpoll_note_blocked(bool blocked) noexcept;

}  // namespace goro::detail
