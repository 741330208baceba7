// goro/detail/mutex_unlock.h — goro::Mutex's unlock without a locked instruction.
// Not part of the public API: names here may change. The design and its proof are in
// src/sync/mutex.cpp (invariants U1-U3).
//
// An uncontended unlock is a restartable sequence (Linux rseq, registered for every
// thread by glibc 2.35+): it reads that the mutex was never contended and that its
// state is exactly "locked, nobody waiting", then stores 0 with a plain store. The
// kernel aborts the sequence (we then take the atomic path) if the thread is
// preempted, migrated or signalled inside it, or if another thread asks it to
// (membarrier's PRIVATE_EXPEDITED_RSEQ).
// A goroutine that is about to register as a waiter first marks the mutex contended
// and makes that request, so no unlock can store 0 over its registration; from then
// on that mutex unlocks with an atomic subtraction, as Go's does.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_DETAIL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GORO_DETAIL_TSAN 1
#endif

// x86-64 only (elsewhere, and under ThreadSanitizer, which cannot see a store made in
// assembly, every unlock is the atomic subtraction).
#if defined(__x86_64__) && defined(__linux__) && !defined(GORO_DETAIL_TSAN)
#define GORO_DETAIL_MUTEX_RSEQ 1
#endif

namespace goro::detail {

// Set once while the library initialises (src/sync/mutex.cpp): whether unlocks may
// take the sequence, and where this process's struct rseq lies from the thread pointer.
struct MutexRseq {
  bool enabled = false;
  std::ptrdiff_t rseq_offset = 0;
};
extern MutexRseq g_mutex_rseq;

#if defined(GORO_DETAIL_MUTEX_RSEQ)
// Unlocks *state (true) if this thread's rseq is registered, *contended is 0 and
// *state is exactly 1; otherwise touches neither and returns false.
inline bool mutex_unlock_rseq(std::atomic<std::int32_t>* state,
                              const std::atomic<std::uint32_t>* contended) noexcept {
  // struct rseq: cpu_id at 4, rseq_cs at 8. The descriptor (struct rseq_cs: version,
  // flags, start_ip, post_commit_offset, abort_ip) is 32-byte aligned. The sequence
  // starts right after the store of the descriptor (so a preemption just after that
  // store aborts it) and commits with the store of 0. The abort handler follows the
  // signature glibc registered (RSEQ_SIG, 0x53053053 on x86, behind a ud1 opcode so
  // that it disassembles as one instruction) and takes the atomic path: an aborted
  // sequence stored nothing, and a thread being single-stepped in a debugger (which
  // aborts at every step) still gets through.
  asm goto(
      ".pushsection __goro_rseq_cs, \"aw\"\n\t"
      ".balign 32\n"
      "3:\n\t"
      ".long 0, 0\n\t"
      ".quad 1f, 2f - 1f, 4f\n\t"
      ".popsection\n\t"
      ".pushsection __goro_rseq_abort, \"ax\"\n\t"
      ".byte 0x0f, 0xb9, 0x3d\n\t"
      ".long 0x53053053\n"
      "4:\n\t"
      "jmp %l[slow]\n\t"
      ".popsection\n\t"
      "leaq 3b(%%rip), %%rax\n\t"
      "movq %%rax, %%fs:8(%[off])\n"
      "1:\n\t"
      "cmpl $0, %%fs:4(%[off])\n\t"
      "jl %l[slow]\n\t"
      "cmpl $0, %[contended]\n\t"
      "jne %l[slow]\n\t"
      "cmpl $1, %[state]\n\t"
      "jne %l[slow]\n\t"
      "movl $0, %[state]\n"
      "2:\n\t"
      :
      : [off] "r"(g_mutex_rseq.rseq_offset), [state] "m"(*state), [contended] "m"(*contended)
      : "rax", "memory", "cc"
      : slow);
  return true;
slow:
  return false;
}
#endif

}  // namespace goro::detail
