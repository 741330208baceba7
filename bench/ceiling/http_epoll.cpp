// http_epoll.cpp — the http benchmark's ceiling (bench/http, impl "epoll"): the same
// answers as goro's examples/http_server.cpp and its thread-per-connection twin (the
// parser, buffer and batch sizes of examples/http_head.h), served by one thread in an
// edge-triggered epoll loop: no scheduler, no goroutines, no locks, nothing but the
// system calls every server here makes. What wrk -t1 achieves against it is about as
// many requests per second as wrk can drive on this machine, whoever answers: when
// wrk runs out of CPU first, no server, goro's or Go's, can show more.
//
//   http_epoll [port | host:port]        (default :8080)
//
// Per connection: a read buffer and the answers it could not send yet. A read that
// returned less than it asked for emptied the socket (edge-triggered epoll reports
// what comes later as a new event), so it is not followed by one that fails with
// EAGAIN; answers that do not fit the socket wait for EPOLLOUT, and reading stops
// until they are sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "../../examples/http_head.h"
#include "../threads/raw_listen.h"

namespace {

using namespace http_head;

struct Conn {
  int fd = -1;
  std::size_t have = 0;  // bytes in `in`
  std::size_t skip = 0;  // body bytes still to discard
  std::string out;       // answers the socket did not take yet
  bool closing = false;  // close once `out` is sent
  char in[kInBuf];
};

// Sends what `c` owes. false: the connection failed.
bool flush(Conn* c) {
  std::size_t done = 0;
  while (done < c->out.size()) {
    ssize_t k = ::send(c->fd, c->out.data() + done, c->out.size() - done, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
      break;  // EPOLLOUT says when to go on
    }
    done += std::size_t(k);
  }
  c->out.erase(0, done);
  return true;
}

// Queues `s` and sends what it can. false: the connection failed.
bool send_or_queue(Conn* c, std::string_view s) {
  if (c->out.empty()) {
    while (!s.empty()) {
      ssize_t k = ::send(c->fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (k < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        break;
      }
      s.remove_prefix(std::size_t(k));
    }
  }
  c->out.append(s);
  return true;
}

// The connection's socket is readable or writable (or failed). false: close it.
bool serve(Conn* c) {
  if (!c->out.empty() && !flush(c)) return false;
  if (!c->out.empty()) return true;  // still blocked on the peer: read nothing more
  if (c->closing) return false;
  for (;;) {
    std::size_t want = kInBuf - c->have;
    ssize_t n = ::read(c->fd, c->in + c->have, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (n == 0) return false;  // the client closed
    c->have += std::size_t(n);
    Scan s = scan_heads(std::string_view(c->in, c->have), c->skip);
    for (std::size_t ok = s.ok; ok > 0;) {
      std::size_t k = std::min<std::size_t>(ok, kBatch);
      if (!send_or_queue(c, std::string_view(kOkBatch).substr(0, k * kOk.size()))) return false;
      ok -= k;
    }
    std::memmove(c->in, c->in + s.used, c->have - s.used);
    c->have -= s.used;
    if (s.last.empty() && c->have == kInBuf) s.last = kTooLarge;
    if (!s.last.empty()) {
      if (!send_or_queue(c, s.last)) return false;
      c->closing = true;
      return !c->out.empty();
    }
    if (!c->out.empty()) return true;        // the rest once EPOLLOUT comes
    if (std::size_t(n) < want) return true;  // drained: the next data is a new event
  }
}

}  // namespace

int main(int argc, char** argv) {
  int ln = raw_listen(argc > 1 ? argv[1] : nullptr, SOCK_NONBLOCK, "http_epoll");
  if (ln < 0) return 1;
  int one = 1;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;  // level-triggered: accept one batch per wake-up
  lev.data.ptr = nullptr;
  if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, ln, &lev) != 0) {
    std::perror("http_epoll: epoll");
    return 1;
  }
  epoll_event events[512];
  for (;;) {
    int n = ::epoll_wait(ep, events, 512, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("http_epoll: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {  // the listener
        for (int k = 0; k < 64; ++k) {
          int fd = ::accept4(ln, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd < 0) break;  // EAGAIN, or a failed connection, or out of fds (retried)
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto* nc = new Conn;
          nc->fd = fd;
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          ev.data.ptr = nc;
          if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            ::close(fd);
            delete nc;
          }
        }
        continue;
      }
      if (!serve(c)) {
        ::close(c->fd);  // also takes it out of the epoll set
        delete c;
      }
    }
  }
}
