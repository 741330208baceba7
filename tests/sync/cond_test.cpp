// cond_test.cpp — goro::CondVar (Go's sync.Cond): producer/consumer across goroutines
// and plain threads; notify_one wakes exactly one waiter that was already waiting, the
// one that waited longest; notify_all wakes every one; a notify nobody waits for is
// not remembered. The ideas of Go's sync/cond_test.go (TestCondSignal,
// TestCondSignalGenerations, TestCondBroadcast, TestRace), rewritten.
//
// "Parked" is checked with goroutines_waiting("sync.Cond"), which counts goroutines
// parked in a CondVar; a notify readies the waiters it wakes before it returns, so
// the count right after a notify says exactly how many it woke.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

namespace {

using goro_test::await_parked;

constexpr const char* kCondReason = "sync.Cond";

// Producers push numbers into a queue, consumers take them, both sides on goroutines
// and plain threads; a closing flag and notify_all end the consumers.
TEST(CondVar, ProducerConsumer) {
  const int per_producer = goro_test::kUnderTsan ? 500 : 5000;
  constexpr int kGoroutineProducers = 3, kThreadProducers = 1;
  constexpr int kGoroutineConsumers = 4, kThreadConsumers = 2;
  goro::Mutex mu;
  goro::CondVar not_empty;
  std::deque<std::int64_t> queue;  // guarded by mu
  bool closed = false;             // guarded by mu
  std::atomic<std::int64_t> sum{0};
  std::atomic<std::int64_t> taken{0};

  auto produce = [&](int id) {
    for (int i = 0; i < per_producer; ++i) {
      {
        std::lock_guard lock(mu);
        queue.push_back(std::int64_t(id) * per_producer + i);
      }
      not_empty.notify_one();
    }
  };
  auto consume = [&] {
    std::unique_lock lock(mu);
    for (;;) {
      not_empty.wait(lock, [&] { return !queue.empty() || closed; });
      if (queue.empty()) return;  // closed and drained
      sum.fetch_add(queue.front());
      taken.fetch_add(1);
      queue.pop_front();
    }
  };

  goro::WaitGroup producers, consumers;
  producers.add(kGoroutineProducers);
  consumers.add(kGoroutineConsumers);
  for (int c = 0; c < kGoroutineConsumers; ++c) {
    goro::go([&] {
      consume();
      consumers.done();
    });
  }
  std::vector<std::thread> thread_consumers;
  for (int c = 0; c < kThreadConsumers; ++c) thread_consumers.emplace_back(consume);
  for (int p = 0; p < kGoroutineProducers; ++p) {
    goro::go([&, p] {
      produce(p);
      producers.done();
    });
  }
  goro_test::on_threads(kThreadProducers, [&](int t) { produce(kGoroutineProducers + t); });
  producers.wait();
  {
    std::lock_guard lock(mu);
    closed = true;
  }
  not_empty.notify_all();
  consumers.wait();
  for (auto& t : thread_consumers) t.join();

  const std::int64_t n = std::int64_t(kGoroutineProducers + kThreadProducers) * per_producer;
  EXPECT_EQ(taken.load(), n);
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

// n goroutines wait, having entered wait() in a known order. Each notify_one must wake
// exactly one of them — the one that has waited longest — and leave the rest parked.
TEST(CondVar, NotifyOneWakesExactlyOneOldestWaiter) {
  constexpr int kN = 20;
  goro::Mutex mu;
  goro::CondVar cv;
  goro::Chan<int> awake(kN);
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&, i] {
        std::unique_lock lock(mu);
        cv.wait(lock);
        awake.send(i);
        lock.unlock();  // before done(): mu may be gone once wg.wait() returns
        wg.done();
      });
      await_parked(kCondReason, i + 1);  // waiter i is parked before i + 1 starts
    }
    for (int i = 0; i < kN; ++i) {
      cv.notify_one();
      EXPECT_EQ(gt::goroutines_waiting(kCondReason), kN - 1 - i);
      EXPECT_EQ(awake.recv(), i);  // oldest first (Go's TestCondSignalGenerations)
      EXPECT_EQ(awake.size(), 0u);
    }
    cv.notify_one();  // nobody waits: a no-op
    wg.wait();
  });
}

// Waiters on goroutines and plain threads at once: notify_one releases one at a time.
TEST(CondVar, NotifyOneWakesOneOfGoroutinesAndThreads) {
  constexpr int kGoroutines = 4, kThreads = 3;
  goro::Mutex mu;
  goro::CondVar cv;
  int waiting = 0;  // guarded by mu: entered wait() and not yet woken
  int tokens = 0;   // guarded by mu: wake-ups handed out
  int woken = 0;    // guarded by mu
  auto waiter = [&] {
    std::unique_lock lock(mu);
    ++waiting;
    cv.wait(lock, [&] { return tokens > 0; });
    --tokens;
    --waiting;
    ++woken;
  };
  goro::WaitGroup wg;
  wg.add(kGoroutines);
  for (int g = 0; g < kGoroutines; ++g) {
    goro::go([&] {
      waiter();
      wg.done();
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(waiter);
  for (int i = 0; i < kGoroutines + kThreads; ++i) {
    // Wait until some waiter is inside wait() (it took its ticket under mu) and not
    // yet claimed by a token, then hand out one token and notify once: that notify
    // must wake a waiter, or the token is never taken and the test hangs.
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (waiting > tokens) {
          ++tokens;
          break;
        }
      }
      goro::yield();
    }
    cv.notify_one();
  }
  wg.wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken, kGoroutines + kThreads);
  EXPECT_EQ(tokens, 0);
  EXPECT_EQ(waiting, 0);
}

// Go's TestCondBroadcast: n goroutines wait; notify_all wakes them all, and each wakes
// once; they wait again, for several rounds.
TEST(CondVar, NotifyAllWakesEveryWaiter) {
  constexpr int kN = 50;
  constexpr int kRounds = 5;
  goro::Mutex mu;
  goro::CondVar cv;
  int round = 0;  // guarded by mu
  goro::Chan<int> awake(kN);
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kN);
    for (int g = 0; g < kN; ++g) {
      goro::go([&, g] {
        std::unique_lock lock(mu);
        for (int seen = 0; seen < kRounds; ++seen) {
          cv.wait(lock);
          awake.send(g);
        }
        lock.unlock();  // before done(): mu may be gone once wg.wait() returns
        wg.done();
      });
    }
    for (int r = 0; r < kRounds; ++r) {
      await_parked(kCondReason, kN);
      {
        // Holding mu: a woken waiter cannot get back into wait() (and park there
        // again) before the count is checked.
        std::lock_guard lock(mu);
        ++round;
        cv.notify_all();
        EXPECT_EQ(gt::goroutines_waiting(kCondReason), 0);
      }
      std::vector<bool> seen(kN, false);
      for (int i = 0; i < kN; ++i) {
        int g = *awake.recv();
        EXPECT_FALSE(seen[std::size_t(g)]) << "goroutine " << g << " woke twice";
        seen[std::size_t(g)] = true;
      }
    }
    wg.wait();
  });
  EXPECT_EQ(round, kRounds);
}

// notify_all with waiters on plain threads and goroutines.
TEST(CondVar, NotifyAllWakesThreadsAndGoroutines) {
  constexpr int kGoroutines = 10, kThreads = 3;
  goro::Mutex mu;
  goro::CondVar cv;
  bool go_ahead = false;  // guarded by mu
  int inside = 0;         // guarded by mu
  auto waiter = [&] {
    std::unique_lock lock(mu);
    ++inside;
    cv.wait(lock, [&] { return go_ahead; });
  };
  goro::WaitGroup wg;
  wg.add(kGoroutines);
  for (int g = 0; g < kGoroutines; ++g) {
    goro::go([&] {
      waiter();
      wg.done();
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(waiter);
  for (;;) {
    std::lock_guard lock(mu);
    if (inside == kGoroutines + kThreads) break;
  }
  {
    std::lock_guard lock(mu);
    go_ahead = true;
  }
  cv.notify_all();  // one notify_all releases them all; none needs another
  wg.wait();
  for (auto& t : threads) t.join();
}

// A notify with nobody waiting is not remembered (Go's semantics, unlike a semaphore):
// a later wait() blocks until the next notify. And a notify wakes only waits that
// began before it: a second notify_one with one waiter does not carry over to the
// next one.
TEST(CondVar, NotifyIsNotRememberedForLaterWaiters) {
  goro::Mutex mu;
  goro::CondVar cv;
  cv.notify_one();
  cv.notify_all();
  goro::run([&] {
    std::atomic<int> woke{0};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      std::unique_lock lock(mu);
      cv.wait(lock);
      woke.fetch_add(1);
      lock.unlock();  // before done(): mu may be gone once wg.wait() returns
      wg.done();
    });
    // The waiter parks (if the early notifies had been kept, it would return instead).
    EXPECT_TRUE(await_parked(kCondReason, 1, [&] { return woke.load() != 0; }));
    EXPECT_EQ(woke.load(), 0);
    cv.notify_one();
    cv.notify_one();  // only one waiter was waiting: this one is lost
    wg.wait();
    EXPECT_EQ(woke.load(), 1);

    // A new waiter: the lost notify does not wake it.
    wg.add(1);
    goro::go([&] {
      std::unique_lock lock(mu);
      cv.wait(lock);
      woke.fetch_add(1);
      lock.unlock();  // before done(): mu may be gone once wg.wait() returns
      wg.done();
    });
    EXPECT_TRUE(await_parked(kCondReason, 1, [&] { return woke.load() != 1; }));
    EXPECT_EQ(woke.load(), 1);
    cv.notify_all();
    wg.wait();
    EXPECT_EQ(woke.load(), 2);
  });
}

// A waiter that took its ticket but has not parked yet when the notify comes must not
// miss it: the waiter unlocks the mutex before parking, and the notifier (which took
// the mutex after the waiter's unlock) may run in that window. Many rounds of one
// waiter and one notifier, with the notifier racing the waiter's park.
TEST(CondVar, NotifyRacingTheWaitersParkIsNotLost) {
  const int rounds = goro_test::kUnderTsan ? 2000 : 20000;
  goro::Mutex mu;
  goro::CondVar cv;
  int turn = 0;  // guarded by mu: odd while the waiter waits for its notify
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      std::unique_lock lock(mu);
      for (int i = 0; i < rounds; ++i) {
        turn = 2 * i + 1;
        cv.wait(lock, [&] { return turn == 2 * i + 2; });
      }
      lock.unlock();  // before done(): mu may be gone once wg.wait() returns
      wg.done();
    });
    goro::go([&] {
      for (int i = 0; i < rounds; ++i) {
        for (;;) {
          std::unique_lock lock(mu);
          if (turn == 2 * i + 1) {
            turn = 2 * i + 2;
            break;
          }
          lock.unlock();
          goro::yield();
        }
        cv.notify_one();  // outside the mutex: may race the waiter's park
      }
      wg.done();
    });
    wg.wait();
  });
  EXPECT_EQ(turn, 2 * rounds);
}

// Go's TestRace: x moves 1 -> 2 -> 3 among three goroutines through one CondVar.
TEST(CondVar, HandsStateAroundThreeGoroutines) {
  for (int iter = 0; iter < 100; ++iter) {
    goro::Mutex mu;
    goro::CondVar cv;
    int x = 0;  // guarded by mu
    std::atomic<int> errors{0};
    goro::run([&] {
      goro::WaitGroup wg;
      wg.add(3);
      goro::go([&] {
        std::unique_lock lock(mu);
        x = 1;
        cv.wait(lock, [&] { return x == 2; });
        x = 3;
        cv.notify_all();
        lock.unlock();  // before done(): mu may be gone once wg.wait() returns
        wg.done();
      });
      goro::go([&] {
        std::unique_lock lock(mu);
        while (x != 1) {
          lock.unlock();
          goro::yield();
          lock.lock();
        }
        x = 2;
        cv.notify_all();
        lock.unlock();  // before done(): mu may be gone once wg.wait() returns
        wg.done();
      });
      goro::go([&] {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return x == 3; });
        if (x != 3) errors.fetch_add(1);
        lock.unlock();  // before done(): mu may be gone once wg.wait() returns
        wg.done();
      });
      wg.wait();
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(x, 3);
  }
}

TEST(CondVar, WaitWithoutTheLockThrows) {
  goro::Mutex mu;
  goro::CondVar cv;
  std::unique_lock<goro::Mutex> lock(mu, std::defer_lock);
  EXPECT_THROW(cv.wait(lock), std::system_error);
  EXPECT_THROW(cv.wait(lock, [] { return false; }), std::system_error);
  // The mutex is untouched and usable.
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
  // With the predicate already true, wait(lock, pred) returns at once, lock held.
  lock.lock();
  cv.wait(lock, [] { return true; });
  EXPECT_TRUE(lock.owns_lock());
}

}  // namespace
