// chan_test.cpp — goro::Chan's own contract (api.md "Channels"): unbuffered and
// buffered hand-over, close, nil channels, try_ forms, move-only values, range-for,
// and all of it between goroutines, plain threads and across the two.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "goro/goro.h"
#include "support/support.h"

using goro_test::scaled;

namespace {

TEST(Chan, UnbufferedHandsOverInOrder) {
  goro::run([] {
    goro::Chan<int> ch;
    EXPECT_EQ(ch.capacity(), 0u);
    goro::go([ch] {
      for (int i = 0; i < 1000; ++i) ch.send(i);
      ch.close();
    });
    int expect = 0;
    for (int v : ch) EXPECT_EQ(v, expect++);
    EXPECT_EQ(expect, 1000);
    EXPECT_EQ(ch.recv(), std::nullopt);  // closed and drained, for ever
  });
}

TEST(Chan, UnbufferedSendWaitsForTheReceiver) {
  goro::run([] {
    goro::Chan<int> ch;
    goro::Chan<int> done(1);
    std::atomic<bool> received{false};
    goro::go([&, ch, done] {
      ch.send(7);
      // The receive has happened before the send completes (unbuffered).
      done.send(received.load() ? 1 : 0);
    });
    auto v = ch.recv();
    received = true;
    ASSERT_EQ(v, 7);
    // The sender may complete before or after `received` is set: the only promise is
    // about the receive, which is checked by the value above; drain done.
    EXPECT_TRUE(done.recv().has_value());
  });
}

// Regression: api.md spells an unbuffered channel Chan<T>(0), but the literal 0 also
// converts to std::nullptr_t, and Chan's private nil constructor took one: the call
// was ambiguous and did not compile.
static_assert(std::is_constructible_v<goro::Chan<int>, int>, "Chan<T>(0) must compile");
TEST(Chan, ZeroLiteralCapacityIsUnbuffered) {
  goro::Chan<int> a(0);
  auto b = goro::Chan<std::string>(0);
  EXPECT_FALSE(a.is_nil());
  EXPECT_FALSE(b.is_nil());
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_FALSE(a.try_send(1));  // unbuffered, nobody receiving
  EXPECT_TRUE(goro::Chan<int>::nil().is_nil());
}

TEST(Chan, BufferedHoldsUpToCapacity) {
  goro::Chan<int> ch(3);  // used from the plain test thread: nothing blocks
  EXPECT_EQ(ch.capacity(), 3u);
  EXPECT_TRUE(ch.try_send(1));
  EXPECT_TRUE(ch.try_send(2));
  ch.send(3);
  EXPECT_EQ(ch.size(), 3u);
  EXPECT_FALSE(ch.try_send(4));
  EXPECT_EQ(ch.try_recv(), 1);
  EXPECT_TRUE(ch.try_send(4));
  EXPECT_EQ(ch.recv(), 2);
  EXPECT_EQ(ch.recv(), 3);
  EXPECT_EQ(ch.recv(), 4);
  EXPECT_EQ(ch.try_recv(), std::nullopt);
  EXPECT_EQ(ch.size(), 0u);
}

TEST(Chan, CloseDrainsBufferThenReportsClosed) {
  goro::Chan<std::string> ch(4);
  ch.send("a");
  ch.send(std::string("b"));
  ch.close();
  EXPECT_EQ(ch.recv(), "a");
  EXPECT_EQ(ch.try_recv(), "b");
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.try_recv(), std::nullopt);
}

TEST(Chan, MisuseThrowsClosedChannelError) {
  goro::Chan<int> ch(1);
  ch.close();
  try {
    ch.send(1);
    FAIL() << "send on a closed channel did not throw";
  } catch (const goro::ClosedChannelError& e) {
    EXPECT_STREQ(e.what(), "send on closed channel");
  }
  EXPECT_THROW(ch.try_send(1), goro::ClosedChannelError);
  try {
    ch.close();
    FAIL() << "close of a closed channel did not throw";
  } catch (const goro::ClosedChannelError& e) {
    EXPECT_STREQ(e.what(), "close of closed channel");
  }
  try {
    goro::Chan<int>::nil().close();
    FAIL() << "close of a nil channel did not throw";
  } catch (const goro::ClosedChannelError& e) {
    EXPECT_STREQ(e.what(), "close of nil channel");
  }
}

TEST(Chan, CloseWakesEveryBlockedReceiverAndSender) {
  const int n = int(scaled(1000));
  goro::run([n] {
    goro::Chan<int> ch;
    goro::WaitGroup wg;
    std::atomic<int> closed_recv{0}, closed_send{0};
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&, ch] {
        if (!ch.recv()) closed_recv.fetch_add(1);
        wg.done();
      });
    goro::yield();  // let them park (those that have not get nullopt all the same)
    ch.close();
    wg.wait();
    EXPECT_EQ(closed_recv.load(), n);

    goro::Chan<int> full;  // unbuffered, nobody receives: senders park
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&, full] {
        try {
          full.send(1);
        } catch (const goro::ClosedChannelError&) {
          closed_send.fetch_add(1);
        }
        wg.done();
      });
    goro::yield();
    full.close();
    wg.wait();
    EXPECT_EQ(closed_send.load(), n);
  });
}

// Close takes goroutines and plain threads off one queue together: the goroutines are
// readied as one list, the threads get a futex wake each (chan_close). Every waiter is
// known to be queued before the close, so each must see the close.
TEST(Chan, CloseWakesGoroutinesAndThreadsWaitingTogether) {
  namespace gt = goro::detail::testing;
  const int n = int(scaled(1000));
  constexpr int kThreads = 4;
  for (bool senders : {false, true}) {
    SCOPED_TRACE(senders ? "senders" : "receivers");
    goro::Chan<int> ch;  // unbuffered, and nobody on the other side
    std::atomic<int> saw_close{0};
    auto wait_on = [&saw_close, ch, senders] {
      if (senders) {
        try {
          ch.send(1);
        } catch (const goro::ClosedChannelError&) {
          saw_close.fetch_add(1);
        }
      } else if (!ch.recv()) {
        saw_close.fetch_add(1);
      }
    };
    const std::int32_t threads_before = gt::threads_waiting();
    goro::WaitGroup wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&wg, wait_on] {
        wait_on();
        wg.done();
      });
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) threads.emplace_back(wait_on);
    const char* reason = senders ? "chan send" : "chan receive";
    while (gt::goroutines_waiting(reason) < n || gt::threads_waiting() < threads_before + kThreads)
      std::this_thread::yield();
    EXPECT_EQ(saw_close.load(), 0);
    ch.close();
    wg.wait();
    for (auto& t : threads) t.join();
    EXPECT_EQ(saw_close.load(), n + kThreads);
  }
}

TEST(Chan, NilChannelNeverReady) {
  auto nil = goro::Chan<int>::nil();
  EXPECT_TRUE(nil.is_nil());
  EXPECT_FALSE(nil.try_send(1));
  EXPECT_EQ(nil.try_recv(), std::nullopt);
  EXPECT_EQ(nil.size(), 0u);
  EXPECT_EQ(nil.capacity(), 0u);
  goro::Chan<int> a;
  goro::Chan<int> b = a;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == nil);
  goro::Chan<int> moved = std::move(b);
  EXPECT_TRUE(b.is_nil());  // NOLINT(bugprone-use-after-move): moved-from is nil
  EXPECT_TRUE(moved == a);
}

TEST(Chan, MoveOnlyValues) {
  goro::run([] {
    goro::Chan<std::unique_ptr<int>> ch;
    goro::go([ch] {
      for (int i = 0; i < 100; ++i) ch.send(std::make_unique<int>(i));
      ch.close();
    });
    int expect = 0;
    for (auto& p : ch) EXPECT_EQ(*p, expect++);
    EXPECT_EQ(expect, 100);

    // A failed try_send leaves the value with the caller.
    goro::Chan<std::unique_ptr<int>> none;
    auto p = std::make_unique<int>(5);
    EXPECT_FALSE(none.try_send(std::move(p)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 5);
  });
}

TEST(Chan, BufferedValuesAreDestroyedWithTheChannel) {
  auto counter = std::make_shared<int>(0);
  {
    goro::Chan<std::shared_ptr<int>> ch(8);
    for (int i = 0; i < 5; ++i) ch.send(counter);
    ch.recv();
    EXPECT_EQ(counter.use_count(), 5);
  }
  EXPECT_EQ(counter.use_count(), 1);  // ASan's leak check also watches this
}

// Regression (fixed in 4df9b10): a channel's lock lives in the channel, and
// Lock::unlock read the lock (its count of sleepers) after the store that let the
// next holder in. When a goroutine parks, that unlock runs on its thread after the
// switch; meanwhile the partner can take the lock, complete the operation, wake the
// goroutine, and both can drop their handles, freeing the channel before the read: a
// use-after-free (TSan saw it as a race between that read and operator delete). Each
// round hands one value over a fresh channel whose only handles are the two
// parties', dropped as soon as each is done.
TEST(Chan, FreedAtOnceAfterAParkedHandOver) {
  // TSan is what sees the race; under ASan each round costs two stack unpoisonings.
  const int rounds = goro_test::kUnderAsan ? 2000 : int(scaled(20000));
  goro::run([&] {
    goro::WaitGroup wg;
    for (int i = 0; i < rounds; ++i) {
      wg.add(2);
      goro::Chan<int> ch;
      goro::go(
          [&wg](goro::Chan<int> c) {
            {
              goro::Chan<int> mine = std::move(c);
              EXPECT_EQ(mine.recv(), 1);
            }  // the receiver's handle goes here
            wg.done();
          },
          ch);
      if (i % 2 == 0) goro::yield();  // often let the receiver park first
      goro::go(
          [&wg](goro::Chan<int> c) {
            {
              goro::Chan<int> mine = std::move(c);
              mine.send(1);
            }  // and the sender's here
            wg.done();
          },
          std::move(ch));
    }
    wg.wait();
  });
}

TEST(Chan, BetweenPlainThreads) {
  goro::Chan<int> ch;  // unbuffered: both threads block in turn
  goro::Chan<int> back(2);
  std::thread producer([&] {
    for (int i = 0; i < 2000; ++i) ch.send(i);
    ch.close();
  });
  std::thread consumer([&] {
    long sum = 0;
    for (int v : ch) sum += v;
    back.send(int(sum % 100000));
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(back.recv(), int((1999L * 2000 / 2) % 100000));
}

TEST(Chan, AcrossGoroutinesAndThreads) {
  const int n = int(scaled(2000));
  goro::Chan<int> to_thread;
  goro::Chan<int> to_goroutine(16);
  std::thread t([&] {
    // The thread echoes every value back, doubled.
    for (int v : to_thread) to_goroutine.send(2 * v);
    to_goroutine.close();
  });
  long sum = goro::run([&] {
    goro::go([&] {
      for (int i = 0; i < n; ++i) to_thread.send(i);
      to_thread.close();
    });
    long s = 0;
    for (int v : to_goroutine) s += v;
    return s;
  });
  t.join();
  EXPECT_EQ(sum, long(n - 1) * n);
}

TEST(Chan, ManyProducersManyConsumersLoseNothing) {
  const int producers = 4, consumers = 4;
  const int per = int(scaled(50000)) / 4;
  for (std::size_t cap : {std::size_t(0), std::size_t(1), std::size_t(64)}) {
    goro::Chan<int> ch(cap);
    std::vector<std::atomic<int>> seen(std::size_t(producers) * per);
    std::atomic<long> received{0};
    goro::run([&] {
      goro::WaitGroup prod, cons;
      prod.add(producers);
      cons.add(consumers);
      for (int p = 0; p < producers; ++p)
        goro::go([&, p] {
          for (int i = 0; i < per; ++i) ch.send(p * per + i);
          prod.done();
        });
      for (int c = 0; c < consumers; ++c)
        goro::go([&] {
          for (int v : ch) {
            seen[std::size_t(v)].fetch_add(1, std::memory_order_relaxed);
            received.fetch_add(1, std::memory_order_relaxed);
          }
          cons.done();
        });
      prod.wait();
      ch.close();
      cons.wait();
    });
    ASSERT_EQ(received.load(), long(producers) * per) << "capacity " << cap;
    for (auto& s : seen) ASSERT_EQ(s.load(), 1) << "capacity " << cap;
  }
}

TEST(Chan, SizeNeverExceedsCapacity) {
  goro::Chan<int> ch(5);
  goro::run([&] {
    goro::Chan<bool> stop(1);
    std::atomic<bool> bad{false};
    goro::go([&] {
      for (int i = 0; i < 20000; ++i) {
        if (ch.size() > 5) bad = true;
        goro::yield();
      }
      stop.send(true);
    });
    goro::go([&] {
      for (int i = 0; i < 10000; ++i) ch.send(i);
    });
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(ch.recv(), i);
    stop.recv();
    EXPECT_FALSE(bad.load());
  });
}

}  // namespace
