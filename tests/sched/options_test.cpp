// options_test.cpp — how the runtime is set up (api.md "Runtime"; runtime.h Options):
// goro::configure before the first use, the environment variables GORO_PROCS,
// GORO_STACK_SIZE and GORO_STACK_GUARD, and clear errors for bad values.
//
// A process sets its runtime up once, so each case runs in a fresh child process
// (EXPECT_EXIT; support/main.cpp selects the "threadsafe" style, which re-executes
// the binary, so the runtime has not started in the child when the statement runs).
// The statement exits 0 only if everything it checks holds, and says what did not.
#include <gtest/gtest.h>

#include <sched.h>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "goro/detail/testing.h"
#include "goro/goro.h"

namespace gt = goro::detail::testing;

namespace {

// Exits 0 if ok, else prints what failed and exits 1.
[[noreturn]] void finish(bool ok, const std::string& what) {
  if (!ok) std::fprintf(stderr, "check failed: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(ok ? 0 : 1);
}

// Recurses about `bytes` deep (1 KiB per frame) and returns a value that depends on
// every frame.
__attribute__((noinline)) unsigned deep(std::size_t bytes) {
  volatile char frame[1000];
  frame[0] = char(bytes);
  if (bytes < 1024) return unsigned(frame[0]);
  return deep(bytes - 1024) + unsigned(frame[0]) + 1;
}

TEST(Options, ConfigureBeforeStartSetsProcsAndStackSize) {
  EXPECT_EXIT(
      {
        goro::Options o;
        o.procs = 3;
        o.stack_size = std::size_t(256) << 10;
        goro::configure(o);
        goro::Options cur = goro::current_options();
        // 200 KiB of recursion fits in a 256 KiB stack, not in the default 128 KiB.
        unsigned r = goro::run([] { return deep(std::size_t(200) << 10); });
        finish(goro::procs() == 3 && cur.procs == 3 &&
                   gt::stack_size() == (std::size_t(256) << 10) &&
                   cur.stack_size == (std::size_t(256) << 10) && r > 0,
               "procs " + std::to_string(goro::procs()) + ", stack " +
                   std::to_string(gt::stack_size()));
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Options, EnvironmentSetsProcsAndStackSize) {
  EXPECT_EXIT(
      {
        setenv("GORO_PROCS", "3", 1);
        setenv("GORO_STACK_SIZE", "192K", 1);
        finish(goro::procs() == 3 && gt::stack_size() == (std::size_t(192) << 10),
               "procs " + std::to_string(goro::procs()) + ", stack " +
                   std::to_string(gt::stack_size()));
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Options, StackSizeSuffixesAndMinimum) {
  EXPECT_EXIT(
      {
        setenv("GORO_STACK_SIZE", "1M", 1);
        finish(gt::stack_size() == (std::size_t(1) << 20),
               "1M gave " + std::to_string(gt::stack_size()));
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        setenv("GORO_STACK_SIZE", "4096", 1);  // below the 16 KiB minimum
        finish(gt::stack_size() == (std::size_t(16) << 10),
               "4096 gave " + std::to_string(gt::stack_size()));
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Options, DefaultProcsIsTheCpusThisProcessMayUse) {
  EXPECT_EXIT(
      {
        unsetenv("GORO_PROCS");
        cpu_set_t set;
        int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
        // cgroup quotas can only lower it.
        finish(
            goro::procs() >= 1 && goro::procs() <= cpus,
            "procs " + std::to_string(goro::procs()) + " with " + std::to_string(cpus) + " CPUs");
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Options, ConfigureAfterStartThrows) {
  EXPECT_EXIT(
      {
        goro::run([] {});
        bool threw = false;
        try {
          goro::configure(goro::Options{});
        } catch (const std::logic_error&) {
          threw = true;
        }
        finish(threw, "configure after start did not throw");
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Options, InvalidProcsIsAClearError) {
  EXPECT_EXIT(
      {
        setenv("GORO_PROCS", "lots", 1);
        goro::run([] {});
      },
      ::testing::ExitedWithCode(2), "goro: invalid GORO_PROCS=lots");
  EXPECT_EXIT(
      {
        setenv("GORO_PROCS", "0", 1);
        goro::run([] {});
      },
      ::testing::ExitedWithCode(2), "goro: invalid GORO_PROCS=0");
}

TEST(Options, InvalidStackSizeIsAClearError) {
  EXPECT_EXIT(
      {
        setenv("GORO_STACK_SIZE", "12Q", 1);
        goro::run([] {});
      },
      ::testing::ExitedWithCode(2), "goro: invalid GORO_STACK_SIZE=12Q");
}

TEST(Options, InvalidStackGuardIsAClearError) {
  EXPECT_EXIT(
      {
        setenv("GORO_STACK_GUARD", "paper", 1);
        goro::run([] {});
      },
      ::testing::ExitedWithCode(2), "goro: invalid GORO_STACK_GUARD=paper");
}

}  // namespace
