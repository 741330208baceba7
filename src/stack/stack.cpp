// stack.cpp — slab reservations, guard regions and the stack pools (see stack.h).
#include "stack/stack.h"

#include <sys/mman.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "goro/detail/sema.h"
#include "sched/platform.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GORO_VALGRIND_REGISTER(lo, hi) VALGRIND_STACK_REGISTER(lo, hi)
#else
#define GORO_VALGRIND_REGISTER(lo, hi) 0
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace goro::detail::stacks {
namespace {

constexpr std::uint32_t kCacheMax = StackCache::kMax;  // warm stacks a P keeps
constexpr std::size_t kGlobalWarmMax = 1024;           // warm stacks the global pool keeps
constexpr std::size_t kScavengeStep = 512;             // stacks one scavenge_step releases at most
constexpr std::size_t kSlabBytes = 256u << 20;         // virtual bytes per slab
constexpr std::size_t kBatch = 32;                     // stacks moved between pools at once
constexpr std::size_t kMapMargin = 4096;               // mappings left for everything else
// Lines below the next stack's top that get() fetches ahead: a goroutine's first frames
// down to its first park span ~400 bytes (g_main, the closure, a sleep, park, the
// switch). Starting 100,000 sleepers on cold stacks at 1 P, interleaved pairs: six
// lines took 0.56x the time of one; four and eight lines 1.02-1.06x that of six.
constexpr std::size_t kPrefetchLines = 6;

StackConfig g_cfg{};
std::size_t g_page = 4096;
std::size_t g_guard = 4096;
bool g_inited = false;

Lock g_lock;                  // guards everything below
char* g_slab = nullptr;       // current slab
std::size_t g_slab_next = 0;  // next uncarved slot in it
std::size_t g_slab_slots = 0;
// Never destroyed: runtime threads may still use the pools while the process exits.
std::vector<char*>& g_warm = *new std::vector<char*>;  // tops of pooled stacks that may hold pages
std::vector<char*>& g_cold = *new std::vector<char*>;  // tops of pooled stacks with no pages
// The fewest stacks g_warm held since the last scavenge_round: that many beyond
// kGlobalWarmMax sat unused for a whole round.
std::size_t g_warm_low = 0;
std::atomic<std::uint64_t> g_rounds{0};         // scavenge rounds started (tests)
std::atomic<std::uint64_t> g_deep_releases{0};  // put()s that gave pages back (tests)
std::size_t g_scavenge_budget = 0;              // stacks the current round still gives back
std::size_t g_base_maps = 0;
std::size_t g_max_maps = 65530;

std::atomic<std::size_t> g_mappings{0};
std::atomic<std::size_t> g_reserved{0};

std::size_t read_max_map_count() {
  std::size_t v = 65530;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    unsigned long x;
    if (std::fscanf(f, "%lu", &x) == 1) v = x;
    std::fclose(f);
  }
  return v;
}

std::size_t count_maps() {
  std::size_t n = 0;
  if (FILE* f = std::fopen("/proc/self/maps", "r")) {
    int c;
    while ((c = std::fgetc(f)) != EOF)
      if (c == '\n') ++n;
    std::fclose(f);
  }
  return n;
}

bool kernel_has_guard_install() {
  void* p = ::mmap(nullptr, 2 * g_page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = ::madvise(p, g_page, MADV_GUARD_INSTALL) == 0;
  ::munmap(p, 2 * g_page);
  return ok;
}

[[noreturn]] void out_of_mappings() {
  char msg[512];
  std::snprintf(msg, sizeof msg,
                "goro: cannot guard more goroutine stacks: the mprotect guards use 2 kernel "
                "mappings per stack and vm.max_map_count (%zu) would be exceeded "
                "(%zu stacks reserved).\n"
                "  Raise the limit:   sysctl -w vm.max_map_count=%zu\n"
                "  or use Linux 6.13+, whose MADV_GUARD_INSTALL guards cost no mapping.\n",
                g_max_maps, g_reserved.load(), g_max_maps * 4);
  ::write(2, msg, std::strlen(msg));
  fatal("out of kernel memory mappings for goroutine stacks (vm.max_map_count)");
}

void new_slab() {
  g_slab_slots = kSlabBytes / g_cfg.stack_size;
  if (g_slab_slots < 16) g_slab_slots = 16;
  std::size_t bytes = g_slab_slots * g_cfg.stack_size;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) fatal("goro: mmap of a stack slab failed (out of address space?)");
#ifdef MADV_NOHUGEPAGE
  ::madvise(p, bytes, MADV_NOHUGEPAGE);  // one page per stack, never 2 MiB
#endif
  g_slab = static_cast<char*>(p);
  g_slab_next = 0;
  g_mappings.fetch_add(1, std::memory_order_relaxed);
}

// Carves one slot from the current slab and guards it. Called with g_lock held.
char* carve() {
  if (g_slab == nullptr || g_slab_next == g_slab_slots) new_slab();
  char* lo = g_slab + g_slab_next * g_cfg.stack_size;
  if (g_cfg.mode == GuardMode::madvise) {
    if (::madvise(lo, g_guard, MADV_GUARD_INSTALL) != 0)
      fatal("goro: madvise(MADV_GUARD_INSTALL) failed on a stack guard");
  } else {
    if (g_base_maps + g_mappings.load(std::memory_order_relaxed) + 2 + kMapMargin > g_max_maps)
      out_of_mappings();
    if (::mprotect(lo, g_guard, PROT_NONE) != 0) {
      if (errno == ENOMEM) out_of_mappings();
      fatal("goro: mprotect of a stack guard failed");
    }
    g_mappings.fetch_add(2, std::memory_order_relaxed);
  }
  ++g_slab_next;
  g_reserved.fetch_add(1, std::memory_order_relaxed);
  char* top = lo + g_cfg.stack_size;
  (void)GORO_VALGRIND_REGISTER(lo + g_guard, top);
  return top;
}

// Starts fetching the line at p to write it. On x86-64, PREFETCHW where the CPU has
// it (CPUID PRFCHW, read by init): it fetches the line for writing, where the
// default prefetch fetches it to read and the write then pays for ownership. Starting
// 100,000 goroutines on cold stacks at 1 P (bench sleep's first phase, timed alone),
// one line fetched ahead: 0.88-0.91x with it, 1.00x with the default prefetch
// (interleaved pairs).
#if defined(__x86_64__)
bool g_prefetchw = false;
#endif
inline void prefetch_for_write(const char* p) noexcept {
#if defined(__x86_64__)
  if (g_prefetchw) {
    asm volatile("prefetchw %0" ::"m"(*p));
    return;
  }
#endif
  __builtin_prefetch(p, 1);
}

void release_pages_below_top(char* top) noexcept {
  char* lo = top - g_cfg.stack_size + g_guard;
  char* keep = top - g_page;
  if (keep > lo) ::madvise(lo, std::size_t(keep - lo), MADV_DONTNEED);
}

}  // namespace

void init(std::size_t stack_size, GuardMode requested, bool automatic) {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  g_prefetchw = __get_cpuid(0x80000001u, &a, &b, &c, &d) != 0 && (c & (1u << 8)) != 0;
#endif
  g_page = std::size_t(::sysconf(_SC_PAGESIZE));
  g_guard = g_page;
  stack_size = (stack_size + g_page - 1) / g_page * g_page;
  bool has_guard = kernel_has_guard_install();
  GuardMode mode = requested;
  if (automatic) mode = has_guard ? GuardMode::madvise : GuardMode::mprotect;
  if (mode == GuardMode::madvise && !has_guard) {
    const char msg[] =
        "goro: GORO_STACK_GUARD=madvise but this kernel lacks MADV_GUARD_INSTALL "
        "(Linux 6.13+); using mprotect guards\n";
    ::write(2, msg, sizeof msg - 1);
    mode = GuardMode::mprotect;
  }
  g_cfg = StackConfig{stack_size, mode};
  g_max_maps = read_max_map_count();
  g_base_maps = count_maps();
  g_inited = true;
}

const StackConfig& config() noexcept { return g_cfg; }
std::size_t guard_size() noexcept { return g_guard; }

char* get(StackCache* cache, char** lo) {
  char* top;
  if (cache != nullptr && cache->count != 0) {
    top = cache->tops[--cache->count];
  } else {
    g_lock.lock();
    // Refill the cache with a batch, warm stacks first.
    std::size_t want = cache != nullptr ? kBatch : 1;
    char* got[kBatch];
    std::size_t n = 0;
    while (n < want && !g_warm.empty()) got[n++] = g_warm.back(), g_warm.pop_back();
    if (g_warm.size() < g_warm_low) g_warm_low = g_warm.size();
    while (n < want && !g_cold.empty()) got[n++] = g_cold.back(), g_cold.pop_back();
    while (n < want) got[n++] = carve();
    g_lock.unlock();
    top = got[0];
    // The warmest (got[1]) last: handed out next.
    for (std::size_t i = n; i > 1; --i) cache->tops[cache->count++] = got[i - 1];
  }
  // The goroutine that gets the next stack writes its first frames at the top: start
  // fetching those lines now, while this one runs (a stack last used long ago is out
  // of the caches and the TLB: bench sleep starts 100,000 goroutines on such stacks,
  // and the stores of each one's first frames waited for their lines).
  if (cache != nullptr && cache->count != 0) {
    char* next = cache->tops[cache->count - 1];
    for (std::size_t l = 1; l <= kPrefetchLines; ++l) prefetch_for_write(next - 64 * l);
    // And one line of the stack after it: each stack's top is a page of its own, whose
    // translation is rarely in the TLB (stacks are 128 KiB apart), and a second
    // prefetch into a page whose walk is under way waited for the walk (a profile of
    // bench sleep's warm runs put 16 % of their time on it). Starting the walk one
    // hand-out earlier hides it: 100,000 sleepers start 0.89x as long, bench sleep
    // 0.98x (interleaved pairs at 1 P; spawn 0.99x at 1 P, 1.00-1.01x at 2 Ps). A third
    // stack ahead: no better (0.996x).
    if (cache->count > 1) prefetch_for_write(cache->tops[cache->count - 2] - 64);
  }
  *lo = top - g_cfg.stack_size + g_guard;
  return top;
}

void put(StackCache* cache, char* top, char* min_sp) noexcept {
  bool deep = min_sp != nullptr && min_sp < top - 2 * g_page;
  if (cache != nullptr && (++cache->releases & 1023) == 0) deep = true;  // S1's periodic sweep
  if (deep) {
    release_pages_below_top(top);
    g_deep_releases.fetch_add(1, std::memory_order_relaxed);
  }
  if (cache != nullptr && cache->count < kCacheMax) {
    cache->tops[cache->count++] = top;
    return;
  }
  g_lock.lock();
  g_warm.push_back(top);
  if (cache != nullptr) {
    // Spill half the cache, the most recently released first, so the next puts stay
    // local.
    while (cache->count > kCacheMax / 2) g_warm.push_back(cache->tops[--cache->count]);
  }
  g_lock.unlock();
}

void scavenge_round() noexcept {
  if (!g_inited) return;
  g_rounds.fetch_add(1, std::memory_order_relaxed);
  g_lock.lock();
  std::size_t low = std::min(g_warm_low, g_warm.size());
  g_scavenge_budget = low > kGlobalWarmMax ? low - kGlobalWarmMax : 0;
  g_warm_low = g_warm.size();
  g_lock.unlock();
}

bool scavenge_step() noexcept {
  if (!g_inited) return false;
  std::size_t done = 0;
  while (done < kScavengeStep) {
    char* batch[kBatch];
    std::size_t n = 0;
    g_lock.lock();
    while (n < kBatch && g_scavenge_budget > 0 && g_warm.size() > kGlobalWarmMax) {
      batch[n++] = g_warm.back();
      g_warm.pop_back();
      --g_scavenge_budget;
    }
    if (g_warm.size() < g_warm_low) g_warm_low = g_warm.size();
    g_lock.unlock();
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) {
      char* lo = batch[i] - g_cfg.stack_size + g_guard;
      ::madvise(lo, std::size_t(batch[i] - lo), MADV_DONTNEED);
    }
    g_lock.lock();
    for (std::size_t i = 0; i < n; ++i) g_cold.push_back(batch[i]);
    g_lock.unlock();
    done += n;
  }
  g_lock.lock();
  bool more = g_scavenge_budget > 0 && g_warm.size() > kGlobalWarmMax;
  if (!more) g_scavenge_budget = 0;
  g_lock.unlock();
  return more;
}

std::size_t warm_pooled() noexcept {
  if (!g_inited) return 0;
  g_lock.lock();
  std::size_t n = g_warm.size();
  g_lock.unlock();
  return n;
}

std::uint64_t scavenge_rounds() noexcept { return g_rounds.load(std::memory_order_relaxed); }
std::uint64_t deep_releases() noexcept { return g_deep_releases.load(std::memory_order_relaxed); }

bool has_surplus() noexcept { return warm_pooled() > kGlobalWarmMax; }

bool in_guard(const char* addr, const char* lo) noexcept {
  return lo != nullptr && addr >= lo - g_guard && addr < lo;
}

std::size_t mappings() noexcept { return g_mappings.load(std::memory_order_relaxed); }
std::size_t reserved() noexcept { return g_reserved.load(std::memory_order_relaxed); }
const char* mode_name() noexcept {
  return g_cfg.mode == GuardMode::madvise ? "madvise" : "mprotect";
}

}  // namespace goro::detail::stacks
