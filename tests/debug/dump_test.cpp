// dump_test.cpp — goro::debug::dump (api.md "debug"): every goroutine, with its id,
// its state or wait reason in Go's format ("goroutine 7 [chan receive]:"), its stack
// and where it was created; and the same dump on SIGQUIT.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>

#include "goro/detail/testing.h"
#include "goro/goro.h"
#include "support/support.h"

namespace gt = goro::detail::testing;

namespace {

// The dump's block for goroutine `id`: from its header line to the blank line after.
std::string block_of(const std::string& dump, std::uint64_t id) {
  std::string head = "goroutine " + std::to_string(id) + " [";
  std::size_t at = dump.find(head);
  if (at == std::string::npos) return {};
  std::size_t end = dump.find("\n\n", at);
  return dump.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

TEST(Dump, NamesEachGoroutinesWaitReasonAndStack) {
  goro::run([] {
    goro::Chan<int> recv_on, send_on, sel_a, sel_b;
    goro::Mutex mu;
    goro::WaitGroup never;
    never.add(1);
    goro::Chan<std::uint64_t> ids(5);
    goro::WaitGroup all;
    all.add(5);
    mu.lock();
    goro::go([&] {
      ids.send(gt::goroutine_id());
      recv_on.recv();
      all.done();
    });
    goro::go([&] {
      ids.send(gt::goroutine_id());
      send_on.send(1);
      all.done();
    });
    goro::go([&] {
      ids.send(gt::goroutine_id());
      goro::select(goro::case_recv(sel_a), goro::case_recv(sel_b));
      all.done();
    });
    goro::go([&] {
      ids.send(gt::goroutine_id());
      mu.lock();
      mu.unlock();
      all.done();
    });
    goro::go([&] {
      ids.send(gt::goroutine_id());
      never.wait();
      all.done();
    });
    std::uint64_t id[5];
    for (auto& i : id) i = *ids.recv();
    // The ids arrive in any order; map each to what its goroutine waits on by the
    // order they were sent is not possible, so collect the reasons and compare sets.
    const char* want[] = {"[chan receive]", "[chan send]", "[select]", "[sync.Mutex]",
                          "[sync.WaitGroup]"};
    // Wait until every one of them shows as parked with some reason we expect.
    std::string dump;
    for (;;) {
      std::ostringstream out;
      goro::debug::dump(out);
      dump = out.str();
      int parked = 0;
      for (auto i : id) {
        std::string b = block_of(dump, i);
        for (const char* w : want)
          if (b.find(w) != std::string::npos) ++parked;
      }
      if (parked == 5) break;
      goro::yield();
    }
    for (const char* w : want) EXPECT_THAT(dump, ::testing::HasSubstr(w));
    for (auto i : id) {
      std::string b = block_of(dump, i);
      ASSERT_FALSE(b.empty()) << "goroutine " << i << " missing from:\n" << dump;
      EXPECT_THAT(b, ::testing::HasSubstr("goro::detail::park")) << b;  // its stack
      EXPECT_THAT(b, ::testing::HasSubstr("created by ")) << b;
    }
    // The dumping goroutine shows as running.
    EXPECT_THAT(block_of(dump, gt::goroutine_id()), ::testing::HasSubstr("[running]"));
    // Release them all.
    recv_on.send(1);
    send_on.recv();
    sel_b.send(1);
    mu.unlock();
    never.done();
    all.wait();
  });
}

TEST(Dump, FromAPlainThreadListsGoroutines) {
  goro::Chan<int> block;
  goro::Chan<std::uint64_t> id(1);
  goro::WaitGroup done;
  done.add(1);
  goro::go([&] {
    id.send(gt::goroutine_id());
    block.recv();
    done.done();
  });
  std::uint64_t g = *id.recv();
  std::string dump;
  do {
    std::ostringstream out;
    goro::debug::dump(out);
    dump = out.str();
  } while (block_of(dump, g).find("[chan receive]") == std::string::npos && (goro::yield(), true));
  EXPECT_THAT(block_of(dump, g), ::testing::HasSubstr("chan_recv"));
  block.send(0);
  done.wait();
}

TEST(Dump, SigquitPrintsEveryGoroutine) {
  EXPECT_EXIT(
      goro::run([] {
        goro::Chan<int> never;
        goro::Chan<int> parked(1);
        goro::go([&] {
          parked.send(1);
          never.recv();
        });
        parked.recv();
        std::raise(SIGQUIT);
      }),
      ::testing::ExitedWithCode(2),
      ::testing::AllOf(::testing::HasSubstr("SIGQUIT: quit"), ::testing::HasSubstr("goroutine "),
                       ::testing::HasSubstr("[running]")));
}

// Regression: a dump formats goroutines that other threads are starting, parking,
// and finishing meanwhile; it read their ids, stack bounds and creation sites with
// plain loads while the scheduler rewrote them (a finished G's record is cleared and
// reused), which TSan reported as races. Dumps run here, from a goroutine and from a
// plain thread, while goroutines come and go.
TEST(Dump, WhileGoroutinesStartParkAndFinish) {
  const int rounds = int(goro_test::scaled(2000));
  std::atomic<bool> stop{false};
  std::atomic<long> dumps{0};
  auto dumper = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      std::ostringstream out;
      goro::debug::dump(out);
      if (out.str().find("goroutine ") != std::string::npos) dumps.fetch_add(1);
      goro::yield();
    }
  };
  std::thread from_thread(dumper);
  goro::run([&] {
    goro::WaitGroup dumper_done;
    dumper_done.add(1);
    goro::go([&] {
      dumper();
      dumper_done.done();
    });
    for (int i = 0; i < rounds; ++i) {
      goro::Chan<int> ch;
      goro::WaitGroup wg;
      wg.add(2);
      goro::go([&wg, ch] {
        ch.recv();
        wg.done();
      });
      goro::go([&wg, ch] {
        goro::yield();
        ch.send(1);
        wg.done();
      });
      wg.wait();
    }
    stop = true;
    dumper_done.wait();
  });
  from_thread.join();
  EXPECT_GT(dumps.load(), 0);
}

}  // namespace
