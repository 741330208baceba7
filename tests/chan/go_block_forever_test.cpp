// go_block_forever_test.cpp — the "blocks for ever" rows of test/chan/select3.go's
// table: send and receive on a nil channel, an empty select, and selects whose cases
// are all on nil channels. A goroutine blocked for ever cannot be released (the test
// main would report it as a leak), so each case runs in a child process where it is
// the only thing left: goro's deadlock detector must then report
// "all goroutines are asleep - deadlock!" with the goroutine parked for the right
// reason. That proves it blocked, and that nothing could ever wake it, without a
// clock. The non-blocking forms of the same rows are in go_chan_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "goro/goro.h"
#include "support/support.h"

namespace {

using ::testing::AllOf;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;

constexpr const char* kDeadlock = "fatal error: all goroutines are asleep - deadlock!";

TEST(GoBlockForever, SendOnNilChannel) {
  EXPECT_EXIT(goro::run([] { goro::Chan<int>::nil().send(7); }), ExitedWithCode(2),
              AllOf(HasSubstr(kDeadlock), HasSubstr("[chan send (nil chan)]")));
}

TEST(GoBlockForever, ReceiveOnNilChannel) {
  EXPECT_EXIT(goro::run([] { goro::Chan<int>::nil().recv(); }), ExitedWithCode(2),
              AllOf(HasSubstr(kDeadlock), HasSubstr("[chan receive (nil chan)]")));
}

TEST(GoBlockForever, RangeOverNilChannel) {
  EXPECT_EXIT(goro::run([] {
                for (int v : goro::Chan<int>::nil()) (void)v;
              }),
              ExitedWithCode(2),
              AllOf(HasSubstr(kDeadlock), HasSubstr("[chan receive (nil chan)]")));
}

TEST(GoBlockForever, EmptySelect) {
  EXPECT_EXIT(goro::run([] { goro::select(); }), ExitedWithCode(2),
              AllOf(HasSubstr(kDeadlock), HasSubstr("[select (no cases)]")));
}

TEST(GoBlockForever, SelectOnNilReceiveOnly) {
  EXPECT_EXIT(goro::run([] { goro::select(goro::case_recv(goro::Chan<int>::nil())); }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[select]")));
}

TEST(GoBlockForever, SelectOnNilSendOnly) {
  EXPECT_EXIT(goro::run([] { goro::select(goro::case_send(goro::Chan<int>::nil(), 7)); }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[select]")));
}

TEST(GoBlockForever, SelectOnNilSendAndReceive) {
  EXPECT_EXIT(goro::run([] {
                auto nil = goro::Chan<int>::nil();
                goro::select(goro::case_recv(nil), goro::case_send(nil, 7));
              }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[select]")));
}

TEST(GoBlockForever, RuntimeSizedSelectOnNilChannels) {
  EXPECT_EXIT(goro::run([] {
                goro::Selector sel;
                sel.recv(goro::Chan<int>::nil()).send(goro::Chan<long>::nil(), 7L);
                sel.select();
              }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[select]")));
}

TEST(GoBlockForever, NilChannelFromPlainThread) {
  // No goroutine at all: the main thread itself blocks on the nil channel.
  EXPECT_EXIT(goro::Chan<int>::nil().recv(), ExitedWithCode(2), HasSubstr(kDeadlock));
  EXPECT_EXIT(goro::Chan<int>::nil().send(1), ExitedWithCode(2), HasSubstr(kDeadlock));
}

TEST(GoBlockForever, SelectThatCanOnlyPairWithItself) {
  // select3.go's last row: select { case c <- 1: case <-c: } on an unbuffered channel
  // with nobody else blocks (for ever, when nobody else exists).
  EXPECT_EXIT(goro::run([] {
                goro::Chan<int> c;
                goro::select(goro::case_send(c, 1), goro::case_recv(c));
              }),
              ExitedWithCode(2), AllOf(HasSubstr(kDeadlock), HasSubstr("[select]")));
}

}  // namespace
