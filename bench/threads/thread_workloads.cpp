// thread_workloads.cpp — the comparison suite's OS-thread column: the same workloads
// with one std::thread (default attributes: the platform's default stack reservation)
// per unit of work.
//
//   thread_workloads spawn|yield|pingpong|park|mpmc|mutex|maxcount [--n N] [--quick]
//   thread_workloads maxcount [--n CAP] [--margin TASKS] [--seconds S]
//
// (yield is also accepted as "switch": it is a switch between two OS threads.)
// ring, select, fib and sleep have no thread version: a thread per ring member, or per
// fib call, measures only thread creation (spawn does that), the standard library has
// no select, and 100,000 sleeping threads do not fit (maxcount says how many do). For
// those this program says so and prints no figure.
//
// "procs" is the number of CPUs the process may use (bench/compare pins it with
// taskset for the 1-CPU rows).
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "../common.h"

namespace {

int cpus() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

// spawn: create and join n threads, each decrementing a counter.
//   ns_each:        all started, then all joined, in batches of 1,000 (like the
//                   goroutine version, which starts them all before waiting);
//   serial_ns_each: one thread created and joined at a time (creation + teardown
//                   latency, nothing overlapping).
void spawn(long n) {
  std::atomic<long> left{n};
  constexpr long kBatch = 1000;
  auto t0 = bench::Clock::now();
  std::vector<std::thread> batch;
  batch.reserve(kBatch);
  for (long i = 0; i < n; i += kBatch) {
    for (long j = i; j < n && j < i + kBatch; ++j)
      batch.emplace_back([&left] { left.fetch_sub(1); });
    for (auto& t : batch) t.join();
    batch.clear();
  }
  double batched = bench::ns_since(t0) / double(n);

  left = n;
  t0 = bench::Clock::now();
  for (long i = 0; i < n; ++i) std::thread([&left] { left.fetch_sub(1); }).join();
  double serial = bench::ns_since(t0) / double(n);

  bench::result("spawn", "threads", cpus(), "ns_each", batched, "ns");
  bench::result("spawn", "threads", cpus(), "serial_ns_each", serial, "ns");
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
  bench::result("yield", "threads", cpus(), "ns_per_switch", bench::ns_since(t0) / double(2 * n),
                "ns");
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
  long rss0 = bench::status_kib("VmRSS"), pte0 = bench::status_kib("VmPTE");
  auto t0 = bench::Clock::now();
  for (long i = 0; i < n; ++i) threads.emplace_back([&gate] { gate.arrive_and_wait(); });
  {
    std::unique_lock lk(gate.mu);
    gate.all_arrived.wait(lk, [&] { return gate.arrived == n; });
  }
  double spawn_ns = bench::ns_since(t0) / double(n);
  long after = bench::rss_plus_pte_bytes();
  std::printf("# park: per thread VmRSS +%.0f bytes, VmPTE +%.0f bytes\n",
              double(bench::status_kib("VmRSS") - rss0) * 1024 / double(n),
              double(bench::status_kib("VmPTE") - pte0) * 1024 / double(n));
  auto t1 = bench::Clock::now();
  {
    std::lock_guard lk(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  for (auto& t : threads) t.join();
  double wake_ns = bench::ns_since(t1) / double(n);
  bench::result("park", "threads", cpus(), "bytes_each", double(after - before) / double(n),
                "bytes");
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

// A bounded queue on std::mutex and two condition variables: what a channel is made
// of without goroutines. send blocks while full, recv while empty; recv returns
// nullopt once closed and drained. All state is guarded by mu_.
template <class T>
class MutexQueue {
 public:
  explicit MutexQueue(std::size_t capacity) : buf_(capacity) {}
  void send(T v) {
    std::unique_lock lk(mu_);
    not_full_.wait(lk, [this] { return count_ < buf_.size(); });
    buf_[(head_ + count_) % buf_.size()] = std::move(v);
    ++count_;
    lk.unlock();
    not_empty_.notify_one();
  }
  std::optional<T> recv() {
    std::unique_lock lk(mu_);
    not_empty_.wait(lk, [this] { return count_ > 0 || closed_; });
    if (count_ == 0) return std::nullopt;
    T v = std::move(buf_[head_]);
    head_ = (head_ + 1) % buf_.size();
    --count_;
    lk.unlock();
    not_full_.notify_one();
    return v;
  }
  void close() {
    {
      std::lock_guard lk(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::vector<T> buf_;
  std::size_t head_ = 0, count_ = 0;
  bool closed_ = false;
};

[[noreturn]] void wrong(const char* what, long got, long want) {
  std::fprintf(stderr, "thread_workloads: %s: got %ld, want %ld\n", what, got, want);
  std::exit(1);
}

// pingpong: two threads bounce an int over two one-slot mutex+condvar queues (the
// "channels"), n round trips.
void pingpong(long n) {
  MutexQueue<long> ping(1), pong(1);
  std::thread other([&] {
    while (auto v = ping.recv()) pong.send(*v + 1);
  });
  auto t0 = bench::Clock::now();
  long v = 0;
  for (long i = 0; i < n; ++i) {
    ping.send(v);
    v = *pong.recv();
  }
  double elapsed = bench::ns_since(t0);
  ping.close();
  other.join();
  if (v != n) wrong("pingpong round trips", v, n);
  std::printf("# pingpong: 2 threads, one-slot std::mutex + std::condition_variable queues\n");
  bench::result("pingpong", "threads", cpus(), "ns_per_round_trip", elapsed / double(n), "ns");
}

// mpmc: 4 producer and 4 consumer threads over one mutex+condvar queue of capacity
// 1024, n ints in all.
void mpmc(long n) {
  constexpr long kProducers = 4, kConsumers = 4, kCapacity = 1024;
  MutexQueue<long> q(kCapacity);
  std::atomic<long> total{0};
  std::vector<std::thread> consumers, producers;
  auto t0 = bench::Clock::now();
  for (long c = 0; c < kConsumers; ++c)
    consumers.emplace_back([&] {
      long sum = 0;
      while (auto v = q.recv()) sum += *v;
      total.fetch_add(sum);
    });
  for (long p = 0; p < kProducers; ++p)
    producers.emplace_back([&q, lo = n * p / kProducers, hi = n * (p + 1) / kProducers] {
      for (long i = lo; i < hi; ++i) q.send(i);
    });
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();
  double elapsed = bench::ns_since(t0);
  if (total != n * (n - 1) / 2) wrong("mpmc sum", total, n * (n - 1) / 2);
  std::printf("# mpmc: 4 + 4 threads, std::mutex + std::condition_variable queue of 1024\n");
  bench::result("mpmc", "threads", cpus(), "ns_per_item", elapsed / double(n), "ns");
}

// mutex: kMutexThreads threads doing n lock/increment/unlock on one std::mutex in
// all. Not 1,000 threads as the goroutine versions have: a thread each would mostly
// measure the kernel's scheduler; a few more threads than CPUs keep the lock
// contended, which is the point.
constexpr long kMutexThreads = 8;
void mutex(long n) {
  std::mutex mu;
  long counter = 0;  // guarded by mu
  long each = n / kMutexThreads;
  std::vector<std::thread> threads;
  auto t0 = bench::Clock::now();
  for (long i = 0; i < kMutexThreads; ++i)
    threads.emplace_back([&mu, &counter, each] {
      for (long k = 0; k < each; ++k) {
        std::lock_guard lock(mu);
        ++counter;
      }
    });
  for (auto& t : threads) t.join();
  double elapsed = bench::ns_since(t0);
  if (counter != kMutexThreads * each) wrong("mutex count", counter, kMutexThreads * each);
  std::printf("# mutex: %ld threads (not 1,000) on one std::mutex, %ld locks each\n", kMutexThreads,
              each);
  bench::result("mutex", "threads", cpus(), "ns_per_lock", elapsed / double(kMutexThreads * each),
                "ns");
  bench::result("mutex", "threads", cpus(), "threads", double(kMutexThreads), "count");
}

// A number from a /proc file (its first field), or -1.
long proc_long(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  long v = -1;
  if (std::fscanf(f, "%ld", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

// Threads (kernel tasks) in the whole system now: /proc/loadavg's "running/total".
long tasks_now() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return -1;
  double a, b, c;
  long running, total = -1;
  if (std::fscanf(f, "%lf %lf %lf %ld/%ld", &a, &b, &c, &running, &total) != 5) total = -1;
  std::fclose(f);
  return total;
}

long maps_now() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return -1;
  long n = 0;
  for (int ch; (ch = std::fgetc(f)) != EOF;) n += ch == '\n';
  std::fclose(f);
  return n;
}

// The pids cgroup limit of this process (v2, or v1's pids controller), or -1.
long cgroup_pids_headroom() {
  std::vector<std::string> dirs;
  if (FILE* f = std::fopen("/proc/self/cgroup", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      std::string l(line);
      if (!l.empty() && l.back() == '\n') l.pop_back();
      auto c1 = l.find(':'), c2 = l.find(':', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      std::string ctl = l.substr(c1 + 1, c2 - c1 - 1), path = l.substr(c2 + 1);
      if (ctl.empty()) dirs.push_back("/sys/fs/cgroup" + path);
      if (ctl == "pids") dirs.push_back("/sys/fs/cgroup/pids" + path);
    }
    std::fclose(f);
  }
  for (auto& d : dirs) {
    long max = proc_long((d + "/pids.max").c_str());  // "max" reads as -1
    long cur = proc_long((d + "/pids.current").c_str());
    if (max > 0 && cur >= 0) return max - cur;
  }
  return -1;
}

// maxcount: how many blocked threads (default attributes) fit: create until
// pthread_create fails, `cap` is reached, or the safety limit. Threads come from
// machine-wide pools (pid_max, threads-max, a pids cgroup), so running one process
// into them makes every other process's fork() fail meanwhile: the run stops
// `margin` tasks short of the smallest of them, and reports the limits it saw.
// Everything it needs is allocated up front: once out of mappings, malloc can fail.
void maxcount(long cap, long margin, double max_seconds) {
  // PIDs below 300 are reserved once pid numbers wrap (the kernel's RESERVED_PIDS).
  long pid_max = proc_long("/proc/sys/kernel/pid_max");
  long threads_max = proc_long("/proc/sys/kernel/threads-max");
  long map_count = proc_long("/proc/sys/vm/max_map_count");
  long tasks = tasks_now(), maps = maps_now();
  long by_pids = pid_max > 0 && tasks >= 0 ? pid_max - 300 - tasks : -1;
  long by_threads_max = threads_max > 0 && tasks >= 0 ? threads_max - tasks : -1;
  long by_maps = map_count > 0 && maps >= 0 ? (map_count - maps) / 2 : -1;  // stack + guard
  long by_cgroup = cgroup_pids_headroom();
  rlimit nproc{};
  getrlimit(RLIMIT_NPROC, &nproc);
  long by_nproc =
      nproc.rlim_cur == RLIM_INFINITY || geteuid() == 0 ? -1 : long(nproc.rlim_cur) - tasks;

  long predicted = -1;
  const char* predicted_by = "none";
  auto consider = [&](long v, const char* name) {
    if (v >= 0 && (predicted < 0 || v < predicted)) predicted = v, predicted_by = name;
  };
  consider(by_pids, "kernel.pid_max");
  consider(by_threads_max, "kernel.threads-max");
  consider(by_cgroup, "pids cgroup");
  consider(by_nproc, "RLIMIT_NPROC");
  long kernel_limit = predicted;  // the task pools shared with every other process
  consider(by_maps, "vm.max_map_count");
  long safe = kernel_limit >= 0 ? std::max(0L, kernel_limit - margin) : cap;
  long limit = std::min(cap, safe);
  std::printf(
      "# maxcount: limits here: pid_max %ld (%ld free), threads-max %ld (%ld free), "
      "max_map_count %ld (room for %ld stacks), pids cgroup %ld free, RLIMIT_NPROC %ld free\n",
      pid_max, by_pids, threads_max, by_threads_max, map_count, by_maps, by_cgroup, by_nproc);
  std::printf(
      "# maxcount: predicted maximum %ld (%s); creating up to %ld (cap %ld, keeping %ld tasks "
      "free for the rest of the machine)\n",
      predicted, predicted_by, limit, cap, margin);

  std::vector<pthread_t> ids(static_cast<std::size_t>(std::max(limit, 1L)));
  static std::mutex mu;
  static std::condition_variable cv;
  static bool release = false;
  long n = 0;
  int err = 0;
  auto t0 = bench::Clock::now();
  bool timed_out = false;
  for (; n < limit; ++n) {
    err = pthread_create(
        &ids[std::size_t(n)], nullptr,
        [](void*) -> void* {
          std::unique_lock lk(mu);
          cv.wait(lk, [] { return release; });
          return nullptr;
        },
        nullptr);
    if (err != 0) break;
    if ((n & 1023) == 1023 && bench::ns_since(t0) > max_seconds * 1e9) {
      timed_out = true;
      ++n;
      break;
    }
  }
  double create_s = bench::ns_since(t0) / 1e9;
  long rss = bench::rss_plus_pte_bytes();
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  for (long i = 0; i < n; ++i) pthread_join(ids[std::size_t(i)], nullptr);

  const char* stop = err != 0    ? strerrorname_np(err)
                     : timed_out ? "time limit"
                     : n == cap  ? "cap"
                                 : "safety margin";
  std::printf("# maxcount: created %ld threads in %.1f s (%.0f MiB RSS+PTE), stopped by: %s%s%s\n",
              n, create_s, double(rss) / 1048576.0, stop, err != 0 ? " - " : "",
              err != 0 ? std::strerror(err) : "");
  std::printf("# maxcount-stop: %s\n", stop);
  bench::result("maxcount", "threads", cpus(), "count", double(n), "count");
  bench::result("maxcount", "threads", cpus(), "errno", double(err), "count");
  bench::result("maxcount", "threads", cpus(), "predicted", double(predicted), "count");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: thread_workloads spawn|yield(switch)|pingpong|park|mpmc|mutex|maxcount "
                 "[--n N] [--quick] [--margin M] [--seconds S]\n");
    return 2;
  }
  bench::print_build();
  bool quick = bench::has_flag(argc, argv, "--quick");
  const char* w = argv[1];
  if (std::strcmp(w, "switch") == 0) w = "yield";  // the seeds' name for it
  if (std::strcmp(w, "spawn") == 0) {
    spawn(bench::arg_n(argc, argv, quick ? 2000 : 20000));
  } else if (std::strcmp(w, "yield") == 0) {
    yield(bench::arg_n(argc, argv, quick ? 20000 : 200000));
  } else if (std::strcmp(w, "pingpong") == 0) {
    pingpong(bench::arg_n(argc, argv, quick ? 10000 : 100000));
  } else if (std::strcmp(w, "park") == 0) {
    park(bench::arg_n(argc, argv, quick ? 1000 : 10000));
  } else if (std::strcmp(w, "mpmc") == 0) {
    mpmc(bench::arg_n(argc, argv, quick ? 1000000 : 10000000));
  } else if (std::strcmp(w, "mutex") == 0) {
    mutex(bench::arg_n(argc, argv, quick ? 1000000 : 10000000));
  } else if (std::strcmp(w, "ring") == 0 || std::strcmp(w, "select") == 0 ||
             std::strcmp(w, "fib") == 0 || std::strcmp(w, "sleep") == 0) {
    std::printf("# %s: no thread version (see the top of thread_workloads.cpp)\n", w);
  } else if (std::strcmp(w, "maxcount") == 0) {
    maxcount(bench::arg_n(argc, argv, quick ? 5000 : 100000),
             bench::arg_long(argc, argv, "--margin", 2048),
             double(bench::arg_long(argc, argv, "--seconds", 30)));
  } else {
    std::fprintf(stderr, "thread_workloads: unknown workload %s\n", w);
    return 2;
  }
}
