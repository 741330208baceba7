// echo_server — a TCP echo server: one goroutine per connection, each blocked in
// read() without holding a thread (goro::net parks it on the network poller).
//
//   echo_server [port | host:port]        (default 127.0.0.1:7000; port 0 picks one)
//   printf 'hello\n' | nc -q1 127.0.0.1 7000
#include <goro/goro.h>

#include <cstdio>
#include <string>

namespace {

void serve(goro::net::Conn conn) {
  char buf[4096];
  try {
    for (;;) {
      std::size_t n = conn.read(buf);
      if (n == 0) return;  // the client closed its side
      conn.write(std::string_view(buf, n));
    }
  } catch (const goro::net::Error& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());  // a reset peer, for example
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = argc > 1 ? argv[1] : "7000";
  if (address.find(':') == std::string::npos) address = "127.0.0.1:" + address;
  try {
    goro::run([&] {
      goro::net::Listener ln = goro::net::listen(address);
      std::printf("echo_server: listening on %s\n", ln.addr().to_string().c_str());
      std::fflush(stdout);
      for (;;) goro::go(serve, ln.accept());
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
}
