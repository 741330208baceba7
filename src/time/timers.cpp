// timers.cpp — the per-P timer heaps: arming, disarming and running timers. The
// design and invariants (T1..T5) are in timers.h.
//
// The heap is 4-ary, as Go's: a shallower tree than a binary heap (100,000 timers
// fit in 9 levels), and a node's four children sit in one or two cache lines. Each
// entry carries a copy of its deadline, so sifting compares without touching the
// nodes (which live on goroutine stacks all over memory); a moved entry writes its
// new position into its node, which is what lets timer_del remove it in O(log n).
#include "time/timers.h"

#include "goro/detail/testing.h"
#include "sched/internal.h"
#include "sched/platform.h"

namespace goro::detail {
namespace {

constexpr std::uint32_t kArity = 4;

// Heap lock held (for every helper below).
inline void place(TimerHeap* h, std::uint32_t i, TimerHeap::Entry e) noexcept {
  h->entries[i] = e;
  if (e.removable()) e.node()->index = i;
}

// Returns where the entry ended up.
std::uint32_t sift_up(TimerHeap* h, std::uint32_t i) noexcept {
  TimerHeap::Entry e = h->entries[i];
  while (i > 0) {
    std::uint32_t parent = (i - 1) / kArity;
    if (h->entries[parent].when <= e.when) break;
    place(h, i, h->entries[parent]);
    i = parent;
  }
  place(h, i, e);
  return i;
}

void sift_down(TimerHeap* h, std::uint32_t i) noexcept {
  auto n = std::uint32_t(h->entries.size());
  TimerHeap::Entry e = h->entries[i];
  for (;;) {
    std::uint32_t first = i * kArity + 1;
    if (first >= n) break;
    std::uint32_t best;
    std::int64_t when;
    if (GORO_LIKELY(first + kArity <= n)) {
      // All four children: the earliest in a tournament of selects, which compile to
      // conditional moves. Deadlines come in no order, so branches on them would be
      // mispredicted about one comparison in two, three comparisons a level.
      const TimerHeap::Entry* c = &h->entries[first];
      std::int64_t w0 = c[0].when, w1 = c[1].when, w2 = c[2].when, w3 = c[3].when;
      bool b1 = w1 < w0, b3 = w3 < w2;
      std::uint32_t i01 = first + b1, i23 = first + 2 + b3;
      std::int64_t m01 = b1 ? w1 : w0, m23 = b3 ? w3 : w2;
      // The last select by masks: the compiler made a branch of it.
      std::uint64_t b = 0 - std::uint64_t(m23 < m01);
      best = i01 ^ ((i01 ^ i23) & std::uint32_t(b));
      when = std::int64_t(std::uint64_t(m01) ^ ((std::uint64_t(m01) ^ std::uint64_t(m23)) & b));
    } else {
      best = first;
      for (std::uint32_t c = first + 1; c < n; ++c)
        if (h->entries[c].when < h->entries[best].when) best = c;
      when = h->entries[best].when;
    }
    if (when >= e.when) break;
    place(h, i, h->entries[best]);
    i = best;
  }
  place(h, i, e);
}

void heap_remove(TimerHeap* h, std::uint32_t i) noexcept {
  TimerHeap::Entry last = h->entries.back();
  h->entries.pop_back();
  if (i == h->entries.size()) return;  // it was the last entry
  place(h, i, last);
  if (i > 0 && last.when < h->entries[(i - 1) / kArity].when)
    sift_up(h, i);
  else
    sift_down(h, i);
}

inline void update_when0(TimerHeap* h) noexcept {
  h->when0.store(h->entries.empty() ? 0 : h->entries[0].when, std::memory_order_relaxed);
}

// The next deadline of a periodic timer that was due at `when`, as seen at `now`:
// the first multiple of the period after now (ticks missed by a slow runner are
// dropped, as Go's tickers drop them).
std::int64_t next_period(std::int64_t when, std::int64_t period, std::int64_t now) noexcept {
  std::int64_t missed = now > when ? (now - when) / period : 0;
  std::int64_t step = period * (missed + 1);
  return when > INT64_MAX - step ? INT64_MAX : when + step;
}

// The heap a timer armed now goes on: the caller's P's, else a random P's.
TimerHeap* arming_heap() noexcept {
  M* m = current_m();
  P* p = m != nullptr ? m->p : nullptr;
  // A spare P (lent while its ward runs one goroutine too long) keeps no timers of its
  // own: they go to its home's heap (the ward's, or the ward's home if the ward is a
  // spare too), which the spare's M runs while it holds the spare and the home's own
  // M runs again once it is back (sched.cpp, "The monitor").
  if (p != nullptr && p->spare) p = p->home;
  if (p == nullptr) p = &all_ps()[cheap_rand() % std::uint32_t(nprocs())];
  return &p->timers;
}

// Heap lock held: adds the entry; returns whether it is the heap's earliest now.
bool push_entry(TimerHeap* h, TimerHeap::Entry e) noexcept {
  h->entries.push_back(e);
  bool earliest = sift_up(h, std::uint32_t(h->entries.size() - 1)) == 0;
  if (earliest) h->when0.store(e.when, std::memory_order_relaxed);
  return earliest;
}

}  // namespace

void timer_add(TimerNode* t, std::int64_t when, std::int64_t period) {
  if (when <= 0) when = 1;  // 0 means "no timer" in when0 (T2)
  if (t->destroy != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);  // the heap's (T5)
  TimerHeap* h = arming_heap();
  h->lock.lock();
  GORO_CHECK(t->heap.load(std::memory_order_relaxed) == nullptr, "goro: timer armed twice");
  t->when = when;
  t->period = period;
  std::uintptr_t flags = (t->removable ? TimerHeap::Entry::kRemovable : 0) |
                         (period > 0 ? TimerHeap::Entry::kPeriodic : 0);
  bool earliest = push_entry(h, {when, reinterpret_cast<std::uintptr_t>(t) | flags});
  t->heap.store(h, std::memory_order_release);
  h->lock.unlock();
  // Only a new earliest deadline of its heap can be earlier than what an idle M
  // sleeps until: the heap's previous earliest was reported when it was armed.
  if (earliest) timer_armed(when);
}

void timer_add_sleeper(G* g, std::int64_t when) {
  if (when <= 0) when = 1;
  TimerHeap* h = arming_heap();
  h->lock.lock();
  bool earliest =
      push_entry(h, {when, reinterpret_cast<std::uintptr_t>(g) | TimerHeap::Entry::kSleeper});
  h->lock.unlock();
  if (earliest) timer_armed(when);
}

bool timer_del(TimerNode* t) noexcept {
  GORO_CHECK(t->removable, "goro: timer_del on a timer that is not removable");
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (h == nullptr) return false;  // fired (or firing), or not armed
    h->lock.lock();
    if (t->heap.load(std::memory_order_relaxed) != h) {  // moved or fired meanwhile
      h->lock.unlock();
      continue;
    }
    heap_remove(h, t->index);
    t->heap.store(nullptr, std::memory_order_release);
    update_when0(h);
    bool emptied = h->entries.empty();
    h->lock.unlock();
    if (t->destroy != nullptr) timer_unref(t);  // the heap's reference; the caller holds one
    if (emptied) timers_maybe_gone();
    return true;
  }
}

int run_timers(TimerHeap* h, std::int64_t now) {
  int fired = 0;
  for (;;) {
    // Take a batch of due timers under one lock round, then fire them unlocked (T3:
    // once taken off, or re-armed, a firing can no longer be stopped).
    constexpr int kBatch = 32;
    TimerNode* batch[kBatch];
    int n = 0;
    GList woken;  // sleepers (their own entries: no node)
    h->lock.lock();
    while (n + woken.n < kBatch && !h->entries.empty() && h->entries[0].when <= now) {
      TimerHeap::Entry e = h->entries[0];
      if (e.is_sleeper()) {
        woken.push(e.sleeper());
        heap_remove(h, 0);
        continue;
      }
      TimerNode* t = e.node();
      if (e.periodic()) {
        t->when = next_period(t->when, t->period, now);
        h->entries[0].when = t->when;
        sift_down(h, 0);
        if (t->destroy != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);  // ours
      } else {
        heap_remove(h, 0);
        // The heap's reference (if counted) passes to us.
        t->heap.store(nullptr, std::memory_order_release);
      }
      batch[n++] = t;
    }
    update_when0(h);
    h->lock.unlock();
    // Sleepers first, in deadline order; behind the global queue's goroutines if it
    // holds any (sched.h ready_list).
    int nwoken = woken.n;
    ready_list(woken, /*behind_global=*/true);
    for (int i = 0; i < n; ++i) {
      TimerNode* t = batch[i];
      bool counted = t->destroy != nullptr;  // read first: an uncounted t may be gone after fire
      t->fire(t, now);
      if (counted) timer_unref(t);
    }
    fired += n + nwoken;
    if (n + nwoken < kBatch) return fired;
  }
}

int run_all_due_timers(std::int64_t now) {
  if (!started()) return 0;
  P* ps = all_ps();
  int fired = 0;
  for (int i = 0, n = nprocs(); i < n; ++i) {
    std::int64_t w = ps[i].timers.when0.load(std::memory_order_relaxed);
    if (w != 0 && w <= now) fired += run_timers(&ps[i].timers, now);
  }
  return fired;
}

std::int64_t timers_earliest() noexcept {
  if (!started()) return 0;
  P* ps = all_ps();
  std::int64_t earliest = 0;
  for (int i = 0, n = nprocs(); i < n; ++i) {
    std::int64_t w = ps[i].timers.when0.load(std::memory_order_relaxed);
    if (w != 0 && (earliest == 0 || w < earliest)) earliest = w;
  }
  return earliest;
}

bool timers_pending() noexcept { return timers_earliest() != 0; }

std::size_t testing::timers_armed() noexcept {
  if (!started()) return 0;
  P* ps = all_ps();
  std::size_t n = 0;
  for (int i = 0, np = nprocs(); i < np; ++i) {
    ps[i].timers.lock.lock();
    n += ps[i].timers.entries.size();
    ps[i].timers.lock.unlock();
  }
  return n;
}

}  // namespace goro::detail
