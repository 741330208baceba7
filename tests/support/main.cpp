// main.cpp — the main of every goro test binary (link it instead of gtest_main).
//
// A listener fails any test that leaks goroutines: it notes num_goroutines() when the
// test starts and, when it ends, waits (up to 10 s, without spinning) for the count to
// come back down; a goroutine that has just signalled a WaitGroup may not have
// returned yet, so an immediate comparison would be flaky. On failure it names the
// counts and prints every goroutine (goro::debug::dump) to stderr.
//
// Death tests use the "threadsafe" style: the child re-executes the binary and runs
// only the death test, so it starts with a fresh runtime instead of a fork of one whose
// threads did not survive the fork.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>

#include "goro/debug.h"
#include "goro/detail/testing.h"
#include "goro/runtime.h"
#include "support/support.h"

#if defined(GORO_TEST_ASAN)
// runtime.md: run ASan with detect_stack_use_after_return forced on (fake stacks have
// broken other fiber runtimes). ASAN_OPTIONS from the environment still overrides.
extern "C" __attribute__((used, visibility("default"))) const char* __asan_default_options() {
  return "detect_stack_use_after_return=1";
}
#endif

#if defined(GORO_TEST_TSAN)
// TSan sleeps 1 s at exit (atexit_sleep_ms) whenever other threads exist, so that they
// can still report; goro's threads always exist once the runtime has started, which
// made every TSan test take a second. The leak check has already waited for every
// goroutine to finish, so a short grace is enough. TSAN_OPTIONS still overrides.
extern "C" __attribute__((used, visibility("default"))) const char* __tsan_default_options() {
  return "atexit_sleep_ms=50";
}
#endif

namespace {

constexpr std::chrono::milliseconds kLeakWait{10000};

class GoroutineLeakCheck final : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo&) override { before_ = goro::num_goroutines(); }

  // End events run in reverse listener order, so this runs before the default printer
  // reports the test: a failure added here is part of the test's result.
  void OnTestEnd(const ::testing::TestInfo&) override {
    if (goro::detail::testing::wait_goroutines_at_most(before_, kLeakWait)) return;
    std::int64_t now = goro::num_goroutines();
    ADD_FAILURE() << "goroutine leak: " << now << " goroutines alive " << kLeakWait.count()
                  << " ms after the test ended, " << before_
                  << " when it started (goroutine dump on stderr)";
    std::cerr << "--- goroutines alive after the test ---\n";
    goro::debug::dump(std::cerr);
  }

 private:
  std::int64_t before_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new GoroutineLeakCheck);
  return RUN_ALL_TESTS();
}
