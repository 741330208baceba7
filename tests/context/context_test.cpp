// context_test.cpp — goro::Context (Go's context, api.md "context"): err() and done()
// before and after cancellation, cancellation flowing down a tree and never up,
// children detaching from their parents, lifetimes (no node outlives its use), and
// cancels racing each other, child creation and destruction, from goroutines and
// plain threads; with_deadline and with_timeout (expiry, born expired, the parent's
// earlier deadline, early cancels stopping their timers, nothing left armed).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
using goro_test::scaled;

namespace {

// Whether ctx.done() is closed now (a select with a default: never blocks).
bool is_done(const goro::Context& ctx) {
  return goro::select(goro::case_recv(ctx.done()), goro::case_default([] {})) == 0;
}

// Checks, at the end of a test, that every context node the test made was freed once
// its goroutines were gone (they free their captured handles as they return).
class NodeLeakCheck {
 public:
  NodeLeakCheck() : nodes_(gt::context_nodes_alive()), goroutines_(goro::num_goroutines()) {}
  ~NodeLeakCheck() {
    EXPECT_TRUE(gt::wait_goroutines_at_most(goroutines_, std::chrono::seconds(10)));
    // A deadline timer that has just come off its heap holds its node until its
    // function's goroutine has started and run (X5): before that goroutine exists it
    // is not counted above. So wait for the count, as for goroutines, up to 10 s.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (gt::context_nodes_alive() != nodes_ && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(gt::context_nodes_alive(), nodes_) << "context nodes leaked";
  }

 private:
  std::int64_t nodes_;
  std::int64_t goroutines_;
};

TEST(Context, BackgroundIsNeverCancelled) {
  NodeLeakCheck leaks;
  goro::Context bg = goro::background();
  EXPECT_FALSE(bg.err());
  EXPECT_TRUE(bg.done().is_nil());
  EXPECT_FALSE(bg.deadline().has_value());
  EXPECT_FALSE(is_done(bg));
  EXPECT_NO_THROW(bg.throw_if_done());
  EXPECT_EQ(bg, goro::Context());
  EXPECT_EQ(gt::context_children(bg), 0u);
  // A select on background's done() never picks it.
  goro::Chan<int> ready(1);
  ready.send(7);
  int got = 0;
  std::size_t i = goro::select(goro::case_recv(bg.done(), [] { FAIL(); }),
                               goro::case_recv(ready, [&](std::optional<int> v) { got = *v; }));
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(got, 7);
}

TEST(Context, ErrAndDoneBeforeAndAfterCancel) {
  NodeLeakCheck leaks;
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  EXPECT_FALSE(ctx.err());
  EXPECT_FALSE(is_done(ctx));
  EXPECT_FALSE(ctx.deadline().has_value());
  EXPECT_NO_THROW(ctx.throw_if_done());
  goro::Context::DoneChan done = ctx.done();
  EXPECT_FALSE(done.is_nil());
  EXPECT_TRUE(done == ctx.done());  // the same channel every time

  cancel();
  EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
  EXPECT_EQ(ctx.err().message(), "context canceled");
  EXPECT_TRUE(is_done(ctx));
  EXPECT_EQ(done.recv(), std::nullopt);  // closed
  EXPECT_TRUE(done == ctx.done());
  try {
    ctx.throw_if_done();
    ADD_FAILURE() << "throw_if_done() did not throw";
  } catch (const goro::ContextError& e) {
    EXPECT_EQ(e.code(), goro::ContextErrc::cancelled);
    EXPECT_STREQ(e.what(), "context canceled");
  }

  // Idempotent: the reason and the channel stay as they are.
  cancel();
  cancel();
  EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
  EXPECT_TRUE(done == ctx.done());
}

TEST(Context, DoneMadeAfterCancelIsClosed) {
  NodeLeakCheck leaks;
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  cancel();
  goro::Context::DoneChan done = ctx.done();  // first call, after the cancel
  EXPECT_FALSE(done.is_nil());
  EXPECT_EQ(done.recv(), std::nullopt);
  EXPECT_THROW(done.close(), goro::ClosedChannelError);  // already closed: closed once
}

TEST(Context, ErrorCodes) {
  std::error_code c = goro::ContextErrc::cancelled;
  std::error_code d = goro::ContextErrc::deadline_exceeded;
  EXPECT_STREQ(c.category().name(), "goro.context");
  EXPECT_EQ(&c.category(), &goro::context_category());
  EXPECT_EQ(c.message(), "context canceled");
  EXPECT_EQ(d.message(), "context deadline exceeded");
  EXPECT_NE(c, d);
  EXPECT_TRUE(c == std::errc::operation_canceled);
  EXPECT_TRUE(d == std::errc::timed_out);
  EXPECT_FALSE(c == std::errc::timed_out);
  EXPECT_STREQ(goro::ContextError(d).what(), "context deadline exceeded");
}

TEST(Context, CancelPropagatesDownNotUp) {
  NodeLeakCheck leaks;
  //        root
  //       /    \.
  //      a      b
  //     / \      \.
  //   a1   a2     b1
  //   |
  //   a1x
  auto [root, cancel_root] = goro::with_cancel(goro::background());
  auto [a, cancel_a] = goro::with_cancel(root);
  auto [b, cancel_b] = goro::with_cancel(root);
  auto [a1, cancel_a1] = goro::with_cancel(a);
  auto [a2, cancel_a2] = goro::with_cancel(a);
  auto [b1, cancel_b1] = goro::with_cancel(b);
  auto [a1x, cancel_a1x] = goro::with_cancel(a1);
  EXPECT_EQ(gt::context_children(root), 2u);
  EXPECT_EQ(gt::context_children(a), 2u);
  auto a1x_done = a1x.done();

  cancel_a1x();  // a leaf: nothing else
  EXPECT_TRUE(a1x.err());
  for (auto* c : {&root, &a, &b, &a1, &a2, &b1}) EXPECT_FALSE(c->err());
  EXPECT_EQ(gt::context_children(a1), 0u);  // detached

  cancel_a();  // a, a1, a2; not root, b, b1
  for (auto* c : {&a, &a1, &a2}) {
    EXPECT_EQ(c->err(), goro::ContextErrc::cancelled);
    EXPECT_TRUE(is_done(*c));
  }
  for (auto* c : {&root, &b, &b1}) {
    EXPECT_FALSE(c->err());
    EXPECT_FALSE(is_done(*c));
  }
  EXPECT_EQ(gt::context_children(root), 1u);  // a detached, b stays
  EXPECT_EQ(gt::context_children(a), 0u);

  cancel_root();
  for (auto* c : {&root, &a, &b, &a1, &a2, &b1, &a1x}) EXPECT_TRUE(is_done(*c));
  EXPECT_EQ(gt::context_children(root), 0u);
  EXPECT_EQ(gt::context_children(b), 0u);
  EXPECT_EQ(a1x_done.recv(), std::nullopt);
  // The cancel functions of contexts cancelled by an ancestor do nothing now.
  cancel_b1();
  cancel_a2();
  EXPECT_EQ(b1.err(), goro::ContextErrc::cancelled);
}

TEST(Context, ChildOfCancelledParentIsBornCancelled) {
  NodeLeakCheck leaks;
  auto [parent, cancel] = goro::with_cancel(goro::background());
  cancel();
  auto [child, cancel_child] = goro::with_cancel(parent);
  EXPECT_EQ(child.err(), goro::ContextErrc::cancelled);
  EXPECT_TRUE(is_done(child));
  EXPECT_EQ(gt::context_children(parent), 0u);  // never registered
  auto [grandchild, cancel_grandchild] = goro::with_cancel(child);
  EXPECT_EQ(grandchild.err(), goro::ContextErrc::cancelled);
  cancel_child();
  cancel_grandchild();
}

TEST(Context, CancelledChildrenDetachFromLongLivedParent) {
  NodeLeakCheck leaks;
  auto [parent, cancel_parent] = goro::with_cancel(goro::background());
  const std::int64_t nodes_before = gt::context_nodes_alive();
  for (int i = 0; i < 1000; ++i) {
    auto [child, cancel] = goro::with_cancel(parent);
    auto [grandchild, cancel_grandchild] = goro::with_cancel(child);
    ASSERT_EQ(gt::context_children(parent), 1u);
    ASSERT_EQ(gt::context_children(child), 1u);
    if (i % 2 == 0) {
      cancel();  // the grandchild goes with it
    } else {
      cancel_grandchild();
      ASSERT_EQ(gt::context_children(child), 0u);
      cancel();
    }
    ASSERT_EQ(gt::context_children(parent), 0u);
  }
  // Nothing accumulates: every child record is gone with its handles.
  EXPECT_EQ(gt::context_nodes_alive(), nodes_before);

  // Many at once, cancelled in a mixed order.
  std::vector<goro::ContextWithCancel> kids;
  for (int i = 0; i < 100; ++i) kids.push_back(goro::with_cancel(parent));
  EXPECT_EQ(gt::context_children(parent), 100u);
  for (int i = 0; i < 100; i += 2) kids[std::size_t(i)].cancel();
  EXPECT_EQ(gt::context_children(parent), 50u);
  for (int i = 99; i > 0; i -= 2) kids[std::size_t(i)].cancel();
  EXPECT_EQ(gt::context_children(parent), 0u);
  kids.clear();
  EXPECT_EQ(gt::context_nodes_alive(), nodes_before);
  EXPECT_FALSE(parent.err());
}

TEST(Context, ChildWithoutHandlesIsStillCancelledByParent) {
  // As in Go: a child registered with its parent is cancelled with it even if nobody
  // holds the child any more (only its done channel).
  NodeLeakCheck leaks;
  auto [parent, cancel] = goro::with_cancel(goro::background());
  goro::Context::DoneChan done = goro::with_cancel(parent).ctx.done();
  EXPECT_EQ(gt::context_children(parent), 1u);
  cancel();
  EXPECT_EQ(done.recv(), std::nullopt);
  EXPECT_EQ(gt::context_children(parent), 0u);
}

TEST(Context, ParentFreedFirstLeavesChildrenWorking) {
  NodeLeakCheck leaks;
  const std::int64_t nodes_before = gt::context_nodes_alive();
  goro::ContextWithCancel child;
  {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    child = goro::with_cancel(parent);
    EXPECT_EQ(gt::context_nodes_alive(), nodes_before + 2);
  }
  // Nothing can cancel the parent any more, so it is gone; the child lives on.
  EXPECT_EQ(gt::context_nodes_alive(), nodes_before + 1);
  EXPECT_FALSE(child.ctx.err());
  auto [grandchild, cancel_grandchild] = goro::with_cancel(child.ctx);
  child.cancel();
  EXPECT_TRUE(is_done(child.ctx));
  EXPECT_TRUE(is_done(grandchild));
}

TEST(Context, HandlesAreCheapCopies) {
  NodeLeakCheck leaks;
  auto made = goro::with_cancel(goro::background());
  goro::Context copy = made.ctx;
  goro::Context moved = std::move(copy);
  EXPECT_EQ(copy, goro::background());  // NOLINT(bugprone-use-after-move): documented
  EXPECT_EQ(moved, made.ctx);
  goro::CancelFunc cancel_copy = made.cancel;
  goro::CancelFunc empty;
  empty();  // does nothing
  cancel_copy();
  EXPECT_TRUE(moved.err());
  EXPECT_TRUE(made.ctx.err());
}

TEST(Context, DeepChainCancelsAndFreesWithoutRecursion) {
  // A chain far deeper than a goroutine's stack could recurse through: cancelling and
  // freeing it must walk it iteratively. Run in a goroutine (128 KiB stack by default).
  NodeLeakCheck leaks;
  const int depth = int(scaled(200000));
  goro::run([depth] {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    goro::Context leaf = root;
    std::vector<goro::CancelFunc> cancels;
    for (int i = 0; i < depth; ++i) {
      auto made = goro::with_cancel(leaf);
      leaf = std::move(made.ctx);
      if (i % 1000 == 0) cancels.push_back(std::move(made.cancel));
    }
    auto done = leaf.done();
    cancel_root();
    EXPECT_EQ(done.recv(), std::nullopt);
    EXPECT_EQ(leaf.err(), goro::ContextErrc::cancelled);
  });
  // A deep chain never cancelled, freed from the top (each node frees its child).
  goro::run([depth] {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    std::optional<goro::Context> leaf(root);
    for (int i = 0; i < depth; ++i) leaf = goro::with_cancel(*leaf).ctx;
    leaf.reset();  // the chain now lives only through its links, from root down
  });
}

TEST(Context, GoroutinesInSelectWokenByPlainThread) {
  NodeLeakCheck leaks;
  const int n = 64;
  for (int round = 0; round < 20; ++round) {
    auto [root, cancel] = goro::with_cancel(goro::background());
    auto [child, cancel_child] = goro::with_cancel(root);
    goro::Chan<int> never;
    goro::WaitGroup started, finished;
    std::atomic<int> saw_cancel{0};
    started.add(n);
    finished.add(n);
    for (int i = 0; i < n; ++i) {
      // Half wait on the child, half on the root: cancelling the root reaches both.
      goro::go([&, ctx = i % 2 ? child : root] {
        started.done();
        bool stopped = false;
        goro::select(goro::case_recv(ctx.done(), [&] { stopped = true; }),
                     goro::case_recv(never, [](std::optional<int>) { FAIL(); }));
        if (stopped && ctx.err() == goro::ContextErrc::cancelled) saw_cancel.fetch_add(1);
        finished.done();
      });
    }
    std::thread canceller([&, cancel = cancel] {
      started.wait();  // a plain thread waiting on a WaitGroup
      cancel();
    });
    finished.wait();
    canceller.join();
    EXPECT_EQ(saw_cancel.load(), n);
    cancel_child();
  }
}

TEST(Context, PlainThreadsWaitOnDoneCancelledByGoroutine) {
  NodeLeakCheck leaks;
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  std::atomic<int> woke{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, ctx = ctx] {
      EXPECT_EQ(ctx.done().recv(), std::nullopt);  // blocks the thread
      EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
      woke.fetch_add(1);
    });
  }
  goro::run([cancel = cancel] { cancel(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke.load(), 4);
}

TEST(Context, ConcurrentCancelsOfOneContext) {
  NodeLeakCheck leaks;
  for (int round = 0; round < 50; ++round) {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    std::vector<goro::ContextWithCancel> kids;
    for (int i = 0; i < 8; ++i) kids.push_back(goro::with_cancel(ctx));
    auto done = ctx.done();
    goro::WaitGroup wg;
    wg.add(8);
    for (int i = 0; i < 8; ++i)
      goro::go([&wg, cancel = cancel] {
        cancel();
        wg.done();
      });
    goro_test::on_threads(2, [c = cancel](int) { c(); });
    wg.wait();
    // Closed exactly once: a second close would have thrown inside cancel (fatal).
    EXPECT_EQ(done.recv(), std::nullopt);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
    for (auto& k : kids) EXPECT_EQ(k.ctx.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(gt::context_children(ctx), 0u);
  }
}

TEST(Context, CancelsAllOverATreeAtOnce) {
  // Parents and children cancelled at the same time from goroutines and threads, while
  // other goroutines make new children and drop handles: every node ends cancelled,
  // detached and freed.
  NodeLeakCheck leaks;
  const int rounds = goro_test::kUnderSanitizer ? 50 : 200;
  for (int round = 0; round < rounds; ++round) {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    std::vector<goro::ContextWithCancel> mid, leaves;
    for (int i = 0; i < 8; ++i) mid.push_back(goro::with_cancel(root));
    for (int i = 0; i < 32; ++i) leaves.push_back(goro::with_cancel(mid[std::size_t(i % 8)].ctx));
    std::vector<goro::Context> late(16);
    goro::WaitGroup wg;
    wg.add(32 + 8 + 16);
    for (auto& l : leaves)
      goro::go([&wg, c = l.cancel] {
        c();
        wg.done();
      });
    for (auto& m : mid)
      goro::go([&wg, c = m.cancel] {
        c();
        wg.done();
      });
    for (int i = 0; i < 16; ++i)
      goro::go([&, i] {
        // A child made while its parent may be being cancelled: registered then
        // cancelled, or born cancelled.
        late[std::size_t(i)] = goro::with_cancel(mid[std::size_t(i % 8)].ctx).ctx;
        wg.done();
      });
    std::thread t([c = cancel_root] { c(); });
    wg.wait();
    t.join();
    for (auto& m : mid) {
      EXPECT_EQ(m.ctx.err(), goro::ContextErrc::cancelled);
      EXPECT_EQ(gt::context_children(m.ctx), 0u);
    }
    for (auto& l : leaves) EXPECT_EQ(l.ctx.err(), goro::ContextErrc::cancelled);
    for (auto& l : late) EXPECT_EQ(l.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(gt::context_children(root), 0u);
  }
}

TEST(Context, ChildCancelRacesParentDestruction) {
  // A child detaching itself while the last handle on its parent goes away, on
  // another thread (the parent's memory must stay valid for the child's detach).
  NodeLeakCheck leaks;
  const int rounds = int(scaled(2000) / (goro_test::kUnderSanitizer ? 4 : 1));
  for (int round = 0; round < rounds; ++round) {
    auto parent = std::make_optional(goro::with_cancel(goro::background()));
    auto child = goro::with_cancel(parent->ctx);
    auto grandchild = goro::with_cancel(child.ctx);
    std::atomic<bool> go{false};
    std::thread t([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      child.cancel();
    });
    go.store(true, std::memory_order_release);
    parent.reset();
    t.join();
    EXPECT_EQ(child.ctx.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(grandchild.ctx.err(), goro::ContextErrc::cancelled);
  }
}

// --- with_deadline / with_timeout ---

using std::chrono::hours;
using std::chrono::milliseconds;
using Clock = goro::Context::Clock;

static_assert(std::is_same_v<goro::Context::Clock, goro::Clock>,
              "deadlines and timers share one clock");

// Runs f on this (plain) thread, then in a goroutine.
template <class F>
void on_thread_and_goroutine(F f) {
  f();
  goro::run(f);
}

TEST(ContextDeadline, TimeoutExpiryClosesDone) {
  NodeLeakCheck leaks;
  on_thread_and_goroutine([] {
    const auto timeout = milliseconds(20);
    const auto start = Clock::now();
    auto [ctx, cancel] = goro::with_timeout(goro::background(), timeout);
    const auto made = Clock::now();
    ASSERT_TRUE(ctx.deadline().has_value());
    EXPECT_GE(*ctx.deadline(), start + timeout);
    EXPECT_LE(*ctx.deadline(), made + timeout);
    EXPECT_FALSE(ctx.err());
    EXPECT_EQ(ctx.done().recv(), std::nullopt);  // the timer closes it
    EXPECT_GE(Clock::now(), *ctx.deadline());    // never early
    EXPECT_GE(Clock::now() - start, timeout);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
    EXPECT_EQ(ctx.err().message(), "context deadline exceeded");
    EXPECT_THROW(ctx.throw_if_done(), goro::ContextError);
    cancel();  // after expiry: nothing changes
    EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
  });
}

TEST(ContextDeadline, DeadlineExpiryClosesDone) {
  NodeLeakCheck leaks;
  on_thread_and_goroutine([] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    const auto d = Clock::now() + milliseconds(15);
    auto [ctx, cancel] = goro::with_deadline(parent, d);
    EXPECT_EQ(ctx.deadline(), d);
    EXPECT_EQ(gt::context_children(parent), 1u);
    EXPECT_EQ(ctx.done().recv(), std::nullopt);
    EXPECT_GE(Clock::now(), d);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
    EXPECT_FALSE(parent.err());  // never up
    cancel_parent();
    EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
    cancel();
  });
}

TEST(ContextDeadline, OtherClocksConvert) {
  NodeLeakCheck leaks;
  const auto start = Clock::now();
  auto [ctx, cancel] =
      goro::with_deadline(goro::background(), std::chrono::system_clock::now() + milliseconds(10));
  ASSERT_TRUE(ctx.deadline().has_value());
  EXPECT_EQ(ctx.done().recv(), std::nullopt);
  EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
  EXPECT_GE(Clock::now(), *ctx.deadline());
  EXPECT_GT(*ctx.deadline(), start);
  // A steady_clock time point of a coarser duration is taken as it is.
  const auto coarse = std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()) + hours(1);
  auto [ctx2, cancel2] = goro::with_deadline(goro::background(), coarse);
  EXPECT_EQ(ctx2.deadline(), Clock::time_point(coarse));
  cancel2();
  cancel();
}

TEST(ContextDeadline, PassedDeadlineIsBornCancelled) {
  NodeLeakCheck leaks;
  const std::size_t timers = gt::timers_armed();
  auto [parent, cancel_parent] = goro::with_cancel(goro::background());
  const auto past = Clock::now() - std::chrono::seconds(1);
  auto [a, cancel_a] = goro::with_deadline(parent, past);
  EXPECT_EQ(a.err(), goro::ContextErrc::deadline_exceeded);
  EXPECT_TRUE(is_done(a));
  EXPECT_EQ(a.deadline(), past);  // its own, though passed
  EXPECT_EQ(gt::context_children(parent), 0u);

  auto [b, cancel_b] = goro::with_timeout(parent, milliseconds(0));
  EXPECT_EQ(b.err(), goro::ContextErrc::deadline_exceeded);
  EXPECT_TRUE(is_done(b));
  const auto before = Clock::now();
  auto [c, cancel_c] = goro::with_timeout(parent, -std::chrono::seconds(5));
  EXPECT_EQ(c.err(), goro::ContextErrc::deadline_exceeded);
  ASSERT_TRUE(c.deadline().has_value());
  EXPECT_LT(*c.deadline(), before);  // now - 5 s, as Go reports it
  EXPECT_EQ(gt::context_children(parent), 0u);
  EXPECT_EQ(gt::timers_armed(), timers);  // no timer for any of them

  // Its children are born cancelled with its reason.
  auto [ac, cancel_ac] = goro::with_cancel(a);
  EXPECT_EQ(ac.err(), goro::ContextErrc::deadline_exceeded);
  // The cancel functions do nothing now.
  cancel_a();
  cancel_b();
  EXPECT_EQ(a.err(), goro::ContextErrc::deadline_exceeded);
  EXPECT_EQ(b.err(), goro::ContextErrc::deadline_exceeded);

  // A cancelled parent's reason wins over a passed deadline (Go propagates first).
  cancel_parent();
  auto [d, cancel_d] = goro::with_deadline(parent, past);
  EXPECT_EQ(d.err(), goro::ContextErrc::cancelled);
  auto [e, cancel_e] = goro::with_timeout(parent, hours(1));
  EXPECT_EQ(e.err(), goro::ContextErrc::cancelled);
  EXPECT_EQ(gt::timers_armed(), timers);
  cancel_c();
  cancel_ac();
  cancel_d();
  cancel_e();
}

TEST(ContextDeadline, ExtremeDeadlines) {
  NodeLeakCheck leaks;
  const std::size_t timers = gt::timers_armed();
  auto [never, cancel_never] = goro::with_timeout(goro::background(), hours::max());
  EXPECT_EQ(never.deadline(), Clock::time_point::max());  // saturated, not wrapped
  EXPECT_FALSE(never.err());
  auto [at_max, cancel_at_max] = goro::with_deadline(goro::background(), Clock::time_point::max());
  EXPECT_FALSE(at_max.err());
  EXPECT_EQ(gt::timers_armed(), timers + 2);
  auto [long_ago, cancel_long_ago] = goro::with_timeout(goro::background(), hours::min());
  EXPECT_EQ(long_ago.err(), goro::ContextErrc::deadline_exceeded);
  auto [at_min, cancel_at_min] = goro::with_deadline(goro::background(), Clock::time_point::min());
  EXPECT_EQ(at_min.err(), goro::ContextErrc::deadline_exceeded);
  EXPECT_EQ(at_min.deadline(), Clock::time_point::min());
  cancel_never();
  cancel_at_max();
  cancel_long_ago();
  cancel_at_min();
  EXPECT_EQ(never.err(), goro::ContextErrc::cancelled);
  EXPECT_EQ(gt::timers_armed(), timers);
}

TEST(ContextDeadline, EarlierParentDeadlineWins) {
  NodeLeakCheck leaks;
  const std::size_t timers = gt::timers_armed();
  const auto d = Clock::now() + hours(1);
  auto [parent, cancel_parent] = goro::with_deadline(goro::background(), d);
  EXPECT_EQ(gt::timers_armed(), timers + 1);

  auto [later, cancel_later] = goro::with_deadline(parent, d + hours(1));
  EXPECT_EQ(later.deadline(), d);  // the parent's
  auto [same, cancel_same] = goro::with_deadline(parent, d);
  EXPECT_EQ(same.deadline(), d);
  auto [longer, cancel_longer] = goro::with_timeout(parent, hours(5));
  EXPECT_EQ(longer.deadline(), d);
  EXPECT_EQ(gt::timers_armed(), timers + 1);  // they need no timer of their own
  EXPECT_EQ(gt::context_children(parent), 3u);

  const auto sooner_d = d - std::chrono::minutes(30);
  auto [sooner, cancel_sooner] = goro::with_deadline(parent, sooner_d);
  EXPECT_EQ(sooner.deadline(), sooner_d);  // its own: earlier than the parent's
  EXPECT_EQ(gt::timers_armed(), timers + 2);
  // A with_cancel child of a deadline context inherits the deadline.
  auto [plain, cancel_plain] = goro::with_cancel(sooner);
  EXPECT_EQ(plain.deadline(), sooner_d);

  cancel_parent();  // stops both timers
  for (auto* c : {&parent, &later, &same, &longer, &sooner, &plain})
    EXPECT_EQ(c->err(), goro::ContextErrc::cancelled);
  EXPECT_EQ(gt::timers_armed(), timers);
  cancel_later();
  cancel_same();
  cancel_longer();
  cancel_sooner();
  cancel_plain();
}

TEST(ContextDeadline, ParentDeadlineExpiresChildWithLongerTimeout) {
  NodeLeakCheck leaks;
  on_thread_and_goroutine([] {
    auto [parent, cancel_parent] = goro::with_timeout(goro::background(), milliseconds(15));
    auto [child, cancel_child] = goro::with_timeout(parent, hours(1));
    EXPECT_EQ(child.deadline(), parent.deadline());
    EXPECT_EQ(child.done().recv(), std::nullopt);
    EXPECT_EQ(child.err(), goro::ContextErrc::deadline_exceeded);
    EXPECT_EQ(parent.err(), goro::ContextErrc::deadline_exceeded);
    cancel_child();
    cancel_parent();
  });
}

TEST(ContextDeadline, CancelBeforeDeadlineStopsTimer) {
  NodeLeakCheck leaks;
  on_thread_and_goroutine([] {
    const std::size_t timers = gt::timers_armed();
    const auto timeout = milliseconds(20);
    auto [ctx, cancel] = goro::with_timeout(goro::background(), timeout);
    auto [child, cancel_child] = goro::with_cancel(ctx);
    EXPECT_EQ(gt::timers_armed(), timers + 1);
    cancel();
    EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(child.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(ctx.done().recv(), std::nullopt);
    EXPECT_EQ(gt::timers_armed(), timers);  // disarmed at once
    // A check, not synchronisation: past the deadline the reason has not changed.
    goro::sleep_for(2 * timeout);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(child.err(), goro::ContextErrc::cancelled);
    cancel_child();
  });
}

TEST(ContextDeadline, ParentCancelPropagatesToTimeoutChild) {
  NodeLeakCheck leaks;
  on_thread_and_goroutine([] {
    const std::size_t timers = gt::timers_armed();
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    auto [child, cancel_child] = goro::with_timeout(parent, hours(1));
    auto [grandchild, cancel_grandchild] = goro::with_timeout(child, hours(2));
    EXPECT_EQ(grandchild.deadline(), child.deadline());
    auto [deep, cancel_deep] = goro::with_timeout(child, milliseconds(90 * 60 * 1000 / 2));
    EXPECT_EQ(gt::timers_armed(), timers + 2);  // child's and deep's
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&wg, done = deep.done(), deep = deep] {
      EXPECT_EQ(done.recv(), std::nullopt);
      EXPECT_EQ(deep.err(), goro::ContextErrc::cancelled);
      wg.done();
    });
    cancel_parent();
    wg.wait();
    EXPECT_EQ(child.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(grandchild.err(), goro::ContextErrc::cancelled);
    EXPECT_EQ(gt::timers_armed(), timers);
    cancel_child();
    cancel_grandchild();
    cancel_deep();
  });
}

TEST(ContextDeadline, WithCancelChildSeesDeadlineExceeded) {
  NodeLeakCheck leaks;
  on_thread_and_goroutine([] {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), milliseconds(10));
    auto [child, cancel_child] = goro::with_cancel(ctx);
    auto [grandchild, cancel_grandchild] = goro::with_cancel(child);
    EXPECT_EQ(child.deadline(), ctx.deadline());
    EXPECT_EQ(grandchild.deadline(), ctx.deadline());
    EXPECT_EQ(grandchild.done().recv(), std::nullopt);
    EXPECT_EQ(grandchild.err(), goro::ContextErrc::deadline_exceeded);
    EXPECT_EQ(child.err(), goro::ContextErrc::deadline_exceeded);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
    cancel_grandchild();
    cancel_child();
    cancel();
  });
}

TEST(ContextDeadline, PlainThreadsWaitAndCancel) {
  NodeLeakCheck leaks;
  // Made and awaited on plain threads, expiring by the timer.
  goro_test::on_threads(4, [](int i) {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), milliseconds(5 + i));
    EXPECT_EQ(ctx.done().recv(), std::nullopt);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
    cancel();
  });
  // Made on a goroutine, cancelled early by a plain thread, awaited by both.
  const std::size_t timers = gt::timers_armed();
  auto made = goro::run([] { return goro::with_timeout(goro::background(), hours(1)); });
  std::thread waiter([ctx = made.ctx] {
    EXPECT_EQ(ctx.done().recv(), std::nullopt);
    EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
  });
  std::thread([c = made.cancel] { c(); }).join();
  waiter.join();
  EXPECT_EQ(goro::run([ctx = made.ctx] { return ctx.err(); }), goro::ContextErrc::cancelled);
  EXPECT_EQ(gt::timers_armed(), timers);
}

TEST(ContextDeadline, SelectOnDoneAsATimeout) {
  NodeLeakCheck leaks;
  goro::run([] {
    goro::Chan<int> replies;
    // The reply never comes: the deadline ends the wait.
    {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), milliseconds(10));
      bool timed_out = false;
      goro::select(goro::case_recv(ctx.done(), [&] { timed_out = true; }),
                   goro::case_recv(replies, [](std::optional<int>) { FAIL(); }));
      EXPECT_TRUE(timed_out);
      EXPECT_EQ(ctx.err(), goro::ContextErrc::deadline_exceeded);
      cancel();
    }
    // The reply comes first: cancel() then stops the timer.
    {
      const std::size_t timers = gt::timers_armed();
      auto [ctx, cancel] = goro::with_timeout(goro::background(), hours(1));
      goro::go([replies] { replies.send(42); });
      int got = 0;
      goro::select(goro::case_recv(ctx.done(), [] { FAIL(); }),
                   goro::case_recv(replies, [&](std::optional<int> v) { got = *v; }));
      EXPECT_EQ(got, 42);
      EXPECT_FALSE(ctx.err());
      cancel();
      EXPECT_EQ(ctx.err(), goro::ContextErrc::cancelled);
      EXPECT_EQ(gt::timers_armed(), timers);
    }
  });
}

TEST(ContextDeadline, TimerKeepsUnheldContextUntilItExpires) {
  // As in Go: a deadline context nobody holds is still cancelled by its timer (and
  // its done channel closed), then freed.
  NodeLeakCheck leaks;
  goro::Context::DoneChan done =
      goro::with_timeout(goro::background(), milliseconds(10)).ctx.done();
  EXPECT_EQ(done.recv(), std::nullopt);
}

TEST(ContextDeadline, ManyCancelledEarlyLeaveNothingBehind) {
  NodeLeakCheck leaks;
  const int n = int(scaled(10000));
  const std::size_t timers = gt::timers_armed();
  const std::int64_t nodes = gt::context_nodes_alive();
  const std::int64_t goroutines = goro::num_goroutines();
  auto [parent, cancel_parent] = goro::with_cancel(goro::background());
  std::vector<goro::ContextWithCancel> own, by_parent;
  own.reserve(std::size_t(n / 2));
  by_parent.reserve(std::size_t(n / 2));
  for (int i = 0; i < n; ++i) {
    auto made = goro::with_timeout(parent, hours(1) + milliseconds(i));
    (i % 2 ? own : by_parent).push_back(std::move(made));
  }
  EXPECT_EQ(gt::timers_armed(), timers + std::size_t(n));
  EXPECT_EQ(gt::context_children(parent), std::size_t(n));
  // Half cancelled by their own cancel functions, from goroutines and threads at once.
  goro::WaitGroup wg;
  const int workers = 8;
  wg.add(workers);
  for (int w = 0; w < workers; ++w)
    goro::go([&, w] {
      for (std::size_t i = std::size_t(w); i < own.size(); i += 2 * workers) own[i].cancel();
      wg.done();
    });
  goro_test::on_threads(workers, [&](int w) {
    for (std::size_t i = std::size_t(w + workers); i < own.size(); i += 2 * workers)
      own[i].cancel();
  });
  wg.wait();
  for (auto& c : own) EXPECT_EQ(c.ctx.err(), goro::ContextErrc::cancelled);
  EXPECT_EQ(gt::context_children(parent), by_parent.size());
  // The other half with their parent.
  cancel_parent();
  for (auto& c : by_parent) EXPECT_EQ(c.ctx.err(), goro::ContextErrc::cancelled);
  EXPECT_EQ(gt::timers_armed(), timers);
  own.clear();
  by_parent.clear();
  EXPECT_EQ(gt::context_nodes_alive(), nodes + 1);  // just the parent
  EXPECT_TRUE(gt::wait_goroutines_at_most(goroutines, std::chrono::seconds(10)));
  EXPECT_EQ(goro::num_goroutines(), goroutines);  // no timer goroutine ever started
}

TEST(ContextDeadline, ExpiryRacesCancel) {
  // Timers firing while cancel functions, parents and handle drops race them: each
  // context ends cancelled for one reason or the other, closed once, nothing left.
  NodeLeakCheck leaks;
  const int rounds = int(scaled(2000) / (goro_test::kUnderSanitizer ? 4 : 1));
  const std::size_t timers = gt::timers_armed();
  goro::run([rounds] {
    goro::WaitGroup wg;
    for (int r = 0; r < rounds; ++r) {
      auto [parent, cancel_parent] = goro::with_cancel(goro::background());
      auto made = goro::with_timeout(parent, std::chrono::microseconds(r % 50));
      auto done = made.ctx.done();
      wg.add(2);
      goro::go([&wg, c = made.cancel, r] {
        // Not synchronisation: spreads the cancels around the deadlines.
        goro::sleep_for(std::chrono::microseconds(r % 40));
        c();
        wg.done();
      });
      goro::go([&wg, c = cancel_parent, r] {
        if (r % 3 == 0) c();
        wg.done();
      });
      EXPECT_EQ(done.recv(), std::nullopt);
      std::error_code e = made.ctx.err();
      EXPECT_TRUE(e == goro::ContextErrc::cancelled || e == goro::ContextErrc::deadline_exceeded)
          << e.message();
      wg.wait();
      cancel_parent();
    }
  });
  EXPECT_EQ(gt::timers_armed(), timers);
}

}  // namespace
