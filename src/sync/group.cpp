// group.cpp — goro::Group (Go's x/sync/errgroup): a WaitGroup for the goroutines, the
// first exception kept for wait(), and a child context cancelled on failure. The
// template half (go, try_go) is in include/goro/group.h.
#include <stdexcept>
#include <string>

#include "goro/group.h"

namespace goro {

Group::Group() : Group(background()) {}

Group::Group(const Context& parent) : ctx_(with_cancel(parent)) {}

Group::~Group() {
  wg_.wait();
  ctx_.cancel();
}

void Group::wait() {
  wg_.wait();
  ctx_.cancel();
  if (error_) std::rethrow_exception(error_);
}

void Group::fail(std::exception_ptr e) noexcept {
  // acq_rel: the winner's write of error_ is ordered by wg_ for wait(); losers only
  // need to know they lost.
  if (failed_.exchange(true, std::memory_order_acq_rel)) return;
  error_ = std::move(e);
  ctx_.cancel();
}

void Group::finish() noexcept {
  if (!sem_.is_nil()) sem_.try_recv();  // our token is there: never waits
  wg_.done();
}

void Group::set_limit(int n) {
  if (!sem_.is_nil() && sem_.size() != 0)
    throw std::logic_error("errgroup: modify limit while " + std::to_string(sem_.size()) +
                           " goroutines in the group are still active");
  sem_ = n < 0 ? Chan<std::monostate>::nil() : Chan<std::monostate>(static_cast<std::size_t>(n));
}

}  // namespace goro
