// guard_mprotect_test.cpp — the fallback stack guards (runtime.md "Stacks"): with
// GORO_STACK_GUARD=mprotect (set by CMake for this binary) every stack's guard page is
// an mprotect'ed page, costing two kernel mappings; goroutines still spawn, park and
// run, and an overflow into the guard is still reported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

namespace {

using goro_test::count_process_mappings;
using goro_test::recurse_forever;

TEST(GuardMprotect, ModeIsMprotect) {
  const char* env = std::getenv("GORO_STACK_GUARD");
  ASSERT_NE(env, nullptr) << "this binary is meant to run with GORO_STACK_GUARD=mprotect";
  ASSERT_STREQ(env, "mprotect");
  EXPECT_STREQ(gt::stack_guard_mode(), "mprotect");
  EXPECT_EQ(goro::current_options().stack_guard, goro::Options::StackGuard::mprotect);
}

TEST(GuardMprotect, ParkedGoroutinesCostTwoMappingsPerStack) {
  const std::int64_t n = goro_test::scaled(5000);
  std::size_t maps0 = gt::stack_mappings();
  std::size_t reserved0 = gt::stacks_reserved();
  std::size_t kernel0 = count_process_mappings();
  goro::WaitGroup gate, started, done;
  gate.add(1);
  started.add(n);
  done.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    goro::go([&] {
      started.done();
      gate.wait();
      done.done();
    });
  }
  started.wait();  // all n parked at once, each on a stack of its own
  std::size_t maps1 = gt::stack_mappings();
  std::size_t reserved1 = gt::stacks_reserved();
  std::size_t kernel1 = count_process_mappings();
  gate.done();
  done.wait();

  EXPECT_GE(reserved1, std::size_t(n));
  std::size_t new_stacks = reserved1 - reserved0;
  std::size_t new_maps = maps1 - maps0;
  // Two per new stack, plus one per new slab (a slab holds hundreds of stacks).
  EXPECT_GE(new_maps, 2 * new_stacks);
  EXPECT_LE(new_maps, 2 * new_stacks + new_stacks / 100 + 2);
  // The kernel agrees: the process gained about two mappings per new stack.
  if (new_stacks >= 1000) {
    EXPECT_GE(kernel1 - kernel0, 2 * new_stacks - new_stacks / 10)
        << "kernel mappings " << kernel0 << " -> " << kernel1 << " for " << new_stacks
        << " new stacks";
  }
}

TEST(GuardMprotect, StacksAreReused) {
  // Goroutines that come and go reuse pooled stacks: no new mappings per spawn.
  auto round_of_64 = [] {
    goro::WaitGroup wg;
    for (int i = 0; i < 64; ++i) {
      wg.add(1);
      goro::go([&] { wg.done(); });
    }
    wg.wait();
  };
  goro::run(round_of_64);
  std::size_t maps0 = gt::stack_mappings();
  for (int round = 0; round < 20; ++round) goro::run(round_of_64);
  // Some slack: the pools are per P and a few stacks may move between them.
  EXPECT_LE(gt::stack_mappings(), maps0 + 2 * 64 * std::size_t(goro::procs()) + 2);
}

TEST(GuardMprotectDeathTest, OverflowIsReported) {
  EXPECT_EXIT(goro::run([] {
                std::uint64_t r = recurse_forever(0);
                std::fprintf(stderr, "test: recursion returned %llu\n",
                             static_cast<unsigned long long>(r));
              }),
              ::testing::ExitedWithCode(2),
              ::testing::AllOf(::testing::HasSubstr("stack overflow"),
                               ::testing::ContainsRegex("goroutine [0-9]+")));
}

}  // namespace
