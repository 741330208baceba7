// asan_canary.cpp — a heap use-after-free inside a goroutine (that has parked and may
// have moved threads first). ASan must report "heap-use-after-free"; ctest passes only
// if it does.
#include <cstdio>

#include "goro/goro.h"

namespace {
int* volatile g_dangling = nullptr;  // volatile: the compiler cannot see the bug
volatile int g_sink = 0;
}  // namespace

int main() {
  goro::run([] {
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      int* p = new int[8]();
      g_dangling = p;
      delete[] p;
      wg.done();
    });
    wg.wait();  // park: the read below may run on another thread
    g_sink = g_dangling[3];
  });
  std::puts("canary: no report (ASan did not catch the use-after-free)");
  return 0;
}
