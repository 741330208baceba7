// go_chan_test.cpp — what Go's own channel tests check, asked of goro::Chan and
// goro::select: the blocking table of test/chan/select3.go, order (fifo.go), a prime
// sieve pipeline (sieve1.go), a relay through ten thousand goroutines
// (goroutines.go), the non-blocking forms with a partner (nonblock.go), channels of
// empty types (zerosize.go), and runtime/chan_test.go's TestChan table,
// TestMultiConsumer, TestNonblockRecvRace and TestChanSendInterface.
//
// Written here from what those programs check; no timing anywhere: "must block" is
// shown by the blocked goroutine's park state (probe.h), "must not block" by the
// operation completing on a thread that nobody else could have helped.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "chan/probe.h"
#include "goro/goro.h"
#include "support/support.h"

using goro_test::kUnderSanitizer;
using goro_test::Probe;
using goro_test::scaled;

namespace {

// Runs f on the calling plain thread, then again as a goroutine: every blocking
// primitive must behave the same from both.
template <class F>
void on_thread_and_in_goroutine(F f) {
  f();
  goro::run(f);
}

// Whether a select returned the index of its default case.
bool took_default(std::size_t index, std::size_t default_index) { return index == default_index; }

// ---------------------------------------------------------------------------
// test/chan/select3.go: what must and must not block.

TEST(GoSelect3, NilChannelOperationsNeverProceed) {
  on_thread_and_in_goroutine([] {
    auto nil = goro::Chan<int>::nil();
    for (int k = 0; k < 100; ++k) {
      EXPECT_FALSE(nil.try_send(7));
      EXPECT_EQ(nil.try_recv(), std::nullopt);
      // A nil case in a select with default is never selected (Go: testPanic never).
      EXPECT_TRUE(took_default(
          goro::select(goro::case_send(nil, 7, [] { ADD_FAILURE() << "nil send case fired"; }),
                       goro::case_default([] {})),
          1));
      EXPECT_TRUE(took_default(
          goro::select(goro::case_recv(nil, [] { ADD_FAILURE() << "nil recv case fired"; }),
                       goro::case_default([] {})),
          1));
      EXPECT_TRUE(took_default(
          goro::select(goro::case_recv(nil), goro::case_send(nil, 1), goro::case_default([] {})),
          2));
      goro::Selector sel;
      sel.recv(nil).send(nil, 1).default_case([] {});
      EXPECT_EQ(sel.select(), 2u);
    }
  });
}

TEST(GoSelect3, NilCasesNeverFireWhileTheSelectIsParked) {
  // A select whose only non-nil case is not ready parks; its nil cases stay silent
  // while it waits, and it wakes for the real one.
  auto nil = goro::Chan<int>::nil();
  goro::Chan<int> real;
  std::size_t index = 99;
  std::optional<int> got;
  Probe p([&] {
    index = goro::select(goro::case_recv(nil), goro::case_send(nil, 1),
                         goro::case_recv(real, [&](std::optional<int> v) { got = v; }));
  });
  p.wait_parked("select");
  EXPECT_FALSE(p.finished());
  real.send(3);
  p.join();
  EXPECT_EQ(index, 2u);
  EXPECT_EQ(got, 3);
}

TEST(GoSelect3, SendWithFreeBufferSpaceNeverBlocks) {
  on_thread_and_in_goroutine([] {
    // Nobody else touches these channels: an operation that blocked would never return.
    goro::Chan<int> a(1);
    a.send(7);
    EXPECT_EQ(a.size(), 1u);
    goro::Chan<int> b(1);
    EXPECT_EQ(goro::select(goro::case_send(b, 7)), 0u);
    goro::Chan<int> c(1);
    EXPECT_EQ(goro::select(goro::case_send(c, 7), goro::case_default([] {})), 0u);
    goro::Chan<int> d(1);
    EXPECT_TRUE(d.try_send(7));
    for (auto& ch : {a, b, c, d}) EXPECT_EQ(ch.try_recv(), 7);
  });
}

TEST(GoSelect3, ReceiveFromClosedChannelNeverBlocks) {
  on_thread_and_in_goroutine([] {
    for (std::size_t cap : {0u, 1u, 8u}) {
      goro::Chan<int> closed(cap);
      closed.close();
      for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(closed.recv(), std::nullopt);
        EXPECT_EQ(closed.try_recv(), std::nullopt);
        // Closed is ready: a select picks it, with or without a default case, and
        // its handler sees "closed" (Go: x, ok := <-closedch gives 0, false).
        bool saw_closed = false;
        EXPECT_EQ(
            goro::select(goro::case_recv(closed, [&](std::optional<int> v) { saw_closed = !v; })),
            0u);
        EXPECT_TRUE(saw_closed);
        saw_closed = false;
        EXPECT_EQ(
            goro::select(goro::case_recv(closed, [&](std::optional<int> v) { saw_closed = !v; }),
                         goro::case_default([] { ADD_FAILURE() << "default taken"; })),
            0u);
        EXPECT_TRUE(saw_closed);
      }
      int n = 0;
      for (int v : closed) n += v + 1;
      EXPECT_EQ(n, 0);
    }
  });
}

TEST(GoSelect3, SendOnClosedChannelThrows) {
  on_thread_and_in_goroutine([] {
    for (std::size_t cap : {0u, 1u, 8u}) {
      goro::Chan<int> closed(cap);
      closed.close();
      EXPECT_THROW(closed.send(7), goro::ClosedChannelError);
      EXPECT_THROW(closed.try_send(7), goro::ClosedChannelError);
      EXPECT_THROW(goro::select(goro::case_send(closed, 7)), goro::ClosedChannelError);
      EXPECT_THROW(goro::select(goro::case_send(closed, 7), goro::case_default([] {})),
                   goro::ClosedChannelError);
      goro::Selector sel;
      sel.send(closed, 7);
      EXPECT_THROW(sel.select(), goro::ClosedChannelError);
      EXPECT_EQ(closed.size(), 0u);
    }
  });
}

TEST(GoSelect3, ReceiveFromNonReadyChannelBlocks) {
  for (std::size_t cap : {0u, 1u, 4u}) {
    goro::Chan<int> ch(cap);
    std::optional<int> got;
    Probe p([&] { got = ch.recv(); });
    p.wait_parked("chan receive");
    EXPECT_FALSE(p.finished()) << "capacity " << cap;
    EXPECT_EQ(ch.try_recv(), std::nullopt);  // still nothing for anyone
    ch.send(5);
    p.join();
    EXPECT_EQ(got, 5) << "capacity " << cap;
  }
}

TEST(GoSelect3, SendToNonReadyChannelBlocks) {
  // Unbuffered with no receiver, and buffered but full.
  for (std::size_t cap : {0u, 1u, 4u}) {
    goro::Chan<int> ch(cap);
    for (std::size_t i = 0; i < cap; ++i) ch.send(int(i));
    Probe p([&] { ch.send(100); });
    p.wait_parked("chan send");
    EXPECT_FALSE(p.finished()) << "capacity " << cap;
    EXPECT_EQ(ch.size(), cap);
    EXPECT_FALSE(ch.try_send(200));  // still full for anyone
    // The first receive lets the sender go (its value follows the buffered ones).
    for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(ch.recv(), int(i));
    EXPECT_EQ(ch.recv(), 100);
    p.join();
    EXPECT_EQ(ch.size(), 0u);
  }
}

TEST(GoSelect3, SelectOnNonReadyChannelsBlocks) {
  goro::Chan<int> empty;    // receive case: nobody sends
  goro::Chan<int> full(1);  // send case: no room
  full.send(0);
  for (int round = 0; round < 2; ++round) {
    std::size_t index = 99;
    std::optional<int> got;
    Probe p([&] {
      index = goro::select(goro::case_recv(empty, [&](std::optional<int> v) { got = v; }),
                           goro::case_send(full, 1));
    });
    p.wait_parked("select");
    EXPECT_FALSE(p.finished());
    if (round == 0) {
      empty.send(9);  // lets the receive case proceed
      p.join();
      EXPECT_EQ(index, 0u);
      EXPECT_EQ(got, 9);
      EXPECT_EQ(full.size(), 1u);
    } else {
      EXPECT_EQ(full.recv(), 0);  // makes room: the parked send case completes
      p.join();
      EXPECT_EQ(index, 1u);
      EXPECT_EQ(got, std::nullopt);
      EXPECT_EQ(full.recv(), 1);
      full.send(0);
    }
  }
}

TEST(GoSelect3, SelectWithDefaultNeverBlocks) {
  on_thread_and_in_goroutine([] {
    bool ran = false;
    EXPECT_EQ(goro::select(goro::case_default([&] { ran = true; })), 0u);
    EXPECT_TRUE(ran);
    goro::Chan<int> empty, full(1);
    full.send(1);
    EXPECT_TRUE(took_default(goro::select(goro::case_recv(empty), goro::case_send(empty, 1),
                                          goro::case_send(full, 2), goro::case_default([] {})),
                             3));
    goro::Selector only_default;
    only_default.default_case([] {});
    EXPECT_EQ(only_default.select(), 0u);
    EXPECT_EQ(full.size(), 1u);
  });
}

TEST(GoSelect3, SelectWithReadyChannelNeverTakesDefault) {
  on_thread_and_in_goroutine([] {
    goro::Chan<int> ch(1);
    EXPECT_EQ(goro::select(goro::case_send(ch, 7),
                           goro::case_default([] { ADD_FAILURE() << "default on room"; })),
              0u);
    std::optional<int> got;
    EXPECT_EQ(goro::select(goro::case_recv(ch, [&](std::optional<int> v) { got = v; }),
                           goro::case_default([] { ADD_FAILURE() << "default on value"; })),
              0u);
    EXPECT_EQ(got, 7);
  });
}

TEST(GoSelect3, UnbufferedWithAWaitingPartnerDoesNotBlock) {
  // The other half of "unbuffered blocks": with a partner already waiting, the
  // non-blocking forms succeed at once.
  goro::Chan<int> ch;
  std::optional<int> got;
  Probe receiver([&] { got = ch.recv(); });
  receiver.wait_parked("chan receive");
  EXPECT_TRUE(ch.try_send(1));
  receiver.join();
  EXPECT_EQ(got, 1);

  Probe sender([&] { ch.send(2); });
  sender.wait_parked("chan send");
  EXPECT_EQ(ch.try_recv(), 2);
  sender.join();

  Probe receiver2([&] { got = ch.recv(); });
  receiver2.wait_parked("chan receive");
  EXPECT_EQ(goro::select(goro::case_send(ch, 3), goro::case_default([] {})), 0u);
  receiver2.join();
  EXPECT_EQ(got, 3);

  Probe sender2([&] { ch.send(4); });
  sender2.wait_parked("chan send");
  got.reset();
  EXPECT_EQ(goro::select(goro::case_recv(ch, [&](std::optional<int> v) { got = v; }),
                         goro::case_default([] {})),
            0u);
  sender2.join();
  EXPECT_EQ(got, 4);
}

TEST(GoSelect3, SelectDoesNotPairWithItself) {
  // select { case c <- 1: case <-c: } on an unbuffered channel cannot complete by
  // itself: its send case must not hand the value to its own receive case.
  goro::Chan<int> c;
  on_thread_and_in_goroutine([c] {
    EXPECT_TRUE(took_default(
        goro::select(goro::case_send(c, 1), goro::case_recv(c), goro::case_default([] {})), 2));
  });
  for (int round = 0; round < 2; ++round) {
    std::size_t index = 99;
    std::optional<int> got;
    Probe p([&] {
      index = goro::select(goro::case_send(c, 1),
                           goro::case_recv(c, [&](std::optional<int> v) { got = v; }));
    });
    p.wait_parked("select");
    EXPECT_FALSE(p.finished());
    if (round == 0) {
      EXPECT_EQ(c.recv(), 1);
      p.join();
      EXPECT_EQ(index, 0u);
    } else {
      c.send(2);
      p.join();
      EXPECT_EQ(index, 1u);
      EXPECT_EQ(got, 2);
    }
  }
}

// ---------------------------------------------------------------------------
// test/chan/fifo.go: order is preserved.

TEST(GoFifo, BufferedChannelIsFifo) {
  on_thread_and_in_goroutine([] {
    constexpr int kN = 1000;
    goro::Chan<int> ch(kN);
    for (int i = 0; i < kN; ++i) ch.send(i);
    for (int i = 0; i < kN; ++i) ASSERT_EQ(ch.recv(), i);
  });
}

TEST(GoFifo, SynchronousDaisyChain) {
  // Goroutine i waits for its turn on `in`, receives from the shared unbuffered
  // channel (which must give it value i), and passes the turn on.
  const int n = int(scaled(1000));
  goro::run([&] {
    goro::Chan<int> ch;
    goro::Chan<int> start;
    goro::Chan<int> in = start;
    std::atomic<int> wrong{0};
    for (int i = 0; i < n; ++i) {
      goro::Chan<int> out;
      goro::go([&wrong, ch, in, out, i] {
        in.recv();
        if (ch.recv() != i) wrong.fetch_add(1);
        out.send(1);
      });
      in = out;
    }
    start.send(0);
    for (int i = 0; i < n; ++i) ch.send(i);
    in.recv();
    EXPECT_EQ(wrong.load(), 0);
  });
}

TEST(GoFifo, WaitingReceiversAreServedInArrivalOrder) {
  // Go's wait queues are FIFO, and goro's (chan_internal.h) too: receivers that
  // queued one after another get the values in that order.
  for (std::size_t cap : {0u, 3u}) {
    constexpr int kN = 8;
    goro::Chan<int> ch(cap);
    std::array<std::optional<int>, kN> got;
    std::vector<std::unique_ptr<Probe>> probes;
    for (int i = 0; i < kN; ++i) {
      probes.push_back(std::make_unique<Probe>([&got, ch, i] { got[i] = ch.recv(); }));
      probes.back()->wait_parked("chan receive");  // queued before the next one starts
    }
    for (int i = 0; i < kN; ++i) ch.send(i);
    for (auto& p : probes) p->join();
    for (int i = 0; i < kN; ++i) EXPECT_EQ(got[i], i) << "capacity " << cap;
  }
}

TEST(GoFifo, WaitingSendersFollowTheBufferInArrivalOrder) {
  // A full buffer holds 0..cap-1; senders of cap, cap+1, ... queue in that order. A
  // receive takes the oldest buffered value and moves the first waiting sender's
  // value into the freed slot, so everything comes out in order.
  for (std::size_t cap : {0u, 1u, 3u}) {
    constexpr int kWaiting = 6;
    goro::Chan<int> ch(cap);
    for (std::size_t i = 0; i < cap; ++i) ch.send(int(i));
    std::vector<std::unique_ptr<Probe>> probes;
    for (int i = 0; i < kWaiting; ++i) {
      int v = int(cap) + i;
      probes.push_back(std::make_unique<Probe>([ch, v] { ch.send(v); }));
      probes.back()->wait_parked("chan send");
    }
    for (int i = 0; i < int(cap) + kWaiting; ++i) ASSERT_EQ(ch.recv(), i) << "capacity " << cap;
    for (auto& p : probes) p->join();
  }
}

// ---------------------------------------------------------------------------
// test/chan/sieve1.go: the concurrent prime sieve.

std::vector<int> primes_by_trial_division(int n) {
  std::vector<int> out;
  for (int k = 2; int(out.size()) < n; ++k) {
    bool prime = true;
    for (int p : out) {
      if (p * p > k) break;
      if (k % p == 0) {
        prime = false;
        break;
      }
    }
    if (prime) out.push_back(k);
  }
  return out;
}

TEST(GoSieve1, FirstPrimesThroughAPipelineOfFilters) {
  // Go's generator and filters run for ever; here every stage also watches `quit`, so
  // that closing it tears the whole pipeline down (no goroutine may leak).
  constexpr int kPrimes = 100;
  const std::vector<int> want = primes_by_trial_division(kPrimes);
  goro::run([&] {
    goro::Chan<char> quit;
    goro::WaitGroup stages;
    // Sends v on out unless quit closes first; returns whether it sent.
    auto send_or_quit = [quit](const goro::Chan<int>& out, int v) {
      return goro::select(goro::case_send(out, v), goro::case_recv(quit)) == 0;
    };
    goro::Chan<int> ch;
    stages.add(1);
    goro::go([&stages, send_or_quit, ch] {
      for (int i = 2; send_or_quit(ch, i); ++i) {
      }
      stages.done();
    });
    goro::Chan<int> primes;
    stages.add(1);
    goro::go([&stages, send_or_quit, quit, ch, primes]() mutable {
      for (;;) {
        std::optional<int> prime;
        if (goro::select(goro::case_recv(ch, [&](std::optional<int> v) { prime = v; }),
                         goro::case_recv(quit)) != 0)
          break;
        if (!send_or_quit(primes, *prime)) break;
        goro::Chan<int> next;
        stages.add(1);
        goro::go(
            [&stages, send_or_quit, quit](goro::Chan<int> in, goro::Chan<int> out, int p) {
              for (;;) {
                std::optional<int> v;
                if (goro::select(goro::case_recv(in, [&](std::optional<int> x) { v = x; }),
                                 goro::case_recv(quit)) != 0)
                  break;
                if (*v % p != 0 && !send_or_quit(out, *v)) break;
              }
              stages.done();
            },
            ch, next, *prime);
        ch = next;
      }
      stages.done();
    });
    for (int i = 0; i < kPrimes; ++i) ASSERT_EQ(primes.recv(), want[std::size_t(i)]) << i;
    quit.close();
    stages.wait();
  });
}

// ---------------------------------------------------------------------------
// test/chan/goroutines.go: a value relayed through a chain of 10,000 goroutines.

TEST(GoGoroutines, RelayThroughTenThousandGoroutines) {
  const int n = int(scaled(10000));
  goro::run([&] {
    std::int64_t before = goro::num_goroutines();
    goro::Chan<int> leftmost;
    goro::Chan<int> left = leftmost;
    goro::Chan<int> right = leftmost;
    for (int i = 0; i < n; ++i) {
      right = goro::Chan<int>();
      // Each hop adds one, so the value that arrives proves it passed every goroutine.
      goro::go([](goro::Chan<int> l, goro::Chan<int> r) { l.send(*r.recv() + 1); }, left, right);
      left = right;
    }
    EXPECT_GE(goro::num_goroutines(), before + n);
    goro::go([](goro::Chan<int> c) { c.send(1); }, right);
    EXPECT_EQ(leftmost.recv(), 1 + n);
  });
}

// ---------------------------------------------------------------------------
// test/chan/nonblock.go: the non-blocking forms on every kind of channel, with a
// partner goroutine (or thread) that arrives at its own pace.

template <class T>
struct NonblockValues;
template <>
struct NonblockValues<std::int32_t> {
  static std::int32_t to_partner() { return 123; }
  static std::int32_t from_partner() { return 234; }
};
template <>
struct NonblockValues<std::int64_t> {
  static std::int64_t to_partner() { return 123456; }
  static std::int64_t from_partner() { return 234567; }
};
template <>
struct NonblockValues<bool> {
  static bool to_partner() { return true; }
  static bool from_partner() { return true; }
};
template <>
struct NonblockValues<std::string> {
  static std::string to_partner() { return "hello"; }
  static std::string from_partner() { return "hello again"; }
};
template <>
struct NonblockValues<std::unique_ptr<int>> {
  static std::unique_ptr<int> to_partner() { return std::make_unique<int>(5); }
  static std::unique_ptr<int> from_partner() { return std::make_unique<int>(6); }
};

template <class T>
bool same_value(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, std::unique_ptr<int>>)
    return a != nullptr && b != nullptr && *a == *b;
  else
    return a == b;
}

// Starts partners as goroutines or as plain threads.
class Partners {
 public:
  explicit Partners(bool threads) : threads_(threads) {}
  template <class F>
  void start(F f) {
    if (threads_)
      threads_list_.emplace_back(std::move(f));
    else
      goro::go(std::move(f));
  }
  ~Partners() {
    for (auto& t : threads_list_) t.join();
  }

 private:
  bool threads_;
  std::vector<std::thread> threads_list_;
};

enum class Form { try_op, select_default };

// One round of nonblock.go for one type and buffer size: nothing to receive at first;
// then a partner receives while we retry a non-blocking send until it lands; then a
// partner sends while we retry a non-blocking receive.
template <class T>
void nonblock_round(std::size_t buffer, bool partner_threads, Form form) {
  using V = NonblockValues<T>;
  goro::Chan<T> c(buffer);
  goro::Chan<bool> sync;  // unbuffered: each partner reports when it is done
  Partners partners(partner_threads);

  if (form == Form::try_op) {
    EXPECT_FALSE(c.try_recv().has_value());
  } else {
    EXPECT_TRUE(took_default(
        goro::select(goro::case_recv(c, [] { ADD_FAILURE() << "empty channel received"; }),
                     goro::case_default([] {})),
        1));
  }

  partners.start([c, sync] {
    std::optional<T> v = c.recv();
    EXPECT_TRUE(v.has_value() && same_value(*v, V::to_partner()));
    sync.send(true);
  });
  // Unbuffered: a non-blocking send lands only once the partner waits to receive.
  for (;;) {
    bool sent;
    if (form == Form::try_op)
      sent = c.try_send(V::to_partner());
    else
      sent = goro::select(goro::case_send(c, V::to_partner()), goro::case_default([] {})) == 0;
    if (sent) break;
    goro::yield();
  }
  sync.recv();

  partners.start([c, sync] {
    c.send(V::from_partner());
    sync.send(true);
  });
  // Buffered: the partner's send completes with nobody receiving.
  if (buffer > 0) sync.recv();
  std::optional<T> got;
  for (;;) {
    if (form == Form::try_op)
      got = c.try_recv();
    else
      goro::select(goro::case_recv(c, [&](std::optional<T> v) { got = std::move(v); }),
                   goro::case_default([] {}));
    if (got.has_value()) break;
    goro::yield();
  }
  EXPECT_TRUE(same_value(*got, V::from_partner()));
  if (buffer == 0) sync.recv();
}

template <class T>
class GoNonblock : public ::testing::Test {};
using NonblockTypes =
    ::testing::Types<std::int32_t, std::int64_t, bool, std::string, std::unique_ptr<int>>;
TYPED_TEST_SUITE(GoNonblock, NonblockTypes);

TYPED_TEST(GoNonblock, WithPartnerGoroutineFromThread) {
  for (std::size_t buffer : {0u, 1u})
    for (Form form : {Form::try_op, Form::select_default})
      nonblock_round<TypeParam>(buffer, false, form);
}

TYPED_TEST(GoNonblock, WithPartnerGoroutineFromGoroutine) {
  goro::run([] {
    for (std::size_t buffer : {0u, 1u})
      for (Form form : {Form::try_op, Form::select_default})
        nonblock_round<TypeParam>(buffer, false, form);
  });
}

TYPED_TEST(GoNonblock, WithPartnerThreadFromGoroutine) {
  goro::run([] {
    for (std::size_t buffer : {0u, 1u})
      for (Form form : {Form::try_op, Form::select_default})
        nonblock_round<TypeParam>(buffer, true, form);
  });
}

// ---------------------------------------------------------------------------
// test/chan/zerosize.go: channels of an empty type. C++ has no zero-size objects
// (sizeof is at least 1), but an empty struct must work on every kind of channel and
// travel without being copied.

struct Empty {};
static_assert(std::is_empty_v<Empty>);

// An empty type that counts its copies (static members take no room in it).
struct CountedEmpty {
  static inline std::atomic<int> copies{0};
  CountedEmpty() = default;
  CountedEmpty(const CountedEmpty&) noexcept { copies.fetch_add(1, std::memory_order_relaxed); }
  CountedEmpty(CountedEmpty&&) noexcept = default;
  CountedEmpty& operator=(const CountedEmpty&) noexcept {
    copies.fetch_add(1, std::memory_order_relaxed);
    return *this;
  }
  CountedEmpty& operator=(CountedEmpty&&) noexcept = default;
};
static_assert(std::is_empty_v<CountedEmpty>);

TEST(GoZerosize, ChannelsOfEmptyTypes) {
  on_thread_and_in_goroutine([] {
    // make(chan struct{}), make(chan struct{}, 1), make(chan [0]byte[, 1]).
    goro::Chan<Empty> a, b(1);
    goro::Chan<std::array<char, 0>> c, d(1);
    EXPECT_EQ(b.capacity(), 1u);
    EXPECT_TRUE(b.try_send(Empty{}));
    EXPECT_FALSE(b.try_send(Empty{}));
    EXPECT_EQ(b.size(), 1u);
    EXPECT_TRUE(b.try_recv().has_value());
    EXPECT_FALSE(a.try_send(Empty{}));
    EXPECT_FALSE(a.try_recv().has_value());
    d.send({});
    EXPECT_TRUE(d.recv().has_value());
    EXPECT_FALSE(c.try_recv().has_value());
    a.close();
    c.close();
    EXPECT_FALSE(a.recv().has_value());
    EXPECT_FALSE(c.recv().has_value());
  });
}

TEST(GoZerosize, BigBufferOfEmptyValuesWrapsAround) {
  on_thread_and_in_goroutine([] {
    constexpr std::size_t kCap = 100000;
    goro::Chan<Empty> ch(kCap);
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < kCap; ++i) ASSERT_TRUE(ch.try_send(Empty{}));
      ASSERT_EQ(ch.size(), kCap);
      EXPECT_FALSE(ch.try_send(Empty{}));
      for (std::size_t i = 0; i < kCap / 2; ++i) ASSERT_TRUE(ch.try_recv().has_value());
      for (std::size_t i = 0; i < kCap / 2; ++i) ASSERT_TRUE(ch.try_send(Empty{}));
      for (std::size_t i = 0; i < kCap; ++i) ASSERT_TRUE(ch.try_recv().has_value());
      EXPECT_EQ(ch.size(), 0u);
    }
  });
}

TEST(GoZerosize, EmptyValuesAsSignalsAreNeverCopied) {
  const int n = int(scaled(1000));
  CountedEmpty::copies = 0;
  goro::run([&] {
    for (std::size_t cap : {0u, 1u, 64u}) {
      goro::Chan<CountedEmpty> done(cap);
      for (int i = 0; i < n; ++i)
        goro::go([done, i] {
          if (i % 2 == 0)
            done.send(CountedEmpty{});
          else
            goro::select(goro::case_send(done, CountedEmpty{}));
        });
      int got = 0;
      for (int i = 0; i < n; ++i) {
        if (i % 2 == 0)
          got += done.recv().has_value();
        else
          goro::select(
              goro::case_recv(done, [&](std::optional<CountedEmpty> v) { got += v.has_value(); }));
      }
      EXPECT_EQ(got, n);
    }
  });
  EXPECT_EQ(CountedEmpty::copies.load(), 0);
}

// ---------------------------------------------------------------------------
// runtime/chan_test.go TestChan: the table over capacities 0..N.

void chan_table_for_capacity(std::size_t cap) {
  // (Not SCOPED_TRACE: gtest keeps traces per thread, and a goroutine may resume on
  // another thread.)
  const std::string at = "capacity " + std::to_string(cap);
  {
    // Receive from an empty channel blocks; the non-blocking forms do not.
    goro::Chan<int> c(cap);
    std::optional<int> r1, r2;
    Probe p1([&] { r1 = c.recv(); });
    Probe p2([&] { r2 = c.recv(); });
    p1.wait_parked("chan receive");
    p2.wait_parked("chan receive");
    EXPECT_FALSE(p1.finished()) << at;
    EXPECT_FALSE(p2.finished()) << at;
    EXPECT_TRUE(took_default(
        goro::select(goro::case_recv(c, [] { ADD_FAILURE() << "received from empty chan"; }),
                     goro::case_default([] {})),
        1))
        << at;
    EXPECT_FALSE(c.try_recv().has_value()) << at;
    c.send(0);
    c.send(0);
    p1.join();
    p2.join();
    EXPECT_EQ(r1, 0) << at;
    EXPECT_EQ(r2, 0) << at;
  }
  {
    // Send to a full channel blocks; the non-blocking forms do not.
    goro::Chan<int> c(cap);
    for (std::size_t i = 0; i < cap; ++i) c.send(int(i));
    Probe p([&] { c.send(0); });
    p.wait_parked("chan send");
    EXPECT_FALSE(p.finished()) << at;
    EXPECT_TRUE(took_default(
        goro::select(goro::case_send(c, 0, [] { ADD_FAILURE() << "sent to full chan"; }),
                     goro::case_default([] {})),
        1))
        << at;
    EXPECT_FALSE(c.try_send(0)) << at;
    c.recv();
    p.join();
  }
  {
    // A closed channel gives its buffered values in order, then "closed" for ever.
    goro::Chan<int> c(cap);
    for (std::size_t i = 0; i < cap; ++i) c.send(int(i));
    c.close();
    for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(c.recv(), int(i)) << at;
    EXPECT_EQ(c.recv(), std::nullopt) << at;
    EXPECT_EQ(c.recv(), std::nullopt) << at;
  }
  {
    // Close wakes a blocked receiver with "closed".
    goro::Chan<int> c(cap);
    std::optional<int> r = 42;
    Probe p([&] { r = c.recv(); });
    p.wait_parked("chan receive");
    c.close();
    p.join();
    EXPECT_EQ(r, std::nullopt) << at;
  }
  {
    // Close makes a blocked sender throw; what it was sending is never delivered.
    goro::Chan<int> c(cap);
    for (std::size_t i = 0; i < cap; ++i) c.send(int(i));
    bool threw = false;
    Probe p([&] {
      try {
        c.send(-1);
      } catch (const goro::ClosedChannelError&) {
        threw = true;
      }
    });
    p.wait_parked("chan send");
    c.close();
    p.join();
    EXPECT_TRUE(threw) << at;
    for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(c.recv(), int(i)) << at;
    EXPECT_EQ(c.recv(), std::nullopt) << at;
  }
  {
    // 100 values from one sender arrive uncorrupted and in order.
    goro::Chan<int> c(cap);
    goro::go([c] {
      for (int i = 0; i < 100; ++i) c.send(i);
    });
    for (int i = 0; i < 100; ++i) ASSERT_EQ(c.recv(), i) << at;
    goro::go([c] {
      for (int i = 0; i < 100; ++i) c.send(i);
    });
    for (int i = 0; i < 100; ++i) {
      std::optional<int> v;
      goro::select(goro::case_recv(c, [&](std::optional<int> x) { v = x; }));
      ASSERT_EQ(v, i) << at;
    }

    // 4 senders of 1000 values each and 4 receivers: every value arrives 4 times.
    constexpr int kP = 4, kL = 1000;
    for (int p = 0; p < kP; ++p)
      goro::go([c] {
        for (int i = 0; i < kL; ++i) c.send(i);
      });
    goro::Chan<std::map<int, int>> done;
    for (int p = 0; p < kP; ++p)
      goro::go([c, done] {
        std::map<int, int> recv;
        for (int i = 0; i < kL; ++i) recv[*c.recv()]++;
        done.send(std::move(recv));
      });
    std::map<int, int> recv;
    for (int p = 0; p < kP; ++p) {
      std::map<int, int> part = *done.recv();  // (not a range over a temporary's insides)
      for (auto [k, v] : part) recv[k] += v;
    }
    ASSERT_EQ(recv.size(), std::size_t(kL)) << at;
    for (auto [k, v] : recv) ASSERT_EQ(v, kP) << at << ", value " << k;
  }
  {
    // len and cap.
    goro::Chan<int> c(cap);
    EXPECT_EQ(c.size(), 0u) << at;
    EXPECT_EQ(c.capacity(), cap) << at;
    for (std::size_t i = 0; i < cap; ++i) c.send(int(i));
    EXPECT_EQ(c.size(), cap) << at;
    EXPECT_EQ(c.capacity(), cap) << at;
  }
}

TEST(GoRuntimeChan, TableOverCapacities) {
  const std::size_t n = kUnderSanitizer ? 20 : 200;  // Go: 200, and 20 with -short
  goro::run([&] {
    for (std::size_t cap = 0; cap < n; ++cap) {
      chan_table_for_capacity(cap);
      if (::testing::Test::HasFatalFailure()) return;
    }
  });
}

TEST(GoRuntimeChan, NonblockRecvRace) {
  // A buffered channel holding a value is ready to a select with default even while
  // another party closes it and takes the value: whichever order they run in, the
  // channel is never seen empty-and-open.
  const int n = int(scaled(10000));
  goro::run([&] {
    std::atomic<int> defaults{0};
    for (int i = 0; i < n; ++i) {
      goro::Chan<int> c(1);
      c.send(1);
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&, c] {
        goro::select(goro::case_recv(c), goro::case_default([&] { defaults.fetch_add(1); }));
        wg.done();
      });
      c.close();
      c.recv();
      wg.wait();
    }
    EXPECT_EQ(defaults.load(), 0);
  });
}

TEST(GoRuntimeChan, MultiConsumer) {
  // 23 workers range over a work channel (some yield to mess with the order) and
  // forward to a results channel, closed once they are all done.
  constexpr int kWorkers = 23;
  const int iters = int(scaled(271828));
  constexpr std::array<int, 10> kPn = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  goro::run([iters, &kPn] {
    goro::Chan<int> q(kWorkers * 3), r(kWorkers * 3);
    goro::WaitGroup wg;
    for (int w = 0; w < kWorkers; ++w) {
      wg.add(1);
      goro::go([&, w] {
        for (int v : q) {
          if (kPn[std::size_t(w) % kPn.size()] == v) goro::yield();
          r.send(v);
        }
        wg.done();
      });
    }
    long expect = 0;
    goro::go([&] {
      for (int i = 0; i < iters; ++i) {
        int v = kPn[std::size_t(i) % kPn.size()];
        expect += v;
        q.send(v);
      }
      q.close();
      wg.wait();
      r.close();  // the closer's writes (expect) happen before range ends
    });
    long n = 0, s = 0;
    for (int v : r) {
      ++n;
      s += v;
    }
    EXPECT_EQ(n, iters);
    EXPECT_EQ(s, expect);
  });
}

// runtime/chan_test.go TestChanSendInterface sends interface values, including
// through selects that take their default. The C++ counterpart: move-only owning
// pointers to a polymorphic type, which must stay with the caller when not sent.

struct Shape {
  virtual ~Shape() = default;
  virtual int sides() const = 0;
};
struct Triangle final : Shape {
  int sides() const override { return 3; }
};
struct Square final : Shape {
  int sides() const override { return 4; }
};

TEST(GoRuntimeChan, SendMoveOnlyInterfaceValues) {
  on_thread_and_in_goroutine([] {
    goro::Chan<std::unique_ptr<Shape>> c(1);
    c.send(std::make_unique<Triangle>());
    // Full: the select takes its default (the case's value is dropped with it).
    std::size_t i =
        goro::select(goro::case_send(c, std::make_unique<Square>()), goro::case_default([] {}));
    EXPECT_EQ(i, 1u);
    std::unique_ptr<Shape> mine = std::make_unique<Square>();
    EXPECT_FALSE(c.try_send(std::move(mine)));
    ASSERT_NE(mine, nullptr);  // a failed try_send leaves the value with the caller
    EXPECT_EQ(mine->sides(), 4);
    i = goro::select(goro::case_send(c, std::make_unique<Triangle>()),
                     goro::case_send(c, std::make_unique<Square>()), goro::case_default([] {}));
    EXPECT_EQ(i, 2u);
    auto got = c.recv();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ((*got)->sides(), 3);
    // Room now: one of the two send cases goes, and its value arrives intact.
    i = goro::select(goro::case_send(c, std::make_unique<Triangle>()),
                     goro::case_send(c, std::make_unique<Square>()), goro::case_default([] {}));
    ASSERT_LT(i, 2u);
    EXPECT_EQ((*c.recv())->sides(), i == 0 ? 3 : 4);
  });
}

}  // namespace
