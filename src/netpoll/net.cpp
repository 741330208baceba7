// net.cpp — goro::net: TCP sockets on the network poller (include/goro/net.h).
//
// Each Conn and Listener owns a NetFd: a non-blocking, close-on-exec socket, its poll
// descriptor, and the bookkeeping that makes close safe while other goroutines use
// the socket (Go's internal/poll.FD and its fdMutex, reduced):
//
//  F1. Every call that touches the fd holds a reference (`refs`) for its whole
//      duration; none is taken once closing is set, so the fd number is never
//      reused under a call that is still inside it.
//  F2. close() sets closing, evicts the poll descriptor (waking blocked readers and
//      writers, which then throw), waits for the references to drain, and only then
//      unregisters and closes the fd. The NetFd record itself lives until the handle
//      is destroyed, so a late call on a closed handle finds `closing` and throws.
//  F3. Readers are serialised by `rlock`, writers by `wlock` (one waiter per poll
//      slot, N1 of netpoll.h). A caller waiting for the lock holds a reference, so
//      close waits for it too; it then finds the descriptor closing and throws.
//  F4. A read that returned less than it asked for (and more than 0) emptied the
//      socket's receive queue: Linux's TCP receive copies until the queue and the
//      socket's backlog are both empty, even with a signal pending. Any data that
//      comes later wakes the socket's wait queue, so edge-triggered epoll reports it
//      as a new event. What a short read does not reveal is a FIN or a reset that came
//      before it (the next read would return 0 or fail at once): its event was
//      reported already, so netpoll_ready records hang-ups and errors in pd->hup, set
//      before the event moves the slot. So the next read may wait for readiness
//      before its syscall when pd->hup is clear, without forgetting the slot's state
//      (poll_check_drained, not poll_prepare): a readiness that came meanwhile is in
//      the slot, and a stale one costs only the syscall the read would have made
//      anyway. This saves the EAGAIN read that request/response traffic otherwise
//      pays once per message.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "goro/net.h"
#include "netpoll/netpoll.h"
#include "sched/platform.h"

namespace goro::detail {

struct NetFd {
  static constexpr std::uint32_t kClosing = 1u << 31;

  int fd = -1;
  PollDesc* pd = nullptr;
  bool listener = false;
  // F1/F2: kClosing | the number of calls inside. acquire/release: a call's use of
  // the fd happens before the closer's ::close (through the count and close_sema).
  std::atomic<std::uint32_t> refs{0};
  Sema close_sema;  // the closer waits here for the count to drain
  Sema rlock;       // F3: count 1 when free
  Sema wlock;
  bool read_drained = false;  // F4; touched only by the reader holding rlock

  NetFd(int f, PollDesc* p, bool is_listener) : fd(f), pd(p), listener(is_listener) {
    rlock.release();
    wlock.release();
  }

  bool incref() noexcept {
    std::uint32_t old = refs.fetch_add(1, std::memory_order_acquire);
    if (old & kClosing) {
      decref();
      return false;
    }
    return true;
  }
  void decref() noexcept {
    std::uint32_t now = refs.fetch_sub(1, std::memory_order_acq_rel) - 1;
    // The last call out of a closing fd lets the closer go on. (A call that found
    // closing set may also get here after the closer has gone: the release is then
    // never acquired, and the record is still alive: F2.)
    if (now == kClosing) close_sema.release();
  }

  // F2. Returns once the fd is closed (or another close is doing it).
  void close() noexcept {
    std::uint32_t old = refs.fetch_or(kClosing, std::memory_order_acq_rel);
    if (old & kClosing) return;
    poll_evict(pd);
    if ((old & ~kClosing) != 0) close_sema.acquire(WaitReason::semacquire);
    poll_close(pd);
    pd = nullptr;
    int saved = errno;
    ::close(fd);
    errno = saved;
  }
};

}  // namespace goro::detail

namespace goro::net {

using detail::NetFd;
using detail::PollError;
using detail::PollMode;

namespace {

// ---------------------------------------------------------------------------
// Addresses.

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
};

Addr to_addr(const sockaddr_storage& ss) {
  Addr a;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    a.ip = buf;
    a.port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      ::inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      ::inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    }
    a.ip = buf;
    a.port = ntohs(in6.sin6_port);
  }
  return a;
}

SockAddr v4(const in_addr& ip, std::uint16_t port) {
  SockAddr s;
  auto& in = reinterpret_cast<sockaddr_in&>(s.ss);
  in.sin_family = AF_INET;
  in.sin_addr = ip;
  in.sin_port = htons(port);
  s.len = sizeof in;
  return s;
}

SockAddr v6(const in6_addr& ip, std::uint16_t port) {
  SockAddr s;
  auto& in6 = reinterpret_cast<sockaddr_in6&>(s.ss);
  in6.sin6_family = AF_INET6;
  in6.sin6_addr = ip;
  in6.sin6_port = htons(port);
  s.len = sizeof in6;
  return s;
}

SockAddr loopback4(std::uint16_t port) {
  in_addr ip{};
  ip.s_addr = htonl(INADDR_LOOPBACK);
  return v4(ip, port);
}

[[noreturn]] void throw_error(int err, const std::string& what) {
  detail::note_unwinding();
  throw Error(err, what);
}

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

[[noreturn]] void bad_address(std::string_view op, std::string_view address, const char* why) {
  throw_error(EINVAL, std::string(op) + " tcp " + std::string(address) + ": " + why);
}

// "host:port", "[v6]:port", ":port".
HostPort split_host_port(std::string_view op, std::string_view address) {
  HostPort hp;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    std::size_t close = address.find(']');
    if (close == std::string_view::npos) bad_address(op, address, "missing ']' in address");
    hp.host = std::string(address.substr(1, close - 1));
    if (close + 1 >= address.size() || address[close + 1] != ':')
      bad_address(op, address, "missing port in address");
    port = address.substr(close + 2);
  } else {
    std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) bad_address(op, address, "missing port in address");
    hp.host = std::string(address.substr(0, colon));
    if (hp.host.find(':') != std::string::npos)
      bad_address(op, address, "too many colons in address");
    port = address.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5) bad_address(op, address, "invalid port");
  unsigned v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') bad_address(op, address, "invalid port");
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) bad_address(op, address, "invalid port");
  hp.port = std::uint16_t(v);
  return hp;
}

// The addresses to try for host, IPv4 first (as Go's dialer orders them).
std::vector<SockAddr> resolve(std::string_view op, std::string_view address, const HostPort& hp,
                              bool passive) {
  std::vector<SockAddr> out;
  in_addr ip4{};
  in6_addr ip6{};
  if (hp.host.empty()) {
    if (passive) {
      out.push_back(v6(in6addr_any, hp.port));  // dual-stack where possible
      in_addr any{};
      any.s_addr = htonl(INADDR_ANY);
      out.push_back(v4(any, hp.port));
    } else {
      out.push_back(loopback4(hp.port));
      out.push_back(v6(in6addr_loopback, hp.port));
    }
    return out;
  }
  if (::inet_pton(AF_INET, hp.host.c_str(), &ip4) == 1) {
    out.push_back(v4(ip4, hp.port));
    return out;
  }
  if (::inet_pton(AF_INET6, hp.host.c_str(), &ip6) == 1) {
    out.push_back(v6(ip6, hp.port));
    return out;
  }
  if (hp.host == "localhost") {
    out.push_back(loopback4(hp.port));
    if (!passive) out.push_back(v6(in6addr_loopback, hp.port));
    return out;
  }
  // A name: getaddrinfo blocks this thread (it may ask DNS).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(hp.host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    int err = rc == EAI_SYSTEM ? errno : (rc == EAI_NONAME ? EHOSTUNREACH : EINVAL);
    throw_error(err, std::string(op) + " tcp " + std::string(address) + ": lookup " + hp.host +
                         ": " + ::gai_strerror(rc));
  }
  for (int family : {AF_INET, AF_INET6}) {
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_family != family || ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
      SockAddr sa;  // whole, so that an IPv6 scope ("fe80::1%eth0") survives
      std::memcpy(&sa.ss, ai->ai_addr, ai->ai_addrlen);
      sa.len = socklen_t(ai->ai_addrlen);
      if (family == AF_INET)
        reinterpret_cast<sockaddr_in&>(sa.ss).sin_port = htons(hp.port);
      else
        reinterpret_cast<sockaddr_in6&>(sa.ss).sin6_port = htons(hp.port);
      out.push_back(sa);
    }
  }
  ::freeaddrinfo(res);
  if (out.empty())
    throw_error(EHOSTUNREACH,
                std::string(op) + " tcp " + std::string(address) + ": no suitable address found");
  return out;
}

// ---------------------------------------------------------------------------
// Sockets.

// Closes an fd on scope exit unless released.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) {
      int saved = errno;
      ::close(fd);
      errno = saved;
    }
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

// Wraps a fresh non-blocking socket: registers it with the poller.
NetFd* wrap(int fd, bool listener, const std::string& what) {
  FdCloser closer{fd};
  detail::PollDesc* pd = detail::poll_open(fd);
  if (pd == nullptr) throw_error(errno, what);
  try {
    return new NetFd(closer.release(), pd, listener);
  } catch (...) {
    // Out of memory: undo the registration the way close does.
    detail::poll_evict(pd);
    detail::poll_close(pd);
    ::close(fd);
    throw;
  }
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int listen_backlog() {
  static const int backlog = [] {
    int v = SOMAXCONN;
    if (FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "r")) {
      int n = 0;
      if (std::fscanf(f, "%d", &n) == 1 && n > 0) v = n;
      std::fclose(f);
    }
    return v > 65535 ? 65535 : v;
  }();
  return backlog;
}

std::string sock_name(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::string();
  return to_addr(ss).to_string();
}

// "read tcp 127.0.0.1:5000->127.0.0.1:43122" (names looked up only for a message).
std::string describe(const char* op, NetFd* f) {
  std::string s = std::string(op) + " tcp";
  if (f == nullptr || f->pd == nullptr) return s;
  std::string local = sock_name(f->fd, false);
  if (!local.empty()) s += " " + local;
  if (!f->listener) {
    std::string remote = sock_name(f->fd, true);
    if (!remote.empty()) s += "->" + remote;
  }
  return s;
}

[[noreturn]] void throw_closed(const char* op) {
  throw_error(EBADF, std::string(op) + " tcp: use of closed network connection");
}

[[noreturn]] void throw_poll(PollError e, const char* op, NetFd* f) {
  if (e == PollError::timeout) {
    detail::note_unwinding();
    throw TimeoutError(describe(op, f) + ": i/o timeout");
  }
  throw_closed(op);
}

// F1 and F3 for one call.
class Use {
 public:
  Use(NetFd* f, const char* op, detail::Sema* lock = nullptr) : f_(f), lock_(lock) {
    if (f_ == nullptr || !f_->incref()) throw_closed(op);
    if (lock_ != nullptr) lock_->acquire(detail::WaitReason::semacquire);
  }
  ~Use() {
    if (lock_ != nullptr) lock_->release();
    f_->decref();
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

 private:
  NetFd* f_;
  detail::Sema* lock_;
};

std::size_t do_read(NetFd* f, void* buf, std::size_t len) {
  Use use(f, "read", f != nullptr ? &f->rlock : nullptr);
  // F4: after a read that emptied the socket, wait for the next edge first instead of
  // paying for a read that would fail with EAGAIN.
  bool wait_first = false;
  PollError e = f->read_drained && len > 0 ? detail::poll_check_drained(f->pd, &wait_first)
                                           : detail::poll_prepare(f->pd, PollMode::read);
  f->read_drained = false;
  if (e == PollError::ok && wait_first) e = detail::poll_wait(f->pd, PollMode::read);
  if (e != PollError::ok) throw_poll(e, "read", f);
  if (len == 0) return 0;
  for (;;) {
    ssize_t n = ::read(f->fd, buf, len);
    if (n >= 0) {
      f->read_drained = n > 0 && std::size_t(n) < len;
      return std::size_t(n);
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      e = detail::poll_wait(f->pd, PollMode::read);
      if (e != PollError::ok) throw_poll(e, "read", f);
      continue;
    }
    if (err == EINTR) continue;
    throw_error(err, describe("read", f));
  }
}

std::size_t do_write(NetFd* f, const void* data, std::size_t len) {
  Use use(f, "write", f != nullptr ? &f->wlock : nullptr);
  if (PollError e = detail::poll_prepare(f->pd, PollMode::write); e != PollError::ok)
    throw_poll(e, "write", f);
  const char* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::send(f->fd, p + done, len - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += std::size_t(n);
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      if (PollError e = detail::poll_wait(f->pd, PollMode::write); e != PollError::ok)
        throw_poll(e, "write", f);
      continue;
    }
    if (err == EINTR) continue;
    throw_error(err, describe("write", f));
  }
  return done;
}

void set_fd_deadline(NetFd* f, Deadline t, PollMode mode) {
  Use use(f, "set deadline");
  std::int64_t when = 0;
  if (t != Deadline{} && t != Deadline::max()) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    when = ns > 0 ? ns : -1;  // steady_clock is CLOCK_MONOTONIC, as nanotime()
  }
  detail::poll_set_deadline(f->pd, when, mode);
}

Addr name_of(NetFd* f, bool peer) {
  Use use(f, peer ? "getpeername" : "getsockname");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(f->fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(f->fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) throw_error(errno, peer ? "getpeername" : "getsockname");
  return to_addr(ss);
}

void destroy(NetFd*& f) noexcept {
  if (f == nullptr) return;
  f->close();
  delete f;
  f = nullptr;
}

// Connects one socket to sa; returns the connected NetFd or throws.
NetFd* dial_one(const SockAddr& sa, const std::string& what) {
  int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_error(errno, what + ": socket");
  std::unique_ptr<NetFd, void (*)(NetFd*)> f(wrap(fd, false, what), [](NetFd* p) { destroy(p); });
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa.ss), sa.len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno != EINPROGRESS && errno != EALREADY) throw_error(errno, what);
    // Writable once connected or refused; SO_ERROR says which.
    {
      Use use(f.get(), "dial", &f->wlock);
      if (PollError e = detail::poll_prepare(f->pd, PollMode::write); e != PollError::ok)
        throw_poll(e, "dial", f.get());
      for (;;) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) throw_error(errno, what);
        if (err == 0) {
          // Writable and no error: connected, unless the handshake is still going.
          sockaddr_storage peer{};
          socklen_t plen = sizeof peer;
          if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) break;
          if (errno != ENOTCONN) throw_error(errno, what);
        } else if (err != EINPROGRESS && err != EALREADY && err != EINTR) {
          throw_error(err, what);
        }
        if (PollError e = detail::poll_wait(f->pd, PollMode::write); e != PollError::ok)
          throw_poll(e, "dial", f.get());
      }
    }
  }
  set_nodelay(fd);
  return f.release();
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

Error::Error(int errno_value, const std::string& what)
    : std::system_error(errno_value, std::system_category(), what) {}

TimeoutError::TimeoutError(const std::string& what) : Error(ETIMEDOUT, what) {}

std::string Addr::to_string() const {
  std::string s;
  if (ip.find(':') != std::string::npos)
    s = "[" + ip + "]";
  else
    s = ip;
  return s + ":" + std::to_string(port);
}

Conn::Conn(Conn&& other) noexcept : fd_(other.fd_) { other.fd_ = nullptr; }

Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    destroy(fd_);
    fd_ = other.fd_;
    other.fd_ = nullptr;
  }
  return *this;
}

Conn::~Conn() { destroy(fd_); }

std::size_t Conn::read(std::span<std::byte> buf) { return do_read(fd_, buf.data(), buf.size()); }
std::size_t Conn::read(std::span<char> buf) { return do_read(fd_, buf.data(), buf.size()); }

std::size_t Conn::write(std::span<const std::byte> data) {
  return do_write(fd_, data.data(), data.size());
}
std::size_t Conn::write(std::string_view data) { return do_write(fd_, data.data(), data.size()); }

void Conn::close() noexcept {
  if (fd_ != nullptr) fd_->close();
}

void Conn::close_write() {
  Use use(fd_, "close write");
  if (::shutdown(fd_->fd, SHUT_WR) != 0) throw_error(errno, describe("close write", fd_));
}

void Conn::set_deadline(Deadline t) { set_fd_deadline(fd_, t, PollMode::read_write); }
void Conn::set_read_deadline(Deadline t) { set_fd_deadline(fd_, t, PollMode::read); }
void Conn::set_write_deadline(Deadline t) { set_fd_deadline(fd_, t, PollMode::write); }

Addr Conn::local_addr() const { return name_of(fd_, false); }
Addr Conn::remote_addr() const { return name_of(fd_, true); }

int Conn::native_handle() const {
  if (fd_ == nullptr || (fd_->refs.load(std::memory_order_acquire) & NetFd::kClosing))
    throw_closed("native handle");
  return fd_->fd;
}

Listener::Listener(Listener&& other) noexcept : fd_(other.fd_) { other.fd_ = nullptr; }

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    destroy(fd_);
    fd_ = other.fd_;
    other.fd_ = nullptr;
  }
  return *this;
}

Listener::~Listener() { destroy(fd_); }

Conn Listener::accept() {
  NetFd* f = fd_;
  Use use(f, "accept", f != nullptr ? &f->rlock : nullptr);
  if (PollError e = detail::poll_prepare(f->pd, PollMode::read); e != PollError::ok)
    throw_poll(e, "accept", f);
  for (;;) {
    int nfd = ::accept4(f->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (nfd >= 0) {
      set_nodelay(nfd);
      return Conn(wrap(nfd, false, describe("accept", f)));
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      if (PollError e = detail::poll_wait(f->pd, PollMode::read); e != PollError::ok)
        throw_poll(e, "accept", f);
      continue;
    }
    // A connection that died in the queue, or a signal: try the next one.
    if (err == EINTR || err == ECONNABORTED) continue;
    throw_error(err, describe("accept", f));
  }
}

Addr Listener::addr() const { return name_of(fd_, false); }

void Listener::set_deadline(Deadline t) { set_fd_deadline(fd_, t, PollMode::read); }

void Listener::close() noexcept {
  if (fd_ != nullptr) fd_->close();
}

int Listener::native_handle() const {
  if (fd_ == nullptr || (fd_->refs.load(std::memory_order_acquire) & NetFd::kClosing))
    throw_closed("native handle");
  return fd_->fd;
}

Listener listen(std::string_view address) {
  HostPort hp = split_host_port("listen", address);
  std::vector<SockAddr> addrs = resolve("listen", address, hp, true);
  std::string what = "listen tcp " + std::string(address);
  int last_err = EINVAL;
  for (const SockAddr& sa : addrs) {
    int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_err = errno;
      if (last_err == EAFNOSUPPORT) continue;  // no IPv6 here: the IPv4 fallback
      break;
    }
    FdCloser closer{fd};
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa.family() == AF_INET6) {
      // The wildcard serves IPv4 too (dual-stack); a specific address only itself.
      bool any = IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(sa.ss).sin6_addr);
      int v6only = any ? 0 : 1;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa.ss), sa.len) != 0 ||
        ::listen(fd, listen_backlog()) != 0) {
      last_err = errno;
      // The dual-stack wildcard may fail where IPv6 is disabled: try IPv4's.
      if (hp.host.empty() && sa.family() == AF_INET6 &&
          (last_err == EADDRNOTAVAIL || last_err == EAFNOSUPPORT))
        continue;
      break;
    }
    return Listener(wrap(closer.release(), true, what));
  }
  throw_error(last_err, what);
}

Conn dial(std::string_view address) {
  HostPort hp = split_host_port("dial", address);
  std::vector<SockAddr> addrs = resolve("dial", address, hp, false);
  std::string what = "dial tcp " + std::string(address);
  int last_err = EINVAL;
  std::string last_what = what;
  for (const SockAddr& sa : addrs) {
    try {
      return Conn(dial_one(sa, what));
    } catch (const Error& e) {
      last_err = e.code().value();
      last_what = what;
      if (addrs.size() > 1) last_what += " (" + to_addr(sa.ss).to_string() + ")";
      if (last_err == EBADF) throw;  // closed while dialling: nothing else to try
    }
  }
  throw_error(last_err, last_what);
}

}  // namespace goro::net
