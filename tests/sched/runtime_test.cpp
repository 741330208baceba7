// runtime_test.cpp — the runtime calls of api.md "Runtime": go, run, yield,
// num_goroutines, procs, in_goroutine, from goroutines and from plain threads; spawning
// at scale; stacks that grow on demand; goroutine ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
using goro_test::scaled;

namespace {

constexpr std::chrono::milliseconds kLong{10000};

struct MyError : std::runtime_error {
  explicit MyError(const std::string& s, int c) : std::runtime_error(s), code(c) {}
  int code;
};

// ---------------------------------------------------------------------------
// go: arguments are evaluated and copied at the call, as Go's `go f(x)`.

TEST(Go, ArgumentsAreCopiedAtTheCall) {
  goro::run([] {
    goro::WaitGroup gate, done;
    gate.add(1);
    done.add(1);
    std::string s = "before";
    int n = 1;
    std::vector<int> v{1, 2, 3};
    std::string seen_s;
    int seen_n = 0;
    std::vector<int> seen_v;
    goro::go(
        [&](std::string a, int b, std::vector<int> c) {
          gate.wait();  // runs only after the caller changed its copies
          seen_s = a;
          seen_n = b;
          seen_v = c;
          done.done();
        },
        s, n, v);
    s = "after";
    n = 2;
    v.push_back(4);
    gate.done();
    done.wait();
    EXPECT_EQ(seen_s, "before");
    EXPECT_EQ(seen_n, 1);
    EXPECT_EQ(seen_v, (std::vector<int>{1, 2, 3}));
  });
}

TEST(Go, ArgumentsAreCopiedFromPlainThreadToo) {
  goro::WaitGroup gate, done;
  gate.add(1);
  done.add(1);
  std::string s = "before";
  std::string seen;
  goro::go(
      [&](const std::string& a) {  // a refers to the goroutine's own copy
        gate.wait();
        seen = a;
        done.done();
      },
      s);
  s = "after";
  gate.done();
  done.wait();
  EXPECT_EQ(seen, "before");
}

TEST(Go, CallableIsCopiedAtTheCall) {
  goro::WaitGroup gate, done;
  gate.add(1);
  done.add(1);
  int seen = 0;
  struct Fn {
    int value;
    goro::WaitGroup* gate;
    goro::WaitGroup* done;
    int* out;
    void operator()() const {
      gate->wait();
      *out = value;
      done->done();
    }
  } fn{7, &gate, &done, &seen};
  goro::go(fn);
  fn.value = 8;
  gate.done();
  done.wait();
  EXPECT_EQ(seen, 7);
}

int g_free_function_result = 0;
void free_function(int a, int b, goro::WaitGroup* wg) {
  g_free_function_result = a * b;
  wg->done();
}

TEST(Go, FunctionPointerWithArguments) {
  goro::WaitGroup wg;
  wg.add(1);
  goro::go(&free_function, 6, 7, &wg);
  wg.wait();
  EXPECT_EQ(g_free_function_result, 42);
  g_free_function_result = 0;
  wg.add(1);
  goro::go(free_function, 3, 5, &wg);  // function decays to a pointer
  wg.wait();
  EXPECT_EQ(g_free_function_result, 15);
}

TEST(Go, MoveOnlyArgumentsAndCallables) {
  goro::run([] {
    goro::WaitGroup wg;
    wg.add(2);
    auto p = std::make_unique<int>(7);
    int got_arg = 0;
    goro::go(
        [&](std::unique_ptr<int> q) {
          got_arg = *q;
          wg.done();
        },
        std::move(p));
    EXPECT_EQ(p, nullptr);  // moved into the goroutine at the call

    auto captured = std::make_unique<std::string>("moved");
    std::string got_capture;
    goro::go([&, c = std::move(captured)] {
      got_capture = *c;
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(got_arg, 7);
    EXPECT_EQ(got_capture, "moved");
  });
}

TEST(Go, LargeCapturesAndArguments) {
  goro::run([] {
    std::array<std::uint64_t, 64> big{};  // 512 bytes: far beyond any inline buffer
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = i * 3 + 1;
    std::array<char, 1000> big_arg{};
    for (std::size_t i = 0; i < big_arg.size(); ++i) big_arg[i] = char('a' + i % 26);
    goro::WaitGroup wg;
    wg.add(1);
    bool capture_ok = false, arg_ok = false;
    goro::go(
        [&wg, &capture_ok, &arg_ok, big](const std::array<char, 1000>& a) {
          capture_ok = true;
          for (std::size_t i = 0; i < big.size(); ++i)
            capture_ok = capture_ok && big[i] == i * 3 + 1;
          arg_ok = true;
          for (std::size_t i = 0; i < a.size(); ++i) arg_ok = arg_ok && a[i] == char('a' + i % 26);
          wg.done();
        },
        big_arg);
    big.fill(0);
    big_arg.fill(0);
    wg.wait();
    EXPECT_TRUE(capture_ok);
    EXPECT_TRUE(arg_ok);
  });
}

TEST(Go, ClosureIsDestroyedAfterTheGoroutineReturns) {
  // Small (inline) and large (heap) closures both release what they hold.
  auto token = std::make_shared<int>(1);
  std::int64_t base = goro::num_goroutines();
  goro::WaitGroup wg;
  wg.add(2);
  goro::go([&wg, token] { wg.done(); });
  std::array<char, 256> pad{};
  goro::go([&wg, token, pad] {
    (void)pad;
    wg.done();
  });
  wg.wait();
  ASSERT_TRUE(gt::wait_goroutines_at_most(base, kLong));
  EXPECT_EQ(token.use_count(), 1);
}

struct ThrowOnCopy {
  ThrowOnCopy() = default;
  ThrowOnCopy(const ThrowOnCopy&) { throw std::runtime_error("copy failed"); }
};

TEST(Go, ThrowingArgumentCopyStartsNothing) {
  std::int64_t base = goro::num_goroutines();
  ThrowOnCopy t;
  bool ran = false;
  EXPECT_THROW(goro::go([&ran](const ThrowOnCopy&) { ran = true; }, t), std::runtime_error);
  std::array<char, 512> pad{};
  EXPECT_THROW(goro::go([&ran, pad](const ThrowOnCopy&) { ran = pad[0] != 0; }, t),
               std::runtime_error);
  EXPECT_EQ(goro::num_goroutines(), base);
  // The runtime still works afterwards.
  EXPECT_EQ(goro::run([] { return 5; }), 5);
  EXPECT_FALSE(ran);
}

// ---------------------------------------------------------------------------
// run

TEST(Run, ReturnsTheValue) {
  EXPECT_EQ(goro::run([] { return 42; }), 42);
  EXPECT_EQ(goro::run([] { return std::string("forty-two"); }), "forty-two");
  std::unique_ptr<int> p = goro::run([] { return std::make_unique<int>(9); });
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);
  int side = 0;
  goro::run([&] { side = 3; });
  EXPECT_EQ(side, 3);
}

TEST(Run, RethrowsTheException) {
  try {
    goro::run([]() -> int { throw MyError("from run", 17); });
    FAIL() << "run did not rethrow";
  } catch (const MyError& e) {
    EXPECT_STREQ(e.what(), "from run");
    EXPECT_EQ(e.code, 17);
  }
  EXPECT_THROW(goro::run([] { throw 5; }), int);
  // The exception was thrown and caught on a goroutine stack, then rethrown here.
  EXPECT_EQ(std::current_exception(), nullptr);
}

TEST(Run, ExceptionAfterParkingIsRethrown) {
  try {
    goro::run([] {
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&] { wg.done(); });
      wg.wait();  // may resume on another thread
      throw MyError("after park", 3);
    });
    FAIL() << "run did not rethrow";
  } catch (const MyError& e) {
    EXPECT_STREQ(e.what(), "after park");
  }
}

TEST(Run, NestedRunFromAGoroutine) {
  int r = goro::run([] {
    std::uint64_t outer = gt::goroutine_id();
    int inner = goro::run([outer] {
      EXPECT_TRUE(goro::in_goroutine());
      EXPECT_NE(gt::goroutine_id(), outer);
      return goro::run([] { return 40; }) + 1;
    });
    EXPECT_EQ(gt::goroutine_id(), outer);
    return inner + 1;
  });
  EXPECT_EQ(r, 42);
  // An exception crosses two nested runs.
  EXPECT_THROW(goro::run([] { goro::run([] { throw MyError("deep", 1); }); }), MyError);
}

TEST(Run, FromManyPlainThreadsAtOnce) {
  constexpr int kThreads = 4;
  std::array<int, kThreads> results{};
  goro_test::on_threads(kThreads, [&](int t) {
    for (int i = 0; i < 50; ++i) {
      int v = goro::run([t, i] {
        goro::yield();
        return t * 1000 + i;
      });
      if (v == t * 1000 + i) ++results[std::size_t(t)];
    }
  });
  for (int r : results) EXPECT_EQ(r, 50);
}

// ---------------------------------------------------------------------------
// yield

TEST(Yield, LetsOtherGoroutinesRun) {
  // At 1 P the other goroutine can only run if yield gives it the thread.
  goro::run([] {
    std::atomic<bool> other_ran{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      other_ran.store(true);
      wg.done();
    });
    std::uint64_t me = gt::goroutine_id();
    long spins = 0;
    constexpr long kCap = 10'000'000;
    while (!other_ran.load() && spins < kCap) {
      goro::yield();
      ++spins;
    }
    EXPECT_TRUE(other_ran.load()) << "yield never let the other goroutine run";
    EXPECT_EQ(gt::goroutine_id(), me);
    EXPECT_TRUE(goro::in_goroutine());
    wg.wait();
  });
}

TEST(Yield, ManyGoroutinesTakeTurns) {
  // Each of n goroutines yields until every one has started: at 1 P this needs every
  // yield to pass the thread on.
  goro::run([] {
    constexpr int kN = 16;
    std::atomic<int> started{0};
    std::atomic<int> finished{0};
    goro::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&] {
        started.fetch_add(1);
        long spins = 0;
        while (started.load() < kN && spins < 10'000'000) {
          goro::yield();
          ++spins;
        }
        if (started.load() == kN) finished.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(finished.load(), kN);
  });
}

// At 1 P, goroutines that only yield take turns in a fixed rotation: each yield goes
// behind the others (with nothing else queued, a yielder waits in the P's runnext
// slot rather than the ring, and must still come after every other goroutine). Two
// goroutines alternate strictly; three go round in one order.
TEST(Yield, TurnsRotateInOrderAtOneP) {
  if (goro::procs() != 1) GTEST_SKIP() << "the order is fixed only at 1 P";
  for (int n : {2, 3}) {
    constexpr int kTurns = 200;
    std::vector<int> log;
    goro::run([&] {
      goro::WaitGroup wg;
      wg.add(n);
      for (int i = 0; i < n; ++i) {
        goro::go([&, i] {
          for (int t = 0; t < kTurns; ++t) {
            log.push_back(i);  // one thread: the turns never overlap
            goro::yield();
          }
          wg.done();
        });
      }
      wg.wait();
    });
    ASSERT_EQ(log.size(), std::size_t(n * kTurns));
    std::vector<int> first(log.begin(), log.begin() + n);
    std::sort(first.begin(), first.end());
    for (int i = 0; i < n; ++i) EXPECT_EQ(first[std::size_t(i)], i) << n << " goroutines";
    for (std::size_t k = std::size_t(n); k < log.size(); ++k)
      ASSERT_EQ(log[k], log[k - std::size_t(n)]) << "turn " << k << " of " << n << " goroutines";
  }
}

TEST(Yield, FromAPlainThreadReturns) {
  EXPECT_FALSE(goro::in_goroutine());
  for (int i = 0; i < 10; ++i) goro::yield();
  std::thread t([] { goro::yield(); });
  t.join();
  SUCCEED();
}

// ---------------------------------------------------------------------------
// num_goroutines, procs, in_goroutine

TEST(NumGoroutines, CountsLiveGoroutines) {
  const std::int64_t n = scaled(1000);
  std::int64_t base = goro::num_goroutines();
  EXPECT_GE(base, 0);
  goro::WaitGroup gate, started, finished;
  gate.add(1);
  started.add(n);
  finished.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    goro::go([&] {
      started.done();
      gate.wait();
      finished.done();
    });
  }
  started.wait();
  EXPECT_EQ(goro::num_goroutines(), base + n);
  gate.done();
  EXPECT_TRUE(gt::wait_goroutines_at_most(base, kLong));
  EXPECT_EQ(goro::num_goroutines(), base);
  // The count says nothing about memory order: wait for the goroutines to be done
  // with gate (on this frame) before the frame goes.
  finished.wait();
}

TEST(NumGoroutines, IncludesTheCaller) {
  std::int64_t base = goro::num_goroutines();
  EXPECT_EQ(goro::run([] { return goro::num_goroutines(); }), base + 1);
}

TEST(Procs, MatchesGoroProcsEnvironment) {
  int want = goro_test::env_procs();
  int got = goro::procs();
  EXPECT_GE(got, 1);
  if (want > 0) {
    EXPECT_EQ(got, want);
    EXPECT_EQ(goro::current_options().procs, want);
  }
  EXPECT_EQ(goro::run([] { return goro::procs(); }), got);
}

TEST(Configure, AfterStartThrows) {
  (void)goro::procs();  // the runtime is running
  EXPECT_THROW(goro::configure(goro::Options{}), std::logic_error);
}

TEST(InGoroutine, TrueOnlyInGoroutines) {
  EXPECT_FALSE(goro::in_goroutine());
  EXPECT_EQ(gt::goroutine_id(), 0u);
  EXPECT_EQ(gt::thread_index(), -1);
  EXPECT_TRUE(goro::run([] { return goro::in_goroutine(); }));
  EXPECT_NE(goro::run([] { return gt::goroutine_id(); }), 0u);
  EXPECT_GE(goro::run([] { return gt::thread_index(); }), 0);
  bool in_thread = true;
  std::thread t([&] { in_thread = goro::in_goroutine(); });
  t.join();
  EXPECT_FALSE(in_thread);
  goro::WaitGroup wg;
  wg.add(1);
  bool in_go = false;
  goro::go([&] {
    in_go = goro::in_goroutine();
    wg.done();
  });
  wg.wait();
  EXPECT_TRUE(in_go);
}

// ---------------------------------------------------------------------------
// Spawning at scale

TEST(Spawn, FromManyPlainThreadsAtOnce) {
  constexpr int kThreads = 4;
  const std::int64_t per_thread = scaled(40000) / kThreads;  // 10,000 each
  const std::int64_t total = per_thread * kThreads;
  std::vector<std::atomic<std::uint8_t>> ran(static_cast<std::size_t>(total));
  goro::WaitGroup wg;
  wg.add(total);
  goro_test::on_threads(kThreads, [&](int t) {
    for (std::int64_t i = 0; i < per_thread; ++i) {
      goro::go(
          [&ran, &wg](std::size_t slot) {
            ran[slot].fetch_add(1, std::memory_order_relaxed);
            wg.done();
          },
          static_cast<std::size_t>(t * per_thread + i));
    }
  });
  wg.wait();
  std::int64_t once = 0;
  for (auto& r : ran) once += r.load() == 1;
  EXPECT_EQ(once, total);
}

TEST(Spawn, HundredThousandGoroutinesDoALittleWork) {
  const std::int64_t n = scaled(100000);
  std::vector<std::uint64_t> out(static_cast<std::size_t>(n));
  goro::run([&] {
    goro::WaitGroup wg;
    for (std::int64_t i = 0; i < n; ++i) {
      wg.add(1);
      goro::go(
          [&out, &wg](std::uint64_t k) {
            std::uint64_t x = k;
            for (int j = 0; j < 16; ++j) x = x * 6364136223846793005ull + 1442695040888963407ull;
            out[k] = x;
            wg.done();
          },
          static_cast<std::uint64_t>(i));
    }
    wg.wait();
  });
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t x = static_cast<std::uint64_t>(i);
    for (int j = 0; j < 16; ++j) x = x * 6364136223846793005ull + 1442695040888963407ull;
    right += out[static_cast<std::size_t>(i)] == x;
  }
  EXPECT_EQ(right, n);
}

TEST(Spawn, GoroutinesSpawnGoroutines) {
  // A binary tree of goroutines, each spawning two children until a depth.
  constexpr int kDepth = goro_test::kUnderTsan ? 10 : 14;
  std::atomic<std::int64_t> leaves{0};
  goro::WaitGroup wg;
  struct Tree {
    static void grow(int depth, std::atomic<std::int64_t>* leaves, goro::WaitGroup* wg) {
      if (depth == 0) {
        leaves->fetch_add(1);
      } else {
        wg->add(2);
        goro::go(&Tree::grow, depth - 1, leaves, wg);
        goro::go(&Tree::grow, depth - 1, leaves, wg);
      }
      wg->done();
    }
  };
  wg.add(1);
  goro::go(&Tree::grow, kDepth, &leaves, &wg);
  wg.wait();
  EXPECT_EQ(leaves.load(), std::int64_t(1) << kDepth);
}

// G records are reused in address order (sched.cpp G1), whatever order the goroutines
// that held them ended in, so a burst of new goroutines gets neighbouring records.
// Handed out in the order they were freed, a burst's records were scattered over all of
// them (docs/design.md "G records").
TEST(Spawn, ANewBurstGetsItsRecordsInAddressOrder) {
  constexpr int kN = 2048;
  const std::int64_t base = goro::num_goroutines();
  // First burst: kN goroutines park, then end one at a time in a shuffled order.
  std::vector<goro::Chan<int>> gates(kN);
  for (int i = 0; i < kN; ++i) goro::go([g = gates[std::size_t(i)]]() mutable { g.recv(); });
  std::vector<int> order(kN);
  for (int i = 0; i < kN; ++i) order[std::size_t(i)] = i;
  std::mt19937 rng(12345);
  std::shuffle(order.begin(), order.end(), rng);
  for (int k = 0; k < kN; ++k) {
    gates[std::size_t(order[std::size_t(k)])].close();
    ASSERT_TRUE(gt::wait_goroutines_at_most(base + kN - k - 1, kLong)) << "step " << k;
  }

  // Second burst, spawned by one goroutine: each notes its record and waits.
  std::vector<std::uintptr_t> rec(kN);
  goro::run([&rec] {
    goro_test::burst_at_gate(kN, [&rec](std::int64_t i) { rec[std::size_t(i)] = gt::g_record(); });
  });
  std::set<std::uintptr_t> distinct(rec.begin(), rec.end());
  EXPECT_EQ(distinct.size(), std::size_t(kN));
  // The first 64 may come from the spawning P's cache of its most recently freed
  // records; after that each record lies above the one before, except where a batch
  // moves on to the next chunk of 256 records (chunks are wherever `new` put them).
  // Reused in the order they were freed, about half would lie below their predecessor.
  int backwards = 0;
  for (int i = 65; i < kN; ++i) backwards += rec[std::size_t(i)] < rec[std::size_t(i - 1)];
  EXPECT_LE(backwards, kN / 256 + 4);
}

// ---------------------------------------------------------------------------
// Stacks

// Recurses `depth` frames of ~1 KiB each. The array's address is passed to the callee
// (so it must live across the call) and its contents are used after the call (so it is
// not a tail call): the compiler can neither shrink nor reuse the frames.
__attribute__((noinline)) std::uint64_t deep(int depth, std::uintptr_t* lowest,
                                             const volatile char* parent = nullptr) {
  volatile char buf[1024];
  for (std::size_t i = 0; i < sizeof buf; i += 64) buf[i] = char(depth + int(i));
  if (parent != nullptr) buf[1] = parent[1];
  auto at = reinterpret_cast<std::uintptr_t>(&buf[0]);
  if (at < *lowest) *lowest = at;
  if (depth == 0) return std::uint64_t(buf[0]) + 1;
  return deep(depth - 1, lowest, buf) + std::uint64_t(buf[64]);
}

TEST(Stack, DefaultReservationIs128KiB) {
  const char* env = std::getenv("GORO_STACK_SIZE");
  if (env != nullptr && *env != '\0') GTEST_SKIP() << "GORO_STACK_SIZE is set";
  EXPECT_EQ(gt::stack_size(), std::size_t(128) << 10);
  EXPECT_EQ(goro::current_options().stack_size, std::size_t(128) << 10);
}

TEST(Stack, GrowsOnDemandToHalfTheReservation) {
  const std::size_t want = gt::stack_size() / 2;  // ~64 KiB with the default
  const int depth = int(want / 1024);
  std::uintptr_t top = 0, lowest = UINTPTR_MAX;
  std::uint64_t r = goro::run([&] {
    top = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    return deep(depth, &lowest);
  });
  EXPECT_NE(r, 0u);
  if (!goro_test::kUnderAsan) {  // ASan's fake stacks move the arrays off the stack
    ASSERT_LT(lowest, top);
    EXPECT_GE(top - lowest, want * 9 / 10) << "the recursion used less stack than intended";
  }
}

TEST(Stack, ManyGoroutinesRecurseDeepAndReuseStacks) {
  // Deep stacks go back to the pool and are reused; every round must still work.
  const int depth = int(gt::stack_size() / 2 / 1024);
  for (int round = 0; round < 4; ++round) {
    goro::WaitGroup wg;
    std::atomic<int> ok{0};
    constexpr int kN = 64;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&, i] {
        std::uintptr_t lowest = UINTPTR_MAX;
        int d = (i % 2 == 0) ? depth : 4;  // mix deep and shallow users of the pool
        if (deep(d, &lowest) != 0) ok.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load(), kN) << "round " << round;
  }
}

// goro's own throws (a network error, a closed channel) unwind deeper than any switch
// shows (libgcc's unwinder runs below the throwing frame): a goroutine that caught one
// gives its stack's pages below the top back when it ends (sched.h, note_unwinding)
// instead of leaving them committed in the pools. (10,000 connections reset at once
// left the http server 40 MB larger before.) Releases run in the context that follows
// each exit, so when the count of goroutines reaches 0 the last exit of each P may
// still be on its way: half of them is the bound, and without the marking the count
// grows by the periodic sweep alone (one in 1,024 releases).
TEST(Stack, GoroutinesThatCaughtGoroErrorsGiveTheirPagesBack) {
  constexpr int kN = 64;
  const std::uint64_t before = gt::stack_deep_releases();
  goro::run([&] {
    goro::Chan<int> closed(0);
    closed.close();
    goro::WaitGroup wg;
    std::atomic<int> caught{0};
    wg.add(2 * kN);
    for (int i = 0; i < kN; ++i) {
      goro::go([&] {
        try {
          closed.send(1);
        } catch (const goro::ClosedChannelError&) {
          caught.fetch_add(1);
        }
        wg.done();
      });
      goro::go([&] {
        try {
          goro::net::dial("no port here");
        } catch (const goro::net::Error&) {
          caught.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(caught.load(), 2 * kN);
  });
  ASSERT_TRUE(gt::wait_goroutines_at_most(0, std::chrono::seconds(30)));
  EXPECT_GE(gt::stack_deep_releases() - before, std::uint64_t(kN));
  // A plain thread has no goroutine stack to mark: the throw is as usual.
  goro::Chan<int> closed(0);
  closed.close();
  EXPECT_THROW(closed.send(1), goro::ClosedChannelError);
}

// ---------------------------------------------------------------------------
// Goroutine ids

TEST(GoroutineId, UniqueAcrossSpawners) {
  const std::int64_t per = scaled(2000) / 4;
  std::mutex mu;
  std::vector<std::uint64_t> ids;
  goro::WaitGroup wg;
  wg.add(per * 4);
  auto record = [&] {
    std::uint64_t id = gt::goroutine_id();
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.push_back(id);
    }
    wg.done();
  };
  // From two plain threads and from two goroutines at once.
  std::thread t1([&] {
    for (std::int64_t i = 0; i < per; ++i) goro::go(record);
  });
  std::thread t2([&] {
    for (std::int64_t i = 0; i < per; ++i) goro::go(record);
  });
  goro::WaitGroup spawners;
  spawners.add(2);
  for (int s = 0; s < 2; ++s) {
    goro::go([&] {
      for (std::int64_t i = 0; i < per; ++i) {
        goro::go(record);
        if (i % 64 == 0) goro::yield();
      }
      spawners.done();
    });
  }
  t1.join();
  t2.join();
  spawners.wait();
  wg.wait();
  ASSERT_EQ(ids.size(), std::size_t(per * 4));
  std::set<std::uint64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size()) << "goroutine ids repeat";
  EXPECT_EQ(unique.count(0), 0u) << "a goroutine has id 0";
}

TEST(GoroutineId, IncreaseForSuccessiveSpawns) {
  // Goroutines started one after another from one thread get increasing ids.
  std::uint64_t prev = 0;
  for (int i = 0; i < 200; ++i) {
    std::uint64_t id = goro::run([] { return gt::goroutine_id(); });
    EXPECT_GT(id, prev) << "spawn " << i;
    prev = id;
  }
  // And a goroutine keeps its id across parks and yields.
  goro::run([] {
    std::uint64_t me = gt::goroutine_id();
    for (int i = 0; i < 100; ++i) {
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&] { wg.done(); });
      wg.wait();
      goro::yield();
      ASSERT_EQ(gt::goroutine_id(), me);
    }
  });
}

}  // namespace
