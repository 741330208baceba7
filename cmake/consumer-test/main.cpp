// A program built against an installed goro (scripts/check-install): checks that
// the headers, libgoro.a and its dependencies are all found and link.
#include <atomic>
#include <cstdio>

#include <goro/goro.h>

int main() {
  constexpr int kGoroutines = 1000;
  std::atomic<int> sum{0};
  goro::run([&] {
    goro::WaitGroup wg;
    for (int i = 1; i <= kGoroutines; ++i) {
      wg.add(1);
      goro::go(
          [&](int n) {
            sum.fetch_add(n, std::memory_order_relaxed);
            wg.done();
          },
          i);
    }
    wg.wait();
  });
  const int want = kGoroutines * (kGoroutines + 1) / 2;
  std::printf("consumer: %d goroutines, sum %d (want %d), procs %d\n", kGoroutines, sum.load(),
              want, goro::procs());
  return sum.load() == want ? 0 : 1;
}
