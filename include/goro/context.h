// goro/context.h — cancellation that flows down a tree of work (Go's context).
//
// A Context carries a cancellation signal across API boundaries and between
// goroutines. Contexts form a tree: with_cancel(parent) makes a child that is
// cancelled when its cancel function is called or when its parent is cancelled,
// whichever comes first. Cancellation flows down, never up: cancelling a child leaves
// its parent and siblings alone.
//
//   auto [ctx, cancel] = goro::with_cancel(goro::background());
//   goro::go([ctx = ctx] {
//     for (;;) {
//       bool stop = false;
//       goro::select(goro::case_recv(ctx.done(), [&] { stop = true; }),
//                    goro::case_recv(jobs, [&](std::optional<Job> j) { ... }));
//       if (stop) return;  // ctx.err() says why
//     }
//   });
//   ...
//   cancel();  // as Go's `defer cancel()`: call it once the work is over
//
// - ctx.done() is a channel closed when the context is cancelled; wait on it with
//   recv() or in a select. background()'s done() is the nil channel, which a select
//   never picks (background is never cancelled).
// - ctx.err() is empty (false) until then, and afterwards says why:
//   ContextErrc::cancelled ("context canceled") or ContextErrc::deadline_exceeded
//   ("context deadline exceeded"). The cancellation (err() set, done() closed) happens
//   before a receive on done() returns, so err() is never empty after that.
// - A cancelled context detaches from its parent at once, so a long-lived parent does
//   not keep records of children that are over. A child of a context that is already
//   cancelled is born cancelled, with the parent's reason.
// - with_deadline(parent, t) and with_timeout(parent, d) (Go's WithDeadline and
//   WithTimeout) make a child that also cancels itself, with deadline_exceeded, once
//   Context::Clock reaches t (now + d), unless the parent's deadline comes first.
//   A timer does it (goro::after_func); cancelling the child first stops the timer:
//
//     auto [ctx, cancel] = goro::with_timeout(parent, std::chrono::milliseconds(100));
//     std::optional<Reply> reply;
//     goro::select(goro::case_recv(ctx.done()),  // ctx.err() == deadline_exceeded
//                  goro::case_recv(replies, [&](std::optional<Reply> r) { reply = r; }));
//     cancel();  // stops the timer if the reply came in time
//
// - Call the cancel function when the work the context governs is done, even if it
//   succeeded (Go's `defer cancel()`): until then the child stays registered with its
//   parent. Cancel functions may be called any number of times, from any goroutine or
//   thread; only the first call does anything.
//
// Context and CancelFunc are cheap copyable handles to shared state (like Chan), usable
// from goroutines and plain threads alike. Nothing here blocks except receiving from
// done(). Go's context.WithValue is not offered.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.h"

namespace goro {

// Why a context was cancelled: the values of Context::err() (Go's context.Canceled and
// context.DeadlineExceeded). std::error_code compares with them:
// `if (ctx.err() == goro::ContextErrc::deadline_exceeded) ...`.
enum class ContextErrc {
  cancelled = 1,          // "context canceled": its cancel function was called
  deadline_exceeded = 2,  // "context deadline exceeded": its deadline passed
};

// The error category of ContextErrc (name "goro.context").
const std::error_category& context_category() noexcept;

inline std::error_code make_error_code(ContextErrc e) noexcept {
  return {static_cast<int>(e), context_category()};
}

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::ContextErrc> : std::true_type {};

namespace goro {

// Thrown by Context::throw_if_done(); code() is the context's err() and what() its
// message ("context canceled", "context deadline exceeded").
class ContextError : public std::system_error {
 public:
  using std::system_error::system_error;
};

namespace detail {
struct ContextNode;    // src/context/context.cpp
struct ContextAccess;  // src/context/context.cpp: makes and opens handles
void context_retain(ContextNode* n) noexcept;
void context_release(ContextNode* n) noexcept;
}  // namespace detail

class Context {
 public:
  // The element type of done(): nothing is ever sent on it; it is only closed.
  using DoneChan = Chan<std::monostate>;
  // The clock deadlines are measured on (goro::Clock).
  using Clock = std::chrono::steady_clock;

  // background(): never cancelled, no deadline.
  Context() noexcept = default;
  Context(const Context& o) noexcept : n_(o.n_) {
    if (n_ != nullptr) detail::context_retain(n_);
  }
  // Leaves `o` as background().
  Context(Context&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  Context& operator=(const Context& o) noexcept {
    Context(o).swap(*this);
    return *this;
  }
  Context& operator=(Context&& o) noexcept {
    Context(std::move(o)).swap(*this);
    return *this;
  }
  ~Context() {
    if (n_ != nullptr) detail::context_release(n_);
  }
  void swap(Context& o) noexcept { std::swap(n_, o.n_); }

  // A channel that is closed when this context is cancelled (Go's ctx.Done()); every
  // call returns the same channel. For background() it is the nil channel: receiving
  // blocks forever, and a select never picks it. May throw std::bad_alloc (the channel
  // is made on first use).
  DoneChan done() const;
  // Empty until the context is cancelled; then why (ContextErrc), for good.
  std::error_code err() const noexcept;
  // When the context will be cancelled by itself, if it has a deadline (its own or
  // its nearest ancestor's).
  std::optional<Clock::time_point> deadline() const noexcept;
  // Throws ContextError(err()) if the context is cancelled; returns otherwise. Handy
  // in a goro::Group goroutine: the exception cancels the group's other goroutines.
  void throw_if_done() const {
    if (std::error_code e = err()) throw ContextError(e);
  }

  // Whether both handles refer to the same context.
  friend bool operator==(const Context& a, const Context& b) noexcept { return a.n_ == b.n_; }

 private:
  friend struct detail::ContextAccess;
  explicit Context(detail::ContextNode* n) noexcept : n_(n) {}  // adopts a reference
  detail::ContextNode* n_ = nullptr;
};

// Cancels the context it came with, and with it every descendant (Go's CancelFunc):
// closes done(), sets err() to ContextErrc::cancelled, and detaches the context from its
// parent. Only the first call (or the first cancellation from any source) counts; later
// calls do nothing. Never blocks, never throws; callable from any goroutine or thread.
// A default-constructed CancelFunc does nothing.
class CancelFunc {
 public:
  CancelFunc() noexcept = default;
  CancelFunc(const CancelFunc& o) noexcept : n_(o.n_) {
    if (n_ != nullptr) detail::context_retain(n_);
  }
  CancelFunc(CancelFunc&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  CancelFunc& operator=(const CancelFunc& o) noexcept {
    CancelFunc(o).swap(*this);
    return *this;
  }
  CancelFunc& operator=(CancelFunc&& o) noexcept {
    CancelFunc(std::move(o)).swap(*this);
    return *this;
  }
  ~CancelFunc() {
    if (n_ != nullptr) detail::context_release(n_);
  }
  void swap(CancelFunc& o) noexcept { std::swap(n_, o.n_); }

  void operator()() const noexcept;

 private:
  friend struct detail::ContextAccess;
  explicit CancelFunc(detail::ContextNode* n) noexcept : n_(n) {}  // adopts a reference
  detail::ContextNode* n_ = nullptr;
};

// What with_cancel and friends return: `auto [ctx, cancel] = goro::with_cancel(parent);`
struct ContextWithCancel {
  Context ctx;
  CancelFunc cancel;
};

// The root of every context tree (Go's context.Background()): never cancelled, no
// deadline, done() is the nil channel. The same as a default-constructed Context.
inline Context background() noexcept { return Context(); }

// A child of `parent` that is cancelled when the returned cancel function is called or
// when `parent` is, whichever happens first (Go's context.WithCancel). If `parent` is
// already cancelled, the child is born cancelled with the parent's err(). Throws
// std::bad_alloc.
ContextWithCancel with_cancel(const Context& parent);

// A child of `parent` that is also cancelled, with ContextErrc::deadline_exceeded, once
// Context::Clock reaches `deadline` (Go's context.WithDeadline). The rest is as
// with_cancel: the cancel function or the parent's cancellation cancels it first
// (with their reason), and call the cancel function once the work is done — that also
// stops the timer, so nothing is left behind.
//  - If `parent`'s deadline() is already at or before `deadline`, this is just
//    with_cancel(parent): the parent's deadline cancels the child first, and the
//    child's deadline() is the parent's.
//  - Otherwise the child's deadline() is `deadline`. If it has already passed (or
//    `parent` is already cancelled), the child is born cancelled (with
//    deadline_exceeded, or the parent's reason); else a timer (goro::after_func)
//    cancels it at `deadline` or later (never earlier), from a goroutine of its own.
// Until it is cancelled by any of these, the pending timer holds the child (as in Go),
// even if every handle on it is gone. Never blocks; throws std::bad_alloc.
//
//   auto [ctx, cancel] = goro::with_deadline(parent, goro::Clock::now() + 2s);
ContextWithCancel with_deadline(const Context& parent, Context::Clock::time_point deadline);

// A time point of another clock is converted through that clock's now(): the deadline
// is as far from Context::Clock::now() as `deadline` is from C::now().
template <class C, class Duration>
requires(!std::is_same_v<C, Context::Clock>) ContextWithCancel
    with_deadline(const Context& parent, const std::chrono::time_point<C, Duration>& deadline);

namespace detail {
// Nanoseconds in d, rounded up, keeping its sign, clamped to [-INT64_MAX, INT64_MAX].
template <class Rep, class Period>
std::int64_t signed_duration_ns(const std::chrono::duration<Rep, Period>& d) noexcept {
  long double ns = std::chrono::duration<long double, std::nano>(d).count();
  if (ns >= 9.2e18L) return INT64_MAX;
  if (ns <= -9.2e18L) return -INT64_MAX;
  if (!(ns == ns)) return 0;  // NaN
  return std::int64_t(std::ceil(ns));
}
// with_deadline(parent, Context::Clock::now() + timeout_ns), saturating.
ContextWithCancel context_with_timeout_ns(const Context& parent, std::int64_t timeout_ns);
}  // namespace detail

// with_deadline(parent, Context::Clock::now() + timeout) (Go's context.WithTimeout):
// cancelled with ContextErrc::deadline_exceeded once `timeout` has passed, unless its
// cancel function or its parent cancels it first. A timeout <= 0 makes a child born
// cancelled (unless the parent's deadline is already earlier). Never blocks; throws
// std::bad_alloc.
//
//   auto [ctx, cancel] = goro::with_timeout(goro::background(), 100ms);
//   goro::select(goro::case_recv(ctx.done(), [&] { give_up(ctx.err()); }),
//                goro::case_recv(replies, [&](std::optional<Reply> r) { use(r); }));
//   cancel();  // stops the timer if the reply came first
template <class Rep, class Period>
ContextWithCancel with_timeout(const Context& parent,
                               const std::chrono::duration<Rep, Period>& timeout) {
  return detail::context_with_timeout_ns(parent, detail::signed_duration_ns(timeout));
}

template <class C, class Duration>
requires(!std::is_same_v<C, Context::Clock>) ContextWithCancel
    with_deadline(const Context& parent, const std::chrono::time_point<C, Duration>& deadline) {
  return with_timeout(parent, deadline - C::now());
}

}  // namespace goro
