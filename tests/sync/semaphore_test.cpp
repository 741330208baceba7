// semaphore_test.cpp — goro::Semaphore (Go's x/sync/semaphore.Weighted): weights never
// exceed the capacity, waiters are served in FIFO order (a large waiter at the head
// holds back smaller ones behind it), try_acquire, goroutines and plain threads on one
// semaphore, the errors for impossible requests and the fatal over-release.
#include <gmock/gmock.h>
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

namespace {

using goro_test::await_parked;

constexpr const char* kSemReason = "semacquire";

// Many goroutines and threads take random weights; the units held at once never
// exceed the capacity, and every unit comes back.
TEST(Semaphore, WeightsNeverExceedCapacity) {
  constexpr std::int64_t kCapacity = 10;
  constexpr int kGoroutines = 32, kThreads = 3;
  const int per = goro_test::kUnderTsan ? 200 : 2000;
  goro::Semaphore sem(kCapacity);
  std::atomic<std::int64_t> held{0};
  std::atomic<std::int64_t> max_held{0};
  std::atomic<int> over{0};
  auto worker = [&](int id) {
    std::uint32_t rng = std::uint32_t(id) * 2654435761u + 1;
    for (int i = 0; i < per; ++i) {
      rng = rng * 1664525u + 1013904223u;
      std::int64_t n = 1 + std::int64_t((rng >> 16) % kCapacity);  // 1..capacity
      sem.acquire(n);
      std::int64_t h = held.fetch_add(n) + n;
      if (h > kCapacity) over.fetch_add(1);
      std::int64_t m = max_held.load();
      while (h > m && !max_held.compare_exchange_weak(m, h)) {
      }
      if (i % 3 == 0) goro::yield();
      held.fetch_sub(n);
      sem.release(n);
    }
  };
  goro::WaitGroup wg;
  wg.add(kGoroutines);
  for (int g = 0; g < kGoroutines; ++g) {
    goro::go([&, g] {
      worker(g);
      wg.done();
    });
  }
  goro_test::on_threads(kThreads, [&](int t) { worker(kGoroutines + t); });
  wg.wait();
  EXPECT_EQ(over.load(), 0);
  EXPECT_LE(max_held.load(), kCapacity);
  EXPECT_TRUE(sem.try_acquire(kCapacity));  // every unit came back
  sem.release(kCapacity);
}

// Capacity 10, all held. A waits for 8 (head), then B for 1. Releasing 3 frees 3: B's 1
// would fit but A is ahead, so nobody is served. Releasing 5 more serves A; B still
// waits (nothing left). When A gives back its 8, B is served.
TEST(Semaphore, LargeWaiterAtTheHeadHoldsBackSmallerOnes) {
  goro::Semaphore sem(10);
  sem.acquire(10);
  goro::run([&] {
    goro::Chan<char> served(2);
    goro::WaitGroup a_release;
    a_release.add(1);
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      sem.acquire(8);
      served.send('A');
      a_release.wait();
      sem.release(8);
      wg.done();
    });
    await_parked(kSemReason, 1);
    goro::go([&] {
      sem.acquire(1);
      served.send('B');
      sem.release(1);
      wg.done();
    });
    await_parked(kSemReason, 2);

    sem.release(3);  // 3 free; A (8) first in line
    EXPECT_EQ(gt::goroutines_waiting(kSemReason), 2);
    EXPECT_FALSE(sem.try_acquire(1));  // waiters queued: no overtaking, even by try
    EXPECT_EQ(served.size(), 0u);

    sem.release(5);  // 8 free: A is served, B (1) finds nothing left
    EXPECT_EQ(gt::goroutines_waiting(kSemReason), 1);
    EXPECT_EQ(served.recv(), 'A');
    EXPECT_FALSE(sem.try_acquire(1));

    a_release.done();  // A gives back 8: B is served
    EXPECT_EQ(served.recv(), 'B');
    wg.wait();
    EXPECT_EQ(served.size(), 0u);
  });
  sem.release(2);  // the 2 still held from the first acquire(10)
  EXPECT_TRUE(sem.try_acquire(10));
  sem.release(10);
}

// Waiters are served strictly in arrival order when each needs the whole capacity.
TEST(Semaphore, WaitersAreServedInArrivalOrder) {
  constexpr int kN = 10;
  goro::Semaphore sem(3);
  sem.acquire(3);
  goro::run([&] {
    goro::Chan<int> order(kN);
    goro::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&, i] {
        sem.acquire(i % 2 == 0 ? 3 : 2);
        order.send(i);
        sem.release(i % 2 == 0 ? 3 : 2);
        wg.done();
      });
      await_parked(kSemReason, i + 1);
    }
    sem.release(3);
    wg.wait();
    for (int i = 0; i < kN; ++i) EXPECT_EQ(order.recv(), i);
  });
}

// One release can serve several waiters at once.
TEST(Semaphore, OneReleaseServesEveryWaiterThatFits) {
  goro::Semaphore sem(5);
  sem.acquire(5);
  goro::run([&] {
    goro::WaitGroup wg, hold;
    wg.add(4);
    hold.add(1);
    std::atomic<int> served{0};
    for (int i = 0; i < 4; ++i) {
      goro::go([&, i] {
        std::int64_t n = i < 3 ? 1 : 3;  // 1, 1, 1, then 3
        sem.acquire(n);
        served.fetch_add(1);
        hold.wait();  // keep the units until the counts are checked
        sem.release(n);
        wg.done();
      });
      await_parked(kSemReason, i + 1);
    }
    sem.release(4);  // 4 free: the three 1s are served; the 3 needs 3, 1 is left
    EXPECT_EQ(gt::goroutines_waiting(kSemReason), 1);
    sem.release(1);  // 2 free: still not enough for the 3
    EXPECT_EQ(gt::goroutines_waiting(kSemReason), 1);
    hold.done();  // the 1s give theirs back: the 3 is served
    wg.wait();
    EXPECT_EQ(served.load(), 4);
  });
  EXPECT_TRUE(sem.try_acquire(5));
  sem.release(5);
}

TEST(Semaphore, TryAcquire) {
  goro::Semaphore sem(4);
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_TRUE(sem.try_acquire(3));
  EXPECT_FALSE(sem.try_acquire());
  EXPECT_TRUE(sem.try_acquire(0));   // zero always fits while nobody waits
  EXPECT_FALSE(sem.try_acquire(5));  // more than the capacity: never, and no throw
  sem.release(2);
  EXPECT_FALSE(sem.try_acquire(3));
  EXPECT_TRUE(goro::run([&] { return sem.try_acquire(2); }));
  bool other = true;
  std::thread t([&] { other = sem.try_acquire(1); });
  t.join();
  EXPECT_FALSE(other);
  sem.release(4);
  EXPECT_TRUE(sem.try_acquire(4));
  sem.release(4);
}

TEST(Semaphore, ZeroCapacity) {
  goro::Semaphore sem(0);
  EXPECT_TRUE(sem.try_acquire(0));
  sem.acquire(0);
  EXPECT_FALSE(sem.try_acquire(1));
  EXPECT_THROW(sem.acquire(1), std::invalid_argument);
  sem.release(0);
}

TEST(Semaphore, GoroutinesAndThreadsWaitForEachOther) {
  goro::Semaphore sem(1);
  // A plain thread waits for a unit a goroutine holds across a park.
  goro::WaitGroup held, release, done;
  held.add(1);
  release.add(1);
  done.add(1);
  int value = 0;
  goro::go([&] {
    sem.acquire();
    held.done();
    release.wait();
    value = 1;
    sem.release();
    done.done();
  });
  held.wait();
  std::thread t([&] {
    sem.acquire();
    value += 10;
    sem.release();
  });
  release.done();
  t.join();
  done.wait();
  EXPECT_EQ(value, 11);
  // A goroutine waits for a unit this thread holds.
  sem.acquire();
  goro::WaitGroup got;
  got.add(1);
  goro::go([&] {
    sem.acquire();
    value += 100;
    sem.release();
    got.done();
  });
  await_parked(kSemReason, 1);
  value += 1000;
  sem.release();
  got.wait();
  EXPECT_EQ(value, 1111);
}

TEST(Semaphore, ImpossibleRequestsThrow) {
  EXPECT_THROW(goro::Semaphore(-1), std::invalid_argument);
  goro::Semaphore sem(3);
  try {
    sem.acquire(4);
    FAIL() << "acquire(4) of a capacity of 3 returned";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("exceeds the capacity"));
  }
  // Also when it would otherwise have to wait.
  sem.acquire(2);
  EXPECT_THROW(goro::run([&] { sem.acquire(100); }), std::invalid_argument);
  EXPECT_THROW(sem.acquire(-1), std::invalid_argument);
  EXPECT_THROW(sem.try_acquire(-1), std::invalid_argument);
  EXPECT_THROW(sem.release(-1), std::invalid_argument);
  // None of that changed the count.
  EXPECT_TRUE(sem.try_acquire(1));
  EXPECT_FALSE(sem.try_acquire(1));
  sem.release(3);
}

using ::testing::ExitedWithCode;

TEST(SemaphoreDeathTest, ReleaseMoreThanHeldIsFatal) {
  EXPECT_EXIT(
      {
        goro::Semaphore sem(5);
        sem.acquire(2);
        sem.release(3);
      },
      ExitedWithCode(2), "fatal error: semaphore: released more than held");
}

TEST(SemaphoreDeathTest, ReleaseWithoutAcquireInGoroutineIsFatal) {
  EXPECT_EXIT(goro::run([] {
                goro::Semaphore sem(1);
                sem.release();
              }),
              ExitedWithCode(2), "fatal error: semaphore: released more than held");
}

}  // namespace
