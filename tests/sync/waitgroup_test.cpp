// waitgroup_test.cpp — goro::WaitGroup (Go's sync.WaitGroup), waited on and signalled
// from goroutines and plain threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
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

TEST(WaitGroup, WaitAtZeroReturnsAtOnce) {
  goro::WaitGroup wg;
  wg.wait();  // plain thread
  goro::run([&] { wg.wait(); });
  wg.add(0);
  wg.wait();
  wg.add(3);
  wg.add(-3);
  wg.wait();
  SUCCEED();
}

TEST(WaitGroup, AddAndDoneFromManyGoroutines) {
  const std::int64_t n = scaled(20000);
  std::atomic<std::int64_t> finished{0};
  goro::run([&] {
    goro::WaitGroup wg;
    // Some adds in bulk, some one by one, some done() from nested goroutines.
    wg.add(n / 2);
    for (std::int64_t i = 0; i < n / 2; ++i) {
      goro::go([&] {
        finished.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    for (std::int64_t i = 0; i < n / 4; ++i) {
      wg.add(1);
      goro::go([&] {
        wg.add(1);
        goro::go([&] {
          finished.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        });
        finished.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    // done() happens before wait() returns: every increment is visible.
    EXPECT_EQ(finished.load(std::memory_order_relaxed), n / 2 + 2 * (n / 4));
  });
}

TEST(WaitGroup, DoneHappensBeforeWaitReturns) {
  // Plain (non-atomic) writes before done() are visible after wait().
  for (int round = 0; round < 50; ++round) {
    constexpr int kN = 32;
    std::vector<int> slots(kN, 0);
    goro::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&, i] {
        slots[std::size_t(i)] = i + 1;
        wg.done();
      });
    }
    wg.wait();
    for (int i = 0; i < kN; ++i) ASSERT_EQ(slots[std::size_t(i)], i + 1);
  }
}

TEST(WaitGroup, GoroutineAndThreadWaitersAtOnce) {
  constexpr int kGoWaiters = 32;
  constexpr int kThreadWaiters = 4;
  goro::WaitGroup wg;
  wg.add(1);
  std::atomic<int> arrived{0};
  std::atomic<int> released{0};
  goro::WaitGroup go_waiters_done;
  go_waiters_done.add(kGoWaiters);
  for (int i = 0; i < kGoWaiters; ++i) {
    goro::go([&] {
      arrived.fetch_add(1);
      wg.wait();
      released.fetch_add(1);
      go_waiters_done.done();
    });
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreadWaiters; ++i) {
    threads.emplace_back([&] {
      arrived.fetch_add(1);
      wg.wait();
      released.fetch_add(1);
    });
  }
  // Release from a goroutine once everyone is (about to be) waiting. Nobody can have
  // got through before that.
  goro::run([&] {
    long spins = 0;
    while (arrived.load() < kGoWaiters + kThreadWaiters && ++spins < 100'000'000) goro::yield();
    for (int i = 0; i < 100; ++i)
      goro::yield();  // let them reach wait() (not needed for correctness)
    EXPECT_EQ(released.load(), 0);
    wg.done();
  });
  go_waiters_done.wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(released.load(), kGoWaiters + kThreadWaiters);
}

TEST(WaitGroup, ThreadsSignalGoroutinesWait) {
  goro::WaitGroup wg;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  wg.add(kThreads * kPerThread);
  std::atomic<bool> waited{false};
  goro::WaitGroup waiter_done;
  waiter_done.add(1);
  goro::go([&] {
    wg.wait();
    waited.store(true);
    waiter_done.done();
  });
  goro_test::on_threads(kThreads, [&](int) {
    for (int i = 0; i < kPerThread; ++i) wg.done();
  });
  waiter_done.wait();
  EXPECT_TRUE(waited.load());
}

TEST(WaitGroup, ReusedAfterWaitReturns) {
  goro::run([] {
    goro::WaitGroup wg;
    std::atomic<int> total{0};
    for (int round = 1; round <= 100; ++round) {
      wg.add(round % 7 + 1);
      for (int i = 0; i < round % 7 + 1; ++i) {
        goro::go([&] {
          total.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.wait();
    }
    int want = 0;
    for (int round = 1; round <= 100; ++round) want += round % 7 + 1;
    EXPECT_EQ(total.load(), want);
  });
}

TEST(WaitGroup, ReusedWithWaitersEachRound) {
  // Each round several goroutines wait on the same group, and all are released.
  goro::run([] {
    goro::WaitGroup wg;
    for (int round = 0; round < 50; ++round) {
      wg.add(1);
      goro::WaitGroup waiters;
      constexpr int kWaiters = 8;
      waiters.add(kWaiters);
      for (int i = 0; i < kWaiters; ++i) {
        goro::go([&] {
          wg.wait();
          waiters.done();
        });
      }
      goro::yield();
      wg.done();
      waiters.wait();
    }
  });
}

TEST(WaitGroup, NegativeCounterThrows) {
  goro::WaitGroup wg;
  try {
    wg.add(-1);
    FAIL() << "add(-1) at zero did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  try {
    wg.done();
    FAIL() << "done() at zero did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  // The group is still usable: the counter stayed at zero.
  wg.wait();
  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  wg.done();
  wg.done();
  wg.wait();
}

TEST(WaitGroup, NegativeCounterThrowsInGoroutine) {
  std::string what = goro::run([] {
    goro::WaitGroup wg;
    try {
      wg.done();
    } catch (const std::logic_error& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  });
  EXPECT_EQ(what, "sync: negative WaitGroup counter");
}

// Regression: a WaitGroup may be destroyed as soon as wait() returns, while the
// goroutine whose done() released it is still inside the release. The release used to
// touch the semaphore's queue after making the count available (found by TSan as a
// race with the next round's WaitGroup constructed at the same address). Each round
// puts a fresh WaitGroup at the same stack address, from goroutines and from a plain
// thread; the sanitizer builds catch any touch of a dead one.
TEST(WaitGroup, DestroyedRightAfterWaitWhileReleaserFinishes) {
  constexpr int kRounds = 3000;
  std::atomic<int> released{0};
  auto rounds = [&released] {
    int completed = 0;
    for (int i = 0; i < kRounds; ++i) {
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&wg, &released] {
        released.fetch_add(1);
        wg.done();
      });
      wg.wait();
      ++completed;
      goro::yield();
    }
    return completed;
  };
  EXPECT_EQ(goro::run(rounds), kRounds);
  EXPECT_EQ(rounds(), kRounds);  // waiting on a plain thread
  EXPECT_EQ(released.load(), 2 * kRounds);
}

}  // namespace
