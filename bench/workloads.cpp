// workloads.cpp — goro's side of the comparison suite (bench.md): one workload per
// run, figures as RESULT lines. bench/go/ has the same programs in Go, and
// bench/threads/ the std::thread versions, with the same parameters.
//
//   goro_workloads spawn|yield|pingpong|ring|park|mpmc|select|fib|mutex|sleep|idle [--n N]
//                  [--quick]
//   goro_workloads ring [--n GOROUTINES] [--rounds R]
//
// The number of Ps comes from GORO_PROCS (bench/compare sets it).
#include <goro/detail/testing.h>
#include <goro/goro.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common.h"

namespace {

constexpr int kReps = 3;  // the median of three runs (fib: see kFibReps)

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

// A workload's own check failed: the figures would mean nothing.
[[noreturn]] void wrong(const char* what, long got, long want) {
  std::fprintf(stderr, "goro_workloads: %s: got %ld, want %ld\n", what, got, want);
  std::exit(1);
}

// pingpong: 2 goroutines bounce an int over two unbuffered channels, n round trips.
void pingpong(long n) {
  std::vector<double> ns;
  for (int rep = 0; rep < kReps; ++rep) {
    double t = goro::run([n] {
      goro::Chan<long> ping, pong;
      goro::go([ping, pong] {
        for (long v : ping) pong.send(v + 1);
      });
      auto t0 = bench::Clock::now();
      long v = 0;
      for (long i = 0; i < n; ++i) {
        ping.send(v);
        v = *pong.recv();
      }
      double elapsed = bench::ns_since(t0);
      ping.close();
      if (v != n) wrong("pingpong round trips", v, n);
      return elapsed;
    });
    ns.push_back(t / double(n));
  }
  bench::result("pingpong", "goro", goro::procs(), "ns_per_round_trip", bench::median(ns), "ns");
}

// ring: g goroutines in a ring of unbuffered channels; a token goes round `rounds`
// times. Goroutine i receives on ring[i] and sends on ring[(i+1)%g]; the last hop
// goes to `done` instead of back to goroutine 0. Timed from the first send to the
// last receive, after every goroutine has started.
void ring(long g, long rounds) {
  std::vector<double> ns;
  long hops = g * rounds;
  for (int rep = 0; rep < kReps; ++rep) {
    double t = goro::run([g, rounds, hops] {
      std::vector<goro::Chan<long>> chans(static_cast<std::size_t>(g));
      goro::Chan<long> done;
      goro::WaitGroup started;
      started.add(g);
      for (long i = 0; i < g; ++i)
        goro::go([in = chans[std::size_t(i)], out = chans[std::size_t((i + 1) % g)], done,
                  last = i == g - 1, rounds, &started] {
          started.done();
          for (long r = 0; r < rounds; ++r) {
            long v = *in.recv();
            (last && r == rounds - 1 ? done : out).send(v + 1);
          }
        });
      started.wait();
      auto t0 = bench::Clock::now();
      chans[0].send(0);
      long v = *done.recv();
      double elapsed = bench::ns_since(t0);
      if (v != hops) wrong("ring hops", v, hops);
      return elapsed;
    });
    ns.push_back(t / double(hops));
  }
  std::printf("# ring: %ld goroutines, %ld rounds, %ld hops\n", g, rounds, hops);
  bench::result("ring", "goro", goro::procs(), "ns_per_hop", bench::median(ns), "ns");
}

// park: n goroutines blocked at once on one channel, then all released by close.
void park(long n) {
  goro::run([] {});  // the runtime and its threads exist before the baseline
  long before = bench::rss_plus_pte_bytes();
  long rss0 = bench::status_kib("VmRSS"), pte0 = bench::status_kib("VmPTE");
  goro::run([n, before, rss0, pte0] {
    goro::WaitGroup started, finished;
    goro::Chan<int> gate;
    started.add(n);
    finished.add(n);
    auto t0 = bench::Clock::now();
    for (long i = 0; i < n; ++i)
      goro::go([&started, &finished, g = &gate] {
        started.done();
        g->recv();
        finished.done();
      });
    started.wait();
    double spawn_ns = bench::ns_since(t0) / double(n);
    long after = bench::rss_plus_pte_bytes();
    std::printf("# park: per goroutine VmRSS +%.0f bytes, VmPTE +%.0f bytes\n",
                double(bench::status_kib("VmRSS") - rss0) * 1024 / double(n),
                double(bench::status_kib("VmPTE") - pte0) * 1024 / double(n));
    auto t1 = bench::Clock::now();
    gate.close();
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

// mpmc: 4 producers send n ints in all on one channel of capacity 1024; 4 consumers
// receive until it is closed.
void mpmc(long n) {
  constexpr long kProducers = 4, kConsumers = 4, kCapacity = 1024;
  std::vector<double> ns;
  for (int rep = 0; rep < kReps; ++rep) {
    double t = goro::run([n] {
      goro::Chan<long> ch(kCapacity);
      goro::WaitGroup prod, cons;
      goro::Mutex mu;
      long total = 0;  // guarded by mu
      prod.add(kProducers);
      cons.add(kConsumers);
      auto t0 = bench::Clock::now();
      for (long c = 0; c < kConsumers; ++c)
        goro::go([ch, &cons, &mu, &total] {
          long sum = 0;
          for (long v : ch) sum += v;
          {
            std::lock_guard lock(mu);
            total += sum;
          }
          cons.done();
        });
      for (long p = 0; p < kProducers; ++p)
        goro::go([ch, &prod, lo = n * p / kProducers, hi = n * (p + 1) / kProducers] {
          for (long i = lo; i < hi; ++i) ch.send(i);
          prod.done();
        });
      prod.wait();
      ch.close();
      cons.wait();
      double elapsed = bench::ns_since(t0);
      if (total != n * (n - 1) / 2) wrong("mpmc sum", total, n * (n - 1) / 2);
      return elapsed;
    });
    ns.push_back(t / double(n));
  }
  bench::result("mpmc", "goro", goro::procs(), "ns_per_item", bench::median(ns), "ns");
}

// select: 2 goroutines exchanging over 2-case selects, n rounds. Each round one long
// goes from the sender's select (send on a or on b) to the receiver's select
// (receive from a or from b); the figure is wall time per round.
void select_bench(long n) {
  std::vector<double> ns;
  for (int rep = 0; rep < kReps; ++rep) {
    double t = goro::run([n] {
      goro::Chan<long> a, b, got;
      goro::go([a, b, got, n] {
        long sum = 0;
        auto add = [&sum](std::optional<long> v) { sum += *v; };
        for (long i = 0; i < n; ++i) goro::select(goro::case_recv(a, add), goro::case_recv(b, add));
        got.send(sum);
      });
      auto t0 = bench::Clock::now();
      for (long i = 0; i < n; ++i) goro::select(goro::case_send(a, i), goro::case_send(b, i));
      long sum = *got.recv();
      double elapsed = bench::ns_since(t0);
      if (sum != n * (n - 1) / 2) wrong("select sum", sum, n * (n - 1) / 2);
      return elapsed;
    });
    ns.push_back(t / double(n));
  }
  bench::result("select", "goro", goro::procs(), "ns_per_select", bench::median(ns), "ns");
}

constexpr long kFibSerialBelow = 15;  // fib(n) for n <= 15 is a plain recursive call
constexpr int kFibReps = 5;  // fib(32) takes ~10 ms: one untimed run, then the median of five

long fib_serial(long n) { return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2); }

// Above n=15, each of the two recursive calls runs in a goroutine of its own, joined
// by a WaitGroup.
long fib_go(long n) {
  if (n <= kFibSerialBelow) return fib_serial(n);
  long a = 0, b = 0;
  goro::WaitGroup wg;
  wg.add(2);
  goro::go([&] {
    a = fib_go(n - 1);
    wg.done();
  });
  goro::go([&] {
    b = fib_go(n - 2);
    wg.done();
  });
  wg.wait();
  return a + b;
}

// fib: recursive fib(n), a goroutine per call above n=15; figure in ms.
void fib(long n) {
  long want = fib_serial(n);
  std::vector<double> ms;
  for (int rep = -1; rep < kFibReps; ++rep) {
    auto t0 = bench::Clock::now();
    long got = goro::run([n] { return fib_go(n); });
    if (rep >= 0) ms.push_back(bench::ns_since(t0) / 1e6);
    if (got != want) wrong("fib", got, want);
  }
  std::printf("# fib(%ld) = %ld, a goroutine per call above n=%ld\n", n, want, kFibSerialBelow);
  bench::result("fib", "goro", goro::procs(), "ms", bench::median(ms), "ms");
}

// mutex: 1,000 goroutines doing n lock/increment/unlock in all (n/1000 each).
void mutex(long n) {
  constexpr long kGoroutines = 1000;
  long each = n / kGoroutines;
  std::vector<double> ns;
  for (int rep = 0; rep < kReps; ++rep) {
    double t = goro::run([each] {
      goro::Mutex mu;
      long counter = 0;  // guarded by mu
      goro::WaitGroup wg;
      wg.add(kGoroutines);
      auto t0 = bench::Clock::now();
      for (long i = 0; i < kGoroutines; ++i)
        goro::go([&mu, &counter, &wg, each] {
          for (long k = 0; k < each; ++k) {
            std::lock_guard lock(mu);
            ++counter;
          }
          wg.done();
        });
      wg.wait();
      double elapsed = bench::ns_since(t0);
      if (counter != kGoroutines * each) wrong("mutex count", counter, kGoroutines * each);
      return elapsed;
    });
    ns.push_back(t / double(kGoroutines * each));
  }
  bench::result("mutex", "goro", goro::procs(), "ns_per_lock", bench::median(ns), "ns");
}

// sleep: n goroutines sleeping i % 100 + 1 ms each, all at once; figures: wall ms
// from the first spawn to the last wake-up (ideal: 100), and the 99th percentile of
// lateness (how long after its deadline each sleeper resumed), in ms.
void sleep_bench(long n) {
  std::vector<double> wall, p99;
  for (int rep = 0; rep < kReps; ++rep) {
    std::vector<std::int64_t> late(std::size_t(n), 0);
    double ms = goro::run([n, &late] {
      goro::WaitGroup wg;
      wg.add(n);
      auto t0 = bench::Clock::now();
      for (long i = 0; i < n; ++i)
        goro::go([&wg, &late, i] {
          auto d = std::chrono::milliseconds(i % 100 + 1);
          auto deadline = goro::Clock::now() + d;
          goro::sleep_for(d);
          late[std::size_t(i)] = (goro::Clock::now() - deadline).count();
          wg.done();
        });
      wg.wait();
      return bench::ns_since(t0) / 1e6;
    });
    for (std::int64_t l : late)
      if (l < 0) wrong("sleep: woke before its deadline", l, 0);
    std::sort(late.begin(), late.end());
    wall.push_back(ms);
    p99.push_back(double(late[late.size() * 99 / 100]) / 1e6);
  }
  std::printf("# sleep: wall ms per run %.1f %.1f %.1f (the first with cold stacks)\n", wall[0],
              wall[1], wall[2]);
  int p = goro::procs();
  bench::result("sleep", "goro", p, "wall_ms", bench::median(wall), "ms");
  bench::result("sleep", "goro", p, "p99_late_ms", bench::median(p99), "ms");
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
    std::fprintf(stderr,
                 "usage: goro_workloads "
                 "spawn|yield|pingpong|ring|park|mpmc|select|fib|mutex|sleep|idle "
                 "[--n N] [--rounds R] [--quick]\n");
    return 2;
  }
  bench::print_build();
  bool quick = bench::has_flag(argc, argv, "--quick");
  const char* w = argv[1];
  if (std::strcmp(w, "spawn") == 0) {
    spawn(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "yield") == 0) {
    yield(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "pingpong") == 0) {
    pingpong(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "ring") == 0) {
    ring(bench::arg_n(argc, argv, 10000),
         bench::arg_long(argc, argv, "--rounds", quick ? 10 : 100));
  } else if (std::strcmp(w, "park") == 0) {
    park(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "mpmc") == 0) {
    mpmc(bench::arg_n(argc, argv, quick ? 1000000 : 10000000));
  } else if (std::strcmp(w, "select") == 0) {
    select_bench(bench::arg_n(argc, argv, quick ? 100000 : 1000000));
  } else if (std::strcmp(w, "fib") == 0) {
    fib(bench::arg_n(argc, argv, quick ? 27 : 32));
  } else if (std::strcmp(w, "mutex") == 0) {
    mutex(bench::arg_n(argc, argv, quick ? 1000000 : 10000000));
  } else if (std::strcmp(w, "sleep") == 0) {
    sleep_bench(bench::arg_n(argc, argv, quick ? 10000 : 100000));
  } else if (std::strcmp(w, "idle") == 0) {
    idle(int(bench::arg_n(argc, argv, quick ? 1 : 5)));
  } else {
    std::fprintf(stderr, "goro_workloads: unknown workload %s\n", w);
    return 2;
  }
}
