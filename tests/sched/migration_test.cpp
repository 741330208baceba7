// migration_test.cpp — runtime.md "Goroutines move between threads: thread-local
// hazards". A goroutine that parks may resume on another OS thread; what it had in
// per-thread state (errno, the C++ exception being handled) must come with it, and
// must not leak into other goroutines.
//
// Shape: many goroutines park round after round on WaitGroup gates that a plain
// thread opens (a plain-thread wake goes to the global queue, from which any M takes
// it), with Mutex contention and yields in between; each records thread_index()
// before and after every park. At 2+ Ps migrations are then near-certain, and the
// tests assert that they happened (else they would prove nothing).
//
// errno is read and written through noinline functions: code compiled into the
// goroutine's own function may legitimately cache &errno across a call (glibc's
// __errno_location is `const`), which no runtime can repair; what is tested is the
// runtime's save/restore of the value.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
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

__attribute__((noinline)) int read_errno() {
  int v = errno;
  asm volatile("" ::: "memory");
  return v;
}
__attribute__((noinline)) void write_errno(int v) {
  errno = v;
  asm volatile("" ::: "memory");
}

// Rounds of parking: each of n goroutines calls park(r) for r = 0, 1, ...; a plain
// thread (drive) waits until all n have arrived at round r, then opens its gate.
class Rounds {
 public:
  Rounds(int goroutines, int rounds)
      : rounds_(rounds),
        gates_(new goro::WaitGroup[std::size_t(rounds)]),
        arrived_(new goro::WaitGroup[std::size_t(rounds)]) {
    for (int r = 0; r < rounds; ++r) {
      gates_[std::size_t(r)].add(1);
      arrived_[std::size_t(r)].add(goroutines);
    }
  }
  int rounds() const { return rounds_; }
  // In a goroutine: parks until round r opens.
  void park(int r) {
    arrived_[std::size_t(r)].done();
    gates_[std::size_t(r)].wait();
  }
  // On a plain thread: opens every round once all goroutines reached it.
  void drive() {
    for (int r = 0; r < rounds_; ++r) {
      arrived_[std::size_t(r)].wait();
      gates_[std::size_t(r)].done();
    }
  }

 private:
  int rounds_;
  std::unique_ptr<goro::WaitGroup[]> gates_;
  std::unique_ptr<goro::WaitGroup[]> arrived_;
};

constexpr int kGoroutines = 64;
constexpr int kRounds = goro_test::kUnderTsan ? 20 : 50;

struct Observed {
  std::atomic<std::int64_t> checks{0};
  std::atomic<std::int64_t> wrong{0};
  std::atomic<std::int64_t> moved{0};  // parks after which thread_index() differed
  // errno changed across the WaitGroup gate / across the Mutex and yields that follow.
  std::atomic<std::int64_t> errno_changed_by_gate{0};
  std::atomic<std::int64_t> errno_changed_by_mutex{0};
  std::mutex mu;
  std::string first_wrong;  // guarded by mu

  void check(bool ok) {
    checks.fetch_add(1, std::memory_order_relaxed);
    if (!ok) wrong.fetch_add(1, std::memory_order_relaxed);
  }
  void note_wrong(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_wrong.empty()) first_wrong = what;
  }
  std::string first() {
    std::lock_guard<std::mutex> lock(mu);
    return first_wrong;
  }
  void note_thread(int before, int after) {
    if (before != after) moved.fetch_add(1, std::memory_order_relaxed);
  }
};

// Runs body(i, park) in kGoroutines goroutines, where park(r) parks for round r and
// returns whether the goroutine resumed on another thread. A plain thread drives the
// rounds; main waits for everything.
template <class Body>
void run_rounds(Observed& obs, Body body) {
  Rounds rounds(kGoroutines, kRounds);
  goro::Mutex mu;  // contended between rounds: parks woken by goroutines, too
  goro::WaitGroup wg;
  wg.add(kGoroutines);
  for (int i = 0; i < kGoroutines; ++i) {
    goro::go([&, i] {
      auto park = [&](int r) {
        int before = gt::thread_index();
        int errno0 = read_errno();
        rounds.park(r);
        int errno1 = read_errno();
        int mid = gt::thread_index();
        obs.note_thread(before, mid);
        mu.lock();
        goro::yield();
        mu.unlock();
        for (int y = 0; y < 3; ++y) goro::yield();
        obs.note_thread(mid, gt::thread_index());
        int errno2 = read_errno();
        // Which step changed errno, for ErrnoSurvivesParking's diagnosis.
        if (errno1 != errno0) obs.errno_changed_by_gate.fetch_add(1, std::memory_order_relaxed);
        if (errno2 != errno1) obs.errno_changed_by_mutex.fetch_add(1, std::memory_order_relaxed);
      };
      body(i, park);
      wg.done();
    });
  }
  std::thread driver([&] { rounds.drive(); });
  wg.wait();
  driver.join();
}

// At 2+ Ps the goroutines must have moved, or the test proved nothing.
void expect_migrated(const Observed& obs, std::uint64_t migrations_before) {
  if (goro::procs() < 2) return;  // one P, one M: nothing can move
  EXPECT_GT(obs.moved.load(), 0) << "no goroutine resumed on another thread";
  EXPECT_GT(gt::migrations(), migrations_before);
}

TEST(Migration, ErrnoSurvivesParking) {
  Observed obs;
  std::uint64_t m0 = gt::migrations();
  run_rounds(obs, [&](int i, auto& park) {
    int mine = 1000 + i;
    write_errno(mine);
    for (int r = 0; r < kRounds; ++r) {
      park(r);
      int now = read_errno();
      obs.check(now == mine);
      if (now != mine)
        obs.note_wrong("errno " + std::to_string(now) + ", want " + std::to_string(mine));
      // A new value each round, so a stale value from a previous round is caught too.
      mine = 1000 + i + 100000 * (r + 1);
      write_errno(mine);
    }
  });
  EXPECT_EQ(obs.wrong.load(), 0) << "of " << obs.checks.load()
                                 << " errno checks; first: " << obs.first()
                                 << "; changed across the WaitGroup gate "
                                 << obs.errno_changed_by_gate.load()
                                 << " times, across Mutex lock/yield/unlock "
                                 << obs.errno_changed_by_mutex.load() << " times";
  EXPECT_GT(obs.checks.load(), 0);
  expect_migrated(obs, m0);
}

TEST(Migration, ErrnoSurvivesYields) {
  // Yield only: goroutines are requeued and stolen between Ps.
  constexpr int kN = 32;
  const int kYields = goro_test::kUnderTsan ? 2000 : 20000;
  std::atomic<std::int64_t> wrong{0};
  std::atomic<std::int64_t> moved{0};
  goro::WaitGroup wg;
  wg.add(kN);
  for (int i = 0; i < kN; ++i) {
    goro::go([&, i] {
      const int mine = 5000 + i;
      write_errno(mine);
      for (int y = 0; y < kYields; ++y) {
        int before = gt::thread_index();
        goro::yield();
        if (gt::thread_index() != before) moved.fetch_add(1, std::memory_order_relaxed);
        if (read_errno() != mine) wrong.fetch_add(1, std::memory_order_relaxed);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Migration, NewGoroutineStartsWithZeroErrno) {
  // Goroutines that set errno and park must not hand their value to others.
  constexpr int kN = 64;
  goro::WaitGroup gate, parked, done;
  gate.add(1);
  parked.add(kN);
  done.add(2 * kN);
  std::atomic<int> nonzero{0};
  for (int i = 0; i < kN; ++i) {
    goro::go([&, i] {
      write_errno(777 + i);
      parked.done();
      gate.wait();
      if (read_errno() != 777 + i) nonzero.fetch_add(1000);
      done.done();
    });
  }
  parked.wait();
  for (int i = 0; i < kN; ++i) {
    goro::go([&] {
      if (read_errno() != 0) nonzero.fetch_add(1);
      done.done();
    });
  }
  gate.done();
  done.wait();
  EXPECT_EQ(nonzero.load(), 0);
}

TEST(Migration, ErrnoPreservedByContendedPrimitives) {
  // goro's primitives must not change the caller's errno (pthread_mutex_lock does not
  // either). They sleep on futexes: the internal wait-queue lock when contended (on a
  // goroutine or a plain thread), and a plain-thread waiter until woken. A FUTEX_WAIT
  // that finds the word already changed fails with EAGAIN (an interrupted one with
  // EINTR) and the syscall() wrapper stores that in errno: unless the runtime saves
  // errno around it, the caller of lock()/unlock()/wait()/done() finds errno == EAGAIN.
  // Contention from goroutines and more plain threads than cores on one Mutex makes
  // the futex paths likely at any P count.
  constexpr int kLockers = 16;
  constexpr int kThreads = 8;  // more threads than cores: lock holders get preempted
  const int per = goro_test::kUnderTsan ? 500 : 5000;
  goro::Mutex mu;
  std::int64_t counter = 0;
  std::atomic<std::int64_t> wrong_in_goroutines{0};
  std::atomic<std::int64_t> wrong_in_threads{0};
  std::atomic<int> first_wrong{0};
  auto body = [&](int mine) {
    write_errno(mine);
    for (int i = 0; i < per; ++i) {
      mu.lock();
      ++counter;
      mu.unlock();
      int now = read_errno();
      if (now != mine) {
        (goro::in_goroutine() ? wrong_in_goroutines : wrong_in_threads)
            .fetch_add(1, std::memory_order_relaxed);
        int zero = 0;
        first_wrong.compare_exchange_strong(zero, now);
        write_errno(mine);
      }
    }
  };
  goro::WaitGroup wg;
  wg.add(kLockers);
  for (int i = 0; i < kLockers; ++i) {
    goro::go([&, i] {
      body(3000 + i);
      wg.done();
    });
  }
  goro_test::on_threads(kThreads, [&](int t) { body(4000 + t); });
  wg.wait();
  EXPECT_EQ(counter, std::int64_t(kLockers + kThreads) * per);
  EXPECT_EQ(wrong_in_goroutines.load(), 0)
      << "errno changed by Mutex lock/unlock in goroutines; first value seen: "
      << first_wrong.load() << " (" << std::strerror(first_wrong.load()) << ")";
  EXPECT_EQ(wrong_in_threads.load(), 0)
      << "errno changed by Mutex lock/unlock on plain threads; first value seen: "
      << first_wrong.load() << " (" << std::strerror(first_wrong.load()) << ")";
}

struct Tagged {
  int id;
};

TEST(Migration, CaughtExceptionSurvivesParking) {
  // Parked inside a catch block: after resuming (on another thread), the handler's
  // exception is still this goroutine's, for std::current_exception and for `throw;`.
  Observed obs;
  std::uint64_t m0 = gt::migrations();
  run_rounds(obs, [&](int i, auto& park) {
    try {
      throw Tagged{i};
    } catch (const Tagged& t) {
      for (int r = 0; r < kRounds; ++r) {
        park(r);
        obs.check(t.id == i);
        obs.check(std::uncaught_exceptions() == 0);
        std::exception_ptr e = std::current_exception();
        obs.check(e != nullptr);
        if (e != nullptr) {
          try {
            std::rethrow_exception(e);
          } catch (const Tagged& again) {
            obs.check(again.id == i && &again == &t);
          } catch (...) {
            obs.check(false);
          }
        }
      }
      try {
        throw;  // rethrows this goroutine's exception, not another's
      } catch (const Tagged& again) {
        obs.check(again.id == i && &again == &t);
      } catch (...) {
        obs.check(false);
      }
    }
    // Handler left: nothing is being handled any more.
    obs.check(std::current_exception() == nullptr);
  });
  EXPECT_EQ(obs.wrong.load(), 0) << "of " << obs.checks.load() << " exception checks";
  expect_migrated(obs, m0);
}

TEST(Migration, RethrowAfterParkingReachesTheOuterHandler) {
  Observed obs;
  std::uint64_t m0 = gt::migrations();
  run_rounds(obs, [&](int i, auto& park) {
    int r = 0;
    for (; r + 1 < kRounds; r += 2) {
      try {
        try {
          throw Tagged{i * 1000 + r};
        } catch (...) {
          park(r);
          throw;
        }
      } catch (const Tagged& t) {
        obs.check(t.id == i * 1000 + r);
        park(r + 1);  // and once more inside the outer handler
        obs.check(t.id == i * 1000 + r);
        obs.check(std::current_exception() != nullptr);
      } catch (...) {
        obs.check(false);
        park(r + 1);
      }
      obs.check(std::current_exception() == nullptr);
    }
    for (; r < kRounds; ++r) park(r);
  });
  EXPECT_EQ(obs.wrong.load(), 0) << "of " << obs.checks.load() << " exception checks";
  expect_migrated(obs, m0);
}

TEST(Migration, NestedHandlersSurviveParking) {
  // Two exceptions being handled at once (a catch inside a catch): after parks, each
  // level sees its own, and leaving the inner handler restores the outer one.
  Observed obs;
  std::uint64_t m0 = gt::migrations();
  run_rounds(obs, [&](int i, auto& park) {
    int r = 0;
    for (; r + 1 < kRounds; r += 2) {
      try {
        throw Tagged{i};
      } catch (const Tagged& outer) {
        try {
          throw Tagged{-i - 1};
        } catch (const Tagged& inner) {
          park(r);
          obs.check(inner.id == -i - 1 && outer.id == i);
          try {
            std::rethrow_exception(std::current_exception());
          } catch (const Tagged& now) {
            obs.check(&now == &inner);
          }
        }
        park(r + 1);
        try {
          throw;
        } catch (const Tagged& now) {
          obs.check(&now == &outer && now.id == i);
        }
      }
    }
    for (; r < kRounds; ++r) park(r);
  });
  EXPECT_EQ(obs.wrong.load(), 0) << "of " << obs.checks.load() << " exception checks";
  expect_migrated(obs, m0);
}

TEST(Migration, UnwindingDestructorSurvivesParking) {
  // A destructor run by stack unwinding parks: std::uncaught_exceptions() is 1 before
  // and after (the count is per thread, carried by the goroutine), and the exception
  // then reaches its handler intact.
  Observed obs;
  std::uint64_t m0 = gt::migrations();
  run_rounds(obs, [&](int i, auto& park) {
    struct ParksOnUnwind {
      Observed& obs;
      decltype(park)& p;
      int r;
      ~ParksOnUnwind() {
        obs.check(std::uncaught_exceptions() == 1);
        p(r);
        obs.check(std::uncaught_exceptions() == 1);
        obs.check(std::current_exception() == nullptr);
      }
    };
    for (int r = 0; r < kRounds; ++r) {
      try {
        ParksOnUnwind guard{obs, park, r};
        throw Tagged{i * 1000 + r};
      } catch (const Tagged& t) {
        obs.check(t.id == i * 1000 + r);
        obs.check(std::uncaught_exceptions() == 0);
      }
    }
  });
  EXPECT_EQ(obs.wrong.load(), 0) << "of " << obs.checks.load() << " exception checks";
  expect_migrated(obs, m0);
}

// kN goroutines each run holder(i, parked, gate), which calls parked.done() and then
// gate.wait() while it holds some exception state, and returns whether that state
// was still its own afterwards; meanwhile kN others run on the same threads and must
// see no exception being handled or thrown. Returns the number of failures seen
// (1000 per holder that lost its state, 1 per observer that saw another's).
template <class Holder>
int exception_state_leaks(Holder holder) {
  constexpr int kN = 64;
  goro::WaitGroup gate, parked, done;
  gate.add(1);
  parked.add(kN);
  done.add(2 * kN);
  std::atomic<int> bad{0};
  for (int i = 0; i < kN; ++i) {
    goro::go([&, i] {
      if (!holder(i, parked, gate)) bad.fetch_add(1000);
      done.done();
    });
  }
  parked.wait();
  for (int i = 0; i < kN; ++i) {
    goro::go([&] {
      if (std::current_exception() != nullptr || std::uncaught_exceptions() != 0) bad.fetch_add(1);
      done.done();
    });
  }
  gate.done();
  done.wait();
  return bad.load();
}

TEST(Migration, UnwindingStateDoesNotLeakToOtherGoroutines) {
  // Goroutines parked in destructors during unwinding; others then run on the same
  // threads and must see nothing being thrown.
  EXPECT_EQ(exception_state_leaks([](int i, goro::WaitGroup& parked, goro::WaitGroup& gate) {
              struct ParksOnUnwind {
                goro::WaitGroup& parked;
                goro::WaitGroup& gate;
                ~ParksOnUnwind() {
                  parked.done();
                  gate.wait();
                }
              };
              try {
                ParksOnUnwind guard{parked, gate};
                throw Tagged{i};
              } catch (const Tagged& t) {
                return t.id == i;
              }
              return false;
            }),
            0);
}

TEST(Migration, ExceptionStateDoesNotLeakToOtherGoroutines) {
  // Goroutines parked inside handlers; other goroutines then run on the same threads
  // and must see no exception being handled.
  EXPECT_EQ(exception_state_leaks([](int i, goro::WaitGroup& parked, goro::WaitGroup& gate) {
              try {
                throw Tagged{i};
              } catch (const Tagged& t) {
                parked.done();
                gate.wait();
                return t.id == i && std::current_exception() != nullptr;
              }
              return false;
            }),
            0);
}

TEST(Migration, HappensAtTwoOrMorePs) {
  if (goro::procs() < 2) GTEST_SKIP() << "one P: goroutines cannot change threads";
  Observed obs;
  std::uint64_t m0 = gt::migrations();
  run_rounds(obs, [&](int, auto& park) {
    for (int r = 0; r < kRounds; ++r) park(r);
  });
  EXPECT_GT(obs.moved.load(), 0) << "no goroutine observed a different thread_index()";
  EXPECT_GT(gt::migrations(), m0) << "testing::migrations() did not increase";
}

}  // namespace
