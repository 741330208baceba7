// http_server — a minimal HTTP/1.1 server answering every request with
// "Hello, World!": one goroutine per connection, keep-alive, pipelined requests
// answered in order (up to 16 answers go out in one write). It is the goro side of
// the `http` benchmark (bench.md; bench/http), so it does exactly what its Go and
// thread-per-connection twins do, no more.
//
//   http_server [port | host:port]        (default :8080; port 0 picks one)
//   curl -s http://127.0.0.1:8080/        # Hello, World!
//   wrk -t1 -c1000 -d10s http://127.0.0.1:8080/
//
// Request heads are parsed just enough to find where each ends (a blank line),
// skip a Content-Length body, and honour "Connection: close" (and HTTP/1.0's
// default of closing). A head larger than the buffer gets 431; a chunked body, which
// this server does not read, gets its answer and then the connection is closed.
#include <goro/goro.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "http_head.h"

namespace {

using namespace http_head;

// Writes n "200 OK" answers.
void answer_ok(goro::net::Conn& conn, std::size_t n) {
  while (n > 0) {
    std::size_t k = std::min<std::size_t>(n, kBatch);
    conn.write(std::string_view(kOkBatch).substr(0, k * kOk.size()));
    n -= k;
  }
}

void serve(goro::net::Conn conn) {
  char in[kInBuf];
  std::size_t have = 0;  // bytes in `in`
  std::size_t skip = 0;  // body bytes still to discard
  try {
    for (;;) {
      std::size_t n = conn.read(std::span<char>(in + have, kInBuf - have));
      if (n == 0) return;  // the client closed
      have += n;
      Scan s = scan_heads(std::string_view(in, have), skip);
      answer_ok(conn, s.ok);
      if (!s.last.empty()) {
        conn.write(s.last);
        return;
      }
      std::memmove(in, in + s.used, have - s.used);
      have -= s.used;
      if (have == kInBuf) {
        conn.write(kTooLarge);
        return;
      }
    }
  } catch (const goro::net::Error&) {
    // A reset or vanished client: nothing to answer.
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = argc > 1 ? argv[1] : "8080";
  if (address.find(':') == std::string::npos) address = ":" + address;
  try {
    goro::run([&] {
      goro::net::Listener ln = goro::net::listen(address);
      std::printf("http_server: listening on %s\n", ln.addr().to_string().c_str());
      std::fflush(stdout);
      for (;;) goro::go(serve, ln.accept());
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http_server: %s\n", e.what());
    return 1;
  }
}
