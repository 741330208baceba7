// hello — start goroutines, wait for them, share a counter under a goro::Mutex.
#include <goro/goro.h>

#include <cstdio>
#include <mutex>

int main() {
  goro::run([] {
    goro::WaitGroup wg;
    goro::Mutex mu;
    long total = 0;
    for (int i = 1; i <= 10000; ++i) {
      wg.add(1);
      goro::go([&, i] {
        std::lock_guard lock(mu);
        total += i;
        wg.done();
      });
    }
    wg.wait();
    std::printf("10,000 goroutines on %d Ps summed to %ld\n", goro::procs(), total);
  });
}
