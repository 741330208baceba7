// mutex_test.cpp — goro::Mutex (Go's sync.Mutex): exclusion under contention, shared
// by goroutines and plain threads, try_lock, the standard lock wrappers, fairness
// (starvation mode), and the fatal unlock of an unlocked mutex.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

namespace {

TEST(Mutex, ExcludesUnderContention) {
  constexpr int kGoroutines = 64;
  const int per = goro_test::kUnderTsan ? 1000 : 10000;
  std::int64_t counter = 0;  // guarded by mu
  bool inside = false;       // guarded by mu: true while someone is in the section
  int overlaps = 0;          // guarded by mu
  goro::Mutex mu;
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      goro::go([&, g] {
        for (int i = 0; i < per; ++i) {
          mu.lock();
          if (inside) ++overlaps;
          inside = true;
          ++counter;
          if ((i + g) % 97 == 0) goro::yield();  // sometimes hold the lock across a switch
          inside = false;
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(counter, std::int64_t(kGoroutines) * per);
}

TEST(Mutex, SharedByGoroutinesAndPlainThreads) {
  constexpr int kGoroutines = 16;
  constexpr int kThreads = 3;
  const int per = goro_test::kUnderTsan ? 1000 : 5000;
  std::int64_t counter = 0;
  bool inside = false;
  int overlaps = 0;
  goro::Mutex mu;
  auto body = [&] {
    for (int i = 0; i < per; ++i) {
      std::lock_guard<goro::Mutex> lock(mu);
      if (inside) ++overlaps;
      inside = true;
      ++counter;
      inside = false;
    }
  };
  goro::WaitGroup wg;
  wg.add(kGoroutines);
  for (int g = 0; g < kGoroutines; ++g) {
    goro::go([&] {
      body();
      wg.done();
    });
  }
  goro_test::on_threads(kThreads, [&](int) { body(); });
  wg.wait();
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(counter, std::int64_t(kGoroutines + kThreads) * per);
}

TEST(Mutex, ThreadBlocksWhileGoroutineHolds) {
  // A plain thread waits on a mutex a goroutine holds across a park, and gets it.
  goro::Mutex mu;
  goro::WaitGroup held, release, done;
  held.add(1);
  release.add(1);
  done.add(1);
  int value = 0;
  goro::go([&] {
    mu.lock();
    held.done();
    release.wait();  // park holding the lock
    value = 1;
    mu.unlock();
    done.done();
  });
  held.wait();
  EXPECT_FALSE(mu.try_lock());
  std::thread t([&] {
    mu.lock();
    value += 10;  // after the goroutine's write
    mu.unlock();
  });
  release.done();
  t.join();
  done.wait();
  EXPECT_EQ(value, 11);
}

TEST(Mutex, TryLock) {
  goro::Mutex mu;
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());  // not recursive
  bool other = goro::run([&] { return mu.try_lock(); });
  EXPECT_FALSE(other);
  std::thread t([&] { other = mu.try_lock(); });
  t.join();
  EXPECT_FALSE(other);
  mu.unlock();
  EXPECT_TRUE(goro::run([&] { return mu.try_lock(); }));
  // Locked by a goroutine that has returned; unlock from here (Go allows it).
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  mu.lock();
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

TEST(Mutex, StandardLockWrappers) {
  goro::Mutex a, b;
  {
    std::lock_guard<goro::Mutex> lock(a);
    EXPECT_FALSE(a.try_lock());
  }
  EXPECT_TRUE(a.try_lock());
  a.unlock();
  {
    std::unique_lock<goro::Mutex> lock(a);
    EXPECT_TRUE(lock.owns_lock());
    lock.unlock();
    EXPECT_TRUE(a.try_lock());
    a.unlock();
    EXPECT_TRUE(lock.try_lock());
  }
  {
    std::unique_lock<goro::Mutex> lock(a, std::defer_lock);
    EXPECT_FALSE(lock.owns_lock());
    lock.lock();
    EXPECT_TRUE(lock.owns_lock());
  }
  // scoped_lock / std::lock with two goro mutexes, taken in opposite orders by two
  // sets of goroutines: std::lock's deadlock avoidance works on them.
  std::int64_t counter = 0;
  goro::run([&] {
    goro::WaitGroup wg;
    constexpr int kN = 8;
    wg.add(kN);
    for (int g = 0; g < kN; ++g) {
      goro::go([&, g] {
        for (int i = 0; i < 500; ++i) {
          if (g % 2 == 0) {
            std::scoped_lock lock(a, b);
            ++counter;
          } else {
            std::scoped_lock lock(b, a);
            ++counter;
          }
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(counter, 8 * 500);
  EXPECT_TRUE(a.try_lock());
  EXPECT_TRUE(b.try_lock());
  a.unlock();
  b.unlock();
}

// Fairness (api.md: "no waiter starves, as Go's starvation mode promises"). Hogs take
// the lock over and over until told to stop; one goroutine calls lock() once. Its lock()
// must return while the hogs are still going: the hogs stop only after it got in. A
// hog gives up at a generous iteration cap, so starvation shows as the cap reached
// rather than a hang.
struct FairnessResult {
  bool waiter_got_in = false;
  bool hogs_running_when_waiter_got_in = false;
  std::int64_t hog_iterations = 0;
  int hogs_at_cap = 0;
};

FairnessResult run_fairness(bool hold_across_yield) {
  constexpr int kHogs = 3;
  constexpr std::int64_t kCap = 20'000'000;  // per hog
  goro::Mutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int> hogs_running{0};
  std::atomic<std::int64_t> iterations{0};
  std::atomic<int> at_cap{0};
  FairnessResult r;
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kHogs + 1);
    for (int h = 0; h < kHogs; ++h) {
      goro::go([&] {
        hogs_running.fetch_add(1);
        std::int64_t i = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          if (++i > kCap) {
            at_cap.fetch_add(1);
            break;
          }
          mu.lock();
          // Holding across a yield: at 1 P the waiter runs (and queues) while the lock
          // is held, and the hog re-locks right after unlocking, before the woken
          // waiter runs: in normal mode the waiter loses every time.
          if (hold_across_yield) goro::yield();
          mu.unlock();
          // Tight: re-lock at once, yielding only now and then (so it works at 1 P).
          if (!hold_across_yield && i % 64 == 0) goro::yield();
          iterations.fetch_add(1, std::memory_order_relaxed);
        }
        hogs_running.fetch_sub(1);
        wg.done();
      });
    }
    // Let the hogs get going before the waiter arrives.
    long spins = 0;
    while ((hogs_running.load() < kHogs || iterations.load() < 1000) && ++spins < 100'000'000)
      goro::yield();
    goro::go([&] {
      mu.lock();
      r.waiter_got_in = true;
      r.hogs_running_when_waiter_got_in = hogs_running.load() == kHogs && at_cap.load() == 0;
      mu.unlock();
      stop.store(true);
      wg.done();
    });
    wg.wait();
  });
  r.hog_iterations = iterations.load();
  r.hogs_at_cap = at_cap.load();
  return r;
}

TEST(Mutex, FairnessStarvingLockerGetsThrough) {
  FairnessResult r = run_fairness(/*hold_across_yield=*/false);
  RecordProperty("hog_iterations", std::to_string(r.hog_iterations));
  EXPECT_TRUE(r.waiter_got_in);
  EXPECT_EQ(r.hogs_at_cap, 0) << "the waiter starved: hogs ran " << r.hog_iterations
                              << " iterations";
  EXPECT_TRUE(r.hogs_running_when_waiter_got_in);
}

TEST(Mutex, FairnessWhenHoldersParkWithTheLock) {
  // The hogs yield while holding the lock, so the waiter queues on the mutex at any P
  // count and must be handed the lock (starvation mode) rather than lose every race.
  FairnessResult r = run_fairness(/*hold_across_yield=*/true);
  RecordProperty("hog_iterations", std::to_string(r.hog_iterations));
  EXPECT_TRUE(r.waiter_got_in);
  EXPECT_EQ(r.hogs_at_cap, 0) << "the waiter starved: hogs ran " << r.hog_iterations
                              << " iterations";
  EXPECT_TRUE(r.hogs_running_when_waiter_got_in);
}

TEST(Mutex, HandOffKeepsExclusion) {
  // Starvation mode's hand-off path under heavy contention: goroutines that hold the
  // lock across a yield make waiters wait > 1 ms, so ownership is handed over; the
  // count must still be exact.
  constexpr int kN = 16;
  const int per = goro_test::kUnderTsan ? 200 : 2000;
  goro::Mutex mu;
  std::int64_t counter = 0;
  bool inside = false;
  int overlaps = 0;
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kN);
    for (int g = 0; g < kN; ++g) {
      goro::go([&] {
        for (int i = 0; i < per; ++i) {
          mu.lock();
          if (inside) ++overlaps;
          inside = true;
          goro::yield();
          ++counter;
          inside = false;
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(counter, std::int64_t(kN) * per);
}

// The uncontended unlock is a restartable sequence with a plain store (mutex.cpp
// U1-U3): a mutex nobody ever waited on stays on it, and the first locker that finds
// it held switches it to the atomic unlock for good before it registers as a waiter.
TEST(Mutex, FirstContentionEndsThePlainStoreUnlock) {
  goro::Mutex mu;
  std::int64_t counter = 0;
  auto uncontended = [&] {
    for (int i = 0; i < 1000; ++i) {
      std::lock_guard<goro::Mutex> lock(mu);
      ++counter;
    }
  };
  const char* env = std::getenv("GORO_MUTEX_RSEQ");
  if (env != nullptr && std::string(env) == "0") {
    EXPECT_FALSE(gt::mutex_rseq_enabled());
  }
  RecordProperty("rseq_unlock", gt::mutex_rseq_enabled() ? "on" : "off");
  goro::run(uncontended);
  goro_test::on_threads(1, [&](int) { uncontended(); });
  EXPECT_EQ(counter, 2000);
  EXPECT_EQ(gt::mutex_contended(mu), 0u) << "no locker ever found it held";
  // A goroutine blocks on it while this one holds it.
  goro::run([&] {
    mu.lock();
    goro::WaitGroup done;
    done.add(1);
    goro::go([&] {
      mu.lock();
      ++counter;
      mu.unlock();
      done.done();
    });
    goro_test::await_parked("sync.Mutex", 1);
    EXPECT_EQ(gt::mutex_contended(mu), 2u);
    ++counter;
    mu.unlock();
    done.wait();
  });
  EXPECT_EQ(counter, 2002);
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
  EXPECT_EQ(gt::mutex_contended(mu), 2u);
}

TEST(Mutex, FirstContentionRacesUncontendedUnlocks) {
  // Many mutexes, each contended for the first time while its holders are unlocking
  // with the plain store: a waiter whose registration such a store overwrote would
  // never be woken (the test would hang), and a lost lock bit would show as overlaps.
  const int kMutexes = goro_test::kUnderSanitizer ? 100 : 400;
  constexpr int kGoroutines = 3;
  constexpr int kThreads = 1;
  constexpr int kPer = 300;
  for (int m = 0; m < kMutexes; ++m) {
    auto mu = std::make_unique<goro::Mutex>();
    std::int64_t counter = 0;
    bool inside = false;
    int overlaps = 0;
    auto body = [&] {
      for (int i = 0; i < kPer; ++i) {
        mu->lock();
        if (inside) ++overlaps;
        inside = true;
        ++counter;
        inside = false;
        mu->unlock();
      }
    };
    goro::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g)
      goro::go([&] {
        body();
        wg.done();
      });
    goro_test::on_threads(kThreads, [&](int) { body(); });
    wg.wait();
    ASSERT_EQ(overlaps, 0) << "mutex " << m;
    ASSERT_EQ(counter, std::int64_t(kGoroutines + kThreads) * kPer) << "mutex " << m;
    ASSERT_TRUE(mu->try_lock()) << "mutex " << m << " left locked";
    mu->unlock();
  }
}

TEST(Mutex, AbortedSequencesStillUnlockOnce) {
  // Unlocks on the plain-store path while another thread makes the kernel abort
  // every sequence in flight, over and over: each aborted unlock must still unlock,
  // once, atomically (a wrong abort handler or signature kills the process).
  goro::Mutex mu;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> fences{0};
  std::thread fencer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      gt::mutex_abort_sequences();
      fences.fetch_add(1, std::memory_order_relaxed);
    }
  });
  const std::int64_t per = goro_test::kUnderSanitizer ? 100000 : 1000000;
  std::int64_t counter = 0;
  std::int64_t sequences = 0;
  goro::run([&] {
    // At least `per` sequences, and on until two fences were issued after the first:
    // a loaded machine may not run the fencer at all during the first `per` (an ASan
    // run at ctest -j6 on 2 CPUs once ended them, in 10 ms, before its first fence).
    std::int64_t f0 = fences.load(std::memory_order_relaxed);
    for (; sequences < per || fences.load(std::memory_order_relaxed) < f0 + 2; ++sequences) {
      mu.lock();
      ++counter;
      mu.unlock();
    }
  });
  stop.store(true);
  fencer.join();
  EXPECT_GE(sequences, per);
  EXPECT_EQ(counter, sequences);
  EXPECT_GT(fences.load(), 0);
  EXPECT_EQ(gt::mutex_contended(mu), 0u) << "nobody waited: no fence was due";
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

TEST(MutexDeathTest, UnlockOfUnlockedMutexIsFatal) {
  EXPECT_DEATH(
      {
        goro::Mutex mu;
        mu.unlock();
      },
      "fatal error: sync: unlock of unlocked mutex");
}

TEST(MutexDeathTest, UnlockOfUnlockedMutexInGoroutineIsFatal) {
  EXPECT_DEATH(goro::run([] {
                 goro::Mutex mu;
                 mu.lock();
                 mu.unlock();
                 mu.unlock();
               }),
               "fatal error: sync: unlock of unlocked mutex");
}

}  // namespace
