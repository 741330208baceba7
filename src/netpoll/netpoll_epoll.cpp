// netpoll_epoll.cpp — the Linux backend of the network poller (netpoll.h): one epoll
// instance, every fd registered once for EPOLLIN|EPOLLOUT|EPOLLRDHUP, edge-triggered,
// and an eventfd that breaks a blocked epoll_wait (Go's netpoll_epoll.go). Waits
// with nanosecond timeouts (epoll_pwait2, Linux 5.11) where the kernel has it, else
// with epoll_wait, rounding the timeout up to whole milliseconds.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "netpoll/netpoll.h"
#include "sched/platform.h"

namespace goro::detail {
namespace {

// Written once by netpoll_backend_init (under netpoll.cpp's once flag), before any
// descriptor exists; atomic so that the threads that poll or break read them without
// relying on how they learnt that a descriptor exists.
std::atomic<int> g_epfd{-1};
std::atomic<int> g_breakfd{-1};
// 1 while a break is written and not yet consumed: a second break writes nothing.
// The blocked poller resets it (release) after draining the eventfd.
std::atomic<std::uint32_t> g_break_pending{0};
// Whether epoll_pwait2 may work (cleared on ENOSYS, or EPERM from a seccomp filter).
std::atomic<bool> g_have_pwait2{true};

// Marks the eventfd in epoll_event.data (a PollDesc is never at this address).
char g_break_tag;

// The kernel orders an EPOLL_CTL_ADD before any event it delivers for that fd, so a
// poller that gets a PollDesc's pointer sees that PollDesc built. ThreadSanitizer
// learns this from its epoll_wait interceptor, but clang 14's has none for
// epoll_pwait2 (and a poller blocked since before the registration then read a
// freshly constructed PollDesc "racily"): say it ourselves.
#if defined(GORO_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
inline void registrations_published() noexcept { __tsan_release(&g_break_tag); }
inline void registrations_seen() noexcept { __tsan_acquire(&g_break_tag); }
#else
inline void registrations_published() noexcept {}
inline void registrations_seen() noexcept {}
#endif

int wait_events(epoll_event* events, int max, std::int64_t timeout_ns) noexcept {
  if (timeout_ns > 0 && g_have_pwait2.load(std::memory_order_relaxed)) {
    struct timespec ts;
    ts.tv_sec = time_t(timeout_ns / 1000000000);
    ts.tv_nsec = long(timeout_ns % 1000000000);
    int n = ::epoll_pwait2(g_epfd.load(std::memory_order_acquire), events, max, &ts, nullptr);
    if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
    g_have_pwait2.store(false, std::memory_order_relaxed);  // old kernel, or seccomp
  }
  int ms;
  if (timeout_ns < 0)
    ms = -1;
  else if (timeout_ns == 0)
    ms = 0;
  else if (timeout_ns >= std::int64_t(1) << 40)
    ms = 1 << 30;  // far enough: nobody waits 12 days for a timer without a wake-up
  else
    ms = int((timeout_ns + 999999) / 1000000);  // never early
  return ::epoll_wait(g_epfd.load(std::memory_order_acquire), events, max, ms);
}

}  // namespace

bool netpoll_backend_init() noexcept {
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return false;
  int breakfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (breakfd < 0) {
    int e = errno;
    ::close(epfd);
    errno = e;
    return false;
  }
  // Level-triggered: every blocked poll sees a pending break until one drains it.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &g_break_tag;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0) {
    int e = errno;
    ::close(breakfd);
    ::close(epfd);
    errno = e;
    return false;
  }
  g_breakfd.store(breakfd, std::memory_order_release);
  g_epfd.store(epfd, std::memory_order_release);
  return true;
}

int netpoll_backend_open(int fd, PollDesc* pd) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  registrations_published();
  return ::epoll_ctl(g_epfd.load(std::memory_order_acquire), EPOLL_CTL_ADD, fd, &ev) == 0 ? 0
                                                                                          : errno;
}

void netpoll_backend_close(int fd) noexcept {
  int saved = errno;
  epoll_event ev{};  // non-null for kernels before 2.6.9
  ::epoll_ctl(g_epfd.load(std::memory_order_acquire), EPOLL_CTL_DEL, fd, &ev);
  errno = saved;
}

void netpoll_break() noexcept {
  int breakfd = g_breakfd.load(std::memory_order_acquire);
  if (breakfd < 0) return;
  std::uint32_t zero = 0;
  if (g_break_pending.load(std::memory_order_relaxed) != 0 ||
      !g_break_pending.compare_exchange_strong(zero, 1, std::memory_order_acq_rel))
    return;
  int saved = errno;
  std::uint64_t one = 1;
  for (;;) {
    ssize_t n = ::write(breakfd, &one, sizeof one);
    if (n == ssize_t(sizeof one) || errno == EAGAIN) break;  // EAGAIN: the counter is full
    if (errno != EINTR) fatal("goro: netpoll: write to the break eventfd failed");
  }
  errno = saved;
}

GList netpoll(std::int64_t timeout_ns) noexcept {
  GList list;
  if (g_epfd.load(std::memory_order_acquire) < 0) return list;
  int saved = errno;
  constexpr int kMaxEvents = 128;
  epoll_event events[kMaxEvents];
  bool blocking = timeout_ns != 0;
  if (blocking) netpoll_note_blocked(true);
  int n;
  for (;;) {
    n = wait_events(events, kMaxEvents, timeout_ns);
    if (n >= 0) break;
    if (errno != EINTR) fatal("goro: netpoll: epoll_wait failed");
    // Interrupted by a signal (SIGQUIT's dump, a profiler): return and let the
    // scheduler decide again rather than re-waiting for the whole timeout.
    if (blocking) {
      n = 0;
      break;
    }
  }
  if (blocking) netpoll_note_blocked(false);
  if (n > 0) registrations_seen();
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[i];
    if (ev.data.ptr == &g_break_tag) {
      // Only a blocking poll consumes a break: it was meant for whoever blocks.
      if (blocking) {
        std::uint64_t v;
        (void)!::read(g_breakfd.load(std::memory_order_relaxed), &v, sizeof v);
        g_break_pending.store(0, std::memory_order_release);
      }
      continue;
    }
    unsigned mode = 0;
    if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) mode |= unsigned(PollMode::read);
    if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) mode |= unsigned(PollMode::write);
    bool hup = (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    if (mode != 0) netpoll_ready(&list, static_cast<PollDesc*>(ev.data.ptr), PollMode(mode), hup);
  }
  errno = saved;
  return list;
}

}  // namespace goro::detail
