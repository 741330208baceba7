// context_test.cpp — goro::Context (Go's context, api.md "context"): err() and done()
// before and after cancellation, cancellation flowing down a tree and never up,
// children detaching from their parents, lifetimes (no node outlives its use), and
// cancels racing each other, child creation and destruction, from goroutines and
// plain threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
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

}  // namespace
