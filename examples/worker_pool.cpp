// worker_pool — a fixed number of worker goroutines draining a queue of jobs that
// plain threads and goroutines both submit. (With goro::Chan this is a channel; this
// version shows the sync primitives alone.)
#include <goro/goro.h>

#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

int main() {
  goro::Mutex mu;
  std::deque<int> jobs;
  goro::WaitGroup pending;
  long results = 0;

  auto submit = [&](int job) {
    pending.add(1);
    std::lock_guard lock(mu);
    jobs.push_back(job);
  };

  // A plain thread submits jobs too: goro's primitives block it without a goroutine.
  std::thread producer([&] {
    for (int i = 0; i < 500; ++i) submit(i);
  });
  for (int i = 500; i < 1000; ++i) submit(i);
  producer.join();

  goro::run([&] {
    goro::WaitGroup workers;
    for (int w = 0; w < 8; ++w) {
      workers.add(1);
      goro::go([&] {
        for (;;) {
          int job;
          {
            std::lock_guard lock(mu);
            if (jobs.empty()) break;
            job = jobs.front();
            jobs.pop_front();
          }
          long r = long(job) * job;
          {
            std::lock_guard lock(mu);
            results += r;
          }
          pending.done();
          goro::yield();  // let other workers take turns
        }
        workers.done();
      });
    }
    workers.wait();
  });
  pending.wait();
  std::printf("processed 1000 jobs, sum of squares %ld\n", results);
}
