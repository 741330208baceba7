// rwmutex.cpp — goro::RWMutex, Go's sync.RWMutex algorithm on goro's Mutex and Sema.
//
// Writers exclude each other with a Mutex (writer_). A writer that holds writer_
// announces itself by subtracting kMaxReaders from reader_count_: from then on the
// count is negative, and every new lock_shared() sees that and queues on reader_sem_
// (writer preference: a waiting writer stops new readers). The readers that were
// already in are counted into reader_wait_; each one leaving while a writer is pending
// decrements it, and the one that brings it to zero releases writer_sem_, on which the
// writer waits. unlock() adds kMaxReaders back (new readers pass again), releases the
// readers that queued meanwhile (as many as reader_count_ now says), and only then
// releases writer_, so the next writer cannot announce itself before those readers
// were let through: readers and writers alternate under contention, neither starves.
//
// Invariants:
//  R1. reader_count_ = (readers holding or queued for the lock) - (kMaxReaders if a
//      writer holds writer_ and has announced itself). So it is >= 0 with no writer,
//      and in [-kMaxReaders, 0) with one.
//  R2. Between a writer's announcement and its return from lock(), reader_wait_ + the
//      departures still to come = the readers that held the lock at the announcement;
//      the departure that brings it to zero (or the announcement itself, if they have
//      all left) lets the writer in. writer_sem_ is released exactly once per writer
//      that must wait, and acquired by that writer.
//  R3. Between unlock()'s re-adding of kMaxReaders and its writer_.unlock(), no
//      writer can announce itself (writer_ is held), so only the readers counted then
//      queue on reader_sem_, and they receive exactly the counts released for them.
//
// Memory order: lock_shared's increment is acquire and unlock's re-add release
// (reader after writer); unlock_shared's decrement is release and the writer's
// announcement acq_rel (writer after readers that left before it announced); the
// reader_wait_ updates are acq_rel (writer after readers that left after it
// announced). Sema's release/acquire orders everyone who had to queue.
#include "goro/sync.h"
#include "sched/platform.h"

namespace goro {

void RWMutex::lock_shared_slow() {
  // A writer holds the lock or waits for it (R1): queue until its unlock() releases
  // us (R3). Our count in reader_count_ already makes the next writer wait for us.
  reader_sem_.acquire(detail::WaitReason::sync_rwmutex_rlock);
}

bool RWMutex::try_lock_shared() noexcept {
  std::int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0) {
    // acquire: as lock_shared.
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
      return true;
  }
  return false;
}

void RWMutex::unlock_shared_slow(std::int32_t r) {
  // r < 0: a writer has announced itself, or nobody held the lock shared.
  if (r + 1 == 0 || r + 1 == -kMaxReaders) detail::fatal("sync: RUnlock of unlocked RWMutex");
  // A pending writer counts us among the readers it waits for (R2); the last one
  // out lets it in. acq_rel: our critical section happens before the writer's.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.release();
}

void RWMutex::lock() {
  writer_.lock();
  // Announce: new readers queue from now on. acq_rel: the acquire orders us after
  // readers that left before this (their release decrement).
  std::int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  // Wait for the r readers that are in, unless they have all left already (R2).
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
    writer_sem_.acquire(detail::WaitReason::sync_rwmutex_lock);
}

bool RWMutex::try_lock() noexcept {
  if (!writer_.try_lock()) return false;
  std::int32_t expected = 0;
  // acquire: as lock's announcement (no reader is in, but the last one's exit must
  // be ordered before us).
  if (!reader_count_.compare_exchange_strong(expected, -kMaxReaders, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    writer_.unlock();
    return false;
  }
  return true;
}

void RWMutex::unlock() {
  // Let new readers pass again. release: pairs with lock_shared's acquire.
  std::int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) detail::fatal("sync: Unlock of unlocked RWMutex");
  // Release the r readers that queued behind us (R3), then let the next writer in.
  if (r > 0) reader_sem_.release_many(static_cast<std::uint32_t>(r));
  writer_.unlock();
}

}  // namespace goro
