// support.h — what goro's tests share: which sanitizer the build uses, how far to
// shrink the big counts under it, and small helpers for starting work on plain threads.
//
// Every test binary links tests/support/main.cpp, whose listener fails a test that
// leaves goroutines behind (it waits up to 10 s for the count to drop back to what it
// was when the test started, then prints every goroutine).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"

// GCC says __SANITIZE_THREAD__ / __SANITIZE_ADDRESS__; clang 14 says
// __has_feature(thread_sanitizer) / __has_feature(address_sanitizer). GCC 12 has no
// __has_feature, so it is tested in a nested #if.
#if defined(__SANITIZE_THREAD__)
#define GORO_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GORO_TEST_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(GORO_TEST_TSAN)
#define GORO_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer) && !defined(GORO_TEST_ASAN)
#define GORO_TEST_ASAN 1
#endif
#endif

namespace goro_test {

#if defined(GORO_TEST_TSAN)
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif
#if defined(GORO_TEST_ASAN)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
inline constexpr bool kUnderSanitizer = kUnderTsan || kUnderAsan;

// TSan maps a shadow stack per fiber: GCC 12's TSan dies near 8,128 live fibers and
// clang 14's near 30,000 (runtime.md "Sanitizers"). ASan's fake stacks make each live
// goroutine cost far more memory. These are the most goroutines a test keeps alive at
// once under each.
inline constexpr std::int64_t kMaxLiveUnderTsan = 4000;
inline constexpr std::int64_t kMaxLiveUnderAsan = 20000;

// n, shrunk to what the sanitizer in this build can hold (n without a sanitizer).
// Use it for every count of goroutines alive at once, and for big totals too (a
// sanitizer makes each spawn and switch 10-100x slower).
constexpr std::int64_t scaled(std::int64_t n) {
  if (kUnderTsan) return std::min(n, kMaxLiveUnderTsan);
  if (kUnderAsan) return std::min(n, kMaxLiveUnderAsan);
  return n;
}

// GORO_PROCS from the environment, or 0 if unset (ctest always sets it).
// A CPU pause for busy-wait loops that must have no scheduling point at all.
inline void cpu_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

inline int env_procs() {
  const char* s = std::getenv("GORO_PROCS");
  return s != nullptr && *s != '\0' ? std::atoi(s) : 0;
}

// Runs f(i) on n plain std::threads at once and joins them.
template <class F>
void on_threads(int n, F f) {
  std::vector<std::thread> threads;
  threads.reserve(std::size_t(n));
  for (int i = 0; i < n; ++i) threads.emplace_back(f, i);
  for (auto& t : threads) t.join();
}

// Yields until at least n goroutines are parked with wait reason `reason` (as the dump
// names it: "sync.Cond", "semacquire", ...), or until stop() returns true. Returns
// whether the count was reached. Plain threads that block are not goroutines and are
// not counted. For tests that must know a waiter has really parked before acting.
template <class Stop>
bool await_parked(const char* reason, std::int64_t n, Stop stop) {
  for (;;) {
    if (goro::detail::testing::goroutines_waiting(reason) >= n) return true;
    if (stop()) return false;
    goro::yield();
  }
}
inline void await_parked(const char* reason, std::int64_t n) {
  await_parked(reason, n, [] { return false; });
}

// Lines in /proc/self/maps: the kernel mappings this process uses now.
inline std::size_t count_process_mappings() {
  std::size_t n = 0;
  if (FILE* f = std::fopen("/proc/self/maps", "r")) {
    int c;
    while ((c = std::fgetc(f)) != EOF) n += c == '\n';
    std::fclose(f);
  }
  return n;
}

// Never reached; volatile so the compiler cannot see that the recursion is unbounded
// (and warn, -Winfinite-recursion).
inline volatile std::uint64_t g_depth_limit = UINT64_MAX;

// Recurses without bound, for stack-overflow tests. Not a tail call (the result is
// used after the call) and each frame writes a volatile array, so the compiler can
// neither loop nor shrink it.
__attribute__((noinline)) inline std::uint64_t recurse_forever(std::uint64_t n) {
  if (n == g_depth_limit) return 0;
  volatile char frame[512];
  frame[0] = char(n);
  frame[511] = char(n >> 8);
  return recurse_forever(n + 1) + std::uint64_t(frame[n % 512]);
}

// Starts n goroutines that each call first(i) and then wait at a gate; once all n are
// there (so n are alive at once), opens the gate and waits for them to end. From a
// goroutine or a plain thread.
template <class F>
void burst_at_gate(std::int64_t n, F first) {
  goro::WaitGroup started, done;
  goro::Chan<int> gate;
  started.add(n);
  done.add(n);
  for (std::int64_t i = 0; i < n; ++i)
    goro::go([&started, &done, &first, gate, i]() mutable {
      first(i);
      started.done();
      gate.recv();
      done.done();
    });
  started.wait();
  gate.close();
  done.wait();
}

}  // namespace goro_test
