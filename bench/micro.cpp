// micro.cpp — single operations with Google Benchmark (BM_<Area>_<Case>). Each
// benchmark runs its timing loop inside one goroutine (goro::run), so the figures are
// per operation on the scheduler, not per goro::run.
#include <benchmark/benchmark.h>
#include <goro/goro.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace {

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
BENCHMARK(BM_Spawn_Run);

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
BENCHMARK(BM_Spawn_Batch1000);

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
BENCHMARK(BM_Yield_Pair);

void BM_Yield_Alone(benchmark::State& state) {
  goro::run([&] {
    for (auto _ : state) goro::yield();
  });
}
BENCHMARK(BM_Yield_Alone);

void BM_Mutex_Uncontended(benchmark::State& state) {
  goro::Mutex mu;
  goro::run([&] {
    for (auto _ : state) {
      mu.lock();
      mu.unlock();
    }
  });
}
BENCHMARK(BM_Mutex_Uncontended);

void BM_Mutex_Contended(benchmark::State& state) {
  const int kOthers = int(state.range(0));
  goro::Mutex mu;
  long counter = 0;
  goro::run([&] {
    std::atomic<bool> stop{false};
    goro::WaitGroup wg;
    wg.add(kOthers);
    for (int i = 0; i < kOthers; ++i)
      goro::go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          std::lock_guard lock(mu);
          ++counter;
        }
        wg.done();
      });
    for (auto _ : state) {
      std::lock_guard lock(mu);
      ++counter;
    }
    stop.store(true);
    wg.wait();
  });
  benchmark::DoNotOptimize(counter);
}
BENCHMARK(BM_Mutex_Contended)->Arg(1)->Arg(7);

void BM_WaitGroup_AddDone(benchmark::State& state) {
  goro::WaitGroup wg;
  for (auto _ : state) {
    wg.add(1);
    wg.done();
  }
}
BENCHMARK(BM_WaitGroup_AddDone);

void BM_Thread_Create(benchmark::State& state) {
  for (auto _ : state) {
    std::thread t([] {});
    t.join();
  }
}
BENCHMARK(BM_Thread_Create)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
