// traceback.cpp — goroutine listings in Go's traceback format, from frame pointers.
//
//   goroutine 7 [sync.Mutex, 2 minutes]:
//   worker(goro::Mutex&)+0x2a
//           ./my_program+0x4012aa
//   created by main::{lambda()#1}::operator()()+0x51
//
// Parked goroutines are walked from their saved context; the calling goroutine from
// its live frame; goroutines running on other threads are listed without frames.
#include <cxxabi.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "debug/traceback.h"
#include "sched/internal.h"

namespace goro::detail {
namespace {

constexpr int kMaxFrames = 64;

void append_symbol(std::string& out, std::uintptr_t pc) {
  Dl_info info;
  char buf[256];
  // pc is a return address: look up the call instruction before it.
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) != 0) {
    if (info.dli_sname != nullptr) {
      int status = 0;
      char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
      out += status == 0 && demangled != nullptr ? demangled : info.dli_sname;
      std::free(demangled);
      std::snprintf(buf, sizeof buf, "+0x%lx", static_cast<unsigned long>(pc - reinterpret_cast<std::uintptr_t>(info.dli_saddr)));
      out += buf;
    } else {
      out += "?";
    }
    std::snprintf(buf, sizeof buf, "\n\t%s+0x%lx\n", info.dli_fname != nullptr ? info.dli_fname : "?",
                  static_cast<unsigned long>(pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
    out += buf;
  } else {
    std::snprintf(buf, sizeof buf, "?\n\t?+0x%lx\n", static_cast<unsigned long>(pc));
    out += buf;
  }
}

const char* state_name(G* g) {
  switch (g->state.load(std::memory_order_acquire)) {
    case GState::runnable: return "runnable";
    case GState::running: return "running";
    case GState::waiting: return wait_reason_name(g->wait_reason.load(std::memory_order_relaxed));
    case GState::dead: return "dead";
    case GState::free: return "free";
  }
  return "?";
}

}  // namespace

void format_goroutine(std::string& out, G* g, const char* state_override, std::uintptr_t fp,
                      std::uintptr_t pc) {
  char buf[160];
  const char* state = state_override != nullptr ? state_override : state_name(g);
  bool waiting = g->state.load(std::memory_order_acquire) == GState::waiting;
  long minutes = 0;
  if (waiting) {
    std::int64_t since = g->wait_since.load(std::memory_order_relaxed);
    if (since != 0) minutes = long((coarse_nanotime() - since) / 60000000000LL);
  }
  if (minutes >= 1)
    std::snprintf(buf, sizeof buf, "goroutine %llu [%s, %ld minutes]:\n",
                  static_cast<unsigned long long>(g->id), state, minutes);
  else
    std::snprintf(buf, sizeof buf, "goroutine %llu [%s]:\n", static_cast<unsigned long long>(g->id), state);
  out += buf;

  if (fp == 0 && pc == 0 && waiting) saved_frame(g->ctx, &fp, &pc);
  if (pc != 0) append_symbol(out, pc);
  auto lo = reinterpret_cast<std::uintptr_t>(g->stack_lo);
  auto hi = reinterpret_cast<std::uintptr_t>(g->stack_hi);
  int n = 0;
  while (fp != 0 && fp >= lo && fp + 16 <= hi && n < kMaxFrames) {
    auto* frame = reinterpret_cast<const std::uintptr_t*>(fp);
    std::uintptr_t ret = frame[1];
    std::uintptr_t next = frame[0];
    if (ret == 0) break;
    append_symbol(out, ret);
    ++n;
    if (next <= fp) break;
    fp = next;
  }
  if (n == kMaxFrames) out += "...additional frames elided...\n";
  if (g->created_pc != 0) {
    out += "created by ";
    append_symbol(out, g->created_pc);
  }
  out += "\n";
}

void format_all(std::string& out) {
  G* self = current_g();
  if (self != nullptr) {
    auto fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    format_goroutine(out, self, "running", fp, 0);
  }
  struct Ctx {
    std::string* out;
    G* self;
  } ctx{&out, self};
  for_each_g(
      [](G* g, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        if (g == c->self) return;
        GState s = g->state.load(std::memory_order_acquire);
        if (s == GState::dead) return;
        if (s == GState::running) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "goroutine %llu [running]:\n\t(on another thread)\n\n",
                        static_cast<unsigned long long>(g->id));
          *c->out += buf;
          return;
        }
        format_goroutine(*c->out, g, nullptr, 0, 0);
      },
      &ctx);
}

void write_all_fd(int fd, const std::string& s) noexcept {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= std::size_t(n);
  }
}

}  // namespace goro::detail
