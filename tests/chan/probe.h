// probe.h — how the channel tests show, without any clock, that an operation blocks.
//
// Go's own tests (test/chan/select3.go, runtime/chan_test.go) start the operation in
// a goroutine, sleep, and check that it has not finished. Here a Probe runs the
// operation in a goroutine and the test waits until goro::debug::dump shows that
// goroutine parked with the expected wait reason ("chan receive", "select", ...).
// A goroutine is marked waiting only once it has left its stack, so seeing it parked
// proves the operation could not complete by itself; the test, which controls every
// other party, then checks it has not finished (finished() is a select with a
// default case) and only then provides the partner that lets it complete.
//
// Operations that must block for ever (nil channels, an empty select) cannot be
// probed this way (the goroutine would leak): the tests check them with try_ forms and
// select with default, and go_block_forever_test.cpp lets goro's deadlock detector
// prove them in a child process.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "goro/detail/testing.h"
#include "goro/goro.h"

namespace goro_test {

// Whether goroutine `id` is parked now with wait reason `reason`, as the dump says:
// its header line is "goroutine <id> [<reason>]:" (or "[<reason>, N minutes]:").
inline bool is_parked(std::uint64_t id, std::string_view reason) {
  std::ostringstream out;
  goro::debug::dump(out);
  const std::string dump = out.str();
  const std::string head = "goroutine " + std::to_string(id) + " [" + std::string(reason);
  const std::size_t at = dump.find(head);
  if (at == std::string::npos || at + head.size() >= dump.size()) return false;
  const char next = dump[at + head.size()];
  return next == ']' || next == ',';
}

// Runs f() in a goroutine and watches it.
class Probe {
 public:
  template <class F>
  explicit Probe(F f) : done_(0) {
    goro::Chan<std::uint64_t> id(1);
    goro::go(
        [id, done = done_](F fn) mutable {
          id.send(goro::detail::testing::goroutine_id());
          fn();
          done.close();  // happens before a finished() or join() that sees it
        },
        std::move(f));
    id_ = *id.recv();
  }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  std::uint64_t id() const { return id_; }

  // Yields until the goroutine shows as parked with `reason`. No time limit: a probe
  // that never parks fails by the test's timeout, with ctest's output.
  void wait_parked(std::string_view reason) const {
    while (!is_parked(id_, reason)) goro::yield();
  }

  // Whether f has returned; never blocks.
  bool finished() const {
    return goro::select(goro::case_recv(done_), goro::case_default([] {})) == 0;
  }

  // Waits until f has returned.
  void join() const { done_.recv(); }

 private:
  std::uint64_t id_ = 0;
  goro::Chan<char> done_;  // closed when f returns
};

}  // namespace goro_test
