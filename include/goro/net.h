// goro/net.h — TCP sockets whose blocking calls park the goroutine, not the thread
// (Go's net package, TCP part).
//
// A goroutine blocked in accept, read, write or dial holds no thread: the socket is
// non-blocking and registered with goro's network poller (epoll), which makes the
// goroutine runnable again when the socket is ready. The same calls work on a plain
// thread, which they block. Conn and Listener are move-only handles that close their
// socket when destroyed; every socket is opened close-on-exec.
//
//   goro::run([] {
//     goro::net::Listener ln = goro::net::listen("127.0.0.1:0");
//     goro::go([addr = ln.addr()] {
//       goro::net::Conn c = goro::net::dial(addr.to_string());
//       c.write("hello");
//     });
//     goro::net::Conn c = ln.accept();
//     char buf[16];
//     std::size_t n = c.read(buf);  // 5 bytes ("hello"), or fewer: call again for more
//   });
//
// Errors are goro::net::Error, a std::system_error whose code() is the errno
// (std::system_category()): e.code() == std::errc::connection_reset for a reset
// peer, std::errc::connection_refused for a dial nobody answers,
// std::errc::bad_file_descriptor ("use of closed network connection") for a socket
// closed before or during the call. A passed deadline throws goro::net::TimeoutError
// (code std::errc::timed_out).
//
// Threads: one Conn may be read by one goroutine while another writes it and a
// third closes it (or sets deadlines); concurrent reads (or writes) are serialised.
// Destroying a handle while another thread still uses it is a data race, as for any
// C++ object: close() it, let the users return, then destroy it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace goro::detail {
struct NetFd;
}

namespace goro::net {

// A failed socket call (Go's net.OpError): code() is the errno; what() says which
// call on which socket ("read tcp 127.0.0.1:5000->127.0.0.1:43122: Connection reset
// by peer").
class Error : public std::system_error {
 public:
  Error(int errno_value, const std::string& what);
};

// The call's deadline passed (Go's os.ErrDeadlineExceeded): code() is ETIMEDOUT.
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& what);
};

// An IP address and port (Go's TCPAddr).
struct Addr {
  std::string ip;  // "127.0.0.1", "::1", "::" (any); empty when unknown
  std::uint16_t port = 0;
  // "127.0.0.1:8080", "[::1]:8080": what listen() and dial() accept.
  std::string to_string() const;
};

// A deadline is a point on the steady clock (goro::Clock). A default-constructed
// time_point (Go's zero Time) means "no deadline".
using Deadline = std::chrono::steady_clock::time_point;

// A TCP connection (Go's net.TCPConn).
class Conn {
 public:
  // A handle to no connection: every call but close() throws Error (EBADF).
  Conn() noexcept = default;
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;  // closes what this held
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();  // close()

  // Whether this handle holds a connection (closed or not).
  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // Reads what is available, up to buf.size() bytes, blocking until at least one
  // byte is (or the peer closed its side): returns the count, 0 at end of stream (and
  // for an empty buf). Throws Error (ECONNRESET, ...), TimeoutError once the read
  // deadline has passed, Error (EBADF) if the connection is or gets closed.
  std::size_t read(std::span<std::byte> buf);
  std::size_t read(std::span<char> buf);

  // Writes all of data, blocking while the socket's send buffer is full; returns
  // data.size(). Throws as read() does (EPIPE or ECONNRESET once the peer is gone; a
  // write deadline that passes mid-way throws TimeoutError, and some bytes may have
  // been sent). Never raises SIGPIPE.
  std::size_t write(std::span<const std::byte> data);
  std::size_t write(std::string_view data);

  // Closes the connection: blocked and later reads and writes throw Error (EBADF).
  // Waits for calls already inside the socket to leave, then closes the fd.
  // Idempotent; never throws.
  void close() noexcept;
  // Shuts down the sending side (Go's CloseWrite): the peer reads end of stream,
  // while this side may still read.
  void close_write();

  // Deadlines for reads and writes (Go's SetDeadline): a call blocked when its
  // deadline passes, and every later call until the deadline is moved, throws
  // TimeoutError. A deadline in the past takes effect at once; Deadline{} clears it.
  void set_deadline(Deadline t);
  void set_read_deadline(Deadline t);
  void set_write_deadline(Deadline t);

  Addr local_addr() const;
  Addr remote_addr() const;
  // The socket's fd, for setsockopt and the like (do not close it, and do not make
  // it blocking).
  int native_handle() const;

 private:
  friend class Listener;
  friend Conn dial(std::string_view address);
  explicit Conn(detail::NetFd* fd) noexcept : fd_(fd) {}
  detail::NetFd* fd_ = nullptr;
};

// A TCP listening socket (Go's net.TCPListener).
class Listener {
 public:
  Listener() noexcept = default;
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();  // close()

  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // Waits for the next connection. Throws Error: EBADF once the listener is closed
  // (a goroutine blocked here is woken), EMFILE when the process is out of fds, ...
  Conn accept();
  // The address it listens on; the port the kernel chose for ":0".
  Addr addr() const;
  // Stops listening; blocked accepts throw Error (EBADF). Idempotent; never throws.
  void close() noexcept;
  // A deadline for accept (Go's TCPListener.SetDeadline), as Conn::set_deadline:
  // once it passes, accept throws TimeoutError; Deadline{} clears it.
  void set_deadline(Deadline t);
  int native_handle() const;

 private:
  friend Listener listen(std::string_view address);
  explicit Listener(detail::NetFd* fd) noexcept : fd_(fd) {}
  detail::NetFd* fd_ = nullptr;
};

// Listens on "host:port" (Go's net.Listen("tcp", address)): an IPv4 literal
// ("127.0.0.1:8080"), an IPv6 literal in brackets ("[::1]:8080"), "localhost:..."
// (127.0.0.1), or no host (":8080": every local address, IPv6 and IPv4 where the
// system has IPv6). Port 0 picks a free port (see Listener::addr). Throws Error
// (EADDRINUSE, EINVAL for a malformed address, ...).
Listener listen(std::string_view address);

// Connects to "host:port" (Go's net.Dial("tcp", address)), trying each address the
// host has (IPv4 first) until one answers. Host: a literal, "localhost", no host
// (this machine), or a name (resolved with getaddrinfo, which blocks the calling
// thread while it runs). Blocks until connected; throws Error
// (ECONNREFUSED, ENETUNREACH, EINVAL, ...).
Conn dial(std::string_view address);

}  // namespace goro::net
