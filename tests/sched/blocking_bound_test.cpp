// blocking_bound_test.cpp — Options::max_threads bounds the threads that blocking
// calls take (api.md "Runtime": goro::blocking; issue: "the number of extra threads is
// bounded"). Run with GORO_MAX_THREADS=3, so the bound is max(3, procs + 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

namespace {

TEST(BlockingBound, CallsBeyondTheBoundWaitForAThread) {
  const int bound = std::max(3, goro::procs() + 1);
  ASSERT_EQ(goro::current_options().max_threads, bound);
  const int kCalls = 16;
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0, most_inside = 0;
  bool released = false;
  goro::WaitGroup wg;
  for (int i = 0; i < kCalls; ++i) {
    wg.add(1);
    goro::go([&] {
      goro::blocking([&] {
        std::unique_lock<std::mutex> lk(mu);
        most_inside = std::max(most_inside, ++inside);
        cv.notify_all();
        cv.wait(lk, [&] { return released; });
        --inside;
      });
      wg.done();
    });
  }
  {
    // Every thread the bound allows ends up inside a call; no more can.
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return inside == bound; });
    EXPECT_LE(gt::threads_started(), bound);
    released = true;
    cv.notify_all();
  }
  wg.wait();  // the calls that waited for a thread got one
  EXPECT_EQ(most_inside, bound);
  EXPECT_LE(gt::threads_started(), bound);
}

}  // namespace
