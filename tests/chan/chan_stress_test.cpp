// chan_stress_test.cpp — channels and select shared by plain std::threads and
// goroutines at once, under load: senders and receivers of both kinds, each using
// plain operations, range-for, variadic select and goro::Selector on the same
// channels (unbuffered, capacity 1, capacity 16), then close. Every value must arrive
// exactly once; when close races with the senders, exactly the values whose send
// returned must arrive (a send that throws ClosedChannelError delivered nothing).
//
// Counts shrink under sanitizers (support.h scaled()).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "goro/goro.h"
#include "support/support.h"

using goro_test::scaled;

namespace {

using Chans = std::array<goro::Chan<std::uint64_t>, 3>;

Chans make_chans() {
  return {goro::Chan<std::uint64_t>(0), goro::Chan<std::uint64_t>(1),
          goro::Chan<std::uint64_t>(16)};
}

constexpr std::uint64_t kIdShift = 32;  // value = sender << kIdShift | sequence

// Sends v by one of four ways (by i): a plain send, a select over the three
// channels, a select with a send case and a receive case on a channel that never
// delivers, or a runtime-sized select. Throws ClosedChannelError as they do.
void send_some_way(const Chans& ch, std::uint64_t v, std::uint64_t i,
                   const goro::Chan<std::uint64_t>& never) {
  switch (i % 4) {
    case 0: ch[i % 3].send(v); break;
    case 1:
      goro::select(goro::case_send(ch[0], v), goro::case_send(ch[1], v), goro::case_send(ch[2], v));
      break;
    case 2:
      goro::select(goro::case_recv(never, [] { ADD_FAILURE() << "never delivered"; }),
                   goro::case_send(ch[(i / 4) % 3], v));
      break;
    default: {
      goro::Selector sel;
      for (const auto& c : ch) sel.send(c, v);
      sel.select();
    }
  }
}

// Receives until every channel it watches is closed and drained, appending each value
// to `out`. Even receivers select over all three channels (a closed channel's case is
// replaced by nil); odd ones range over one channel.
void receive_all(const Chans& ch, int r, std::vector<std::uint64_t>& out) {
  if (r % 2 == 0) {
    Chans mine = ch;
    int open = 3;
    while (open > 0) {
      auto on = [&](std::size_t k) {
        return [&, k](std::optional<std::uint64_t> v) {
          if (v) {
            out.push_back(*v);
          } else {
            mine[k] = goro::Chan<std::uint64_t>::nil();
            --open;
          }
        };
      };
      goro::select(goro::case_recv(mine[0], on(0)), goro::case_recv(mine[1], on(1)),
                   goro::case_recv(mine[2], on(2)));
    }
  } else {
    for (std::uint64_t v : ch[std::size_t(r / 2) % 3]) out.push_back(v);
  }
}

// How many senders and receivers run on plain threads and how many as goroutines.
struct Crew {
  int thread_senders, goroutine_senders, thread_receivers, goroutine_receivers;
};

TEST(ChanStress, MixedThreadsAndGoroutinesEveryValueOnce) {
  const Crew crew{2, 4, 2, 4};
  const int senders = crew.thread_senders + crew.goroutine_senders;
  const int receivers = crew.thread_receivers + crew.goroutine_receivers;
  const std::uint64_t per = std::uint64_t(scaled(240000)) / std::uint64_t(senders);
  for (int round = 0; round < 2; ++round) {
    Chans ch = make_chans();
    goro::Chan<std::uint64_t> never;
    std::vector<std::vector<std::uint64_t>> got(static_cast<std::size_t>(receivers));

    auto sender = [&](int s) {
      for (std::uint64_t i = 0; i < per; ++i)
        send_some_way(ch, std::uint64_t(s) << kIdShift | i, i + std::uint64_t(s), never);
    };
    goro::WaitGroup sent, received;  // waited on by a plain thread or a goroutine
    sent.add(senders);
    received.add(receivers);
    std::vector<std::thread> threads;
    for (int r = 0; r < receivers; ++r) {
      auto body = [&, r] {
        receive_all(ch, r, got[std::size_t(r)]);
        received.done();
      };
      if (r < crew.thread_receivers)
        threads.emplace_back(body);
      else
        goro::go(body);
    }
    for (int s = 0; s < senders; ++s) {
      auto body = [&, s] {
        sender(s);
        sent.done();
      };
      if (s < crew.thread_senders)
        threads.emplace_back(body);
      else
        goro::go(body);
    }
    // The close and the waits happen on the plain test thread in round 0 and in a
    // goroutine in round 1.
    auto finish = [&] {
      sent.wait();
      for (auto& c : ch) c.close();
      received.wait();
    };
    if (round == 0)
      finish();
    else
      goro::run(finish);
    for (auto& t : threads) t.join();

    std::vector<std::uint64_t> all;
    for (auto& g : got) all.insert(all.end(), g.begin(), g.end());
    ASSERT_EQ(all.size(), per * std::uint64_t(senders)) << "round " << round;
    std::sort(all.begin(), all.end());
    std::size_t k = 0;
    for (int s = 0; s < senders; ++s)
      for (std::uint64_t i = 0; i < per; ++i, ++k)
        ASSERT_EQ(all[k], std::uint64_t(s) << kIdShift | i) << "round " << round;
  }
}

TEST(ChanStress, CloseRacingSendersDeliversExactlyTheSentValues) {
  // Senders send until their channel is closed under them. A send (or select) that
  // returned delivered its value; one that threw ClosedChannelError delivered
  // nothing. So the values received are exactly 0..ok-1 of each sender, where ok is
  // how many of its sends returned.
  const Crew crew{2, 4, 2, 4};
  const int senders = crew.thread_senders + crew.goroutine_senders;
  const int receivers = crew.thread_receivers + crew.goroutine_receivers;
  const long close_after = long(scaled(100000));
  for (int round = 0; round < 3; ++round) {
    Chans ch = make_chans();
    goro::Chan<std::uint64_t> never;
    goro::Chan<char> enough;  // closed when close_after values have arrived
    std::atomic<long> arrived{0};
    std::vector<std::vector<std::uint64_t>> got(static_cast<std::size_t>(receivers));
    std::vector<std::uint64_t> ok(std::size_t(senders), 0);

    auto sender = [&](int s) {
      std::uint64_t i = 0;
      try {
        for (;; ++i) send_some_way(ch, std::uint64_t(s) << kIdShift | i, i, never);
      } catch (const goro::ClosedChannelError&) {
      }
      ok[std::size_t(s)] = i;
    };
    goro::WaitGroup done;
    done.add(crew.goroutine_senders + crew.goroutine_receivers);
    std::vector<std::thread> threads;
    // Receivers here count arrivals themselves (receive_all cannot), so they run
    // their own loop: select over all three channels, or range over one.
    auto counting_receiver = [&](int r) {
      std::vector<std::uint64_t>& out = got[std::size_t(r)];
      auto note = [&](std::uint64_t v) {
        out.push_back(v);
        if (arrived.fetch_add(1, std::memory_order_relaxed) + 1 == close_after) enough.close();
      };
      if (r % 2 == 0) {
        Chans mine = ch;
        for (int open = 3; open > 0;) {
          auto on = [&](std::size_t k) {
            return [&, k](std::optional<std::uint64_t> v) {
              if (v) {
                note(*v);
              } else {
                mine[k] = goro::Chan<std::uint64_t>::nil();
                --open;
              }
            };
          };
          goro::select(goro::case_recv(mine[0], on(0)), goro::case_recv(mine[1], on(1)),
                       goro::case_recv(mine[2], on(2)));
        }
      } else {
        for (std::uint64_t v : ch[std::size_t(r / 2) % 3]) note(v);
      }
    };
    for (int r = 0; r < receivers; ++r) {
      if (r < crew.thread_receivers)
        threads.emplace_back(counting_receiver, r);
      else
        goro::go([&, r] {
          counting_receiver(r);
          done.done();
        });
    }
    for (int s = 0; s < senders; ++s) {
      if (s < crew.thread_senders)
        threads.emplace_back(sender, s);
      else
        goro::go([&, s] {
          sender(s);
          done.done();
        });
    }
    // The closer: a plain thread, a goroutine, or a plain thread again; it closes the
    // channels one by one while everybody is busy.
    auto closer = [&] {
      enough.recv();
      for (auto& c : ch) c.close();
    };
    if (round == 1)
      goro::run(closer);
    else
      closer();
    done.wait();
    for (auto& t : threads) t.join();

    std::vector<std::uint64_t> all;
    for (auto& g : got) all.insert(all.end(), g.begin(), g.end());
    std::sort(all.begin(), all.end());
    std::vector<std::uint64_t> want;
    for (int s = 0; s < senders; ++s)
      for (std::uint64_t i = 0; i < ok[std::size_t(s)]; ++i)
        want.push_back(std::uint64_t(s) << kIdShift | i);
    ASSERT_GE(long(all.size()), close_after) << "round " << round;
    ASSERT_EQ(all.size(), want.size()) << "round " << round;
    EXPECT_TRUE(all == want) << "round " << round
                             << ": the values received are not exactly the values sent";
  }
}

}  // namespace
