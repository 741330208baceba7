// common.h — what every C++ workload program shares: the RESULT line protocol that
// bench/compare reads, memory and CPU readings from /proc, and timing.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if __has_include("bench_build_info.h")
#include "bench_build_info.h"  // GORO_BENCH_FLAGS, written by bench/CMakeLists.txt
#endif
#ifndef GORO_BENCH_FLAGS
#define GORO_BENCH_FLAGS "?"
#endif

namespace bench {

using Clock = std::chrono::steady_clock;

inline double ns_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

// One figure, one line: the only lines bench/compare reads. Units: ns, bytes, ms,
// cpu_s, count. %.10g keeps byte counts such as 8388608 exact.
inline void result(const char* workload, const char* impl, int procs, const char* metric,
                   double value, const char* unit) {
  std::printf("RESULT workload=%s impl=%s procs=%d metric=%s value=%.10g unit=%s\n", workload, impl,
              procs, metric, value, unit);
  std::fflush(stdout);
}

inline void print_build() { std::printf("# build: %s\n", GORO_BENCH_FLAGS); }

// A field of /proc/self/status in KiB (VmRSS, VmPTE, ...).
inline long status_kib(const char* name) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  std::size_t len = std::strlen(name);
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, name, len) == 0 && line[len] == ':')
      std::sscanf(line + len + 1, "%ld", &v);
  std::fclose(f);
  return v;
}

// What the seeds call "memory": resident pages plus the page tables that map them.
inline long rss_plus_pte_bytes() { return (status_kib("VmRSS") + status_kib("VmPTE")) * 1024; }

inline double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline long arg_long(int argc, char** argv, const char* flag, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return std::atol(argv[i + 1]);
  return dflt;
}
inline long arg_n(int argc, char** argv, long dflt) { return arg_long(argc, argv, "--n", dflt); }
inline bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return true;
  return false;
}

}  // namespace bench
