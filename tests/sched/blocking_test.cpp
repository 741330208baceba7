// blocking_test.cpp — goroutines that wait on the world without telling goro how
// (api.md "Runtime": goro::blocking; runtime.md "Blocking calls and stalls"): a
// blocking call hands its P to another thread, a goroutine that computes without a
// scheduling point does not starve the others of its P, and neither takes more
// threads than Options::max_threads.
//
// The tests never time anything: each one makes the other goroutines' progress the
// condition the blocking call (or the busy loop) waits for, so without the hand-off
// it would wait for ever at 1 P (and at n Ps with n such calls), and ctest's timeout
// would fail it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

// Outside the anonymous namespace, so that the stall report's traceback can name it
// (the tests are linked with -rdynamic).
namespace goro_stall_test {
__attribute__((noinline)) void spin_until(std::atomic<bool>& flag) {
  while (!flag.load(std::memory_order_acquire)) goro_test::cpu_pause();
  asm volatile("" ::: "memory");
}
}  // namespace goro_stall_test

namespace {

// A count that plain-thread code (inside goro::blocking) can wait on: the thread
// blocks on a std::condition_variable, which goro knows nothing of.
class Gate {
 public:
  void add(int n = 1) {
    std::lock_guard<std::mutex> lk(mu_);
    count_ += n;
    cv_.notify_all();
  }
  void wait_for(int n) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> lk(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

struct MoveOnly {
  std::unique_ptr<int> v;
};

TEST(Blocking, ReturnsWhatTheCallReturns) {
  goro::run([] {
    EXPECT_EQ(goro::blocking([] { return 7; }), 7);
    EXPECT_EQ(goro::blocking([] { return std::string("seven"); }), "seven");
    MoveOnly m = goro::blocking([] { return MoveOnly{std::make_unique<int>(8)}; });
    ASSERT_NE(m.v, nullptr);
    EXPECT_EQ(*m.v, 8);
    int x = 1;
    int& r = goro::blocking([&]() -> int& { return x; });
    EXPECT_EQ(&r, &x);
    int side = 0;
    goro::blocking([&] { side = 9; });
    EXPECT_EQ(side, 9);
  });
}

TEST(Blocking, RethrowsTheException) {
  goro::run([] {
    std::uint64_t id = gt::goroutine_id();
    try {
      goro::blocking([]() -> int { throw std::runtime_error("disk on fire"); });
      ADD_FAILURE() << "blocking did not rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "disk on fire");
    }
    // Still the same goroutine, still a goroutine.
    EXPECT_TRUE(goro::in_goroutine());
    EXPECT_EQ(gt::goroutine_id(), id);
  });
}

TEST(Blocking, InsideTheCallTheThreadIsAPlainThread) {
  goro::run([] {
    std::uint64_t id = gt::goroutine_id();
    bool inside = true;
    std::uint64_t inside_id = 1;
    bool nested = true;
    goro::blocking([&] {
      inside = goro::in_goroutine();
      inside_id = gt::goroutine_id();
      nested = goro::blocking([] { return goro::in_goroutine(); });
    });
    EXPECT_FALSE(inside);
    EXPECT_EQ(inside_id, 0u);
    EXPECT_FALSE(nested);
    EXPECT_TRUE(goro::in_goroutine());
    EXPECT_EQ(gt::goroutine_id(), id);
  });
}

TEST(Blocking, FromAPlainThreadJustCalls) {
  std::thread t([] { EXPECT_EQ(goro::blocking([] { return goro::in_goroutine() ? 1 : 2; }), 2); });
  t.join();
}

TEST(Blocking, GoroPrimitivesInsideBlockTheThread) {
  // A channel receive inside blocking waits as a plain thread's would; the goroutine
  // sending to it runs on the P that blocking gave up.
  goro::run([] {
    goro::Chan<int> ch;
    goro::go([ch]() mutable { ch.send(5); });
    int v = goro::blocking([&] { return *ch.recv(); });
    EXPECT_EQ(v, 5);
  });
}

// The case: one goroutine stuck in a blocking call, a thousand others that
// must make progress meanwhile. The call returns only once they all have.
TEST(Blocking, ThousandOthersProgressWhileOneBlocks) {
  const int kOthers = 1000;
  goro::run([&] {
    Gate progressed;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      goro::blocking([&] { progressed.wait_for(kOthers); });
      wg.done();
    });
    goro::Chan<int> relay(0);
    for (int i = 0; i < kOthers; ++i) {
      wg.add(1);
      goro::go([&] {
        goro::yield();  // scheduling points, and the P moving between goroutines
        progressed.add();
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(progressed.count(), kOthers);
  });
}

// One blocking call per P, plus this goroutine's own: more calls than Ps, all in
// progress at once, so at least one P must have been handed on; then every P is
// inside a call while a hundred others must run.
TEST(Blocking, EveryPBlockedAtOnce) {
  std::uint64_t handoffs = gt::blocking_handoffs();
  goro::run([] {
    const int n = goro::procs();
    Gate entered, others;
    goro::WaitGroup wg;
    for (int i = 0; i < n; ++i) {
      wg.add(1);
      goro::go([&] {
        goro::blocking([&] {
          entered.add();
          others.wait_for(100);
        });
        wg.done();
      });
    }
    goro::blocking([&] { entered.wait_for(n); });
    EXPECT_TRUE(gt::thread_p_matches());
    for (int i = 0; i < 100; ++i) {
      wg.add(1);
      goro::go([&] {
        // Run by threads that took the Ps handed on (sched.cpp: t_p).
        EXPECT_TRUE(gt::thread_p_matches());
        others.add();
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_GT(gt::blocking_handoffs(), handoffs);
}

// Many calls blocked at once, each waiting for all of them: needs that many threads,
// so Ps are handed on again and again, and the goroutines come back out on threads
// that found their P taken (exit without a P: queued, then resumed elsewhere).
TEST(Blocking, SixtyFourCallsBlockedTogether) {
  const int kCalls = 64;
  goro::run([&] {
    Gate entered;
    goro::WaitGroup wg;
    std::atomic<int> after{0};
    for (int i = 0; i < kCalls; ++i) {
      wg.add(1);
      goro::go([&] {
        std::uint64_t id = gt::goroutine_id();
        goro::blocking([&] {
          entered.add();
          entered.wait_for(kCalls);
        });
        // Back as the same goroutine, which can park and be woken as usual.
        EXPECT_EQ(gt::goroutine_id(), id);
        EXPECT_TRUE(goro::in_goroutine());
        // On whichever P it got back (its own, an idle one, or, queued, another
        // thread's), which the thread's copy names too (the switch path reads that).
        EXPECT_TRUE(gt::thread_p_matches());
        goro::yield();
        EXPECT_TRUE(gt::thread_p_matches());
        after.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(after.load(), kCalls);
  });
  EXPECT_GE(gt::threads_started(), kCalls);
}

TEST(Blocking, ErrnoSetInsideSurvivesTheReturn) {
  goro::run([] {
    goro::blocking([] { errno = ENOSPC; });
    EXPECT_EQ(errno, ENOSPC);
  });
}

TEST(Blocking, DumpShowsTheGoroutineInASyscall) {
  goro::run([] {
    Gate in_call, release;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      goro::blocking([&] {
        in_call.add();
        release.wait_for(1);
      });
      wg.done();
    });
    goro::blocking([&] { in_call.wait_for(1); });
    std::ostringstream out;
    goro::debug::dump(out);
    std::string dump = out.str();
    release.add();
    wg.wait();
    EXPECT_THAT(dump, ::testing::HasSubstr("[syscall]"));
  });
}

// A goroutine inside a blocking call may still wake the others: while it is there,
// every other goroutine asleep is not a deadlock. (The call sleeps as its subject,
// not to synchronise anything: a false report would exit 2 and fail the test.)
TEST(Blocking, NoDeadlockReportedWhileACallIsInProgress) {
  goro::run([] {
    goro::Chan<int> ch;
    goro::go([ch]() mutable {
      goro::blocking([] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); });
      ch.send(1);
    });
    EXPECT_EQ(ch.recv(), std::optional<int>(1));
  });
}

// --- stalls: a goroutine that never reaches a scheduling point ---

// Starts `count` goroutines that each count themselves in `spinning`, then spin with
// no scheduling point at all until `go_on` is set, then call wg.done().
void start_spinners(int count, std::atomic<bool>& go_on, std::atomic<int>& spinning,
                    goro::WaitGroup& wg) {
  for (int i = 0; i < count; ++i) {
    wg.add(1);
    goro::go([&] {
      spinning.fetch_add(1);
      goro_stall_test::spin_until(go_on);
      wg.done();
    });
  }
}

// Holds every P but the caller's with a spinner (start_spinners), once they all spin.
void hold_the_other_ps(std::atomic<bool>& go_on, goro::WaitGroup& wg) {
  const int others = goro::procs() - 1;
  std::atomic<int> spinning{0};  // each counts itself before it spins: then unused
  start_spinners(others, go_on, spinning, wg);
  while (spinning.load() < others) goro::yield();
}

// procs() goroutines spin (no scheduling point at all) until one more goroutine,
// which can only run on a P they all hold, sets a flag.
TEST(Stall, BusyLoopsDoNotStarveTheOthers) {
  goro::run([] {
    const int n = goro::procs();
    std::atomic<bool> go_on{false};
    std::atomic<int> spinning{0};
    goro::WaitGroup wg;
    start_spinners(n, go_on, spinning, wg);
    wg.add(1);
    goro::go([&] {
      go_on.store(true, std::memory_order_release);
      wg.done();
    });
    wg.wait();
  });
}

// At 1 P the spinner's own P holds the goroutine it waits for (in its runnext slot,
// where `go` puts it): the spare P must steal it from under a running owner.
TEST(Stall, BusyLoopWaitingForAGoroutineItStarted) {
  std::uint64_t lent = gt::spares_lent();
  std::atomic<bool> p_matches{false};
  goro::run([&] {
    std::atomic<bool> done{false};
    goro::go([&] {
      p_matches.store(gt::thread_p_matches(), std::memory_order_relaxed);  // maybe a spare
      done.store(true, std::memory_order_release);
    });
    while (!done.load(std::memory_order_acquire)) goro_test::cpu_pause();
    EXPECT_TRUE(gt::thread_p_matches());
  });
  EXPECT_TRUE(p_matches.load());
  EXPECT_TRUE(gt::thread_p_matches());  // a plain thread: no M, no P
  // With more Ps, an idle one's thread may steal it instead.
  if (goro::procs() == 1) {
    EXPECT_GT(gt::spares_lent(), lent);
  }
}

// The spinner keeps starting goroutines onto its own P while a spare P takes them
// from it (at 1 P, the run queue goes from lock-free-for-one to shared under it).
TEST(Stall, BusyLoopThatKeepsStartingGoroutines) {
  goro::run([] {
    std::atomic<int> ran{0};
    std::atomic<int> started{0};
    const int kWant = goro_test::kUnderSanitizer ? 200 : 2000;
    while (ran.load(std::memory_order_acquire) < kWant) {
      if (started.load(std::memory_order_relaxed) - ran.load(std::memory_order_relaxed) < 64) {
        started.fetch_add(1, std::memory_order_relaxed);
        goro::go([&] { ran.fetch_add(1, std::memory_order_release); });
      }
      goro_test::cpu_pause();
    }
    EXPECT_GE(started.load(), kWant);
    // Let the rest finish (the leak check would otherwise wait for them).
    while (ran.load() < started.load()) goro::yield();
  });
}

// A spinner that keeps up to 2,000 goroutines queued (its ring full, the rest spilled
// to the global queue) while a spare P takes them in half-ring steals and its own
// queue fills: every one runs exactly once.
TEST(Stall, SpinnerKeepingThousandsQueued) {
  const int kTotal = goro_test::kUnderSanitizer ? 20000 : 200000;
  goro::run([&] {
    std::vector<std::atomic<int>> runs(static_cast<std::size_t>(kTotal));
    std::atomic<int> ran{0};
    int started = 0;
    while (ran.load(std::memory_order_acquire) < kTotal) {
      if (started < kTotal && started - ran.load(std::memory_order_relaxed) < 2000) {
        goro::go([&, i = started] {
          runs[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
          goro::yield();  // and back through the spare's scheduler
          ran.fetch_add(1, std::memory_order_release);
        });
        ++started;
      } else {
        goro_test::cpu_pause();
      }
    }
    for (int i = 0; i < kTotal; ++i) ASSERT_EQ(runs[static_cast<std::size_t>(i)].load(), 1) << i;
  });
}

// Goroutines moved to a spare P take turns there as anywhere: two that yield to each
// other both make progress while the spinner holds the regular P.
TEST(Stall, GoroutinesOnTheSpareTakeTurns) {
  goro::run([] {
    std::atomic<bool> go_on{false};
    goro::WaitGroup wg;
    hold_the_other_ps(go_on, wg);
    // Two goroutines that can only finish together, each yielding while it waits.
    std::atomic<int> a{0}, b{0};
    wg.add(2);
    goro::go([&] {
      for (int i = 0; i < 100; ++i) {
        a.store(i + 1);
        while (b.load() < i + 1) goro::yield();
      }
      wg.done();
    });
    goro::go([&] {
      for (int i = 0; i < 100; ++i) {
        b.store(i + 1);
        while (a.load() < i + 1) goro::yield();
      }
      go_on.store(true, std::memory_order_release);
      wg.done();
    });
    while (!go_on.load(std::memory_order_acquire)) goro_test::cpu_pause();
    wg.wait();
  });
}

// The spare P lent to a stalled P takes from it a goroutine that spins too: the one
// still queued behind it (in the stalled P's runnext slot) must get another spare, and
// so must goroutines queued on a spare that spins. `go` puts the newest goroutine in
// runnext and pushes the one there to the ring: the first spare steals `blocker` from
// the ring, and `waker`, which alone can release it, stays in runnext. (Before spares
// were lent a second time, or stolen from, this hung: CI saw it once under TSan.
// The failure it guards against is that hang, which ctest's timeout reports; how many
// spares it takes varies: one still lent from an earlier test may serve first.)
TEST(Stall, SpareThatTakesASpinnerGetsHelpInTurn) {
  goro::run([] {
    std::atomic<bool> go_on{false};
    goro::WaitGroup wg;
    hold_the_other_ps(go_on, wg);
    std::atomic<bool> released{false};
    wg.add(2);
    goro::go([&] {  // blocker
      goro_stall_test::spin_until(released);
      wg.done();
    });
    goro::go([&] {  // waker
      released.store(true, std::memory_order_release);
      wg.done();
    });
    goro_stall_test::spin_until(released);  // no scheduling point: this P stalls
    go_on.store(true, std::memory_order_release);
    wg.wait();
  });
}

// Goroutines queued on a spare P whose own goroutine spins still run: a regular P's
// thread steals them, or (at 1 P) another spare is lent to the stuck one. The first
// spare steals two of the stalled P's ring [waker, blocker, quick] and runs the
// second; the blocker frees the P held by `holder`, and spins until the waker, left
// on the spare's queue, releases it. (CI once saw this hang under TSan: a spinner
// started for another P ran on a spare instead, with work queued behind it.)
TEST(Stall, GoroutinesQueuedOnASpinningSpareStillRun) {
  goro::run([] {
    const int n = goro::procs();
    std::atomic<bool> go_on{false}, holder_go_on{false}, released{false};
    std::atomic<int> spinning{0};
    goro::WaitGroup wg;
    start_spinners(n - 2, go_on, spinning, wg);  // none at 1 or 2 Ps
    if (n >= 2) start_spinners(1, holder_go_on, spinning, wg);
    while (spinning.load() < n - 1) goro::yield();
    wg.add(4);
    goro::go([&] {  // waker
      released.store(true, std::memory_order_release);
      wg.done();
    });
    goro::go([&] {  // blocker
      holder_go_on.store(true, std::memory_order_release);
      goro_stall_test::spin_until(released);
      wg.done();
    });
    goro::go([&] { wg.done(); });           // quick
    goro::go([&] { wg.done(); });           // in runnext
    goro_stall_test::spin_until(released);  // no scheduling point: this P stalls
    go_on.store(true, std::memory_order_release);
    holder_go_on.store(true, std::memory_order_release);
    wg.wait();
  });
}

// A spare P still lent after its ward went idle: the spinner it took from its ward
// holds it, and starts the one goroutine that can stop it only once the lone regular P
// is idle, so that goroutine waits on the spare's queue with no M looking for work.
// The monitor must stay awake while a spare is lent, and wake the idle P's M, which
// takes from the spare's queue. (Before, the monitor slept once every regular P was
// idle, and this hung.) At 1 P only: with more, the spinner may be stolen by a regular
// P instead of a spare, and then no P need ever go idle.
TEST(Stall, SpareStillLentAfterItsWardWentIdle) {
  if (goro::procs() != 1) GTEST_SKIP() << "the scenario needs the lone P to go idle (1 P)";
  std::uint64_t lent = gt::spares_lent();
  goro::run([] {
    std::atomic<bool> released{false}, spinner_started{false};
    goro::WaitGroup wg;
    wg.add(4);
    goro::go([&] {  // spinner: the spare steals it from the ring
      spinner_started.store(true, std::memory_order_release);
      // Until the lone regular P's M has gone idle. (In a process that ran other tests
      // first, a spare left from them may run the main goroutine, and this one the
      // regular P: then there is nothing to wait for.)
      while (gt::on_spare_p() && gt::idle_ps() == 0) goro_test::cpu_pause();
      goro::go([&] {  // onto the spare's queue
        released.store(true, std::memory_order_release);
        wg.done();
      });
      goro_stall_test::spin_until(released);
      wg.done();
    });
    goro::go([&] { wg.done(); });                  // on the ring behind the spinner
    goro::go([&] { wg.done(); });                  // in runnext
    goro_stall_test::spin_until(spinner_started);  // stalls this P until a spare runs it
    wg.wait();  // parks: this P runs what is left here, then has nothing
  });
  EXPECT_GT(gt::spares_lent(), lent);  // the spinner ran on a spare, as the test means
}

// A timer due on the spinner's P fires anyway: its sleeper runs elsewhere.
TEST(Stall, TimersOfABusyPStillFire) {
  goro::run([] {
    const int n = goro::procs();
    std::atomic<bool> go_on{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      goro::sleep_for(std::chrono::milliseconds(1));
      go_on.store(true, std::memory_order_release);
      wg.done();
    });
    for (int i = 0; i < n; ++i) {
      wg.add(1);
      goro::go([&] {
        while (!go_on.load(std::memory_order_acquire)) goro_test::cpu_pause();
        wg.done();
      });
    }
    wg.wait();
  });
}

// GORO_STALL_REPORT=1: the stall is reported once, from the stalled goroutine's own
// thread, with its id and its stack.
TEST(Stall, ReportNamesTheGoroutineAndItsStack) {
  if (goro_test::kUnderTsan)
    GTEST_SKIP() << "TSan defers an asynchronous signal to the thread's next intercepted "
                    "call, which a spinning goroutine never makes";
  EXPECT_EXIT(
      {
        setenv("GORO_STALL_REPORT", "1", 1);
        goro::run([] {
          std::atomic<bool> done{false};
          std::printf("test: id=%llu\n", static_cast<unsigned long long>(gt::goroutine_id()));
          std::fflush(stdout);
          std::fprintf(stderr, "test: id=%llu\n",
                       static_cast<unsigned long long>(gt::goroutine_id()));
          // Every P busy spinning (with more than one P, an idle one would take the
          // goroutine that ends the spin, and nothing would stall).
          std::atomic<int> spinning{0};
          goro::WaitGroup wg;
          start_spinners(goro::procs() - 1, done, spinning, wg);
          while (spinning.load() < goro::procs() - 1) goro::yield();
          goro::go([&] { done.store(true, std::memory_order_release); });
          goro_stall_test::spin_until(done);
          wg.wait();
        });
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      ::testing::AllOf(::testing::HasSubstr("goro: stall: goroutine"),
                       ::testing::HasSubstr("without a scheduling point"),
                       ::testing::HasSubstr("[running]"),
                       // Under a sanitizer any goroutine may be the first to hold its
                       // P for 10 ms (even one inside the runtime), and only the first
                       // stall is reported; without one, it is a spinner.
                       ::testing::HasSubstr(goro_test::kUnderSanitizer ? "+0x" : "spin_until")));
}

}  // namespace
