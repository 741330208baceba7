// group_test.cpp — goro::Group (Go's x/sync/errgroup, api.md "sync"): waiting for all,
// the first exception rethrown, the group's context cancelled on failure (and the
// others seeing it), parents, limits, and waiting from plain threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
using goro_test::scaled;

namespace {

// Checks, at the end of a test, that every context node the test made was freed once
// its goroutines were gone.
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

// Blocks until ctx is cancelled (or `never` fires, which it does not).
void wait_for_cancel(const goro::Context& ctx) {
  goro::Chan<int> never;
  goro::select(goro::case_recv(ctx.done()), goro::case_recv(never));
}

TEST(Group, AllSucceed) {
  NodeLeakCheck leaks;
  const int n = int(scaled(10000));
  std::atomic<int> ran{0};
  goro::run([&] {
    goro::Group g;
    for (int i = 0; i < n; ++i) g.go([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    EXPECT_FALSE(g.context().err());  // nothing failed, nothing waited yet
    g.wait();
    EXPECT_EQ(ran.load(), n);
    // As errgroup's Wait: the group's context is cancelled once wait() returns.
    EXPECT_EQ(g.context().err(), goro::ContextErrc::cancelled);
    g.wait();  // again: still nothing to report
  });
}

TEST(Group, EmptyGroupWaitsAtOnce) {
  NodeLeakCheck leaks;
  goro::Group g;
  g.wait();
  goro::run([] {
    goro::Group h;
    h.wait();
  });
  SUCCEED();
}

TEST(Group, FirstExceptionIsRethrownOthersDropped) {
  NodeLeakCheck leaks;
  goro::run([] {
    goro::Group g;
    const int n = 16;
    // The others throw too, but only after the first failure cancelled the context,
    // so "first" is first.
    for (int i = 0; i < n; ++i) {
      g.go([&g] {
        wait_for_cancel(g.context());
        throw std::runtime_error("second");
      });
    }
    g.go([] { throw std::runtime_error("first"); });
    for (int i = 0; i < n; ++i) g.go([&g] { g.context().throw_if_done(); });  // may throw
    try {
      g.wait();
      ADD_FAILURE() << "wait() did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "first");
    }
    // Every later wait() reports the same failure.
    EXPECT_THROW(
        {
          try {
            g.wait();
          } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "first");
            throw;
          }
        },
        std::runtime_error);
  });
}

TEST(Group, FailureCancelsContextAndOthersStop) {
  NodeLeakCheck leaks;
  for (int round = 0; round < 20; ++round) {
    goro::run([] {
      goro::Group g;
      const int n = 32;
      std::atomic<int> stopped{0};
      goro::Chan<int> work;  // nobody sends: the workers wait until cancelled
      for (int i = 0; i < n; ++i) {
        g.go([&] {
          bool cancelled = false;
          goro::select(goro::case_recv(g.context().done(), [&] { cancelled = true; }),
                       goro::case_recv(work, [](std::optional<int>) { FAIL(); }));
          if (cancelled && g.context().err() == goro::ContextErrc::cancelled) stopped.fetch_add(1);
        });
      }
      g.go([] { throw std::logic_error("boom"); });
      EXPECT_THROW(g.wait(), std::logic_error);
      EXPECT_EQ(stopped.load(), n);  // every other goroutine saw the cancellation
    });
  }
}

TEST(Group, NonStandardExceptionTypes) {
  NodeLeakCheck leaks;
  goro::Group g;
  g.go([] { throw 42; });
  try {
    g.wait();
    ADD_FAILURE() << "wait() did not throw";
  } catch (int v) {
    EXPECT_EQ(v, 42);
  }
}

TEST(Group, WaitFromPlainThread) {
  NodeLeakCheck leaks;
  // The group lives on a plain thread, which starts goroutines and blocks in wait().
  std::atomic<int> ran{0};
  goro::Group g;
  goro::Chan<int> gate;
  for (int i = 0; i < 8; ++i)
    g.go([&] {
      gate.recv();  // park until released
      ran.fetch_add(1);
    });
  std::thread releaser([&] {
    for (int i = 0; i < 8; ++i) gate.send(i);
  });
  g.wait();
  releaser.join();
  EXPECT_EQ(ran.load(), 8);

  // A failure seen from a plain thread, and other plain threads waiting too.
  goro::Group h;
  h.go([] { throw std::runtime_error("from a goroutine"); });
  std::vector<std::thread> waiters;
  std::atomic<int> caught{0};
  for (int i = 0; i < 3; ++i)
    waiters.emplace_back([&] {
      try {
        h.wait();
      } catch (const std::runtime_error&) {
        caught.fetch_add(1);
      }
    });
  for (auto& t : waiters) t.join();
  EXPECT_EQ(caught.load(), 3);
}

TEST(Group, ParentCancellationReachesGroup) {
  NodeLeakCheck leaks;
  auto [parent, cancel] = goro::with_cancel(goro::background());
  {
    goro::Group g(parent);
    EXPECT_EQ(gt::context_children(parent), 1u);
    std::atomic<int> stopped{0};
    for (int i = 0; i < 8; ++i)
      g.go([&] {
        wait_for_cancel(g.context());
        stopped.fetch_add(1);
      });
    std::thread t([c = cancel] { c(); });  // from a plain thread
    g.wait();                              // no goroutine threw: nothing to rethrow
    t.join();
    EXPECT_EQ(stopped.load(), 8);
    EXPECT_EQ(g.context().err(), goro::ContextErrc::cancelled);
  }
  EXPECT_EQ(gt::context_children(parent), 0u);
}

TEST(Group, FailureDoesNotCancelParent) {
  NodeLeakCheck leaks;
  auto [parent, cancel] = goro::with_cancel(goro::background());
  {
    goro::Group g(parent);
    g.go([] { throw std::runtime_error("x"); });
    EXPECT_THROW(g.wait(), std::runtime_error);
    EXPECT_TRUE(g.context().err());
  }
  EXPECT_FALSE(parent.err());
  EXPECT_EQ(gt::context_children(parent), 0u);  // the group's context detached
  cancel();
}

TEST(Group, NestedGroupsCancelTogether) {
  NodeLeakCheck leaks;
  goro::run([] {
    goro::Group outer;
    std::atomic<int> inner_stopped{0};
    outer.go([&] {
      goro::Group inner(outer.context());
      for (int i = 0; i < 4; ++i)
        inner.go([&] {
          wait_for_cancel(inner.context());
          inner_stopped.fetch_add(1);
        });
      inner.wait();
    });
    outer.go([] { throw std::runtime_error("outer fails"); });
    EXPECT_THROW(outer.wait(), std::runtime_error);
    EXPECT_EQ(inner_stopped.load(), 4);
  });
}

TEST(Group, DestructorWaits) {
  NodeLeakCheck leaks;
  std::atomic<int> ran{0};
  goro::run([&] {
    goro::Chan<int> gate;
    {
      goro::Group g;
      for (int i = 0; i < 4; ++i)
        g.go([&] {
          gate.recv();
          ran.fetch_add(1);
        });
      g.go([] { throw std::runtime_error("dropped"); });  // nobody waits: dropped
      goro::go([gate] {
        for (int i = 0; i < 4; ++i) gate.send(i);
      });
    }  // ~Group waits for the five
    EXPECT_EQ(ran.load(), 4);
  });
}

TEST(Group, LimitBoundsActiveGoroutines) {
  NodeLeakCheck leaks;
  for (int limit : {1, 2, 3}) {
    goro::run([limit] {
      goro::Group g;
      g.set_limit(limit);
      std::atomic<int> active{0}, max_active{0}, ran{0};
      const int n = 200;
      for (int i = 0; i < n; ++i) {
        g.go([&] {
          int now = active.fetch_add(1) + 1;
          int seen = max_active.load();
          while (now > seen && !max_active.compare_exchange_weak(seen, now)) {
          }
          for (int k = 0; k < 3; ++k) goro::yield();
          active.fetch_sub(1);
          ran.fetch_add(1);
        });
      }
      g.wait();
      EXPECT_EQ(ran.load(), n);
      EXPECT_LE(max_active.load(), limit);
      EXPECT_GE(max_active.load(), 1);
    });
  }
}

TEST(Group, TryGoAndBlockingGoAtTheLimit) {
  NodeLeakCheck leaks;
  goro::run([] {
    goro::Group g;
    g.set_limit(1);
    goro::Chan<int> gate;
    EXPECT_TRUE(g.try_go([gate] { gate.recv(); }));
    EXPECT_FALSE(g.try_go([] { ADD_FAILURE() << "started beyond the limit"; }));
    EXPECT_THROW(g.set_limit(4), std::logic_error);  // one is active
    // go() blocks until the first goroutine is done.
    std::atomic<bool> second_ran{false};
    goro::WaitGroup spawned;
    spawned.add(1);
    goro::go([&] {
      g.go([&] { second_ran.store(true); });
      spawned.done();
    });
    gate.send(1);  // lets the first finish, and so the blocked go() start
    spawned.wait();
    g.wait();
    EXPECT_TRUE(second_ran.load());
    g.set_limit(-1);  // nothing active: allowed; no limit from now on
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(g.try_go([] {}));
    g.wait();
  });
}

TEST(Group, LimitReleasedWhenAGoroutineThrows) {
  NodeLeakCheck leaks;
  goro::Group g;
  g.set_limit(1);
  for (int i = 0; i < 5; ++i) g.go([] { throw std::runtime_error("each one"); });
  EXPECT_THROW(g.wait(), std::runtime_error);
}

TEST(Group, ManyGroupsFromThreadsAndGoroutines) {
  NodeLeakCheck leaks;
  const int per = int(scaled(200));
  std::atomic<int> failures{0};
  auto body = [&](int seed) {
    goro::Group g;
    for (int i = 0; i < per; ++i)
      g.go([i, seed] {
        if ((i + seed) % 97 == 0) throw std::runtime_error("some fail");
        goro::yield();
      });
    try {
      g.wait();
    } catch (const std::runtime_error&) {
      failures.fetch_add(1);
    }
  };
  goro::WaitGroup wg;
  wg.add(4);
  for (int s = 0; s < 4; ++s)
    goro::go([&, s] {
      body(s);
      wg.done();
    });
  goro_test::on_threads(2, [&](int s) { body(s + 4); });
  wg.wait();
  int expected = 0;
  for (int s = 0; s < 6; ++s) {
    bool any = false;
    for (int i = 0; i < per; ++i) any = any || (i + s) % 97 == 0;
    expected += any;
  }
  EXPECT_EQ(failures.load(), expected);
}

}  // namespace
