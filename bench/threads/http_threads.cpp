// http_threads.cpp — the http benchmark's thread-per-connection server (bench.md
// "http"): the same program as goro's examples/http_server.cpp — keep-alive,
// pipelined request heads answered in order with "Hello, World!", the same buffer
// size and parsing — with blocking sockets and one std::thread (default attributes)
// per connection instead of a goroutine.
//
//   http_threads [port | host:port]        (default :8080)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "../../examples/http_head.h"

namespace {

using namespace http_head;

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += k;
    n -= std::size_t(k);
  }
  return true;
}

bool answer_ok(int fd, std::size_t n) {
  while (n > 0) {
    std::size_t k = std::min<std::size_t>(n, kBatch);
    if (!write_all(fd, kOkBatch.data(), k * kOk.size())) return false;
    n -= k;
  }
  return true;
}

void serve(int fd) {
  char in[kInBuf];
  std::size_t have = 0, skip = 0;
  for (;;) {
    ssize_t n = ::read(fd, in + have, kInBuf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += std::size_t(n);
    std::size_t pos = 0, ok = 0;
    bool done = false;
    for (;;) {
      if (skip > 0) {
        std::size_t k = std::min(skip, have - pos);
        pos += k;
        skip -= k;
        if (skip > 0) break;
      }
      Head h = parse_head(std::string_view(in + pos, have - pos));
      if (h.size == 0) break;
      pos += h.size;
      if (h.bad || h.close) {
        std::string_view last = h.bad ? kBadRequest : kOkClose;
        if (answer_ok(fd, ok)) write_all(fd, last.data(), last.size());
        done = true;
        break;
      }
      ++ok;
      skip = h.content_length;
    }
    if (done || !answer_ok(fd, ok)) break;
    std::memmove(in, in + pos, have - pos);
    have -= pos;
    if (have == kInBuf) {
      write_all(fd, kTooLarge.data(), kTooLarge.size());
      break;
    }
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string port = argc > 1 ? argv[1] : "8080";
  if (std::size_t colon = port.rfind(':'); colon != std::string::npos)
    port = port.substr(colon + 1);
  // Dual-stack on every address, as ":port" is for the goro and Go servers.
  int ln = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1, zero = 0;
  ::setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(ln, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  a.sin6_port = htons(std::uint16_t(std::atoi(port.c_str())));
  if (::bind(ln, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ln, 4096) != 0) {
    std::perror("http_threads: listen");
    return 1;
  }
  socklen_t len = sizeof a;
  ::getsockname(ln, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("http_threads: listening on [::]:%u\n", unsigned(ntohs(a.sin6_port)));
  std::fflush(stdout);
  for (;;) {
    int fd = ::accept4(ln, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::perror("http_threads: accept");
      return 1;
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    try {
      std::thread(serve, fd).detach();
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "http_threads: %s\n", e.what());
      ::close(fd);
    }
  }
}
