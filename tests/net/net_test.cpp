// net_test.cpp — goro::net over loopback: echo with many concurrent connections
// (every byte checked), listen/dial on IPv4, IPv6, localhost and ":0", deadlines,
// close and reset waking blocked calls, fd hygiene, goroutines blocked on sockets
// holding no thread, and plain threads using sockets (alone and with goroutines).
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;
namespace net = goro::net;
using namespace std::chrono_literals;

namespace {

// Entries in a /proc/self directory ("fd" or "task"), not counting . and ..; for fd,
// the count includes the one opendir uses, the same every time.
int count_proc_entries(const char* dir) {
  std::string path = std::string("/proc/self/") + dir;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  ::closedir(d);
  return n;
}

// Raises the soft fd limit to the hard one; returns the soft limit now.
long raise_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return long(rl.rlim_cur);
}

bool have_ipv6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Reads exactly buf.size() bytes; false at a premature end of stream.
bool read_full(net::Conn& c, std::span<char> buf) {
  while (!buf.empty()) {
    std::size_t n = c.read(buf);
    if (n == 0) return false;
    buf = buf.subspan(n);
  }
  return true;
}

// Reads until end of stream.
std::string read_all(net::Conn& c) {
  std::string out;
  char buf[4096];
  for (;;) {
    std::size_t n = c.read(buf);
    if (n == 0) return out;
    out.append(buf, n);
  }
}

// Blocks the caller (a goroutine yields, a thread yields its CPU) until at least n
// waiters are parked on sockets.
void wait_io_waiters(std::int64_t n) {
  while (gt::io_waiters() < n) goro::yield();
}

char pattern(int conn, std::size_t i) { return char((conn * 131 + i * 7 + (i >> 8)) & 0xff); }

// An accept loop that echoes each connection on its own goroutine until the client
// closes; returns when the listener is closed, after every echo goroutine finished.
void echo_server(net::Listener& ln) {
  goro::WaitGroup wg;
  for (;;) {
    net::Conn c;
    try {
      c = ln.accept();
    } catch (const net::Error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor) << e.what();
      break;
    }
    wg.add(1);
    goro::go(
        [&wg](net::Conn conn) {
          char buf[2048];
          for (;;) {
            std::size_t n = conn.read(buf);
            if (n == 0) break;
            conn.write(std::string_view(buf, n));
          }
          wg.done();
        },
        std::move(c));
  }
  wg.wait();
}

TEST(Net, EchoManyConnectionsEveryByte) {
  long limit = raise_fd_limit();
  // Two fds per connection in this process, plus headroom.
  long conns = std::min<long>(goro_test::kUnderTsan   ? 100
                              : goro_test::kUnderAsan ? 250
                                                      : 1000,
                              (limit - 64) / 2);
  ASSERT_GT(conns, 10) << "fd limit too low: " << limit;
  constexpr int kRounds = 8;
  std::atomic<long> checked{0};
  goro::run([&] {
    net::Listener ln = net::listen("127.0.0.1:0");
    std::string addr = ln.addr().to_string();
    goro::WaitGroup server_done;
    server_done.add(1);
    goro::go([&] {
      echo_server(ln);
      server_done.done();
    });
    goro::WaitGroup clients;
    clients.add(conns);
    for (long k = 0; k < conns; ++k) {
      goro::go([&, k] {
        net::Conn c = net::dial(addr);
        std::size_t offset = 0;
        std::vector<char> out, in;
        for (int r = 0; r < kRounds; ++r) {
          std::size_t len = std::size_t((k * 37 + r * 101) % 1500 + 1);
          out.resize(len);
          in.assign(len, 0);
          for (std::size_t i = 0; i < len; ++i) out[i] = pattern(int(k), offset + i);
          c.write(std::string_view(out.data(), len));
          if (!read_full(c, in)) {
            ADD_FAILURE() << "connection " << k << " ended early";
            break;
          }
          if (std::memcmp(in.data(), out.data(), len) != 0) {
            ADD_FAILURE() << "connection " << k << ": echoed bytes differ";
            break;
          }
          offset += len;
          checked.fetch_add(long(len), std::memory_order_relaxed);
        }
        c.close_write();
        char extra;
        EXPECT_EQ(c.read(std::span<char>(&extra, 1)), 0u);  // the server closes after us
        clients.done();
      });
    }
    clients.wait();
    ln.close();
    server_done.wait();
  });
  EXPECT_GT(checked.load(), conns * kRounds);
}

TEST(Net, ListenDialIPv4) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Addr a = ln.addr();
    EXPECT_EQ(a.ip, "127.0.0.1");
    EXPECT_NE(a.port, 0);
    goro::go([a] {
      net::Conn c = net::dial(a.to_string());
      EXPECT_EQ(c.remote_addr().port, a.port);
      EXPECT_EQ(c.local_addr().ip, "127.0.0.1");
      c.write("ping");
    });
    net::Conn s = ln.accept();
    EXPECT_EQ(read_all(s), "ping");
    EXPECT_EQ(s.local_addr().port, a.port);
  });
}

TEST(Net, ListenDialIPv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  goro::run([] {
    net::Listener ln = net::listen("[::1]:0");
    net::Addr a = ln.addr();
    EXPECT_EQ(a.ip, "::1");
    EXPECT_EQ(a.to_string(), "[::1]:" + std::to_string(a.port));
    goro::go([a] {
      net::Conn c = net::dial(a.to_string());
      EXPECT_EQ(c.local_addr().ip, "::1");
      c.write("six");
    });
    net::Conn s = ln.accept();
    EXPECT_EQ(s.remote_addr().ip, "::1");
    EXPECT_EQ(read_all(s), "six");
  });
}

TEST(Net, LocalhostAndEphemeralPort) {
  goro::run([] {
    net::Listener ln = net::listen("localhost:0");
    std::uint16_t port = ln.addr().port;
    ASSERT_NE(port, 0);
    goro::go([port] { net::dial("localhost:" + std::to_string(port)).write("lo"); });
    net::Conn s = ln.accept();
    EXPECT_EQ(read_all(s), "lo");

    // No host: every local address; a dial to no host reaches this machine.
    net::Listener any = net::listen(":0");
    std::uint16_t any_port = any.addr().port;
    ASSERT_NE(any_port, 0);
    goro::go([any_port] { net::dial(":" + std::to_string(any_port)).write("any"); });
    net::Conn s2 = any.accept();
    EXPECT_EQ(read_all(s2), "any");
  });
}

TEST(Net, MalformedAddressesAndRefusedDial) {
  auto code_of = [](auto f) {
    try {
      f();
    } catch (const net::Error& e) {
      return e.code();
    }
    return std::error_code();
  };
  EXPECT_EQ(code_of([] { net::listen("127.0.0.1"); }), std::errc::invalid_argument);
  EXPECT_EQ(code_of([] { net::dial("[::1:80"); }), std::errc::invalid_argument);
  EXPECT_EQ(code_of([] { net::dial("127.0.0.1:99999"); }), std::errc::invalid_argument);
  EXPECT_EQ(code_of([] { net::dial("1:2:3"); }), std::errc::invalid_argument);
  // A port that was just free: nobody listens there now.
  std::uint16_t port;
  {
    net::Listener ln = net::listen("127.0.0.1:0");
    port = ln.addr().port;
  }
  goro::run([&] {
    EXPECT_EQ(code_of([&] { net::dial("127.0.0.1:" + std::to_string(port)); }),
              std::errc::connection_refused);
  });
  // Two listeners on one port.
  net::Listener ln = net::listen("127.0.0.1:0");
  EXPECT_EQ(code_of([&] { net::listen(ln.addr().to_string()); }), std::errc::address_in_use);
}

TEST(Net, ReadDeadlineInThePastThrowsTimeout) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    s.set_read_deadline(std::chrono::steady_clock::now() - 1s);
    char buf[8];
    EXPECT_THROW(s.read(buf), net::TimeoutError);
    try {
      s.read(buf);
      ADD_FAILURE() << "read past its deadline returned";
    } catch (const net::TimeoutError& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out);
      EXPECT_NE(std::string(e.what()).find("i/o timeout"), std::string::npos) << e.what();
    }
    // Writes have their own deadline; clearing the read deadline makes reads work.
    s.write("x");
    s.set_read_deadline({});
    c.write("hello");
    EXPECT_EQ(s.read(buf), 5u);
    // Both directions at once.
    s.set_deadline(std::chrono::steady_clock::now() - 1ms);
    EXPECT_THROW(s.read(buf), net::TimeoutError);
    EXPECT_THROW(s.write("y"), net::TimeoutError);
    EXPECT_THROW(s.write("y"), net::Error);  // TimeoutError is an Error
  });
}

TEST(Net, DeadlineExpiringWhileBlockedWakesTheReader) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    auto t0 = std::chrono::steady_clock::now();
    s.set_read_deadline(t0 + 20ms);
    char buf[8];
    EXPECT_THROW(s.read(buf), net::TimeoutError);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);  // a lower bound only
    // Moving the deadline into the future makes the connection usable again.
    s.set_read_deadline(std::chrono::steady_clock::now() + 1h);
    c.write("late");
    EXPECT_EQ(s.read(buf), 4u);
  });
}

TEST(Net, WriteDeadlineExpiringWhileBlockedWakesTheWriter) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();  // never reads: c's writes fill both socket buffers
    c.set_write_deadline(std::chrono::steady_clock::now() + 20ms);
    std::string chunk(1 << 16, 'w');
    EXPECT_THROW(
        {
          for (;;) c.write(chunk);
        },
        net::TimeoutError);
  });
}

TEST(Net, DeadlinesMovedWhileBlocked) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    // Pulled into the past from another goroutine: the blocked reader times out.
    goro::WaitGroup wg;
    wg.add(1);
    s.set_read_deadline(std::chrono::steady_clock::now() + 1h);
    goro::go([&] {
      char b[4];
      EXPECT_THROW(s.read(b), net::TimeoutError);
      wg.done();
    });
    wait_io_waiters(1);
    s.set_read_deadline(std::chrono::steady_clock::now() - 1ms);
    wg.wait();
    // Pushed back before it passes: the old deadline's timer does nothing, and the
    // reader gets the data written after the old deadline.
    s.set_read_deadline(std::chrono::steady_clock::now() + 10ms);
    s.set_read_deadline(std::chrono::steady_clock::now() + 1h);
    wg.add(1);
    goro::go([&] {
      char b[4];
      EXPECT_EQ(s.read(b), 4u);
      wg.done();
    });
    goro::sleep_for(30ms);  // past the first deadline
    c.write("data");
    wg.wait();
    // Cleared while blocked: the same.
    s.set_read_deadline(std::chrono::steady_clock::now() + 10ms);
    wg.add(1);
    goro::go([&] {
      char b[4];
      EXPECT_EQ(s.read(b), 4u);
      wg.done();
    });
    wait_io_waiters(1);
    s.set_read_deadline({});
    goro::sleep_for(30ms);
    c.write("more");
    wg.wait();
  });
}

TEST(Net, DeadlineWakesAPlainThreadAndListenerDeadlines) {
  net::Listener ln = net::listen("127.0.0.1:0");
  net::Conn c = net::dial(ln.addr().to_string());
  net::Conn s = ln.accept();
  s.set_read_deadline(std::chrono::steady_clock::now() + 20ms);
  char b[4];
  EXPECT_THROW(s.read(b), net::TimeoutError);  // this thread blocks, then times out
  ln.set_deadline(std::chrono::steady_clock::now() + 20ms);
  EXPECT_THROW(ln.accept(), net::TimeoutError);
  ln.set_deadline({});
  net::Conn c2 = net::dial(ln.addr().to_string());
  net::Conn s2 = ln.accept();
  EXPECT_TRUE(s2);
}

TEST(Net, ClosingDisarmsDeadlineTimers) {
  std::size_t before = gt::timers_armed();
  {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    s.set_deadline(std::chrono::steady_clock::now() + 1h);
    c.set_write_deadline(std::chrono::steady_clock::now() + 1h);
    EXPECT_EQ(gt::timers_armed(), before + 3);
  }
  EXPECT_EQ(gt::timers_armed(), before);
}

TEST(Net, CloseWakesBlockedReaderAndWriterAndAccept) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      char buf[8];
      try {
        s.read(buf);
        ADD_FAILURE() << "read on a closed connection returned";
      } catch (const net::Error& e) {
        EXPECT_EQ(e.code(), std::errc::bad_file_descriptor) << e.what();
        EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos) << e.what();
      }
      wg.done();
    });
    wait_io_waiters(1);  // the reader is parked in read
    s.close();
    wg.wait();
    // Later calls on the closed handle throw too; close again is harmless.
    char buf[8];
    EXPECT_THROW(s.read(buf), net::Error);
    EXPECT_THROW(s.write("x"), net::Error);
    s.close();
    // The peer sees end of stream.
    EXPECT_EQ(c.read(buf), 0u);

    // A writer blocked on a full buffer.
    net::Conn c2 = net::dial(ln.addr().to_string());
    net::Conn s2 = ln.accept();
    wg.add(1);
    goro::go([&] {
      std::string chunk(1 << 16, 'w');
      try {
        for (;;) c2.write(chunk);
      } catch (const net::Error& e) {
        EXPECT_EQ(e.code(), std::errc::bad_file_descriptor) << e.what();
      }
      wg.done();
    });
    wait_io_waiters(1);
    c2.close();
    wg.wait();

    // A goroutine blocked in accept.
    wg.add(1);
    goro::go([&] {
      EXPECT_THROW(ln.accept(), net::Error);
      wg.done();
    });
    wait_io_waiters(1);
    ln.close();
    wg.wait();
  });
}

TEST(Net, PeerResetGivesConnectionReset) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn s;
    {
      net::Conn c = net::dial(ln.addr().to_string());
      s = ln.accept();
      linger lg{1, 0};  // close sends RST
      ASSERT_EQ(0, ::setsockopt(c.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    }
    char buf[8];
    try {
      s.read(buf);
      ADD_FAILURE() << "read on a reset connection returned";
    } catch (const net::Error& e) {
      EXPECT_EQ(e.code(), std::errc::connection_reset) << e.what();
    }

    // The same, with the reader already parked when the reset arrives.
    net::Conn c2 = net::dial(ln.addr().to_string());
    net::Conn s2 = ln.accept();
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      char b[8];
      try {
        s2.read(b);
        ADD_FAILURE() << "read on a reset connection returned";
      } catch (const net::Error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_reset) << e.what();
      }
      wg.done();
    });
    wait_io_waiters(1);
    linger lg{1, 0};
    ASSERT_EQ(0, ::setsockopt(c2.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    c2.close();
    wg.wait();
  });
}

TEST(Net, EndOfStreamRightAfterDataIsSeen) {
  // Regression (net.cpp F4): a reader parked in read is woken by data that comes
  // with the peer's FIN; its read returns the data (less than it asked for), and the
  // next read must see end of stream rather than wait for an event that was already
  // reported.
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    for (int i = 0; i < 20; ++i) {
      net::Conn c = net::dial(ln.addr().to_string());
      net::Conn s = ln.accept();
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&] {
        EXPECT_EQ(read_all(s), "abc");
        wg.done();
      });
      wait_io_waiters(1);  // the reader is parked before anything arrives
      c.write("abc");
      c.close_write();
      wg.wait();
    }
  });
}

TEST(Net, FdCountBackToBaselineAfterCloses) {
  // The poller's own fds (epoll, eventfd) exist from the first socket on.
  { net::Listener warm = net::listen("127.0.0.1:0"); }
  int baseline = count_proc_entries("fd");
  ASSERT_GT(baseline, 0);
  goro::run([] {
    for (int round = 0; round < 3; ++round) {
      net::Listener ln = net::listen("127.0.0.1:0");
      std::string addr = ln.addr().to_string();
      std::vector<net::Conn> conns;
      for (int i = 0; i < 20; ++i) {
        conns.push_back(net::dial(addr));
        conns.push_back(ln.accept());
      }
      // Some closed explicitly, the rest by their destructors; a refused dial and a
      // failed listen leave nothing behind either.
      for (std::size_t i = 0; i < conns.size(); i += 2) conns[i].close();
      EXPECT_THROW(net::listen(addr), net::Error);
      ln.close();
      EXPECT_THROW(net::dial(addr), net::Error);
    }
  });
  EXPECT_EQ(count_proc_entries("fd"), baseline);
}

TEST(Net, GoroutinesBlockedOnSocketsHoldNoThread) {
  static constexpr int kReaders = 100;
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    std::string addr = ln.addr().to_string();
    std::vector<net::Conn> clients, servers;
    for (int i = 0; i < kReaders; ++i) {
      clients.push_back(net::dial(addr));
      servers.push_back(ln.accept());
    }
    goro::WaitGroup wg;
    wg.add(kReaders);
    std::atomic<int> got{0};
    for (int i = 0; i < kReaders; ++i) {
      goro::go([&, i] {
        char b;
        if (servers[std::size_t(i)].read(std::span<char>(&b, 1)) == 1 && b == 'x') got.fetch_add(1);
        wg.done();
      });
    }
    wait_io_waiters(kReaders);
    // 100 goroutines are blocked in read: the process has far fewer threads.
    EXPECT_LT(count_proc_entries("task"), kReaders / 2);
    // And a goroutine that computes runs to completion meanwhile (at 1 P too).
    goro::Chan<std::uint64_t> result(1);
    goro::go([&result] {
      std::uint64_t x = 0;
      for (std::uint64_t i = 1; i <= 1000000; ++i) x += i * i % 7;
      result.send(x);
    });
    std::uint64_t expect = 0;
    for (std::uint64_t i = 1; i <= 1000000; ++i) expect += i * i % 7;
    EXPECT_EQ(result.recv(), expect);
    EXPECT_EQ(got.load(), 0);
    for (auto& c : clients) c.write("x");
    wg.wait();
    EXPECT_EQ(got.load(), kReaders);
  });
}

TEST(Net, PlainThreadsOnly) {
  // No goroutine anywhere: a thread accepts and echoes, the test's thread dials.
  net::Listener ln = net::listen("127.0.0.1:0");
  std::thread server([&ln] {
    net::Conn c = ln.accept();
    char buf[256];
    for (;;) {
      std::size_t n = c.read(buf);
      if (n == 0) break;
      c.write(std::string_view(buf, n));
    }
  });
  net::Conn c = net::dial(ln.addr().to_string());
  for (int i = 0; i < 50; ++i) {
    std::string msg = "message " + std::to_string(i);
    c.write(msg);
    std::string back(msg.size(), '\0');
    ASSERT_TRUE(read_full(c, back));
    EXPECT_EQ(back, msg);
  }
  c.close_write();
  char b;
  EXPECT_EQ(c.read(std::span<char>(&b, 1)), 0u);
  server.join();
}

TEST(Net, ThreadsAndGoroutinesShareConnections) {
  net::Listener ln = net::listen("127.0.0.1:0");
  std::string addr = ln.addr().to_string();
  constexpr int kThreads = 4;
  // Goroutines serve; plain threads are the clients, blocked in read while a
  // goroutine answers.
  goro::WaitGroup served;
  served.add(kThreads);
  goro::go([&] {
    for (int i = 0; i < kThreads; ++i) {
      goro::go(
          [&served](net::Conn c) {
            std::string got = read_all(c);
            c.write("re:" + got);
            served.done();
          },
          ln.accept());
    }
  });
  goro_test::on_threads(kThreads, [&](int i) {
    net::Conn c = net::dial(addr);
    c.write("t" + std::to_string(i));
    c.close_write();
    EXPECT_EQ(read_all(c), "re:t" + std::to_string(i));
  });
  served.wait();

  // A connection read by a plain thread and closed by a goroutine.
  net::Conn c = net::dial(addr);
  net::Conn s;
  goro::run([&] { s = ln.accept(); });
  std::thread reader([&] {
    char b[4];
    EXPECT_THROW(s.read(b), net::Error);
  });
  wait_io_waiters(1);
  goro::run([&] { s.close(); });
  reader.join();
}

TEST(Net, LargeTransferWithBlockingWrites) {
  const std::size_t total = goro_test::kUnderSanitizer ? (4u << 20) : (32u << 20);
  goro::run([&] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    goro::go([&] {
      std::vector<char> chunk(1 << 20);
      for (std::size_t off = 0; off < total; off += chunk.size()) {
        for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = pattern(7, off + i);
        EXPECT_EQ(c.write(std::string_view(chunk.data(), chunk.size())), chunk.size());
      }
      c.close_write();
    });
    std::size_t got = 0;
    std::size_t bad = 0;
    char buf[3000];  // odd size: reads end mid-chunk
    for (;;) {
      std::size_t n = s.read(buf);
      if (n == 0) break;
      for (std::size_t i = 0; i < n; ++i) bad += buf[i] != pattern(7, got + i);
      got += n;
    }
    EXPECT_EQ(got, total);
    EXPECT_EQ(bad, 0u);
  });
}

TEST(Net, ConcurrentReadersAreSerialised) {
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Conn c = net::dial(ln.addr().to_string());
    net::Conn s = ln.accept();
    constexpr int kReaders = 8;
    std::atomic<int> bytes{0};
    goro::WaitGroup wg;
    wg.add(kReaders);
    for (int i = 0; i < kReaders; ++i) {
      goro::go([&] {
        char b;
        if (s.read(std::span<char>(&b, 1)) == 1) bytes.fetch_add(1);
        wg.done();
      });
    }
    for (int i = 0; i < kReaders; ++i) c.write("z");
    wg.wait();
    EXPECT_EQ(bytes.load(), kReaders);
  });
}

TEST(Net, MovedHandlesAndDefaultHandles) {
  net::Conn empty;
  EXPECT_FALSE(empty);
  char b[1];
  EXPECT_THROW(empty.read(b), net::Error);
  empty.close();
  goro::run([] {
    net::Listener ln = net::listen("127.0.0.1:0");
    net::Listener moved = std::move(ln);
    EXPECT_FALSE(ln);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_TRUE(moved);
    net::Conn c = net::dial(moved.addr().to_string());
    net::Conn s = moved.accept();
    net::Conn t;
    t = std::move(s);
    c.write("m");
    char x;
    EXPECT_EQ(t.read(std::span<char>(&x, 1)), 1u);
    EXPECT_EQ(x, 'm');
  });
}

}  // namespace
