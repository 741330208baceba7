// go_select_test.cpp — what Go's own select tests check, asked of goro::select and
// goro::Selector: a select never fires twice (test/chan/doubleselect.go), and
// runtime/chan_test.go's TestNonblockSelectRace (and 2), TestSelfSelect,
// TestSelectDuplicateChannel, TestSelectFairness, TestPseudoRandomSend and
// TestSelectStress.
//
// Written here from what those tests check. The statistical ones use Go's bounds,
// which fail only when the ratio is far off (about one run in a million for a fair
// select); nothing here is timed.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "chan/probe.h"
#include "goro/goro.h"
#include "support/support.h"

using goro_test::Probe;
using goro_test::scaled;

namespace {

// ---------------------------------------------------------------------------
// test/chan/doubleselect.go: one sender selects over four channels; if two cases of
// one select both ran, a value would arrive twice.

TEST(GoDoubleSelect, EveryValueArrivesExactlyOnce) {
  const int n = int(scaled(100000));
  goro::run([&] {
    std::array<goro::Chan<int>, 4> c;
    goro::Chan<int> cmux;
    goro::Chan<bool> done;
    goro::go([c] {
      for (int i = 0; i < n; ++i)
        goro::select(goro::case_send(c[0], i), goro::case_send(c[1], i), goro::case_send(c[2], i),
                     goro::case_send(c[3], i));
      for (auto& ch : c) ch.close();
    });
    // Four muxes forward onto one channel (one channel with four cases did not show
    // the original bug).
    for (auto& in : c)
      goro::go([cmux, done, in] {
        for (int v : in) cmux.send(v);
        done.send(true);
      });
    goro::go([cmux, done] {
      for (int k = 0; k < 4; ++k) done.recv();
      cmux.close();
    });
    std::vector<char> seen(std::size_t(n), 0);
    int dups = 0, count = 0;
    for (int v : cmux) {
      ASSERT_GE(v, 0);
      ASSERT_LT(v, n);
      if (seen[std::size_t(v)]++) ++dups;
      ++count;
    }
    EXPECT_EQ(dups, 0);
    EXPECT_EQ(count, n);
  });
}

// ---------------------------------------------------------------------------
// TestNonblockSelectRace: a select acts on the channels' state at one instant. From
// the moment the goroutine starts, c1 or c2 is always ready, so its select with a
// default must never take the default.

TEST(GoRuntimeSelect, NonblockSelectRace) {
  const int n = int(scaled(100000));
  goro::run([&] {
    goro::Chan<bool> done(1);
    int defaults = 0;
    for (int i = 0; i < n; ++i) {
      goro::Chan<int> c1(1), c2(1);
      c1.send(1);
      goro::go([c1, c2, done] {
        bool took_default = false;
        goro::select(goro::case_recv(c1), goro::case_recv(c2),
                     goro::case_default([&] { took_default = true; }));
        done.send(!took_default);
      });
      c2.send(1);
      goro::select(goro::case_recv(c1), goro::case_default([] {}));
      if (!*done.recv()) ++defaults;
    }
    EXPECT_EQ(defaults, 0) << "a select with default saw no ready channel";
  });
}

TEST(GoRuntimeSelect, NonblockSelectRace2) {
  // As above, but c2 becomes ready by being closed.
  const int n = int(scaled(100000));
  goro::run([&] {
    goro::Chan<bool> done(1);
    int defaults = 0;
    for (int i = 0; i < n; ++i) {
      goro::Chan<int> c1(1), c2;
      c1.send(1);
      goro::go([c1, c2, done] {
        bool took_default = false;
        goro::select(goro::case_recv(c1), goro::case_recv(c2),
                     goro::case_default([&] { took_default = true; }));
        done.send(!took_default);
      });
      c2.close();
      goro::select(goro::case_recv(c1), goro::case_default([] {}));
      if (!*done.recv()) ++defaults;
    }
    EXPECT_EQ(defaults, 0) << "a select with default saw no ready channel";
  });
}

// ---------------------------------------------------------------------------
// TestSelfSelect: two goroutines select on sending to and receiving from the same
// channel; nothing crashes or deadlocks, and on an unbuffered channel no select ever
// receives its own value.

TEST(GoRuntimeSelect, SelfSelect) {
  for (std::size_t cap : {0u, 10u}) {
    std::atomic<int> self_receives{0};
    goro::run([&] {
      goro::Chan<int> c(cap);
      goro::WaitGroup wg;
      wg.add(2);
      for (int p = 0; p < 2; ++p)
        goro::go([&, c, p] {
          for (int i = 0; i < 1000; ++i) {
            auto on_recv = [&](std::optional<int> v) {
              if (cap == 0 && v == p) self_receives.fetch_add(1);
            };
            if (p == 0 || i % 2 == 0)
              goro::select(goro::case_send(c, p), goro::case_recv(c, on_recv));
            else
              goro::select(goro::case_recv(c, on_recv), goro::case_send(c, p));
          }
          wg.done();
        });
      wg.wait();
    });
    EXPECT_EQ(self_receives.load(), 0) << "capacity " << cap;
  }
}

TEST(GoRuntimeSelect, SelfSelectFromPlainThreads) {
  // The same between two plain threads, and between a thread and a goroutine.
  for (bool mixed : {false, true}) {
    std::atomic<int> self_receives{0};
    goro::Chan<int> c;
    auto body = [&](int p) {
      for (int i = 0; i < 1000; ++i) {
        auto on_recv = [&](std::optional<int> v) {
          if (v == p) self_receives.fetch_add(1);
        };
        goro::Selector sel;
        if (i % 2 == 0)
          sel.send(c, p).recv(c, on_recv);
        else
          sel.recv(c, on_recv).send(c, p);
        sel.select();
      }
    };
    std::thread t(body, 0);
    if (mixed)
      goro::run([&] { body(1); });
    else
      std::thread(body, 1).join();
    t.join();
    EXPECT_EQ(self_receives.load(), 0) << (mixed ? "thread and goroutine" : "two threads");
  }
}

// ---------------------------------------------------------------------------
// TestSelectDuplicateChannel: a select queued twice on one channel (and once on
// another) is woken through the other; it must take both its entries off the first
// channel, or a later send there would find a corrupt queue.

TEST(GoRuntimeSelect, DuplicateChannelLeavesTheQueueIntact) {
  goro::Chan<int> c, d, e;
  std::size_t a_index = 99;
  Probe a([&] {
    a_index = goro::select(goro::case_recv(c), goro::case_recv(c), goro::case_recv(d));
    e.send(9);
  });
  a.wait_parked("select");  // A is queued on c first (twice)
  std::optional<int> b_got;
  Probe b([&] { b_got = c.recv(); });
  b.wait_parked("chan receive");  // then B, behind A's two entries
  d.send(7);                      // wakes A, which takes itself off c
  EXPECT_EQ(e.recv(), 9);
  a.join();
  EXPECT_EQ(a_index, 2u);
  EXPECT_FALSE(b.finished());
  c.send(8);  // must reach B
  b.join();
  EXPECT_EQ(b_got, 8);
}

TEST(GoRuntimeSelect, DuplicateSendAndReceiveCasesOnOneChannel) {
  // The same with send cases, and with a runtime-sized select listing one channel
  // many times.
  goro::Chan<int> c, d;
  std::size_t a_index = 99;
  Probe a([&] {
    a_index = goro::select(goro::case_send(c, 1), goro::case_send(c, 2), goro::case_recv(d));
  });
  a.wait_parked("select");
  Probe b([&] { c.send(3); });
  b.wait_parked("chan send");
  d.send(0);
  a.join();
  EXPECT_EQ(a_index, 2u);
  EXPECT_EQ(c.recv(), 3);
  b.join();

  goro::Selector sel;
  std::optional<int> got;
  for (int k = 0; k < 20; ++k) sel.recv(c, [&](std::optional<int> v) { got = v; });
  sel.recv(d);
  std::size_t index = 99;
  Probe s([&] { index = sel.select(); });
  s.wait_parked("select");
  Probe r([&] { got = c.recv(); });
  r.wait_parked("chan receive");
  d.send(0);
  s.join();
  EXPECT_EQ(index, 20u);
  c.send(5);
  r.join();
  EXPECT_EQ(got, 5);
}

// ---------------------------------------------------------------------------
// TestSelectFairness: two always-ready channels among four cases must each win about
// half the time. Go's bound: six nines of confidence for a fair select.

constexpr int kTrials = 10000;

TEST(GoRuntimeSelect, Fairness) {
  goro::run([] {
    goro::Chan<std::uint8_t> c1(kTrials + 1), c2(kTrials + 1);
    for (int i = 0; i < kTrials + 1; ++i) {
      c1.send(1);
      c2.send(2);
    }
    goro::Chan<std::uint8_t> c3, c4, out, done;
    goro::WaitGroup wg;
    wg.add(1);
    goro::go([&] {
      for (;;) {
        std::uint8_t b = 0;
        auto take = [&](std::optional<std::uint8_t> v) { b = *v; };
        goro::select(goro::case_recv(c3, take), goro::case_recv(c4, take),
                     goro::case_recv(c1, take), goro::case_recv(c2, take));
        if (goro::select(goro::case_send(out, b), goro::case_recv(done)) == 1) break;
      }
      wg.done();
    });
    int cnt1 = 0, cnt2 = 0;
    for (int i = 0; i < kTrials; ++i) {
      std::uint8_t b = *out.recv();
      if (b == 1)
        ++cnt1;
      else if (b == 2)
        ++cnt2;
      else
        ADD_FAILURE() << "unexpected value " << int(b);
    }
    double r = double(cnt1) / kTrials;
    double e = std::abs(r - 0.5);
    EXPECT_LE(e, 4.891676 / (2 * std::sqrt(double(kTrials))))
        << "unfair select: in " << kTrials << " trials, results were " << cnt1 << ", " << cnt2;
    done.close();
    wg.wait();
  });
}

// ---------------------------------------------------------------------------
// TestPseudoRandomSend: a select with two send cases on one channel picks either.

constexpr int kN = 100;

TEST(GoRuntimeSelect, PseudoRandomSend) {
  goro::run([] {
    for (std::size_t cap : {std::size_t(0), std::size_t(kN)}) {
      goro::Chan<int> c(cap);
      std::vector<int> l(kN);
      goro::WaitGroup wg;
      wg.add(1);
      goro::go([&] {
        for (int i = 0; i < kN; ++i) {
          goro::yield();
          l[std::size_t(i)] = *c.recv();
        }
        wg.done();
      });
      for (int i = 0; i < kN; ++i) goro::select(goro::case_send(c, 1), goro::case_send(c, 0));
      wg.wait();
      int n0 = 0, n1 = 0;
      for (int v : l) {
        n0 += (v + 1) % 2;
        n1 += v;
      }
      EXPECT_GT(n0, kN / 10) << "want pseudo-random, got " << n0 << " zeros and " << n1
                             << " ones (capacity " << cap << ")";
      EXPECT_GT(n1, kN / 10) << "want pseudo-random, got " << n0 << " zeros and " << n1
                             << " ones (capacity " << cap << ")";
    }
  });
}

// ---------------------------------------------------------------------------
// TestSelectStress: on four channels (two unbuffered, capacities 2 and 3), four
// plain senders and four plain receivers of N values each, plus one goroutine sending
// N values on each channel through a single select and one receiving N from each
// through a single select, dropping each channel (to nil) once its N are done. It
// must not deadlock, and every count must come out exact.

void select_stress(int n) {
  std::array<goro::Chan<int>, 4> c = {goro::Chan<int>(0), goro::Chan<int>(0), goro::Chan<int>(2),
                                      goro::Chan<int>(3)};
  std::array<std::atomic<long>, 4> sums{};
  goro::run([&] {
    goro::WaitGroup wg;
    wg.add(10);
    for (std::size_t k = 0; k < 4; ++k) {
      goro::go([&, k] {
        for (int i = 0; i < n; ++i) c[k].send(1);
        wg.done();
      });
      goro::go([&, k] {
        long s = 0;
        for (int i = 0; i < n; ++i) s += *c[k].recv();
        sums[k].fetch_add(s);
        wg.done();
      });
    }
    goro::go([&] {
      std::array<int, 4> sent{};
      std::array<goro::Chan<int>, 4> c1 = c;
      auto sent_on = [&](std::size_t k) {
        return [&, k] {
          if (++sent[k] == n) c1[k] = goro::Chan<int>::nil();
        };
      };
      for (int i = 0; i < 4 * n; ++i)
        goro::select(goro::case_send(c1[3], 2, sent_on(3)), goro::case_send(c1[2], 2, sent_on(2)),
                     goro::case_send(c1[0], 2, sent_on(0)), goro::case_send(c1[1], 2, sent_on(1)));
      for (int k : sent) EXPECT_EQ(k, n);
      wg.done();
    });
    goro::go([&] {
      std::array<int, 4> got{};
      std::array<long, 4> s{};
      std::array<goro::Chan<int>, 4> c1 = c;
      auto got_on = [&](std::size_t k) {
        return [&, k](std::optional<int> v) {
          s[k] += *v;
          if (++got[k] == n) c1[k] = goro::Chan<int>::nil();
        };
      };
      for (int i = 0; i < 4 * n; ++i)
        goro::select(goro::case_recv(c1[0], got_on(0)), goro::case_recv(c1[1], got_on(1)),
                     goro::case_recv(c1[2], got_on(2)), goro::case_recv(c1[3], got_on(3)));
      for (std::size_t k = 0; k < 4; ++k) sums[k].fetch_add(s[k]);
      wg.done();
    });
    wg.wait();
  });
  // Per channel: 2n values were sent (n ones, n twos) and 2n received.
  for (auto& s : sums) EXPECT_EQ(s.load(), 3L * n);
}

TEST(GoRuntimeSelect, SelectStress) { select_stress(int(scaled(100000))); }  // Go: 1e5

}  // namespace
