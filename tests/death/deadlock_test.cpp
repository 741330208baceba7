// deadlock_test.cpp — deadlock detection (runtime.md "Deadlock detection"): when every
// goroutine is blocked and nothing can wake one, goro prints
// "fatal error: all goroutines are asleep - deadlock!" and the goroutine dump, and
// exits 2, as Go does. The negative controls look like deadlocks for a while but are
// not (a plain thread that is not blocked in goro can still wake the goroutines), and
// must finish normally.
//
// Each EXPECT_EXIT runs in a fresh child process (support/main.cpp's "threadsafe"
// death-test style), whose only threads are the test's own and goro's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "goro/goro.h"
#include "support/support.h"

namespace {

using ::testing::AllOf;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;

constexpr const char* kDeadlock = "fatal error: all goroutines are asleep - deadlock!";

// Positive: deadlocks that must be reported.

TEST(Deadlock, ReceiveNobodySendsIsReported) {
  EXPECT_EXIT(goro::run([] {
                goro::Chan<int> ch;
                ch.recv();
              }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[chan receive]")));
}

TEST(Deadlock, GoroutinesWaitingOnEachOtherAreReported) {
  // Two goroutines each wait to receive from the other before sending; main waits
  // for both on a WaitGroup from its plain thread.
  EXPECT_EXIT(
      {
        goro::Chan<int> a;
        goro::Chan<int> b;
        goro::WaitGroup wg;
        wg.add(2);
        goro::go([&] {
          a.recv();
          b.send(1);
          wg.done();
        });
        goro::go([&] {
          b.recv();
          a.send(1);
          wg.done();
        });
        wg.wait();
      },
      ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[chan receive]")));
}

TEST(Deadlock, EmptySelectAndSelfLockedMutexAreReported) {
  EXPECT_EXIT(
      goro::run([] {
        goro::Mutex mu;
        goro::go([&] { goro::select(); });
        mu.lock();
        mu.lock();  // Go's sync.Mutex is not recursive: this waits for ever
      }),
      ExitedWithCode(2),
      AllOf(HasSubstr(kDeadlock), HasSubstr("[select (no cases)]"), HasSubstr("[sync.Mutex]")));
}

TEST(Deadlock, PlainThreadAloneOnAChannelIsReported) {
  // No goroutine at all: the main thread blocks on a channel nobody else can reach.
  EXPECT_EXIT(
      {
        goro::Chan<int> ch(1);
        ch.send(1);
        ch.send(2);  // full
      },
      ExitedWithCode(2), HasSubstr(kDeadlock));
}

// Negative controls: not deadlocks, must not be reported.

TEST(Deadlock, ThreadOutsideGoroCanStillWakeNotReported) {
  // Every goroutine and the main thread are blocked for a while, but another plain
  // thread, busy outside goro, will send. The 50 ms only widens the window in which
  // a false report would happen; the test's outcome does not depend on it.
  EXPECT_EXIT(
      {
        goro::Chan<int> ch;
        std::thread t([ch] {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          ch.send(7);
        });
        int v = goro::run([ch] { return *ch.recv(); });
        t.join();
        std::exit(v == 7 ? 0 : 1);
      },
      ExitedWithCode(0), "");
}

TEST(Deadlock, MutexHeldByBusyThreadNotReported) {
  EXPECT_EXIT(
      {
        goro::Mutex mu;
        std::atomic<bool> locked{false};
        std::thread t([&] {
          mu.lock();
          locked = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          mu.unlock();
        });
        while (!locked) std::this_thread::yield();
        goro::run([&] {
          mu.lock();  // parks until the thread unlocks
          mu.unlock();
        });
        t.join();
        std::exit(0);
      },
      ExitedWithCode(0), "");
}

TEST(Deadlock, ThreadsWaitingOnABusyThreadNotReported) {
  // Goroutines wait on a plain thread blocked in goro, which in turn waits on a
  // plain thread that is computing: the chain ends in a thread that can act.
  EXPECT_EXIT(
      {
        goro::Chan<int> first;
        goro::Chan<int> second;
        std::thread waiter([&] { second.send(*first.recv() + 1); });
        std::thread busy([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          first.send(1);
        });
        int v = goro::run([&] {
          goro::WaitGroup wg;
          wg.add(1);
          int got = 0;
          goro::go([&] {
            got = *second.recv();
            wg.done();
          });
          wg.wait();
          return got;
        });
        waiter.join();
        busy.join();
        std::exit(v == 2 ? 0 : 1);
      },
      ExitedWithCode(0), "");
}

}  // namespace
