// thread_workloads.cpp — the comparison suite's OS-thread column: the same workloads
// with one std::thread (default attributes: the platform's default stack reservation)
// per unit of work.
//
//   thread_workloads spawn|yield|park|maxcount [--n N] [--quick]
//
// "procs" is the number of CPUs the process may use (bench/compare pins it with
// taskset for the 1-CPU rows).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "../common.h"

namespace {

int cpus() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

// spawn: create and join n threads, each decrementing a counter (a thread at a time
// would measure only latency; like the goroutine version, all are started, then all
// joined, in batches that keep the live count reasonable).
void spawn(long n) {
  std::atomic<long> left{n};
  constexpr long kBatch = 1000;
  auto t0 = bench::Clock::now();
  std::vector<std::thread> batch;
  batch.reserve(kBatch);
  for (long i = 0; i < n; i += kBatch) {
    for (long j = i; j < n && j < i + kBatch; ++j) batch.emplace_back([&left] { left.fetch_sub(1); });
    for (auto& t : batch) t.join();
    batch.clear();
  }
  bench::result("spawn", "threads", cpus(), "ns_each", bench::ns_since(t0) / double(n), "ns");
}

// yield: two threads handing control back and forth through two semaphores, n round
// trips: what a switch between two OS threads costs through the kernel.
void yield(long n) {
  std::binary_semaphore a(0), b(0);
  auto t0 = bench::Clock::now();
  std::thread other([&] {
    for (long i = 0; i < n; ++i) {
      a.acquire();
      b.release();
    }
  });
  for (long i = 0; i < n; ++i) {
    a.release();
    b.acquire();
  }
  other.join();
  bench::result("yield", "threads", cpus(), "ns_per_switch", bench::ns_since(t0) / double(2 * n), "ns");
}

struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  long arrived = 0;
  std::condition_variable all_arrived;
  void arrive_and_wait() {
    std::unique_lock lk(mu);
    ++arrived;
    all_arrived.notify_one();
    cv.wait(lk, [this] { return open; });
  }
};

// park: n threads blocked at once on one condition variable, then released.
void park(long n) {
  Gate gate;
  std::vector<std::thread> threads;
  threads.reserve(std::size_t(n));
  long before = bench::rss_plus_pte_bytes();
  auto t0 = bench::Clock::now();
  for (long i = 0; i < n; ++i) threads.emplace_back([&gate] { gate.arrive_and_wait(); });
  {
    std::unique_lock lk(gate.mu);
    gate.all_arrived.wait(lk, [&] { return gate.arrived == n; });
  }
  double spawn_ns = bench::ns_since(t0) / double(n);
  long after = bench::rss_plus_pte_bytes();
  auto t1 = bench::Clock::now();
  {
    std::lock_guard lk(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  for (auto& t : threads) t.join();
  double wake_ns = bench::ns_since(t1) / double(n);
  bench::result("park", "threads", cpus(), "bytes_each", double(after - before) / double(n), "bytes");
  bench::result("park", "threads", cpus(), "spawn_ns_each", spawn_ns, "ns");
  bench::result("park", "threads", cpus(), "wake_ns_each", wake_ns, "ns");
  bench::result("park", "threads", cpus(), "parked", double(n), "count");
  pthread_attr_t attr;
  std::size_t stack = 0;
  if (pthread_getattr_default_np(&attr) == 0) {
    pthread_attr_getstacksize(&attr, &stack);
    pthread_attr_destroy(&attr);
  }
  if (stack == 0) {
    struct rlimit rl {};
    getrlimit(RLIMIT_STACK, &rl);
    stack = rl.rlim_cur;
  }
  bench::result("park", "threads", cpus(), "stack_reservation", double(stack), "bytes");
}

// maxcount: how many blocked threads fit: create until pthread_create fails or `cap`.
// Everything it needs is allocated up front: once the process is out of mappings,
// later allocations could fail too.
void maxcount(long cap) {
  std::vector<pthread_t> ids(static_cast<std::size_t>(cap));
  static std::mutex mu;
  static std::condition_variable cv;
  static bool release = false;
  long n = 0;
  int err = 0;
  for (; n < cap; ++n) {
    err = pthread_create(
        &ids[std::size_t(n)], nullptr,
        [](void*) -> void* {
          std::unique_lock lk(mu);
          cv.wait(lk, [] { return release; });
          return nullptr;
        },
        nullptr);
    if (err != 0) break;
  }
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  for (long i = 0; i < n; ++i) pthread_join(ids[std::size_t(i)], nullptr);
  std::printf("# threads: created %ld, then pthread_create said: %s\n", n,
              err != 0 ? std::strerror(err) : "(cap reached)");
  bench::result("maxcount", "threads", cpus(), "count", double(n), "count");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: thread_workloads spawn|yield|park|maxcount [--n N] [--quick]\n");
    return 2;
  }
  bench::print_build();
  bool quick = bench::has_flag(argc, argv, "--quick");
  const char* w = argv[1];
  if (std::strcmp(w, "spawn") == 0) {
    spawn(bench::arg_n(argc, argv, quick ? 2000 : 20000));
  } else if (std::strcmp(w, "yield") == 0) {
    yield(bench::arg_n(argc, argv, quick ? 20000 : 200000));
  } else if (std::strcmp(w, "park") == 0) {
    park(bench::arg_n(argc, argv, quick ? 1000 : 10000));
  } else if (std::strcmp(w, "maxcount") == 0) {
    maxcount(bench::arg_n(argc, argv, quick ? 5000 : 100000));
  } else {
    std::fprintf(stderr, "thread_workloads: unknown workload %s\n", w);
    return 2;
  }
}
