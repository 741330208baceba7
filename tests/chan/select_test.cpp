// select_test.cpp — goro::select and goro::Selector's own contract (api.md
// "select"): exactly one case, default, nil channels, closed channels, send cases,
// handlers, and parking on several channels at once from goroutines and threads.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "goro/goro.h"
#include "support/support.h"

using goro_test::scaled;

namespace {

TEST(Select, DefaultWhenNothingReady) {
  goro::Chan<int> a, b(1);
  b.send(1);
  bool took_default = false;
  std::size_t i = goro::select(goro::case_recv(a, [](std::optional<int>) { FAIL(); }),
                               goro::case_send(b, 2, [] { FAIL(); }),
                               goro::case_default([&] { took_default = true; }));
  EXPECT_EQ(i, 2u);
  EXPECT_TRUE(took_default);
  EXPECT_EQ(b.size(), 1u);  // the send case did not happen
}

// Regression: a select with only a default case (Go's `select { default: }`) made
// GCC 12 at -O2 warn, in select.h, that the case positions "may be used
// uninitialized" (there are no channel cases to fill them), which -Werror turns into
// a build failure for any user. This file is built with -Werror.
TEST(Select, OnlyADefaultCase) {
  int ran = 0;
  EXPECT_EQ(goro::select(goro::case_default([&] { ++ran; })), 0u);
  goro::run([&] { EXPECT_EQ(goro::select(goro::case_default([&] { ++ran; })), 0u); });
  EXPECT_EQ(ran, 2);
}

TEST(Select, ReadyCaseRunsItsHandlerOnly) {
  goro::Chan<int> a(1), b(1);
  a.send(5);
  std::optional<int> got;
  std::size_t i = goro::select(goro::case_recv(b, [](std::optional<int>) { FAIL(); }),
                               goro::case_recv(a, [&](std::optional<int> v) { got = v; }),
                               goro::case_default([] { FAIL(); }));
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(got, 5);
  EXPECT_EQ(a.size(), 0u);
}

TEST(Select, BlocksUntilOneCaseProceeds) {
  goro::run([] {
    goro::Chan<int> a, b, c;
    goro::go([b] { b.send(42); });
    int got = 0;
    std::size_t i = goro::select(goro::case_recv(a, [](std::optional<int>) { FAIL(); }),
                                 goro::case_recv(b, [&](std::optional<int> v) { got = *v; }),
                                 goro::case_recv(c, [](std::optional<int>) { FAIL(); }));
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(got, 42);
  });
}

TEST(Select, SendCaseBlocksUntilReceived) {
  goro::run([] {
    goro::Chan<int> out;
    goro::Chan<int> never;
    goro::go([out] { EXPECT_EQ(out.recv(), 9); });
    bool sent = false;
    std::size_t i =
        goro::select(goro::case_send(out, 9, [&] { sent = true; }), goro::case_recv(never));
    EXPECT_EQ(i, 0u);
    EXPECT_TRUE(sent);
  });
}

TEST(Select, ClosedChannelRecvCaseGetsNullopt) {
  goro::Chan<int> a;
  a.close();
  bool closed = false;
  goro::select(goro::case_recv(a, [&](std::optional<int> v) { closed = !v; }));
  EXPECT_TRUE(closed);
}

TEST(Select, SendCaseOnClosedChannelThrows) {
  goro::Chan<int> a(1);
  a.close();
  EXPECT_THROW(goro::select(goro::case_send(a, 1), goro::case_default([] {})),
               goro::ClosedChannelError);
  // Closed while the select waits: the parked send case throws too.
  goro::run([] {
    goro::Chan<int> b;
    goro::Chan<int> never;
    goro::go([b] {
      goro::yield();
      b.close();
    });
    EXPECT_THROW(goro::select(goro::case_send(b, 1), goro::case_recv(never)),
                 goro::ClosedChannelError);
  });
}

TEST(Select, NilChannelCasesNeverFire) {
  auto nil = goro::Chan<int>::nil();
  goro::Chan<int> ready(1);
  ready.send(3);
  for (int k = 0; k < 100; ++k) {
    std::size_t i =
        goro::select(goro::case_recv(nil), goro::case_send(nil, 1), goro::case_default([] {}));
    EXPECT_EQ(i, 2u);
  }
  std::size_t i = goro::select(goro::case_recv(nil), goro::case_recv(ready));
  EXPECT_EQ(i, 1u);
}

TEST(Select, PicksUniformlyAmongReadyCases) {
  // Both always ready (buffered, refilled): each must win about half the time.
  constexpr int kRounds = 20000;
  goro::Chan<int> a(1), b(1);
  std::array<int, 2> wins{};
  for (int r = 0; r < kRounds; ++r) {
    a.try_send(1);
    b.try_send(2);
    wins[goro::select(goro::case_recv(a), goro::case_recv(b))]++;
  }
  // Binomial(20000, 0.5): the standard deviation is ~71; 1,000 is 14 of them.
  EXPECT_GT(wins[0], kRounds / 2 - 1000);
  EXPECT_GT(wins[1], kRounds / 2 - 1000);
}

TEST(Select, SameChannelInSeveralCases) {
  goro::run([] {
    goro::Chan<int> ch;
    goro::go([ch] {
      for (int i = 0; i < 100; ++i) ch.send(i);
    });
    int sum = 0;
    for (int i = 0; i < 100; ++i)
      goro::select(goro::case_recv(ch, [&](std::optional<int> v) { sum += *v; }),
                   goro::case_recv(ch, [&](std::optional<int> v) { sum += *v; }));
    EXPECT_EQ(sum, 99 * 100 / 2);
  });
}

// The same channel in two cases of a select that blocks: which case the sender
// completes is random, as when both are ready at once. (At 1 P the select always
// blocks first: the sender runs only once it has parked.)
TEST(Select, SameChannelInSeveralCasesBlockedPicksEitherCase) {
  constexpr int kRounds = 4000;
  std::array<int, 2> wins{};
  goro::run([&] {
    goro::Chan<int> ch;
    for (int r = 0; r < kRounds; ++r) {
      goro::go([ch] { ch.send(1); });
      std::size_t i = goro::select(goro::case_recv(ch), goro::case_recv(ch));
      ASSERT_LT(i, 2u);
      wins[i]++;
    }
  });
  // Binomial(4000, 0.5): the standard deviation is ~32; 1,000 is 31 of them.
  EXPECT_GT(wins[0], kRounds / 2 - 1000);
  EXPECT_GT(wins[1], kRounds / 2 - 1000);
}

TEST(Select, FromPlainThreadsAndGoroutines) {
  const int n = int(scaled(4000));
  goro::Chan<int> a, b;
  goro::Chan<bool> quit;
  long thread_sum = 0;
  std::thread t([&] {
    // A plain thread selecting: blocks its thread.
    for (bool done = false; !done;)
      goro::select(goro::case_recv(a, [&](std::optional<int> v) { thread_sum += *v; }),
                   goro::case_recv(b, [&](std::optional<int> v) { thread_sum += *v; }),
                   goro::case_recv(quit, [&](std::optional<bool>) { done = true; }));
  });
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(2);
    goro::go([&] {
      for (int i = 0; i < n; ++i) a.send(1);
      wg.done();
    });
    goro::go([&] {
      for (int i = 0; i < n; ++i)
        goro::select(goro::case_send(b, 2));  // a one-case select is a send
      wg.done();
    });
    wg.wait();
    quit.close();
  });
  t.join();
  EXPECT_EQ(thread_sum, 3L * n);
}

TEST(Select, MoveOnlyValuesMoveOnlyWhenChosen) {
  goro::Chan<std::unique_ptr<int>> full(1);
  full.send(std::make_unique<int>(1));
  goro::Chan<std::unique_ptr<int>> open(1);
  std::unique_ptr<int> got;
  goro::select(
      goro::case_send(full, std::make_unique<int>(2), [] { FAIL(); }),
      goro::case_recv(full, [&](std::optional<std::unique_ptr<int>> v) { got = std::move(*v); }));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 1);
  goro::select(goro::case_send(open, std::make_unique<int>(3)));
  EXPECT_EQ(**open.recv(), 3);
}

TEST(Selector, RuntimeSizedCases) {
  goro::run([] {
    constexpr int kChans = 20;
    std::vector<goro::Chan<int>> chans;
    for (int i = 0; i < kChans; ++i) chans.emplace_back();
    goro::WaitGroup wg;
    wg.add(kChans);
    for (int i = 0; i < kChans; ++i)
      goro::go([&, i] {
        chans[std::size_t(i)].send(i);
        wg.done();
      });
    goro::Selector sel;
    std::vector<int> seen(kChans, 0);
    for (int i = 0; i < kChans; ++i)
      sel.recv(chans[std::size_t(i)], [&, i](std::optional<int> v) {
        EXPECT_EQ(v, i);
        seen[std::size_t(i)]++;
      });
    EXPECT_EQ(sel.size(), std::size_t(kChans));
    for (int k = 0; k < kChans; ++k) sel.select();
    for (int i = 0; i < kChans; ++i) EXPECT_EQ(seen[std::size_t(i)], 1) << i;
    wg.wait();

    goro::Selector s2;
    bool dflt = false;
    s2.recv(chans[0]).send(chans[1], 5).default_case([&] { dflt = true; });
    EXPECT_EQ(s2.select(), 2u);
    EXPECT_TRUE(dflt);
    EXPECT_THROW(s2.default_case([] {}), std::logic_error);
  });
}

TEST(Selector, SendCaseResendsCopies) {
  goro::Chan<int> ch(3);
  goro::Selector sel;
  sel.send(ch, 7);
  sel.select();
  sel.select();
  EXPECT_EQ(ch.recv(), 7);
  EXPECT_EQ(ch.recv(), 7);
}

// Regression: Selector's recv, send and default_case take the handler as a forwarding
// reference, but the cases' constructors accepted only rvalues, so a named handler
// (an lvalue) did not compile.
TEST(Selector, NamedHandlersAreCopied) {
  goro::Chan<int> in(1), out(1);
  in.send(4);
  int got = 0, sent = 0, defaults = 0;
  auto on_recv = [&](std::optional<int> v) { got += *v; };
  auto on_send = [&] { ++sent; };
  auto on_default = [&] { ++defaults; };
  goro::Selector sel;
  sel.recv(in, on_recv).send(out, 5, on_send).default_case(on_default);
  const auto& const_recv = on_recv;
  goro::Selector sel2;
  sel2.recv(in, const_recv);
  for (int k = 0; k < 2; ++k) sel.select();  // the recv and the send case, in some order
  EXPECT_EQ(got, 4);
  EXPECT_EQ(sent, 1);
  EXPECT_EQ(sel.select(), 2u);  // nothing ready: in is empty, out is full
  EXPECT_EQ(defaults, 1);
  in.send(6);
  EXPECT_EQ(sel2.select(), 0u);
  EXPECT_EQ(got, 10);
  EXPECT_EQ(out.recv(), 5);
}

}  // namespace
