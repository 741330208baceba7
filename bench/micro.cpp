// micro.cpp — single operations with Google Benchmark (BM_<Area>_<Case>). Each
// benchmark runs its timing loop inside one goroutine (goro::run), so the figures are
// per operation on the scheduler, not per goro::run. GORO_PROCS sets the Ps; the
// context block at the top of the output says how many and how this was built.
//
// Read with care at 1 P: goroutines are not preempted, so BM_Mutex_Contended's other
// goroutines never run while the timing loop does (it measures the uncontended path
// there); BM_Mutex_YieldHolding is contended at any number of Ps. BM_Yield_Pair is
// one yield of the timed goroutine: at 1 P that is two switches (there and back).
// BM_Chan_Unbuffered_PingPong and BM_Select_TwoCase hand values to a partner
// goroutine, so every iteration blocks and wakes: at 1 P each is a switch there and
// back, at more Ps the partner may run on another thread.
// Goroutine benchmarks report wall time; their CPU column is the whole process's.
#include <benchmark/benchmark.h>
#include <goro/goro.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common.h"

namespace {

// The timed goroutine may resume on another OS thread after any switch, so the
// per-thread CPU clock Google Benchmark reads by default means nothing: time by the
// wall clock, and report the whole process's CPU (every M, spinning included).
void goro_timing(benchmark::internal::Benchmark* b) { b->UseRealTime()->MeasureProcessCPUTime(); }

void BM_Spawn_Run(benchmark::State& state) {
  goro::run([&] {
    for (auto _ : state) {
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&wg] { wg.done(); });
      wg.wait();
    }
  });
}
BENCHMARK(BM_Spawn_Run)->Apply(goro_timing);

void BM_Spawn_Batch1000(benchmark::State& state) {
  goro::run([&] {
    for (auto _ : state) {
      goro::WaitGroup wg;
      wg.add(1000);
      for (int i = 0; i < 1000; ++i) goro::go([&wg] { wg.done(); });
      wg.wait();
    }
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Spawn_Batch1000)->Apply(goro_timing);

void BM_Yield_Pair(benchmark::State& state) {
  goro::run([&] {
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) goro::yield();
      wg.done();
    });
    for (auto _ : state) goro::yield();
    stop.store(true);
    wg.wait();
  });
}
BENCHMARK(BM_Yield_Pair)->Apply(goro_timing);

void BM_Yield_Alone(benchmark::State& state) {
  goro::run([&] {
    for (auto _ : state) goro::yield();
  });
}
BENCHMARK(BM_Yield_Alone)->Apply(goro_timing);

void BM_Mutex_Uncontended(benchmark::State& state) {
  goro::Mutex mu;
  goro::run([&] {
    for (auto _ : state) {
      mu.lock();
      mu.unlock();
    }
  });
}
BENCHMARK(BM_Mutex_Uncontended)->Apply(goro_timing);

// The timed goroutine and `others` more goroutines all lock, increment and unlock
// (yielding while holding the lock if `yield_holding`). Time is per lock of the timed
// goroutine, which depends on how fairly the lock goes round; the counters say per
// lock of anyone: ns_per_lock (wall time / every lock taken while timing) and
// locks_per_iter (how many locks the others took per lock of the timed goroutine).
void mutex_contended(benchmark::State& state, bool yield_holding) {
  const int others = int(state.range(0));
  goro::Mutex mu;
  long counter = 0;  // guarded by mu
  goro::run([&] {
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(others);
    for (int i = 0; i < others; ++i)
      goro::go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          std::lock_guard lock(mu);
          ++counter;
          if (yield_holding) goro::yield();
        }
        wg.done();
      });
    long c0, c1;
    {
      std::lock_guard lock(mu);
      c0 = counter;
    }
    auto t0 = bench::Clock::now();
    for (auto _ : state) {
      std::lock_guard lock(mu);
      ++counter;
      if (yield_holding) goro::yield();
    }
    double ns = bench::ns_since(t0);
    {
      std::lock_guard lock(mu);
      c1 = counter;
    }
    stop.store(true);
    wg.wait();
    double locks = double(c1 - c0);
    state.counters["ns_per_lock"] = locks > 0 ? ns / locks : 0;
    state.counters["locks_per_iter"] =
        state.iterations() > 0 ? locks / double(state.iterations()) : 0;
  });
}

// Contended only where goroutines run in parallel: at 1 P the others do not run
// while the timed goroutine holds its P (no preemption), so this is the fast path.
void BM_Mutex_Contended(benchmark::State& state) { mutex_contended(state, false); }
BENCHMARK(BM_Mutex_Contended)->Arg(1)->Arg(7)->Apply(goro_timing);

// Contended at any number of Ps: every holder yields inside the critical section, so
// the others find the mutex locked and park, and unlock has a waiter to wake.
void BM_Mutex_YieldHolding(benchmark::State& state) { mutex_contended(state, true); }
BENCHMARK(BM_Mutex_YieldHolding)->Arg(1)->Arg(7)->Apply(goro_timing);

void BM_WaitGroup_AddDone(benchmark::State& state) {
  goro::WaitGroup wg;
  for (auto _ : state) {
    wg.add(1);
    wg.done();
  }
}
BENCHMARK(BM_WaitGroup_AddDone)->Apply(goro_timing);

// One round trip: send an int on an unbuffered channel to a partner goroutine, which
// sends it back on another.
void BM_Chan_Unbuffered_PingPong(benchmark::State& state) {
  goro::run([&] {
    goro::Chan<int> ping, pong;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([ping, pong, &wg] {
      for (int v : ping) pong.send(v);
      wg.done();
    });
    int v = 0;
    for (auto _ : state) {
      ping.send(v);
      v = *pong.recv();
    }
    ping.close();
    wg.wait();
  });
}
BENCHMARK(BM_Chan_Unbuffered_PingPong)->Apply(goro_timing);

// A send and a receive on a buffered channel by one goroutine: the buffer's path
// alone, nothing ever blocks.
void BM_Chan_Buffered_SendRecv(benchmark::State& state) {
  goro::run([&] {
    goro::Chan<int> ch(std::size_t(state.range(0)));
    for (auto _ : state) {
      ch.send(1);
      benchmark::DoNotOptimize(ch.recv());
    }
  });
}
BENCHMARK(BM_Chan_Buffered_SendRecv)->Arg(1)->Arg(1024)->Apply(goro_timing);

// try_send on a full channel: the failing non-blocking path.
void BM_Chan_TrySend_Full(benchmark::State& state) {
  goro::run([&] {
    goro::Chan<int> ch(1);
    ch.send(0);
    for (auto _ : state) {
      bool sent = ch.try_send(1);
      benchmark::DoNotOptimize(sent);
      if (sent) state.SkipWithError("try_send succeeded on a full channel");
    }
  });
}
BENCHMARK(BM_Chan_TrySend_Full)->Apply(goro_timing);

// One value from the timed goroutine's 2-case select (send on a or on b) to a
// partner's 2-case select (receive from a or from b): the select workload's round.
void BM_Select_TwoCase(benchmark::State& state) {
  goro::run([&] {
    goro::Chan<int> a, b;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([a, b, &wg] {
      for (bool open = true; open;) {
        auto got = [&open](std::optional<int> v) { open = v.has_value(); };
        goro::select(goro::case_recv(a, got), goro::case_recv(b, got));
      }
      wg.done();
    });
    int i = 0;
    for (auto _ : state) {
      goro::select(goro::case_send(a, i), goro::case_send(b, i));
      ++i;
    }
    a.close();  // the partner's next select sees it closed
    wg.wait();
    b.close();
  });
}
BENCHMARK(BM_Select_TwoCase)->Apply(goro_timing);

void BM_Thread_Create(benchmark::State& state) {
  for (auto _ : state) {
    std::thread t([] {});
    t.join();
  }
}
BENCHMARK(BM_Thread_Create)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  bench::print_build();
  benchmark::AddCustomContext("goro_procs", std::to_string(goro::procs()));
  benchmark::AddCustomContext("goro_build", GORO_BENCH_FLAGS);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
