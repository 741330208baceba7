// raw_listen.h — the listening socket of the http benchmark's servers that do not use
// goro (bench/threads/http_threads.cpp, bench/ceiling/http_epoll.cpp): dual-stack on
// every address, as ":port" is for the goro and Go servers, and the same
// "listening on" line, which bench/http reads the port from.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// Listens on [::]:<port> (argument "port" or "host:port"; the host is ignored, 0 picks a
// port) with `flags` added to the socket's type; prints "<name>: listening on
// [::]:<port>". Returns the socket, or -1 after printing why.
inline int raw_listen(const char* arg, int flags, const char* name) {
  std::string port = arg != nullptr ? arg : "8080";
  if (std::size_t colon = port.rfind(':'); colon != std::string::npos)
    port = port.substr(colon + 1);
  int ln = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (ln < 0) {
    std::fprintf(stderr, "%s: socket: %s\n", name, std::strerror(errno));
    return -1;
  }
  int one = 1, zero = 0;
  ::setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(ln, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  a.sin6_port = htons(std::uint16_t(std::atoi(port.c_str())));
  if (::bind(ln, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ln, 4096) != 0) {
    std::fprintf(stderr, "%s: listen: %s\n", name, std::strerror(errno));
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(ln, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("%s: listening on [::]:%u\n", name, unsigned(ntohs(a.sin6_port)));
  std::fflush(stdout);
  return ln;
}
