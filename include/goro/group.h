// goro/group.h — a group of goroutines working on one task, whose first failure
// cancels the rest and is reported to whoever waits (Go's golang.org/x/sync/errgroup).
//
//   goro::Group g(parent_ctx);           // or goro::Group g; (parent: background())
//   for (const auto& url : urls)
//     g.go([&g, url] { fetch(g.context(), url); });  // may throw
//   g.wait();  // waits for all of them; rethrows the first exception any threw
//
// - go(f) runs f() in a new goroutine. If f throws, the first such exception is kept
//   and the group's context() is cancelled (ContextErrc::cancelled), so the others can
//   notice (select on context().done(), or context().throw_if_done()) and stop early;
//   later exceptions are dropped.
// - wait() blocks until every goroutine started with go() has returned, cancels
//   context() (as errgroup's Wait does), and rethrows the first exception, if any
//   (again on every later call). It works from goroutines and from plain threads.
// - set_limit(n) bounds how many of the group's goroutines are active at once: go()
//   then blocks until one finishes; try_go() does not block.
//
// A Group is neither copyable nor movable: its goroutines refer to it. Destroying it
// waits for its goroutines (an exception no wait() collected is dropped) and cancels
// its context.
#pragma once

#include <atomic>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.h"
#include "goro/context.h"
#include "goro/runtime.h"
#include "goro/sync.h"

namespace goro {

class Group {
 public:
  // A group whose context() is a child of background().
  Group();
  // A group whose context() is a child of `parent` (Go's errgroup.WithContext): it is
  // cancelled when a goroutine of the group throws, when wait() returns, or when
  // `parent` is cancelled.
  explicit Group(const Context& parent);
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  // Waits for the group's goroutines, then cancels context().
  ~Group();

  // Starts f() in a new goroutine of the group. With a limit (set_limit), first blocks
  // until fewer than the limit are active. f is decay-copied now, as by goro::go. An
  // exception escaping f is caught and kept for wait() (only the first one), and
  // cancels context(). Throws only if the goroutine cannot be started (std::bad_alloc).
  template <class F>
  void go(F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>>,
                  "goro::Group::go: f must take no arguments");
    if (!sem_.is_nil()) sem_.send(std::monostate{});
    start(std::forward<F>(f));
  }

  // As go(f), but only if a new goroutine can start without waiting for the limit;
  // returns whether it started f. Without a limit, always starts f.
  template <class F>
  bool try_go(F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>>,
                  "goro::Group::try_go: f must take no arguments");
    if (!sem_.is_nil() && !sem_.try_send(std::monostate{})) return false;
    start(std::forward<F>(f));
    return true;
  }

  // Blocks until every goroutine started by go() has returned; then cancels context()
  // and rethrows the first exception any of them threw.
  void wait();

  // The group's context: cancelled when a goroutine throws, when wait() returns, or
  // when the parent given to the constructor is cancelled.
  const Context& context() const noexcept { return ctx_.ctx; }

  // At most n of the group's goroutines are active at once from now on (Go's
  // errgroup.SetLimit); a negative n means no limit. Throws std::logic_error if any of
  // the group's goroutines is active. Must not race with go() or try_go().
  void set_limit(int n);

 private:
  template <class F>
  void start(F&& f) {
    wg_.add(1);
    try {
      goro::go(
          [this](std::decay_t<F> fn) {
            try {
              std::move(fn)();
            } catch (...) {
              fail(std::current_exception());
            }
            finish();
          },
          std::forward<F>(f));
    } catch (...) {
      finish();
      throw;
    }
  }
  // Keeps e if it is the first failure, and cancels the context.
  void fail(std::exception_ptr e) noexcept;
  // One goroutine of the group is over: frees its slot of the limit, then tells wg_.
  // The last thing a goroutine does with the group (wait() may destroy it at once).
  void finish() noexcept;

  ContextWithCancel ctx_;
  WaitGroup wg_;
  // false until the first failure; exchanged by fail() (acq_rel), and the winner alone
  // writes error_. error_ is read after wg_.wait(), which done() happens before.
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  // The limit: a token is sent before a goroutine starts and received when it ends
  // (capacity = the limit); nil without one. Written only by set_limit(), while no
  // goroutine of the group is active.
  Chan<std::monostate> sem_ = Chan<std::monostate>::nil();
};

}  // namespace goro
