// once_test.cpp — goro::Once (Go's sync.Once): f runs exactly once however many
// goroutines and threads call at once, every caller returns only after f completed
// (and sees what it wrote), and a throwing f still counts as done (Go's TestOncePanic),
// the exception reaching only the caller that ran it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>

#include "goro/goro.h"
#include "support/support.h"

namespace {

using goro_test::await_parked;

constexpr const char* kOnceReason = "sync.Once";

TEST(Once, RunsOnceAndLaterCallsDoNothing) {
  goro::Once once;
  int calls = 0;
  once.call([&] { ++calls; });
  once.call([&] { ++calls; });
  once.call([&] { calls += 100; });  // another function: not run either (Go's Once)
  EXPECT_EQ(calls, 1);
  goro::run([&] { once.call([&] { ++calls; }); });
  EXPECT_EQ(calls, 1);
}

// kGoroutines goroutines and kThreads plain threads call at once. f does not finish
// until every other goroutine caller has parked in the Once (so the waiting path is
// really taken), then writes plain data; every caller must see it after call().
TEST(Once, ContendedCallersAllWaitForTheOneRun) {
  constexpr int kGoroutines = 50;
  constexpr int kThreads = 3;
  for (int round = 0; round < 5; ++round) {
    goro::Once once;
    std::atomic<int> runs{0};
    int value = 0;  // written by f, read by every caller after call()
    std::atomic<int> saw_value{0};
    auto f = [&] {
      runs.fetch_add(1);
      // Every goroutine caller but the runner (if it is one) waits for us.
      await_parked(kOnceReason, goro::in_goroutine() ? kGoroutines - 1 : kGoroutines);
      goro::yield();
      value = 42;
    };
    auto caller = [&] {
      once.call(f);
      if (value == 42) saw_value.fetch_add(1);
    };
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&] {
        caller();
        wg.done();
      });
    }
    goro_test::on_threads(kThreads, [&](int) { caller(); });
    wg.wait();
    EXPECT_EQ(runs.load(), 1);
    EXPECT_EQ(saw_value.load(), kGoroutines + kThreads);
  }
}

TEST(Once, ManyOnceObjectsUnderContention) {
  // Short-lived Onces called from several goroutines at once: each runs its f once,
  // and is destroyed as soon as the last caller returns.
  const int rounds = goro_test::kUnderTsan ? 200 : 2000;
  constexpr int kCallers = 4;
  std::atomic<int> total_runs{0};
  goro::run([&] {
    for (int r = 0; r < rounds; ++r) {
      auto once = std::make_unique<goro::Once>();
      int value = 0;
      std::atomic<int> bad{0};
      goro::WaitGroup wg;
      wg.add(kCallers);
      for (int c = 0; c < kCallers; ++c) {
        goro::go([&] {
          once->call([&] {
            total_runs.fetch_add(1);
            goro::yield();
            value = r + 1;
          });
          if (value != r + 1) bad.fetch_add(1);
          wg.done();
        });
      }
      wg.wait();
      once.reset();
      ASSERT_EQ(bad.load(), 0);
    }
  });
  EXPECT_EQ(total_runs.load(), rounds);
}

TEST(Once, PlainThreadsOnly) {
  goro::Once once;
  std::atomic<int> runs{0};
  int value = 0;
  std::atomic<int> saw{0};
  goro_test::on_threads(4, [&](int) {
    once.call([&] {
      runs.fetch_add(1);
      value = 7;
    });
    if (value == 7) saw.fetch_add(1);
  });
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(saw.load(), 4);
}

TEST(Once, ThrowingFunctionCountsAsDone) {
  goro::Once once;
  int calls = 0;
  try {
    once.call([&] {
      ++calls;
      throw std::runtime_error("init failed");
    });
    FAIL() << "the exception did not reach the caller";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "init failed");
  }
  // As in Go (a panicking f counts as done): f is not run again.
  once.call([&] { ++calls; });
  goro::run([&] { once.call([&] { ++calls; }); });
  EXPECT_EQ(calls, 1);
}

TEST(Once, ThrowWhileOthersWaitReachesOnlyTheRunner) {
  constexpr int kGoroutines = 20;
  goro::Once once;
  std::atomic<int> runs{0};
  std::atomic<int> caught{0};
  std::atomic<int> returned{0};
  auto f = [&] {
    runs.fetch_add(1);
    await_parked(kOnceReason, kGoroutines - 1);
    throw std::logic_error("boom");
  };
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&] {
        try {
          once.call(f);
          returned.fetch_add(1);
        } catch (const std::logic_error&) {
          caught.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(caught.load(), 1);
  EXPECT_EQ(returned.load(), kGoroutines - 1);
  once.call(f);  // done: does not run f, does not throw
  EXPECT_EQ(runs.load(), 1);
}

int g_plain_function_calls = 0;
void plain_function() { ++g_plain_function_calls; }

TEST(Once, AcceptsAnyCallable) {
  goro::Once a, b, c;
  int n = 0;
  // An rvalue move-only callable, invoked as an rvalue.
  struct MoveOnly {
    std::unique_ptr<int> p;
    int* out;
    void operator()() && { *out += *p; }
  };
  a.call(MoveOnly{std::make_unique<int>(5), &n});
  // A const lvalue function object.
  const auto add_one = [&n] { ++n; };
  b.call(add_one);
  // A plain function pointer, with a result that is ignored.
  static int counter;
  counter = 0;  // (--gtest_repeat runs this again)
  int (*fp)() = [] { return ++counter; };
  c.call(fp);
  c.call(fp);
  EXPECT_EQ(n, 6);
  EXPECT_EQ(counter, 1);
  // A function (not a pointer to one).
  g_plain_function_calls = 0;
  goro::Once d;
  d.call(plain_function);
  d.call(plain_function);
  EXPECT_EQ(g_plain_function_calls, 1);
}

}  // namespace
