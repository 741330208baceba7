// sleep_test.cpp — goro::sleep_for and goro::sleep_until (api.md "time"): from
// goroutines (which park) and plain threads (which block), never ending early, waking
// in deadline order on one P, and holding no thread while asleep.
//
// Timing: only lower bounds are asserted ("slept at least d"), never how late a wake-up
// was; that is the sleep benchmark's business (bench/compare sleep).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
using goro_test::scaled;
using namespace std::chrono_literals;
using Clock = goro::Clock;

namespace {

TEST(Sleep, ZeroAndNegativeReturnAtOnce) {
  // Nothing to assert about time; these must simply return (and not park forever).
  goro::sleep_for(0ms);
  goro::sleep_for(-5ms);
  goro::sleep_until(Clock::now() - 1s);
  goro::run([] {
    goro::sleep_for(0ns);
    goro::sleep_for(-1h);
    goro::sleep_until(Clock::time_point{});
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Sleep, SleepForWaitsAtLeastDInAGoroutine) {
  goro::run([] {
    for (auto d : {1us, 100us, 1000us, 5000us, 20000us}) {
      auto t0 = Clock::now();
      goro::sleep_for(d);
      EXPECT_GE(Clock::now() - t0, d);
    }
    // Other duration types, rounded up to whole nanoseconds.
    auto t0 = Clock::now();
    goro::sleep_for(std::chrono::duration<double, std::milli>(2.5));
    EXPECT_GE(Clock::now() - t0, 2500us);
  });
}

TEST(Sleep, SleepForWaitsAtLeastDOnAPlainThread) {
  for (std::chrono::microseconds d : {1us, 500us, 3000us, 10000us}) {
    auto t0 = Clock::now();
    goro::sleep_for(d);
    EXPECT_GE(Clock::now() - t0, d);
  }
}

TEST(Sleep, SleepUntilWaitsForTheDeadline) {
  auto deadline = Clock::now() + 5ms;
  goro::sleep_until(deadline);  // plain thread
  EXPECT_GE(Clock::now(), deadline);
  goro::run([] {
    auto until = Clock::now() + 5ms;
    goro::sleep_until(until);
    EXPECT_GE(Clock::now(), until);
    // A time point of another clock goes through that clock's now().
    auto sys_deadline = std::chrono::system_clock::now() + 3ms;
    auto t0 = Clock::now();
    goro::sleep_until(sys_deadline);
    EXPECT_GE(Clock::now() - t0, 2ms);  // system_clock may step; allow its granularity
  });
}

TEST(Sleep, ManyPlainThreadsAndGoroutinesSleepTogether) {
  goro::WaitGroup wg;
  constexpr int kGoroutines = 200;
  wg.add(kGoroutines);
  for (int i = 0; i < kGoroutines; ++i)
    goro::go([&wg, i] {
      auto d = std::chrono::microseconds(100 * (i % 30 + 1));
      auto t0 = Clock::now();
      goro::sleep_for(d);
      EXPECT_GE(Clock::now() - t0, d);
      wg.done();
    });
  goro_test::on_threads(8, [](int t) {
    for (int k = 0; k < 5; ++k) {
      auto d = std::chrono::microseconds(300 * (t + k + 1));
      auto t0 = Clock::now();
      goro::sleep_for(d);
      EXPECT_GE(Clock::now() - t0, d);
    }
  });
  wg.wait();
}

// Sleepers with distinct deadlines, started in a random order, wake in deadline order
// when they share one P: the P's heap pops them in order and timer wake-ups queue at
// the tail of its run queue. With more Ps, each still wakes after its deadline. The
// order is only checked when every sleeper was asleep before the first deadline (on a
// loaded machine, under TSan, starting them can take longer: a late one returns at
// once) and no spare P was lent (a thread descheduled for 10 ms looks stalled to the
// monitor, and then two threads run the woken sleepers).
TEST(Sleep, SleepersWakeInDeadlineOrderOnOneP) {
  constexpr int kN = 200;  // fewer than a run queue holds
  std::uint64_t lent = gt::spares_lent();
  std::vector<int> perm(kN);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(42));
  goro::run([&] {
    goro::Mutex mu;
    std::vector<int> woke;  // guarded by mu
    goro::WaitGroup started, done;
    started.add(kN);
    done.add(kN);
    auto base = Clock::now() + 20ms;
    for (int i : perm)
      goro::go([&, i] {
        auto deadline = base + std::chrono::microseconds(50 * i);
        started.done();
        goro::sleep_until(deadline);
        EXPECT_GE(Clock::now(), deadline);
        {
          std::lock_guard lock(mu);
          woke.push_back(i);
        }
        done.done();  // after the unlock: once the last one is done, mu is gone
      });
    started.wait();
    // At 1 P this runs once the last sleeper has parked: all parked before `base`?
    bool in_time = Clock::now() < base;
    done.wait();
    ASSERT_EQ(woke.size(), std::size_t(kN));
    if (goro::procs() == 1 && in_time && gt::spares_lent() == lent) {
      for (int k = 0; k < kN; ++k) ASSERT_EQ(woke[std::size_t(k)], k) << "wake-up #" << k;
    } else {
      std::sort(woke.begin(), woke.end());
      for (int k = 0; k < kN; ++k) ASSERT_EQ(woke[std::size_t(k)], k);
    }
  });
}

// A woken sleeper goes to the tail of the global queue while that holds goroutines
// (sched.h ready_list, behind_global), so it does not overtake a backlog that overflowed there
// from the local queue. At 1 P, with 2,000 goroutines queued, it runs after most of
// them (the P serves the global queue in batches, and every 61st turn takes its
// head, so the order is not strictly first-in first-out); at the local queue's tail
// it ran after at most the ~256 the local queue holds.
TEST(Sleep, WokenSleeperDoesNotOvertakeTheGlobalBacklog) {
  if (goro::procs() != 1) GTEST_SKIP() << "run order is only defined at 1 P";
  constexpr int kBacklog = 2000;
  std::uint64_t lent = gt::spares_lent();
  goro::run([&] {
    std::atomic<int> order{0};
    int sleeper_pos = -1;
    goro::WaitGroup asleep, done;
    asleep.add(1);
    done.add(kBacklog + 1);
    auto deadline = Clock::now() + 1ms;
    goro::go([&] {
      asleep.done();
      goro::sleep_until(deadline);
      sleeper_pos = order.fetch_add(1);
      done.done();
    });
    asleep.wait();  // the sleeper has parked (the only other goroutine)
    for (int i = 0; i < kBacklog; ++i)
      goro::go([&] {
        order.fetch_add(1);
        done.done();
      });
    // No scheduling point until the sleeper is due: its wake-up and the backlog meet
    // at the next switch.
    while (Clock::now() < deadline) goro_test::cpu_pause();
    done.wait();
    if (gt::spares_lent() != lent)
      GTEST_SKIP() << "the monitor lent a spare P (this P looked stalled): order undefined";
    EXPECT_GT(sleeper_pos, kBacklog / 2) << "the woken sleeper overtook the global backlog";
  });
}

// bench.md's sleep workload as a test: 100,000 goroutines (fewer under a sanitizer)
// asleep at once for 1..100 ms; every one wakes, none early.
TEST(Sleep, HundredThousandSleepersAllWake) {
  const std::int64_t n = scaled(100000);
  std::atomic<std::int64_t> early{0}, woke{0};
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(n);
    for (std::int64_t i = 0; i < n; ++i)
      goro::go([&, i] {
        auto d = std::chrono::milliseconds(i % 100 + 1);
        auto deadline = Clock::now() + d;
        goro::sleep_for(d);
        if (Clock::now() < deadline) early.fetch_add(1, std::memory_order_relaxed);
        woke.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    wg.wait();
  });
  EXPECT_EQ(woke.load(), n);
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(gt::timers_armed(), 0u);
}

// A sleeping goroutine holds no thread: with one P, a thousand goroutines asleep for a
// second do not stop another goroutine from running to completion meanwhile (if they
// held the P, it could run only after every one of them had woken).
TEST(Sleep, SleepersHoldNoThread) {
  constexpr int kSleepers = 1000;
  std::atomic<int> woke{0};
  int woke_when_runner_finished = -1;
  goro::run([&] {
    goro::WaitGroup started, done;
    started.add(kSleepers);
    done.add(kSleepers);
    for (int i = 0; i < kSleepers; ++i)
      goro::go([&] {
        started.done();
        goro::sleep_for(1s);
        woke.fetch_add(1, std::memory_order_relaxed);
        done.done();
      });
    started.wait();  // every sleeper is asleep (or about to be)
    goro::Chan<int> result(1);
    goro::go([&] {
      long sum = 0;
      for (int k = 0; k < 1000; ++k) {
        sum += k;
        goro::yield();
      }
      woke_when_runner_finished = woke.load(std::memory_order_relaxed);
      result.send(int(sum));
    });
    EXPECT_EQ(*result.recv(), 499500);
    done.wait();
  });
  EXPECT_EQ(woke_when_runner_finished, 0);
  EXPECT_EQ(woke.load(), kSleepers);
}

// A goroutine that sleeps 2 ms, then sets `awake` and calls wg.done().
void go_sleep_then_set(std::atomic<bool>& awake, goro::WaitGroup& wg) {
  goro::go([&] {
    goro::sleep_for(2ms);
    awake.store(true);
    wg.done();
  });
}

// A goroutine that spins on yield() with a sleeper on its P: the switch path notices
// the due timer, so the sleeper wakes although the P never runs out of work.
TEST(Sleep, SleeperWakesWhileItsPStaysBusy) {
  goro::run([] {
    std::atomic<bool> awake{false};
    goro::WaitGroup wg;
    wg.add(1);
    go_sleep_then_set(awake, wg);
    while (!awake.load()) goro::yield();
    wg.wait();
  });
}

// Two goroutines yielding to each other: every switch goes straight from one to the
// other, never through g0, and the switch path looks at the timers on some of them
// only (sched.cpp next_local); the sleeper still wakes.
TEST(Sleep, SleeperWakesWhileTwoGoroutinesSwitchBetweenThemselves) {
  goro::run([] {
    std::atomic<bool> awake{false};
    goro::WaitGroup wg;
    wg.add(3);
    go_sleep_then_set(awake, wg);
    for (int i = 0; i < 2; ++i)
      goro::go([&] {
        while (!awake.load()) goro::yield();
        wg.done();
      });
    wg.wait();
    EXPECT_TRUE(awake.load());
  });
}

TEST(Sleep, DumpShowsSleepingGoroutines) {
  goro::run([] {
    goro::Chan<std::uint64_t> id(1);
    std::atomic<bool> finished{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      id.send(gt::goroutine_id());
      goro::sleep_for(300ms);
      finished.store(true);
      wg.done();
    });
    std::string head = "goroutine " + std::to_string(*id.recv()) + " [sleep";
    bool seen = false;
    while (!seen && !finished.load()) {
      std::ostringstream out;
      goro::debug::dump(out);
      seen = out.str().find(head) != std::string::npos;
      goro::yield();
    }
    EXPECT_TRUE(seen) << "no '" << head << "' in the dump while it slept";
    wg.wait();
  });
}

}  // namespace
