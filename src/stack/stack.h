// stack.h — goroutine stacks: large lazily-committed reservations carved from slabs,
// each with a guard region below it, pooled per P.
//
// A stack slot is [guard | usable ... top). The kernel commits a page on first touch,
// so a goroutine costs one page until it grows. Guards are made with
// madvise(MADV_GUARD_INSTALL) where the kernel has it (Linux 6.13+: no extra kernel
// mapping), else mprotect(PROT_NONE) (two mappings per stack, so limited by
// vm.max_map_count: we fail with a clear message before reaching it).
//
// Invariants:
//  S1. A pooled stack is "warm" (its top page is committed, nothing below it that
//      we know of) in a P's cache, or anything in the global pool. Stacks found deep
//      on release (by the lowest stack pointer saved at a switch, or marked by goro's
//      own throws, whose unwinding no switch sees: note_unwinding), and every 1024th
//      release of a P, give their pages below the top back (MADV_DONTNEED) before
//      reuse. A stack that went deep between two switches and is not swept stays in a
//      bounded pool: at most 128 per P, and the global pool is scavenged (S3).
//  S3. The global pool keeps every warm stack for at least one scavenge round (the
//      monitor starts one a second): a burst of goroutines that ends and comes back
//      finds its stacks committed, as Go's heap keeps freed stacks until its
//      scavenger returns them. Stacks beyond 1024 that stayed in the pool through a
//      whole round (by the pool's low-water mark) give their pages back.
//  S2. Slabs are never unmapped: a slot's address stays a stack for the process's
//      life, which keeps the overflow handler's address test valid without locks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

enum class GuardMode { madvise, mprotect };

struct StackConfig {
  std::size_t stack_size;  // slot size: guard + usable, page multiple
  GuardMode mode;
};

// The free stacks one P keeps: owned by that P (no lock).
struct StackCache {
  static constexpr std::uint32_t kMax = 128;
  // The tops of the stacks it holds, the next to hand out (the most recently released,
  // the likeliest still in the caches) last. An array, not a list through the stacks:
  // handing one out reads nothing from a stack, and the next one's top is known in
  // time to fetch it ahead (stacks::get).
  char* tops[kMax];
  std::uint32_t count = 0;
  std::uint32_t releases = 0;
};

namespace stacks {

// Chooses the guard mode (probing the kernel) and fixes the slot size. Once.
void init(std::size_t stack_size, GuardMode requested, bool automatic);
const StackConfig& config() noexcept;
std::size_t guard_size() noexcept;

// A stack for a goroutine's first run: returns its top; *lo gets its lowest usable
// byte. cache may be null (no P).
char* get(StackCache* cache, char** lo);
// Gives a stack back. min_sp is the lowest stack pointer seen (null if unknown).
void put(StackCache* cache, char* top, char* min_sp) noexcept;
// The scavenger (S3), run by the monitor thread. scavenge_round starts a round: the
// stacks beyond the bound that the global pool held all through the last round are
// due. scavenge_step gives back up to 512 of them (MADV_DONTNEED, outside
// the pool's lock) and says whether some are still due. has_surplus: the pool holds
// more than the bound (a round will be due).
void scavenge_round() noexcept;
bool scavenge_step() noexcept;
bool has_surplus() noexcept;
// Warm stacks in the global pool now, and rounds started so far (tests).
std::size_t warm_pooled() noexcept;
std::uint64_t scavenge_rounds() noexcept;
// Releases that gave the stack's pages below its top back (deep, or the periodic
// sweep), so far (tests).
std::uint64_t deep_releases() noexcept;

// If addr lies in the guard region of the stack whose top is `top`. Async-signal-safe.
bool in_guard(const char* addr, const char* lo) noexcept;

std::size_t mappings() noexcept;
std::size_t reserved() noexcept;
const char* mode_name() noexcept;

}  // namespace stacks
}  // namespace goro::detail
