// rwmutex_test.cpp — goro::RWMutex (Go's sync.RWMutex): readers really share the lock,
// writers exclude everyone, a waiting writer stops new readers (and so is not starved
// by a stream of them), try_lock / try_lock_shared, the standard lock wrappers,
// goroutines and plain threads on one lock, and the fatal misuses. The ideas of Go's
// sync/rwmutex_test.go (parallel readers, the hammer, the unlock panics), rewritten.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.h"
#include "support/support.h"

namespace {

using goro_test::await_parked;

constexpr const char* kLockReason = "sync.RWMutex.Lock";
constexpr const char* kRLockReason = "sync.RWMutex.RLock";

// n readers take the read lock and then wait at a barrier for all n to arrive while
// still holding it. If readers could not hold the lock together, the second one would
// block in lock_shared() while the first waits at the barrier: a deadlock, not a pass.
void readers_meet_inside(goro::RWMutex& mu, int goroutines, int threads) {
  const int n = goroutines + threads;
  goro::WaitGroup inside, done;
  inside.add(n);
  done.add(goroutines);
  std::atomic<int> holding{0};
  std::atomic<int> max_holding{0};
  auto reader = [&] {
    mu.lock_shared();
    int h = holding.fetch_add(1) + 1;
    int m = max_holding.load();
    while (h > m && !max_holding.compare_exchange_weak(m, h)) {
    }
    inside.done();
    inside.wait();  // every reader is inside at once
    holding.fetch_sub(1);
    mu.unlock_shared();
  };
  for (int i = 0; i < goroutines; ++i) {
    goro::go([&] {
      reader();
      done.done();
    });
  }
  goro_test::on_threads(threads, [&](int) { reader(); });
  done.wait();
  EXPECT_EQ(max_holding.load(), n);
  EXPECT_EQ(holding.load(), 0);
}

TEST(RWMutex, ReadersHoldTheLockTogether) {
  goro::RWMutex mu;
  for (int n : {1, 3, 10, 100}) goro::run([&] { readers_meet_inside(mu, n, 0); });
  // From a plain thread, with readers on threads and goroutines mixed.
  readers_meet_inside(mu, 8, 3);
  // The lock is free again.
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

// Go's HammerRWMutex: an activity counter that a writer moves by 10000 and a reader by
// 1. A writer must see exactly its own 10000 (nobody else inside); a reader must see
// less than 10000 (no writer inside). Plain (non-atomic) data written by writers and
// read by readers lets TSan check the happens-before edges as well.
struct Hammer {
  goro::RWMutex mu;
  std::atomic<std::int32_t> activity{0};
  std::atomic<int> writer_violations{0};
  std::atomic<int> reader_violations{0};
  std::int64_t data = 0;  // guarded by mu (written exclusively, read shared)
  std::atomic<std::int64_t> reads{0};

  void write(int i) {
    mu.lock();
    if (activity.fetch_add(10000) + 10000 != 10000) writer_violations.fetch_add(1);
    ++data;
    if (i % 7 == 0) goro::yield();  // sometimes hold it across a switch
    if (activity.fetch_sub(10000) - 10000 != 0) writer_violations.fetch_add(1);
    mu.unlock();
  }
  void read(int i) {
    mu.lock_shared();
    if (activity.fetch_add(1) + 1 >= 10000) reader_violations.fetch_add(1);
    std::int64_t seen = data;
    if (i % 5 == 0) goro::yield();
    if (seen != data) reader_violations.fetch_add(1);  // no writer changed it meanwhile
    reads.fetch_add(1, std::memory_order_relaxed);
    activity.fetch_sub(1);
    mu.unlock_shared();
  }
};

void hammer(int goroutine_readers, int thread_readers, int goroutine_writers, int thread_writers,
            int per) {
  Hammer h;
  goro::WaitGroup wg;
  wg.add(goroutine_readers + goroutine_writers);
  for (int g = 0; g < goroutine_readers; ++g) {
    goro::go([&] {
      for (int i = 0; i < per; ++i) h.read(i);
      wg.done();
    });
  }
  for (int g = 0; g < goroutine_writers; ++g) {
    goro::go([&] {
      for (int i = 0; i < per; ++i) h.write(i);
      wg.done();
    });
  }
  goro_test::on_threads(thread_readers + thread_writers, [&](int t) {
    for (int i = 0; i < per; ++i) {
      if (t < thread_readers)
        h.read(i);
      else
        h.write(i);
    }
  });
  wg.wait();
  EXPECT_EQ(h.writer_violations.load(), 0);
  EXPECT_EQ(h.reader_violations.load(), 0);
  EXPECT_EQ(h.activity.load(), 0);
  EXPECT_EQ(h.data, std::int64_t(goroutine_writers + thread_writers) * per);
  EXPECT_EQ(h.reads.load(), std::int64_t(goroutine_readers + thread_readers) * per);
}

TEST(RWMutex, WritersExcludeEveryone) {
  const int per = goro_test::kUnderTsan ? 300 : 3000;
  goro::run([&] {
    hammer(1, 0, 1, 0, per);
    hammer(3, 0, 1, 0, per);
    hammer(10, 0, 5, 0, per);
    hammer(20, 0, 1, 0, per);
  });
}

TEST(RWMutex, GoroutinesAndPlainThreadsShareOneLock) {
  const int per = goro_test::kUnderTsan ? 300 : 3000;
  hammer(8, 2, 4, 1, per);  // readers and writers on both
  hammer(0, 2, 4, 0, per);  // thread readers, goroutine writers
  hammer(4, 0, 0, 2, per);  // goroutine readers, thread writers
}

TEST(RWMutex, PlainThreadWaitsForGoroutineAndBack) {
  goro::RWMutex mu;
  goro::WaitGroup held, release, done;
  int value = 0;  // guarded by mu
  // A goroutine holds the read lock across a park; a plain thread's lock() waits.
  held.add(1);
  release.add(1);
  done.add(1);
  goro::go([&] {
    mu.lock_shared();
    held.done();
    release.wait();
    EXPECT_EQ(value, 0);
    mu.unlock_shared();
    done.done();
  });
  held.wait();
  std::thread writer([&] {
    mu.lock();
    value = 1;
    mu.unlock();
  });
  release.done();
  writer.join();
  done.wait();
  // A plain thread holds the write lock; a goroutine's lock_shared() waits for it.
  mu.lock();
  goro::WaitGroup reader_done;
  reader_done.add(1);
  int seen = -1;
  goro::go([&] {
    mu.lock_shared();
    seen = value;
    mu.unlock_shared();
    reader_done.done();
  });
  await_parked(kRLockReason, 1);
  value = 2;
  mu.unlock();
  reader_done.wait();
  EXPECT_EQ(seen, 2);
}

TEST(RWMutex, WaitingWriterStopsNewReaders) {
  // A reader holds the lock; a writer queues in lock(). From then on new readers must
  // queue too (try_lock_shared fails, lock_shared blocks), and when the first reader
  // leaves the writer goes first, then the reader that queued behind it.
  goro::RWMutex mu;
  goro::run([&] {
    mu.lock_shared();
    goro::Chan<std::string> order(2);
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      mu.lock();
      order.send("writer");
      mu.unlock();
      wg.done();
    });
    await_parked(kLockReason, 1);
    EXPECT_FALSE(mu.try_lock_shared());
    EXPECT_FALSE(mu.try_lock());
    goro::go([&] {
      mu.lock_shared();
      order.send("reader");
      mu.unlock_shared();
      wg.done();
    });
    await_parked(kRLockReason, 1);
    EXPECT_EQ(order.size(), 0u);
    mu.unlock_shared();
    wg.wait();
    EXPECT_EQ(order.recv(), "writer");
    EXPECT_EQ(order.recv(), "reader");
  });
}

// Readers take the read lock over and over, always overlapping (each holds it across
// a yield), so the reader count alone would never drop to zero; one writer calls
// lock() once. Writer preference must let it in while the readers are still going: they
// stop only after the writer got in, and give up at a generous cap, so starvation
// shows as the cap reached rather than a hang.
TEST(RWMutex, WriterIsNotStarvedByAStreamOfReaders) {
  constexpr int kReaders = 4;
  const std::int64_t kCap = goro_test::kUnderTsan ? 200'000 : 2'000'000;
  goro::RWMutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int> readers_running{0};
  std::atomic<int> at_cap{0};
  std::atomic<std::int64_t> reads{0};
  bool writer_got_in = false;
  bool readers_running_when_writer_got_in = false;
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(kReaders + 1);
    for (int r = 0; r < kReaders; ++r) {
      goro::go([&] {
        readers_running.fetch_add(1);
        std::int64_t i = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          if (++i > kCap) {
            at_cap.fetch_add(1);
            break;
          }
          mu.lock_shared();
          goro::yield();  // hold it across a switch: another reader gets in meanwhile
          mu.unlock_shared();
          reads.fetch_add(1, std::memory_order_relaxed);
        }
        readers_running.fetch_sub(1);
        wg.done();
      });
    }
    while (readers_running.load() < kReaders || reads.load() < 1000) goro::yield();
    goro::go([&] {
      mu.lock();
      writer_got_in = true;
      readers_running_when_writer_got_in = readers_running.load() == kReaders && at_cap.load() == 0;
      mu.unlock();
      stop.store(true);
      wg.done();
    });
    wg.wait();
  });
  EXPECT_TRUE(writer_got_in);
  EXPECT_EQ(at_cap.load(), 0) << "the writer starved: readers ran " << reads.load() << " times";
  EXPECT_TRUE(readers_running_when_writer_got_in);
}

TEST(RWMutex, TryLockAndTryLockShared) {
  goro::RWMutex mu;
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  EXPECT_FALSE(goro::run([&] { return mu.try_lock_shared(); }));
  mu.unlock();
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_TRUE(mu.try_lock_shared());  // readers share
  EXPECT_TRUE(goro::run([&] { return mu.try_lock_shared(); }));
  EXPECT_FALSE(mu.try_lock());
  bool other = true;
  std::thread t([&] { other = mu.try_lock(); });
  t.join();
  EXPECT_FALSE(other);
  mu.unlock_shared();
  mu.unlock_shared();
  EXPECT_FALSE(mu.try_lock());
  mu.unlock_shared();  // released on this thread, taken by a goroutine: allowed, as in Go
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
  // A failed try_lock (readers inside) leaves no trace: readers and writers still work.
  mu.lock_shared();
  EXPECT_FALSE(mu.try_lock());
  EXPECT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
  mu.unlock_shared();
  mu.lock();
  mu.unlock();
}

TEST(RWMutex, StandardLockWrappers) {
  goro::RWMutex rw;
  goro::Mutex mu;
  {
    std::unique_lock<goro::RWMutex> lock(rw);
    EXPECT_TRUE(lock.owns_lock());
    EXPECT_FALSE(rw.try_lock_shared());
  }
  {
    std::shared_lock<goro::RWMutex> a(rw);
    std::shared_lock<goro::RWMutex> b(rw, std::try_to_lock);
    EXPECT_TRUE(a.owns_lock());
    EXPECT_TRUE(b.owns_lock());
    EXPECT_FALSE(rw.try_lock());
    b.unlock();
    a.unlock();
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
    EXPECT_TRUE(a.try_lock());
  }
  {
    std::lock_guard<goro::RWMutex> lock(rw);
    EXPECT_FALSE(rw.try_lock());
  }
  // scoped_lock over an RWMutex and a Mutex, taken in opposite orders.
  std::int64_t counter = 0;
  std::int64_t shared_reads = 0;  // guarded by mu
  goro::run([&] {
    goro::WaitGroup wg;
    constexpr int kN = 8;
    wg.add(kN);
    for (int g = 0; g < kN; ++g) {
      goro::go([&, g] {
        for (int i = 0; i < 300; ++i) {
          if (g % 3 == 0) {
            std::scoped_lock lock(rw, mu);
            ++counter;
          } else if (g % 3 == 1) {
            std::scoped_lock lock(mu, rw);
            ++counter;
          } else {
            std::shared_lock read(rw);
            std::lock_guard guard(mu);
            ++shared_reads;
          }
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(counter, 6 * 300);
  EXPECT_EQ(shared_reads, 2 * 300);
  EXPECT_TRUE(rw.try_lock());
  rw.unlock();
}

using ::testing::ExitedWithCode;

TEST(RWMutexDeathTest, UnlockOfUnlockedIsFatal) {
  EXPECT_EXIT(
      {
        goro::RWMutex mu;
        mu.unlock();
      },
      ExitedWithCode(2), "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST(RWMutexDeathTest, UnlockTwiceInGoroutineIsFatal) {
  EXPECT_EXIT(goro::run([] {
                goro::RWMutex mu;
                mu.lock();
                mu.unlock();
                mu.unlock();
              }),
              ExitedWithCode(2), "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST(RWMutexDeathTest, UnlockOfReadLockedIsFatal) {
  EXPECT_EXIT(
      {
        goro::RWMutex mu;
        mu.lock_shared();
        mu.unlock();
      },
      ExitedWithCode(2), "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST(RWMutexDeathTest, UnlockSharedOfUnlockedIsFatal) {
  EXPECT_EXIT(goro::run([] {
                goro::RWMutex mu;
                mu.lock_shared();
                mu.unlock_shared();
                mu.unlock_shared();
              }),
              ExitedWithCode(2), "fatal error: sync: RUnlock of unlocked RWMutex");
}

TEST(RWMutexDeathTest, UnlockSharedOfWriteLockedIsFatal) {
  EXPECT_EXIT(
      {
        goro::RWMutex mu;
        mu.lock();
        mu.unlock_shared();
      },
      ExitedWithCode(2), "fatal error: sync: RUnlock of unlocked RWMutex");
}

}  // namespace
