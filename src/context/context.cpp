// context.cpp — goro::Context (Go's context): a tree of cancellable nodes, each with a
// lazily made done channel, cancelled top-down and detached bottom-up.
//
// A node is shared by its handles (Context, CancelFunc) and, while it is registered
// with its parent, by its parent's list of children. References:
//   - every Context and CancelFunc handle holds one;
//   - a parent's children list holds one on each child linked in it (the "link
//     reference"), so a child whose handles are all gone is still cancelled (and its
//     done channel closed) when its parent is, as in Go;
//   - a child holds NO reference on its parent: only a raw pointer, used to detach
//     itself. So a tree never forms a reference cycle: once nothing can cancel a node
//     any more (no handle, no link), it is freed, and it unlinks its children.
//
// Invariants (each holds whenever the locks named are free):
//  X1. A node's children list, and each listed child's sibling links and `linked`
//      flag, are guarded by the node's (the parent's) lock. Whoever clears a child's
//      `linked` flag owns the link reference and releases it, exactly once.
//  X2. A cancelled node has no children and never gets any: it is marked cancelled
//      and its whole list taken in one critical section, and with_cancel links a new
//      child only under the parent's lock after seeing err == 0.
//  X3. `parent` (guarded by the child's own lock) is non-null only while the child
//      may still be linked in that parent; whoever unlinks the child (the child's own
//      cancel, the parent's cancel, the parent's destruction) sets it to null under the
//      child's lock before releasing the link reference. So while a child holds its
//      own lock and sees parent == p, p's memory is valid: p's destruction must take
//      that same lock before it frees p.
//  X4. A node reaches zero references only when unlinked, so its `parent` is null
//      then; its children are unlinked (not cancelled: nothing can cancel them through
//      it any more) and their parent pointers cleared.
//  X5. A deadline node's timer (goro::after_func) holds a reference on the node, in
//      its function object, until the function has run (it cancels the node, then
//      drops the reference before its goroutine exits) or the timer core is freed
//      unrun. The node holds the timer's handle in `timer` only while it is not
//      cancelled. Every cancellation (its cancel function, an ancestor's, the timer's
//      own firing) takes the handle under the node's lock and stops the timer after
//      unlocking, so the core is freed once it is neither armed nor firing: a
//      cancelled deadline node leaves no timer armed and no reference cycle behind.
//      Until then the pending timer keeps the node alive, as Go's does. The handle is
//      dropped only by someone still holding a reference of their own on the node, so
//      the node's last reference never goes inside that drop.
//
// Lock order: a parent's lock is never taken while holding a child's, except through
// try_retain below (which reads the parent's reference count, not its lock). A child
// detaching itself takes its own lock, then (after releasing it) its parent's.
//
// Cancellation and destruction walk the tree with an explicit work list (through the
// sibling links of nodes already taken off their lists), never by recursion, so a
// deep chain of contexts cannot overflow a goroutine's stack.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "goro/context.h"
#include "goro/detail/sema.h"
#include "goro/detail/testing.h"
#include "goro/time.h"
#include "sched/platform.h"

namespace goro {

namespace detail {

struct ContextNode {
  // Handles and the link reference (see the top of this file). acq_rel decrements:
  // the last release sees every other holder's use of the node.
  std::atomic<std::int64_t> refs{1};
  // 0, or the ContextErrc it was cancelled with. Written once, under `mu` (release:
  // pairs with err()'s acquire load); read anywhere.
  std::atomic<int> err{0};
  // Its own deadline or its nearest ancestor's; immutable once the node is shared.
  std::optional<Context::Clock::time_point> deadline;

  Lock mu;
  // Guarded by mu.
  ContextNode* parent = nullptr;    // X3; raw, not a reference
  ContextNode* children = nullptr;  // X1: the first child; each holds a link reference
  Context::DoneChan done = Context::DoneChan::nil();  // made by the first done() call
  // with_deadline's timer (X5), set only while err == 0: whoever cancels the node takes
  // it (under mu) and stops it (after unlocking).
  Timer timer;

  // Guarded by the parent's mu while linked (X1). Once a child is taken off its
  // parent's list, whoever took it uses sib_next for its work lists.
  ContextNode* sib_prev = nullptr;
  ContextNode* sib_next = nullptr;
  bool linked = false;
};

struct ContextAccess {
  static ContextNode* node(const Context& c) noexcept { return c.n_; }
  static ContextNode* node(const CancelFunc& c) noexcept { return c.n_; }
  // Handles adopting one reference each.
  static Context adopt_context(ContextNode* n) noexcept { return Context(n); }
  static CancelFunc adopt_cancel(ContextNode* n) noexcept { return CancelFunc(n); }
};

namespace {

// Nodes alive, for the leak tests (relaxed: a statistic).
std::atomic<std::int64_t> g_nodes_alive{0};

ContextNode* new_node() {
  auto* n = new ContextNode;
  g_nodes_alive.fetch_add(1, std::memory_order_relaxed);
  return n;
}

// Takes a reference on n unless its count already reached zero (n is being
// destroyed). The caller must know n's memory is valid (X3).
bool try_retain(ContextNode* n) noexcept {
  std::int64_t r = n->refs.load(std::memory_order_relaxed);
  while (r > 0) {
    // Relaxed is enough: the reference is used only under n's lock, which orders it.
    if (n->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

// p->mu held. Links c at the front of p's children; c's link reference is taken by
// the caller.
void link_locked(ContextNode* p, ContextNode* c) noexcept {
  c->sib_prev = nullptr;
  c->sib_next = p->children;
  if (p->children != nullptr) p->children->sib_prev = c;
  p->children = c;
  c->linked = true;
}

// p->mu held, c linked in p. Unlinks c; the caller now owns its link reference.
void unlink_locked(ContextNode* p, ContextNode* c) noexcept {
  if (c->sib_prev != nullptr)
    c->sib_prev->sib_next = c->sib_next;
  else
    p->children = c->sib_next;
  if (c->sib_next != nullptr) c->sib_next->sib_prev = c->sib_prev;
  c->sib_prev = c->sib_next = nullptr;
  c->linked = false;
}

// n->mu held. Takes n's whole children list (still chained through sib_next); the
// caller owns their link references and must clear their `parent` (X3).
ContextNode* take_children_locked(ContextNode* n) noexcept {
  ContextNode* list = n->children;
  n->children = nullptr;
  for (ContextNode* c = list; c != nullptr; c = c->sib_next) c->linked = false;
  return list;
}

// Puts every node of `list` (chained through sib_next) on the front of `*work`.
void push_all(ContextNode** work, ContextNode* list) noexcept {
  while (list != nullptr) {
    ContextNode* c = list;
    list = c->sib_next;
    c->sib_prev = nullptr;
    c->sib_next = *work;
    *work = c;
  }
}

// n->mu held. Cancels n with `why` unless it already is: sets err, closes done, and
// returns the children it had (taken off its list, X2); null if it was cancelled.
ContextNode* mark_cancelled_locked(ContextNode* n, ContextErrc why) noexcept {
  if (n->err.load(std::memory_order_relaxed) != 0) return nullptr;
  n->err.store(static_cast<int>(why), std::memory_order_release);
  // err is set before the close, so whoever sees done closed sees err (the close
  // happens before the receive it ends).
  if (!n->done.is_nil()) n->done.close();
  return take_children_locked(n);
}

// Stops a timer taken off a cancelled node (X5) and drops the node's handle on it.
// Called with no lock held, by someone holding a reference on the node.
void stop_timer(Timer t) noexcept {
  if (t) t.stop();  // false if it has fired: its cancel is then a no-op
}

void destroy(ContextNode* n) noexcept {
  GORO_CHECK(!n->timer, "goro::Context: a node was freed with its deadline timer");
  delete n;
  g_nodes_alive.fetch_sub(1, std::memory_order_relaxed);
}

// Drops one reference on n; at zero, frees it and unlinks its children (X4), freeing
// those that no one else holds, and so on down.
void release(ContextNode* n) noexcept {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  ContextNode* dying = n;
  n->sib_next = nullptr;
  while (dying != nullptr) {
    ContextNode* x = dying;
    dying = x->sib_next;
    GORO_CHECK(!x->linked && x->parent == nullptr,
               "goro::Context: a node was freed while still linked to its parent");
    x->mu.lock();
    ContextNode* kids = take_children_locked(x);
    x->mu.unlock();
    while (kids != nullptr) {
      ContextNode* k = kids;
      kids = k->sib_next;
      k->mu.lock();
      k->parent = nullptr;  // X3: from here on x's memory may go
      k->mu.unlock();
      if (k->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {  // the link reference
        k->sib_next = dying;
        dying = k;
      }
    }
    destroy(x);
  }
}

// Cancels n and all its descendants with `why`, and detaches n from its parent (Go's
// cancelCtx.cancel(true, why)). The caller holds a reference on n.
void cancel(ContextNode* n, ContextErrc why) noexcept {
  n->mu.lock();
  ContextNode* work = mark_cancelled_locked(n, why);
  Timer timer = std::move(n->timer);  // X5
  ContextNode* parent = std::exchange(n->parent, nullptr);
  // X3: parent's memory is valid while we hold n->mu; a failed try_retain means the
  // parent is being destroyed, and its destruction unlinks n.
  bool have_parent = parent != nullptr && try_retain(parent);
  n->mu.unlock();
  stop_timer(std::move(timer));

  if (have_parent) {
    parent->mu.lock();
    bool owned = n->linked;  // else the parent's own cancel took n off its list
    if (owned) unlink_locked(parent, n);
    parent->mu.unlock();
    if (owned) release(n);  // the link reference (the caller still holds one)
    release(parent);
  }

  // The descendants: each was taken off its parent's list by us, so we own its link
  // reference and its sibling links.
  while (work != nullptr) {
    ContextNode* k = work;
    work = k->sib_next;
    k->mu.lock();
    ContextNode* grandchildren = mark_cancelled_locked(k, why);  // null if k beat us to it
    Timer k_timer = std::move(k->timer);
    k->parent = nullptr;
    k->mu.unlock();
    stop_timer(std::move(k_timer));  // X5: we still hold k's link reference
    push_all(&work, grandchildren);
    release(k);
  }
}

// A deadline's timer function: cancels the node with deadline_exceeded. Holds a
// reference on the node (X5) until it has run, or until the timer core frees it unrun.
class DeadlineFire {
 public:
  explicit DeadlineFire(ContextNode* n) noexcept : n_(n) {
    n_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  DeadlineFire(DeadlineFire&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  DeadlineFire(const DeadlineFire&) = delete;
  DeadlineFire& operator=(const DeadlineFire&) = delete;
  DeadlineFire& operator=(DeadlineFire&&) = delete;
  ~DeadlineFire() {
    if (n_ != nullptr) release(n_);
  }
  // Runs at most once (the timer is never reset). Drops the reference at once rather
  // than with the timer core, which the runner may free only after this goroutine has
  // exited: so the node is released before its timer's goroutine is gone.
  void operator()() noexcept {
    ContextNode* n = std::exchange(n_, nullptr);
    cancel(n, ContextErrc::deadline_exceeded);
    release(n);
  }

 private:
  ContextNode* n_;
};

// A new node with two references (the handles about to be made), the given deadline,
// linked under p (p may be null: background) unless p is cancelled, in which case it
// is born cancelled with p's reason.
ContextNode* new_child(ContextNode* p, std::optional<Context::Clock::time_point> deadline) {
  ContextNode* c = new_node();
  c->refs.store(2, std::memory_order_relaxed);  // the two handles returned
  c->deadline = deadline;
  if (p != nullptr) {
    // c is not shared yet: its fields need no lock until the handles leave here.
    p->mu.lock();
    if (int e = p->err.load(std::memory_order_relaxed); e != 0) {
      c->err.store(e, std::memory_order_relaxed);  // born cancelled, with p's reason
    } else {
      c->parent = p;
      link_locked(p, c);
      c->refs.fetch_add(1, std::memory_order_relaxed);  // the link reference
    }
    p->mu.unlock();
  }
  return c;
}

class ContextCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.context"; }
  std::string message(int e) const override {
    switch (static_cast<ContextErrc>(e)) {
      case ContextErrc::cancelled: return "context canceled";
      case ContextErrc::deadline_exceeded: return "context deadline exceeded";
    }
    return "unknown context error";
  }
  // So that `err == std::errc::operation_canceled` / `std::errc::timed_out` hold too.
  std::error_condition default_error_condition(int e) const noexcept override {
    switch (static_cast<ContextErrc>(e)) {
      case ContextErrc::cancelled: return std::errc::operation_canceled;
      case ContextErrc::deadline_exceeded: return std::errc::timed_out;
    }
    return {e, *this};
  }
};

}  // namespace

void context_retain(ContextNode* n) noexcept { n->refs.fetch_add(1, std::memory_order_relaxed); }
void context_release(ContextNode* n) noexcept { release(n); }

namespace testing {

std::int64_t context_nodes_alive() noexcept {
  return g_nodes_alive.load(std::memory_order_relaxed);
}

std::size_t context_children(const Context& ctx) noexcept {
  ContextNode* n = ContextAccess::node(ctx);
  if (n == nullptr) return 0;
  std::lock_guard<Lock> lk(n->mu);
  std::size_t count = 0;
  for (ContextNode* c = n->children; c != nullptr; c = c->sib_next) ++count;
  return count;
}

}  // namespace testing

}  // namespace detail

const std::error_category& context_category() noexcept {
  static const detail::ContextCategory category;
  return category;
}

Context::DoneChan Context::done() const {
  if (n_ == nullptr) return DoneChan::nil();
  std::lock_guard<detail::Lock> lk(n_->mu);
  if (n_->done.is_nil()) {
    DoneChan ch;
    if (n_->err.load(std::memory_order_relaxed) != 0) ch.close();
    n_->done = std::move(ch);
  }
  return n_->done;
}

std::error_code Context::err() const noexcept {
  if (n_ == nullptr) return {};
  int e = n_->err.load(std::memory_order_acquire);
  if (e == 0) return {};
  return make_error_code(static_cast<ContextErrc>(e));
}

std::optional<Context::Clock::time_point> Context::deadline() const noexcept {
  return n_ != nullptr ? n_->deadline : std::nullopt;
}

void CancelFunc::operator()() const noexcept {
  if (n_ != nullptr) detail::cancel(n_, ContextErrc::cancelled);
}

ContextWithCancel with_cancel(const Context& parent) {
  using detail::ContextAccess;
  detail::ContextNode* p = ContextAccess::node(parent);
  detail::ContextNode* c = detail::new_child(p, p != nullptr ? p->deadline : std::nullopt);
  return {ContextAccess::adopt_context(c), ContextAccess::adopt_cancel(c)};
}

ContextWithCancel with_deadline(const Context& parent, Context::Clock::time_point deadline) {
  using detail::ContextAccess;
  detail::ContextNode* p = ContextAccess::node(parent);
  // The parent's deadline comes first (or at once): it cancels the child in time.
  if (p != nullptr && p->deadline && *p->deadline <= deadline) return with_cancel(parent);
  detail::ContextNode* c = detail::new_child(p, deadline);
  ContextWithCancel made{ContextAccess::adopt_context(c), ContextAccess::adopt_cancel(c)};
  if (c->err.load(std::memory_order_relaxed) != 0) return made;  // the parent's reason
  const Context::Clock::time_point now = Context::Clock::now();
  if (deadline <= now) {  // compared, not subtracted: time_point::min() must not overflow
    detail::cancel(c, ContextErrc::deadline_exceeded);  // born expired; detaches it
    return made;
  }
  const Context::Clock::duration left = deadline - now;
  Timer timer;
  try {
    // Fires at now + left or later, so never before `deadline` (the timers' clock is
    // CLOCK_MONOTONIC, steady_clock's).
    timer = after_func(left, detail::DeadlineFire(c));
  } catch (...) {
    made.cancel();  // unregisters it from the parent; the handles free it
    throw;
  }
  // The parent (or the timer itself) may have cancelled c since it was linked; then
  // nobody will take the timer off c, so stop it here (X5).
  c->mu.lock();
  if (c->err.load(std::memory_order_relaxed) == 0) c->timer = std::move(timer);
  c->mu.unlock();
  detail::stop_timer(std::move(timer));  // empty if c took it
  return made;
}

namespace detail {

ContextWithCancel context_with_timeout_ns(const Context& parent, std::int64_t timeout_ns) {
  using Clock = Context::Clock;
  Clock::time_point now = Clock::now();
  std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  Clock::time_point deadline;
  if (timeout_ns > 0 && now_ns > INT64_MAX - timeout_ns)
    deadline = Clock::time_point::max();
  else if (timeout_ns < 0 && now_ns < INT64_MIN - timeout_ns)
    deadline = Clock::time_point::min();
  else
    deadline =
        now + std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(timeout_ns));
  return with_deadline(parent, deadline);
}

}  // namespace detail

}  // namespace goro
