// timeout.cpp — timers in use: a receive with a timeout (select on goro::after), a
// progress ticker (goro::Ticker), and a watchdog (goro::after_func) that is stopped
// once everything has finished in time.
//
//   ./timeout       five jobs taking 20, 40, ... 100 ms, each given 50 ms
#include <goro/goro.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

using namespace std::chrono_literals;

int main() {
  goro::run([] {
    goro::Timer watchdog = goro::after_func(2s, [] {
      std::puts("watchdog: the jobs took too long");
      std::exit(1);
    });

    goro::WaitGroup wg;
    for (int job = 1; job <= 5; ++job) {
      wg.add(1);
      goro::go([&wg, job] {
        goro::Chan<int> result(1);  // buffered: a worker we gave up on never blocks
        goro::go([result, job] {
          goro::sleep_for(job * 20ms);  // the "work"
          result.send(job * job);
        });
        goro::select(
            goro::case_recv(result,
                            [job](std::optional<int> v) { std::printf("job %d: %d\n", job, *v); }),
            goro::case_recv(goro::after(50ms), [job] { std::printf("job %d: timed out\n", job); }));
        wg.done();
      });
    }

    goro::Chan<bool> finished(1);
    goro::go([&] {
      wg.wait();
      finished.send(true);
    });
    goro::Ticker progress(20ms);
    for (bool done = false; !done;)
      goro::select(goro::case_recv(progress.channel(), [] { std::puts("..."); }),
                   goro::case_recv(finished, [&] { done = true; }));
    if (watchdog.stop()) std::puts("all answered or timed out in time");
  });
}
