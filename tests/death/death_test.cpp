// death_test.cpp — how goroutines die (api.md "Runtime", runtime.md "Stacks"): a stack
// overflow is reported (which goroutine, "stack overflow") and the process exits 2,
// never a silent corruption or a bare SIGSEGV; an exception escaping a `go` goroutine
// is a crash naming the goroutine and the exception, then abort(); an exception escaping
// run's function is rethrown by run.
//
// Each EXPECT_EXIT runs its statement in a fresh child process (the "threadsafe"
// death-test style set by support/main.cpp re-executes the binary).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

namespace {

using goro_test::recurse_forever;

// The id a test goroutine announces before dying, from "test: id=<N>" ("" if none).
std::string announced_id(const std::string& err) {
  const std::string tag = "test: id=";
  std::size_t at = err.find(tag);
  if (at == std::string::npos) return {};
  std::size_t begin = at + tag.size(), end = begin;
  while (end < err.size() && std::isdigit(static_cast<unsigned char>(err[end]))) ++end;
  return err.substr(begin, end - begin);
}

// Whether the output names goroutine `id` as the runtime does: "goroutine <id>" not
// followed by another digit.
bool names_goroutine(const std::string& err, const std::string& id) {
  if (id.empty()) return false;
  const std::string want = "goroutine " + id;
  for (std::size_t at = err.find(want); at != std::string::npos; at = err.find(want, at + 1)) {
    std::size_t after = at + want.size();
    if (after == err.size() || !std::isdigit(static_cast<unsigned char>(err[after]))) return true;
  }
  return false;
}

// "goroutine <digits>" anywhere.
bool names_some_goroutine(const std::string& err) {
  const std::string want = "goroutine ";
  for (std::size_t at = err.find(want); at != std::string::npos; at = err.find(want, at + 1)) {
    std::size_t after = at + want.size();
    if (after < err.size() && std::isdigit(static_cast<unsigned char>(err[after]))) return true;
  }
  return false;
}

[[noreturn]] void announce_and_overflow() {
  std::fprintf(stderr, "test: id=%llu\n", static_cast<unsigned long long>(gt::goroutine_id()));
  std::fflush(stderr);
  std::uint64_t r = recurse_forever(0);
  std::fprintf(stderr, "test: recursion returned %llu\n", static_cast<unsigned long long>(r));
  std::_Exit(0);  // unreachable; exiting 0 fails the test
}

auto overflow_report() {
  return ::testing::Truly([](const std::string& err) {
    return err.find("stack overflow") != std::string::npos && names_some_goroutine(err) &&
           names_goroutine(err, announced_id(err));
  });
}

TEST(DeathTest, StackOverflowInRunIsReported) {
  EXPECT_EXIT(goro::run([] { announce_and_overflow(); }), ::testing::ExitedWithCode(2),
              overflow_report());
}

TEST(DeathTest, StackOverflowInGoIsReported) {
  EXPECT_EXIT(
      {
        goro::WaitGroup never;
        never.add(1);
        goro::go([] { announce_and_overflow(); });
        never.wait();
      },
      ::testing::ExitedWithCode(2), overflow_report());
}

TEST(DeathTest, StackOverflowAfterParkingIsReported) {
  // The goroutine first parks (and may resume on another thread, whose alternate
  // signal stack must then handle the fault).
  EXPECT_EXIT(goro::run([] {
                for (int i = 0; i < 20; ++i) {
                  goro::WaitGroup wg;
                  wg.add(1);
                  goro::go([&] { wg.done(); });
                  wg.wait();
                }
                announce_and_overflow();
              }),
              ::testing::ExitedWithCode(2), overflow_report());
}

TEST(DeathTest, UncaughtExceptionInGoroutineAborts) {
  EXPECT_EXIT(
      {
        goro::WaitGroup never;
        never.add(1);
        goro::go([] {
          throw std::runtime_error("boom test: id=" + std::to_string(gt::goroutine_id()));
        });
        never.wait();
      },
      ::testing::KilledBySignal(SIGABRT), ::testing::Truly([](const std::string& err) {
        return err.find("boom test: id=") != std::string::npos &&  // what()
               names_goroutine(err, announced_id(err));            // and which goroutine
      }));
}

TEST(DeathTest, UncaughtNonStdExceptionAborts) {
  EXPECT_EXIT(
      {
        goro::WaitGroup never;
        never.add(1);
        goro::go([] { throw 42; });
        never.wait();
      },
      ::testing::KilledBySignal(SIGABRT), ::testing::HasSubstr("goroutine"));
}

TEST(DeathTest, ExceptionEscapingRunIsRethrownNotFatal) {
  // Not a death: run carries the exception back to its caller.
  try {
    goro::run([] { throw std::runtime_error("carried back"); });
    FAIL() << "run did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "carried back");
  }
  // Also from a goroutine, after the inner goroutine parked.
  std::string what = goro::run([] {
    try {
      goro::run([] {
        goro::yield();
        throw std::logic_error("inner");
      });
    } catch (const std::logic_error& e) {
      return std::string(e.what());
    }
    return std::string("nothing thrown");
  });
  EXPECT_EQ(what, "inner");
}

}  // namespace
