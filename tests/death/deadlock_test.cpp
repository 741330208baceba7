// deadlock_test.cpp — deadlock detection (runtime.md "Deadlock detection"): when every
// goroutine is blocked and nothing can wake one, goro prints
// "fatal error: all goroutines are asleep - deadlock!" and the goroutine dump, and
// exits 2, as Go does. The negative controls look like deadlocks for a while but are
// not (a plain thread that is not blocked in goro can still wake the goroutines), and
// must finish normally. Sockets: a goroutine waiting on the network may still be
// woken, and stops counting once it is not waiting any more.
//
// Each EXPECT_EXIT runs in a fresh child process (support/main.cpp's "threadsafe"
// death-test style), whose only threads are the test's own and goro's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "goro/detail/testing.h"
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

TEST(Deadlock, ReportedOnceTheLastSocketWaiterIsGone) {
  // A goroutine waits on a socket (the poller may wake it: no deadlock), then the
  // socket is closed under it and it waits on a channel nobody sends to. The M blocked
  // in the poller must notice that nobody waits on the network any more.
  EXPECT_EXIT(goro::run([] {
                goro::net::Listener ln = goro::net::listen("127.0.0.1:0");
                goro::net::Conn c = goro::net::dial(ln.addr().to_string());
                goro::net::Conn s = ln.accept();
                goro::Chan<int> never;
                goro::go([&s, never] {
                  char b[1];
                  try {
                    s.read(b);
                  } catch (const goro::net::Error&) {
                  }
                  never.recv();
                });
                while (goro::detail::testing::io_waiters() == 0) goro::yield();
                s.close();
                never.recv();
              }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[chan receive]")));
}

TEST(Deadlock, ReportedWhileAnotherThreadIsBlockedInThePoller) {
  // As above, from a plain thread, with one M blocked in the poller when the socket
  // is closed and another M about: the blocked M must leave the poller once nobody
  // waits on the network (woken by new work or by the last waiter leaving), or it
  // would hide the deadlock. Needs two Ms, so two Ps.
  if (goro::procs() < 2) GTEST_SKIP() << "needs two Ps";
  EXPECT_EXIT(
      {
        // Two Ms: two goroutines that can only finish while running at the same time.
        std::atomic<int> arrived{0};
        goro::WaitGroup both;
        both.add(2);
        for (int i = 0; i < 2; ++i) {
          goro::go([&] {
            arrived.fetch_add(1);
            while (arrived.load() < 2) {
            }
            both.done();
          });
        }
        both.wait();
        goro::net::Listener ln = goro::net::listen("127.0.0.1:0");
        goro::net::Conn c = goro::net::dial(ln.addr().to_string());
        goro::net::Conn s = ln.accept();
        goro::Chan<int> never;
        goro::go([&s, never] {
          char b[1];
          try {
            s.read(b);
          } catch (const goro::net::Error&) {
          }
          never.recv();
        });
        while (goro::detail::testing::io_waiters() == 0 ||
               !goro::detail::testing::netpoll_blocked())
          std::this_thread::yield();
        s.close();
        never.recv();
      },
      ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[chan receive]")));
}

// Negative controls: not deadlocks, must not be reported.

// Forks a process that connects to 127.0.0.1:port 50 ms later and writes "x".
pid_t connect_later(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  pid_t child = ::fork();
  if (child != 0) return child;
  // The child: async-signal-safe calls only.
  struct timespec ts {
    0, 50000000
  };
  ::nanosleep(&ts, nullptr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(1);
  ::_exit(::write(fd, "x", 1) == 1 ? 0 : 1);
}

TEST(Deadlock, WaitingOnTheNetworkNotReported) {
  // Every thread of the process is blocked in goro (a goroutine in accept, the main
  // thread in run), but a connection will come from another process. The 50 ms only
  // widens the window in which a false report would happen.
  EXPECT_EXIT(
      {
        goro::net::Listener ln = goro::net::listen("127.0.0.1:0");
        pid_t child = connect_later(ln.addr().port);
        char got = 0;
        goro::run([&] {
          goro::net::Conn c = ln.accept();
          c.read(std::span<char>(&got, 1));
        });
        int status = 0;
        ::waitpid(child, &status, 0);
        std::exit(got == 'x' && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
      },
      ExitedWithCode(0), "");
}

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
