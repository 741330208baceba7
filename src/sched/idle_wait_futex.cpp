// idle_wait_futex.cpp — idle_wait.h on a futex, until the netpoller replaces it with
// epoll_wait: the timed sleeper waits on one word with an absolute CLOCK_MONOTONIC
// deadline (FUTEX_WAIT_BITSET), and idle_wake sets the word and wakes it.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "sched/idle_wait.h"

namespace goro::detail {
namespace {

// 1: a wake is pending (set by idle_wake, consumed by idle_wait). The exchange on both
// sides orders the waker's earlier writes before the sleeper's later reads.
std::atomic<std::uint32_t> g_wake_pending{0};

}  // namespace

void idle_wait(std::int64_t until) noexcept {
  if (g_wake_pending.exchange(0, std::memory_order_acq_rel) != 0) return;
  struct timespec ts;
  ts.tv_sec = time_t(until / 1000000000);
  ts.tv_nsec = long(until % 1000000000);
  int saved = errno;
  // Sleeps while the word is 0: a wake that set it after the exchange above is not lost.
  // FUTEX_WAIT_BITSET takes an absolute deadline on CLOCK_MONOTONIC.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&g_wake_pending), FUTEX_WAIT_BITSET_PRIVATE,
            0u, &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
  errno = saved;
  g_wake_pending.store(0, std::memory_order_relaxed);
}

void idle_wake() noexcept {
  if (g_wake_pending.exchange(1, std::memory_order_acq_rel) != 0) return;  // already pending
  int saved = errno;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&g_wake_pending), FUTEX_WAKE_PRIVATE, 1,
            nullptr, nullptr, 0);
  errno = saved;
}

}  // namespace goro::detail
