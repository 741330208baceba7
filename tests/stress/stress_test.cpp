// stress_test.cpp — goroutines by the million (scaled down under sanitizers): spawning
// a million short ones, and parking a million at once on guarded stacks without
// running into the kernel's mapping limit (runtime.md "Stacks": MADV_GUARD_INSTALL
// guards cost no mapping).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
using goro_test::count_process_mappings;
using goro_test::scaled;

namespace {

constexpr std::chrono::milliseconds kLong{60000};

std::size_t read_max_map_count() {
  std::size_t v = 65530;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    unsigned long x = 0;
    if (std::fscanf(f, "%lu", &x) == 1) v = x;
    std::fclose(f);
  }
  return v;
}

TEST(Stress, SpawnAMillion) {
  const std::int64_t n = scaled(1'000'000);
  std::atomic<std::int64_t> ran{0};
  std::int64_t base = goro::num_goroutines();
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(n);
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([&] {
        ran.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(ran.load(), n);
  EXPECT_TRUE(gt::wait_goroutines_at_most(base, kLong));
}

TEST(Stress, SpawnAMillionFromPlainThreads) {
  constexpr int kThreads = 2;
  const std::int64_t per = scaled(1'000'000) / kThreads;
  std::atomic<std::int64_t> ran{0};
  goro::WaitGroup wg;
  wg.add(per * kThreads);
  goro_test::on_threads(kThreads, [&](int) {
    for (std::int64_t i = 0; i < per; ++i) {
      goro::go([&] {
        ran.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
  });
  wg.wait();
  EXPECT_EQ(ran.load(), per * kThreads);
}

TEST(Stress, ParkAMillionAtOnce) {
  if (std::strcmp(gt::stack_guard_mode(), "madvise") != 0)
    GTEST_SKIP() << "stack guards are '" << gt::stack_guard_mode()
                 << "' (this kernel lacks MADV_GUARD_INSTALL, Linux 6.13+): a million "
                    "mprotect guards would exceed vm.max_map_count";
  const std::int64_t n = scaled(1'000'000);
  const std::size_t max_maps = read_max_map_count();
  std::int64_t base = goro::num_goroutines();
  std::atomic<std::int64_t> resumed{0};
  goro::WaitGroup gate, started, finished;
  gate.add(1);
  started.add(n);
  finished.add(n);
  goro::run([&] {
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([&] {
        started.done();
        gate.wait();
        resumed.fetch_add(1, std::memory_order_relaxed);
        finished.done();
      });
    }
  });
  started.wait();  // all n are parked now, each on its own guarded stack

  EXPECT_GE(goro::num_goroutines(), base + n);
  EXPECT_GE(gt::stacks_reserved(), std::size_t(n));
  std::size_t stack_maps = gt::stack_mappings();
  std::size_t process_maps = count_process_mappings();
  // Far below the limit: madvise guards add no mapping, only the slabs count.
  EXPECT_LT(stack_maps, max_maps / 10) << n << " parked goroutines";
  EXPECT_LT(process_maps, max_maps / 4) << n << " parked goroutines; vm.max_map_count " << max_maps;
  RecordProperty("parked", std::to_string(n));
  RecordProperty("stack_mappings", std::to_string(stack_maps));
  RecordProperty("process_mappings", std::to_string(process_maps));

  gate.done();
  finished.wait();  // (num_goroutines() alone gives no happens-before with their writes)
  EXPECT_EQ(resumed.load(), n);
  EXPECT_TRUE(gt::wait_goroutines_at_most(base, kLong));
}

TEST(Stress, ChurnParkAndSpawn) {
  // Waves of goroutines parked in chains (goroutine k waits for k-1), while the next
  // waves are spawned.
  constexpr int waves = goro_test::kUnderSanitizer ? 20 : 200;
  constexpr int width = goro_test::kUnderTsan ? 100 : 1000;
  std::int64_t base = goro::num_goroutines();
  std::atomic<std::int64_t> finished{0};
  goro::run([&] {
    goro::WaitGroup all;
    for (int w = 0; w < waves; ++w) {
      all.add(width + 1);
      auto* links = new goro::WaitGroup[std::size_t(width) + 1];
      for (int k = 0; k <= width; ++k) links[k].add(1);
      for (int k = 0; k < width; ++k) {
        goro::go([&, links, k] {
          links[k].wait();
          finished.fetch_add(1, std::memory_order_relaxed);
          links[k + 1].done();
          all.done();
        });
      }
      goro::go([&all, links, last = width] {  // frees the chain once its last link is done
        links[last].wait();
        delete[] links;
        all.done();
      });
      links[0].done();
      if (w % 8 == 7) all.wait();
    }
    all.wait();
  });
  EXPECT_EQ(finished.load(), std::int64_t(waves) * width);
  EXPECT_TRUE(gt::wait_goroutines_at_most(base, kLong));
}

}  // namespace
