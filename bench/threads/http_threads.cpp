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

namespace {

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view kOkClose =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: "
    "close\r\n\r\nHello, World!";
constexpr std::string_view kTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: "
    "close\r\n\r\n";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

constexpr std::size_t kInBuf = 2048;
constexpr int kBatch = 16;
const std::string kOkBatch = [] {
  std::string s;
  for (int i = 0; i < kBatch; ++i) s += kOk;
  return s;
}();

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct Head {
  std::size_t size = 0;
  bool bad = false;
  bool close = false;
  std::size_t content_length = 0;
};

Head parse_head(std::string_view data) {
  Head h;
  std::size_t pos = 0;
  bool first = true;
  bool http10 = false, keep_alive = false;
  for (;;) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) return Head{};
    std::string_view line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (first) {
      if (line.empty()) continue;
      first = false;
      std::size_t sp = line.rfind(' ');
      if (sp == std::string_view::npos || line.find(' ') == sp) {
        h.bad = true;
        h.size = pos;
        return h;
      }
      http10 = line.substr(sp + 1) == "HTTP/1.0";
      continue;
    }
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (iequals(name, "Content-Length")) {
      std::size_t v = 0;
      for (char c : value) {
        if (c >= '0' && c <= '9')
          v = v * 10 + std::size_t(c - '0');
        else if (c != ' ' && c != '\t')
          h.bad = true;
      }
      h.content_length = v;
    } else if (iequals(name, "Connection")) {
      if (has_token(value, "close")) h.close = true;
      if (has_token(value, "keep-alive")) keep_alive = true;
    } else if (iequals(name, "Transfer-Encoding")) {
      h.close = true;
    }
  }
  if (http10 && !keep_alive) h.close = true;
  h.size = pos;
  return h;
}

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
