// workloads.cpp — goro's side of the comparison suite (bench.md): one workload per
// run, figures as RESULT lines. bench/go/ has the same programs in Go, and
// bench/threads/ the std::thread versions, with the same parameters.
//
//   goro_workloads spawn|yield|park|idle [--n N] [--quick]
//
// The number of Ps comes from GORO_PROCS (bench/compare sets it).
#include <goro/detail/testing.h>
#include <goro/goro.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "common.h"

namespace {

constexpr int kReps = 3;  // spawn and yield: the median of three runs

// spawn: start n goroutines that each call wg.done(), wait for all.
void spawn(long n) {
  std::vector<double> ns;
  for (int rep = 0; rep < kReps; ++rep) {
    // Timed inside the goroutine: from the first spawn to wait() returning.
    double t = goro::run([n] {
      auto wg = std::make_unique<goro::WaitGroup>();  // on the heap, as Go's escapes
      auto t0 = bench::Clock::now();
      wg->add(n);
      for (long i = 0; i < n; ++i) goro::go([w = wg.get()] { w->done(); });
      wg->wait();
      return bench::ns_since(t0);
    });
    ns.push_back(t / double(n));
  }
  bench::result("spawn", "goro", goro::procs(), "ns_each", bench::median(ns), "ns");
}

// yield: 2 goroutines calling yield() n times each.
void yield(long n) {
  std::vector<double> ns;
  for (int rep = 0; rep < kReps; ++rep) {
    double t = goro::run([n] {
      auto t0 = bench::Clock::now();
      goro::WaitGroup wg;
      wg.add(2);
      for (int k = 0; k < 2; ++k)
        goro::go([&wg, n] {
          for (long i = 0; i < n; ++i) goro::yield();
          wg.done();
        });
      wg.wait();
      return bench::ns_since(t0);
    });
    ns.push_back(t / double(2 * n));
  }
  bench::result("yield", "goro", goro::procs(), "ns_per_switch", bench::median(ns), "ns");
}

// park: n goroutines blocked at once on a WaitGroup gate, then all released.
// (bench.md blocks them on one channel released by close; goro's channels come with
// the channels issue, and the Go twin uses the same WaitGroup gate meanwhile.)
void park(long n) {
  goro::run([] {});  // the runtime and its threads exist before the baseline
  long before = bench::rss_plus_pte_bytes();
  long rss0 = bench::status_kib("VmRSS"), pte0 = bench::status_kib("VmPTE");
  goro::run([n, before, rss0, pte0] {
    goro::WaitGroup started, gate, finished;
    started.add(n);
    gate.add(1);
    finished.add(n);
    auto t0 = bench::Clock::now();
    for (long i = 0; i < n; ++i)
      goro::go([&] {
        started.done();
        gate.wait();
        finished.done();
      });
    started.wait();
    double spawn_ns = bench::ns_since(t0) / double(n);
    long after = bench::rss_plus_pte_bytes();
    std::printf("# park: per goroutine VmRSS +%.0f bytes, VmPTE +%.0f bytes\n",
                double(bench::status_kib("VmRSS") - rss0) * 1024 / double(n),
                double(bench::status_kib("VmPTE") - pte0) * 1024 / double(n));
    auto t1 = bench::Clock::now();
    gate.done();
    finished.wait();
    double wake_ns = bench::ns_since(t1) / double(n);
    int p = goro::procs();
    bench::result("park", "goro", p, "bytes_each", double(after - before) / double(n), "bytes");
    bench::result("park", "goro", p, "spawn_ns_each", spawn_ns, "ns");
    bench::result("park", "goro", p, "wake_ns_each", wake_ns, "ns");
    bench::result("park", "goro", p, "parked", double(n), "count");
    bench::result("park", "goro", p, "stack_reservation",
                  double(goro::detail::testing::stack_size()), "bytes");
  });
}

// idle: the runtime started with all Ps and nothing to do: CPU used in `seconds`
// while the main thread sleeps outside any goroutine. A few goroutines that yield
// first wake every M, so all of them exist and have gone back to sleep.
void idle(int seconds) {
  goro::run([] {
    goro::WaitGroup wg;
    int n = goro::procs() * 4;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&wg] {
        goro::yield();
        wg.done();
      });
    wg.wait();
  });
  double c0 = bench::cpu_seconds();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  bench::result("idle", "goro", goro::procs(), "cpu_seconds", bench::cpu_seconds() - c0, "cpu_s");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: goro_workloads spawn|yield|park|idle [--n N] [--quick]\n");
    return 2;
  }
  bench::print_build();
  bool quick = bench::has_flag(argc, argv, "--quick");
  const char* w = argv[1];
  if (std::strcmp(w, "spawn") == 0) {
    spawn(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "yield") == 0) {
    yield(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "park") == 0) {
    park(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "idle") == 0) {
    idle(int(bench::arg_n(argc, argv, quick ? 1 : 5)));
  } else {
    std::fprintf(stderr, "goro_workloads: unknown workload %s\n", w);
    return 2;
  }
}
