// timer_test.cpp — goro::Timer, goro::after, goro::after_func and goro::Ticker
// (api.md "time", Go's time.Timer, time.After, time.AfterFunc, time.Ticker): firing,
// stop and reset (and their races with a firing: exactly one of "stop/reset reported
// it armed" and "it fired" per arming), channel capacity 1 without blocking, from
// goroutines and plain threads, and nothing left behind (heap entries, closures).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
using goro_test::scaled;
using namespace std::chrono_literals;
using Clock = goro::Clock;

namespace {

// --- Timer ---

TEST(Timer, FiresOnceWithTheTime) {
  goro::run([] {
    auto t0 = Clock::now();
    goro::Timer t(2ms);
    std::optional<Clock::time_point> v = t.channel().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v - t0, 2ms);
    EXPECT_GE(Clock::now(), *v);
    EXPECT_FALSE(t.stop());  // already fired
    EXPECT_FALSE(t.channel().try_recv().has_value());
    EXPECT_EQ(t.channel().capacity(), 1u);
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Timer, StopBeforeItFiresPreventsIt) {
  goro::Timer t(1h);
  EXPECT_EQ(gt::timers_armed(), 1u);
  EXPECT_TRUE(t.stop());
  EXPECT_FALSE(t.stop());
  EXPECT_EQ(gt::timers_armed(), 0u);
  EXPECT_FALSE(t.channel().try_recv().has_value());
}

TEST(Timer, ResetRearms) {
  goro::run([] {
    goro::Timer t(1h);
    auto t0 = Clock::now();
    EXPECT_TRUE(t.reset(1ms));  // it was armed
    auto v = t.channel().recv();
    EXPECT_GE(*v - t0, 1ms);
    auto t1 = Clock::now();
    EXPECT_FALSE(t.reset(2ms));  // it had fired
    v = t.channel().recv();
    EXPECT_GE(*v - t1, 2ms);
    EXPECT_FALSE(t.stop());
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Timer, CopiesShareOneTimer) {
  goro::Timer a(1h);
  goro::Timer b = a;
  EXPECT_TRUE(b.stop());
  EXPECT_FALSE(a.stop());
  goro::Timer c;
  EXPECT_FALSE(bool(c));
  c = std::move(a);
  EXPECT_TRUE(bool(c));
  EXPECT_FALSE(bool(a));  // NOLINT(bugprone-use-after-move): moved-from is empty
}

TEST(Timer, EmptyTimerThrows) {
  goro::Timer t;
  EXPECT_THROW(t.stop(), std::logic_error);
  EXPECT_THROW(t.reset(1ms), std::logic_error);
  EXPECT_THROW(t.channel(), std::logic_error);
}

TEST(Timer, DroppedTimerStillFiresAndIsFreed) {
  goro::run([] {
    goro::Chan<Clock::time_point> ch = goro::Timer(1ms).channel();  // handle gone at once
    EXPECT_TRUE(ch.recv().has_value());
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Timer, NegativeDurationFiresAtOnce) {
  goro::run([] {
    goro::Timer t(-1s);
    EXPECT_TRUE(t.channel().recv().has_value());
  });
}

TEST(Timer, FromAPlainThread) {
  auto t0 = Clock::now();
  goro::Timer t(3ms);
  auto v = t.channel().recv();  // blocks this thread
  EXPECT_GE(*v - t0, 3ms);
  // And a goroutine waits on a timer a thread made.
  goro::Timer t2(1ms);
  goro::run([t2] { EXPECT_TRUE(t2.channel().recv().has_value()); });
}

// Many timers with random deadlines, armed in random order: each fires, after its
// deadline. (The deadline order itself is checked with sleepers, whose absolute
// deadlines make it exact: sleep_test.cpp.)
TEST(Timer, ManyTimersEachFireAfterTheirDeadline) {
  constexpr int kN = 300;
  std::mt19937 rng(7);
  goro::run([&] {
    std::vector<std::pair<Clock::time_point, goro::Timer>> timers;
    for (int i = 0; i < kN; ++i) {
      auto d = std::chrono::microseconds(rng() % 20000);
      auto earliest = Clock::now() + d;
      timers.emplace_back(earliest, goro::Timer(d));
    }
    for (auto& [earliest, t] : timers) {
      auto v = t.channel().recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_GE(*v, earliest) << "fired before its deadline";
    }
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

// stop() racing the firing: per timer, exactly one of "stop returned true" and "the
// time was sent" happens.
TEST(Timer, StopRacesFiringExactlyOnce) {
  const int kRounds = int(scaled(20000) / 4);
  goro::run([&] {
    std::mt19937 rng(1);
    int stopped = 0, fired = 0;
    auto latest = Clock::now();
    std::vector<goro::Timer> stopped_timers;
    for (int i = 0; i < kRounds; ++i) {
      auto d = std::chrono::microseconds(rng() % 40);
      goro::Timer t(d);
      latest = std::max(latest, Clock::now() + d);
      if (rng() % 2) goro::yield();  // let it fire, sometimes
      if (t.stop()) {
        ++stopped;
        stopped_timers.push_back(t);
      } else {
        ASSERT_TRUE(t.channel().recv().has_value());  // it fired: the value comes
        ++fired;
      }
    }
    // A stopped timer never sends, even after its deadline has long passed.
    goro::sleep_until(latest + 2ms);
    for (auto& t : stopped_timers) ASSERT_FALSE(t.channel().try_recv().has_value());
    EXPECT_EQ(stopped + fired, kRounds);
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

// Several goroutines (and a thread) stop and reset one after_func timer while it
// fires. Every arming is accounted for exactly once: the WaitGroup gets +1 per arming
// and -1 per arming that ended, either by firing or by a stop/reset returning true.
// A double count would make the counter negative (an exception, fatal in a
// goroutine); a missing one would leave wait() hanging.
TEST(Timer, StopAndResetRaceFiringExactlyOnce) {
  const int kOps = int(scaled(20000) / 8);
  goro::WaitGroup armings;
  std::atomic<int> runs{0};
  armings.add(1);
  goro::Timer t = goro::after_func(10us, [&] {
    runs.fetch_add(1, std::memory_order_relaxed);
    armings.done();
  });
  std::atomic<int> prevented{0}, resets{0};
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < kOps; ++i) {
      if (rng() % 3 == 0) {
        if (t.stop()) {
          prevented.fetch_add(1);
          armings.done();
        }
      } else {
        armings.add(1);  // the arming this reset makes
        resets.fetch_add(1);
        if (t.reset(std::chrono::microseconds(rng() % 30))) {
          prevented.fetch_add(1);
          armings.done();
        }
      }
      if (rng() % 4 == 0) goro::yield();
    }
  };
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(4);
    for (unsigned k = 0; k < 4; ++k)
      goro::go([&, k] {
        worker(k + 1);
        wg.done();
      });
    std::thread thread(worker, 99u);
    wg.wait();
    thread.join();
  });
  if (t.stop()) {
    prevented.fetch_add(1);
    armings.done();
  }
  armings.wait();
  EXPECT_EQ(runs.load() + prevented.load(), 1 + resets.load());
  EXPECT_EQ(gt::timers_armed(), 0u);
}

// --- after_func ---

TEST(AfterFunc, RunsOnceInAGoroutineOfItsOwn) {
  goro::WaitGroup wg;
  wg.add(1);
  std::atomic<int> runs{0};
  std::atomic<bool> in_goroutine{false};
  auto t0 = Clock::now();
  std::atomic<std::int64_t> ran_after_ns{0};
  // The Timer is dropped at once: that does not cancel it.
  goro::after_func(2ms, [&] {
    ran_after_ns.store((Clock::now() - t0).count());
    in_goroutine.store(goro::in_goroutine());
    runs.fetch_add(1);
    wg.done();
  });
  wg.wait();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_TRUE(in_goroutine.load());
  EXPECT_GE(std::chrono::nanoseconds(ran_after_ns.load()), 2ms);
}

TEST(AfterFunc, StopPreventsItAndFreesTheFunction) {
  auto token = std::make_shared<int>(0);
  {
    goro::Timer t = goro::after_func(1h, [token] { ++*token; });
    EXPECT_EQ(token.use_count(), 2);
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop());
  }
  EXPECT_EQ(token.use_count(), 1);  // the closure went with the last reference
  EXPECT_EQ(*token, 0);
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(AfterFunc, ResetRunsItAgain) {
  goro::Chan<int> ran(2);
  goro::Timer t = goro::after_func(1ms, [ran] { ran.try_send(1); });
  EXPECT_EQ(*ran.recv(), 1);
  EXPECT_FALSE(t.reset(1ms));
  EXPECT_EQ(*ran.recv(), 1);
  EXPECT_FALSE(t.channel().try_recv().has_value());  // nil channel: never ready
}

TEST(AfterFunc, MoveOnlyFunction) {
  goro::WaitGroup wg;
  wg.add(1);
  auto p = std::make_unique<int>(41);
  goro::after_func(0ms, [p = std::move(p), &wg] {
    ++*p;
    wg.done();
  });
  wg.wait();
}

// --- after ---

TEST(After, SendsOnceAfterD) {
  goro::run([] {
    auto t0 = Clock::now();
    auto ch = goro::after(3ms);
    auto v = ch.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v - t0, 3ms);
    EXPECT_FALSE(ch.try_recv().has_value());
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(After, IsASelectTimeout) {
  goro::run([] {
    goro::Chan<int> never;
    auto t0 = Clock::now();
    bool timed_out = false;
    std::size_t i = goro::select(goro::case_recv(never),
                                 goro::case_recv(goro::after(2ms), [&] { timed_out = true; }));
    EXPECT_EQ(i, 1u);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(Clock::now() - t0, 2ms);
  });
  // And from a plain thread.
  goro::Chan<int> never;
  EXPECT_EQ(goro::select(goro::case_recv(never), goro::case_recv(goro::after(1ms))), 1u);
}

TEST(After, UnreadChannelsAreFreed) {
  // after() timers nobody reads still fire (into their buffer) and are then freed;
  // ASan's leak check at exit would report a core or channel left behind.
  goro::run([] {
    for (int i = 0; i < 1000; ++i) goro::after(std::chrono::microseconds(i % 50));
    goro::after(200us).recv();
  });
}

// --- Ticker ---

TEST(Ticker, DeliversTicksAPeriodApart) {
  goro::run([] {
    auto t0 = Clock::now();
    goro::Ticker ticker(2ms);
    for (int k = 1; k <= 5; ++k) {
      auto v = ticker.channel().recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_GE(*v - t0, k * 2ms) << "tick " << k;
    }
    ticker.stop();
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Ticker, StopStopsTicks) {
  goro::run([] {
    goro::Ticker ticker(1ms);
    ticker.channel().recv();
    ticker.stop();
    EXPECT_EQ(gt::timers_armed(), 0u);
    // A tick already being sent when stop() returned may still land; after that,
    // nothing more comes, however long we wait.
    goro::sleep_for(5ms);
    ticker.channel().try_recv();
    goro::sleep_for(10ms);
    EXPECT_FALSE(ticker.channel().try_recv().has_value());
  });
}

TEST(Ticker, SlowReaderMissesTicks) {
  goro::run([] {
    goro::Ticker ticker(1ms);
    goro::sleep_for(20ms);  // ~20 ticks, one buffered
    EXPECT_EQ(ticker.channel().size(), 1u);
    auto v = ticker.channel().recv();
    ASSERT_TRUE(v.has_value());
  });
}

TEST(Ticker, ResetChangesThePeriod) {
  goro::run([] {
    goro::Ticker ticker(1h);
    auto t0 = Clock::now();
    ticker.reset(2ms);
    auto v = ticker.channel().recv();
    EXPECT_GE(*v - t0, 2ms);
    v = ticker.channel().recv();
    EXPECT_GE(*v - t0, 4ms);
  });
}

TEST(Ticker, NonPositivePeriodThrows) {
  EXPECT_THROW(goro::Ticker(0ms), std::invalid_argument);
  EXPECT_THROW(goro::Ticker(-1s), std::invalid_argument);
  goro::Ticker ticker(1h);
  EXPECT_THROW(ticker.reset(0s), std::invalid_argument);
}

TEST(Ticker, DestroyingItStopsIt) {
  goro::Chan<Clock::time_point> ch = goro::Chan<Clock::time_point>::nil();
  {
    goro::Ticker ticker(1ms);
    ch = ticker.channel();
    goro::Ticker moved = std::move(ticker);
    moved.channel().recv();
  }
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Ticker, FromAPlainThread) {
  goro::Ticker ticker(1ms);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(ticker.channel().recv().has_value());
}

// --- nothing left behind ---

// Goroutines that arm timers of every kind and return without stopping them: the
// Tickers stop with their goroutines, the rest fire and go; no heap entry remains.
TEST(Timers, ExitedGoroutinesLeaveNothingArmed) {
  goro::run([] {
    goro::WaitGroup wg, fired;
    constexpr int kN = 100;
    wg.add(kN);
    fired.add(kN);
    for (int i = 0; i < kN; ++i)
      goro::go([&, i] {
        goro::Timer t{std::chrono::microseconds(i)};
        goro::Ticker ticker(1ms);
        goro::after(std::chrono::microseconds(i));
        goro::after_func(std::chrono::microseconds(i), [&fired] { fired.done(); });
        t.channel().recv();
        wg.done();
      });
    wg.wait();
    fired.wait();
    // The after() timers, whose channels nobody reads, fire on their own: each was
    // armed a moment after its goroutine's Timer, so they are due by now or very
    // soon. Wait for them by looking, not for a fixed time: a loaded machine (an ASan
    // run at ctest -j6 on 2 CPUs) once left one armed 1 ms after the last Timer
    // fired. One that never fired or was never taken off a heap keeps this looking
    // until ctest's timeout fails the test.
    while (gt::timers_armed() != 0) goro::sleep_for(1ms);
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

TEST(Timers, ManyStoppedTimersLeaveNothingArmed) {
  const std::int64_t n = scaled(50000);
  goro::run([n] {
    std::vector<goro::Timer> timers;
    timers.reserve(std::size_t(n));
    for (std::int64_t i = 0; i < n; ++i) timers.emplace_back(std::chrono::seconds(10 + i % 100));
    EXPECT_EQ(gt::timers_armed(), std::size_t(n));
    // Stop in an order unrelated to the heaps' (every other, then the rest).
    for (std::size_t i = 0; i < timers.size(); i += 2) EXPECT_TRUE(timers[i].stop());
    for (std::size_t i = 1; i < timers.size(); i += 2) EXPECT_TRUE(timers[i].stop());
  });
  EXPECT_EQ(gt::timers_armed(), 0u);
}

// --- deadlock detection sees timers ---

TEST(TimersDeadlock, APendingTimerIsNotADeadlock) {
  goro::run([] {
    goro::Timer t(5ms);
    t.channel().recv();  // everyone is blocked, but the timer will fire
  });
}

TEST(TimersDeadlock, StoppingTheLastTimerLetsADeadlockBeReported) {
  EXPECT_EXIT(goro::run([] {
                goro::Timer t(1h);
                t.stop();  // the idle M sleeping for it wakes up and finds nothing
                goro::Chan<int> ch;
                ch.recv();
              }),
              ::testing::ExitedWithCode(2),
              ::testing::HasSubstr("all goroutines are asleep - deadlock!"));
}

}  // namespace
