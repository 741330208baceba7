// platform.h — the few OS and compiler facilities the runtime is built from: futexes,
// monotonic clocks, CPU pause, always-on checks, sanitizer detection.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define GORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define GORO_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif

#define GORO_NOINLINE __attribute__((noinline))
#define GORO_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORO_UNLIKELY(x) __builtin_expect(!!(x), 0)

// Always-on check: a failed one prints "fatal error: <msg>" and aborts. Never
// compiled out.
#define GORO_CHECK(cond, msg)                                                         \
  do {                                                                                \
    if (GORO_UNLIKELY(!(cond))) ::goro::detail::fatal_check(msg, __FILE__, __LINE__); \
  } while (0)

namespace goro::detail {

[[noreturn]] void fatal_check(const char* msg, const char* file, int line) noexcept;
// Prints "fatal error: <msg>", the goroutine dump, and exits with status 2, as Go's
// runtime.throw does.
[[noreturn]] void fatal(const char* msg) noexcept;

// The futex calls leave errno as they found it: they run inside goro primitives
// called by user code (a FUTEX_WAIT whose word already changed fails with EAGAIN),
// and a blocking call must not clobber the caller's errno.
inline void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected,
                       const struct timespec* rel_timeout = nullptr) noexcept {
  int saved = errno;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected,
            rel_timeout, nullptr, 0);
  errno = saved;
}
inline void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
  int saved = errno;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
  errno = saved;
}

// membarrier(2): cmd is a MEMBARRIER_CMD_* (linux/membarrier.h). 0 on success.
inline int membarrier(int cmd) noexcept { return int(::syscall(SYS_membarrier, cmd, 0, 0)); }

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

inline std::int64_t nanotime() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
// A cheap clock (a few ms resolution) for "how long has it waited".
inline std::int64_t coarse_nanotime() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace goro::detail
