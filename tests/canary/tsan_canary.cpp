// tsan_canary.cpp — a data race on plain ints between two goroutines running at the
// same time on different threads (GORO_PROCS=2). TSan must report "data race"; ctest
// passes only if it does.
//
// Each goroutine announces itself with a relaxed atomic (relaxed: no happens-before
// edge for TSan) and spins until the other has started, so the two overlap. If they
// end up on the same thread the race would be hidden (a switch on one thread is a
// synchronisation for TSan): the canary then says so and exits 3.
//
// The race is repeated on kRounds separate variables: goroutine 0 writes one, raises a
// relaxed flag, goroutine 1 waits for the flag and writes it too. One such race alone
// is missed by clang 14's TSan now and then (measured: ~4% even with std::threads);
// missing all 64 is not going to happen.
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "goro/detail/testing.h"
#include "goro/goro.h"

namespace {

constexpr int kRounds = 64;
constexpr int kStride = 16;       // a cache line apart
int g_shared[kRounds * kStride];  // the races
std::atomic<bool> g_written[kRounds];
std::atomic<bool> g_started[2];
std::atomic<int> g_thread[2];

// Waits (spinning, no sleep) until flag is set. If both goroutines were queued on one P
// and nobody stole one, fall back to yielding after a while so the canary cannot hang
// (it then reports "same thread").
void spin_until(const std::atomic<bool>& flag) {
  for (long spins = 0; !flag.load(std::memory_order_relaxed); ++spins)
    if (spins > 100'000'000) goro::yield();
}

void racer(int me) {
  g_thread[me].store(goro::detail::testing::thread_index(), std::memory_order_relaxed);
  g_started[me].store(true, std::memory_order_relaxed);
  spin_until(g_started[1 - me]);
  for (int r = 0; r < kRounds; ++r) {
    int& x = g_shared[r * kStride];
    if (me == 0) {
      x = r;
      g_written[r].store(true, std::memory_order_relaxed);
    } else {
      spin_until(g_written[r]);
      x = x + 1;
    }
  }
}

}  // namespace

int main() {
  if (goro::procs() < 2) {
    std::puts("canary: needs GORO_PROCS >= 2");
    return 3;
  }
  goro::WaitGroup wg;
  wg.add(2);
  for (int me = 0; me < 2; ++me) {
    goro::go(
        [&wg](int i) {
          racer(i);
          wg.done();
        },
        me);
  }
  wg.wait();
  if (g_thread[0].load() == g_thread[1].load()) {
    std::printf("canary: same thread (%d)\n", g_thread[0].load());
    return 3;
  }
  std::puts("canary: no report (TSan did not see the races)");
  return 0;
}
