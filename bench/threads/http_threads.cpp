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
#include "raw_listen.h"

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
    Scan s = scan_heads(std::string_view(in, have), skip);
    if (!answer_ok(fd, s.ok)) break;
    if (!s.last.empty()) {
      write_all(fd, s.last.data(), s.last.size());
      break;
    }
    std::memmove(in, in + s.used, have - s.used);
    have -= s.used;
    if (have == kInBuf) {
      write_all(fd, kTooLarge.data(), kTooLarge.size());
      break;
    }
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  int ln = raw_listen(argc > 1 ? argv[1] : nullptr, 0, "http_threads");
  if (ln < 0) return 1;
  int one = 1;
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
