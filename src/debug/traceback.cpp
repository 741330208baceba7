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

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "debug/traceback.h"
#include "sched/internal.h"

namespace goro::detail {

__attribute__((no_sanitize("address", "thread"))) std::uintptr_t read_stack_word(
    const std::uintptr_t* p) noexcept {
  return *static_cast<const volatile std::uintptr_t*>(p);
}

void TraceOut::put(const char* s) noexcept {
  while (*s != '\0') {
    if (n_ == sizeof buf_) flush();
    buf_[n_++] = *s++;
  }
}

void TraceOut::putf(const char* fmt, ...) noexcept {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(tmp);
}

void TraceOut::flush() noexcept {
  if (n_ == 0) return;
  if (str_ != nullptr) {
    try {
      str_->append(buf_, n_);
    } catch (...) {
    }
  } else {
    const char* p = buf_;
    std::size_t left = n_;
    while (left > 0) {
      ssize_t w = ::write(fd_, p, left);
      if (w <= 0) break;
      p += w;
      left -= std::size_t(w);
    }
  }
  n_ = 0;
}

namespace {

constexpr int kMaxFrames = 64;

void put_symbol(TraceOut& out, std::uintptr_t pc) noexcept {
  Dl_info info;
  // pc is a return address: look up the call instruction before it.
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0) {
    out.putf("?\n\t?+0x%lx\n", static_cast<unsigned long>(pc));
    return;
  }
  if (info.dli_sname != nullptr) {
    char* demangled = nullptr;
    if (out.demangle()) {
      int status = 0;
      demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
      if (status != 0) demangled = nullptr;
    }
    out.put(demangled != nullptr ? demangled : info.dli_sname);
    std::free(demangled);
    out.putf("+0x%lx",
             static_cast<unsigned long>(pc - reinterpret_cast<std::uintptr_t>(info.dli_saddr)));
  } else {
    out.put("?");
  }
  out.putf("\n\t%s+0x%lx\n", info.dli_fname != nullptr ? info.dli_fname : "?",
           static_cast<unsigned long>(pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
}

const char* state_name(G* g) noexcept {
  switch (g->state.load(std::memory_order_acquire)) {
    case GState::runnable: return "runnable";
    case GState::running: return "running";
    case GState::waiting: return wait_reason_name(g->wait_reason.load(std::memory_order_relaxed));
    case GState::dead: return "dead";
    case GState::free: return "free";
    case GState::syscall: return "syscall";
  }
  return "?";
}

// Reads a field of a G that the scheduler may be rewriting on another thread (the G
// finished and its record is being cleared or reused): the writers store these
// fields atomically (relaxed) for this reader. What is read may mix two lives of the
// record; a dump of a running world is a snapshot only where each G holds still.
template <class T>
T racy_field(const T& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

}  // namespace

void format_goroutine(TraceOut& out, G* g, const char* state_override, std::uintptr_t fp,
                      std::uintptr_t pc) noexcept {
  const char* state = state_override != nullptr ? state_override : state_name(g);
  const unsigned long long id = racy_field(g->id);
  bool waiting = g->state.load(std::memory_order_acquire) == GState::waiting;
  long minutes = 0;
  if (waiting) {
    std::int64_t since = g->wait_since.load(std::memory_order_relaxed);
    if (since != 0) minutes = long((coarse_nanotime() - since) / 60000000000LL);
  }
  if (minutes >= 1)
    out.putf("goroutine %llu [%s, %ld minutes]:\n", id, state, minutes);
  else
    out.putf("goroutine %llu [%s]:\n", id, state);

  if (fp == 0 && pc == 0 && waiting) saved_frame(racy_field(g->ctx), &fp, &pc);
  if (pc != 0) put_symbol(out, pc);
  auto lo = reinterpret_cast<std::uintptr_t>(racy_field(g->stack_lo));
  auto hi = reinterpret_cast<std::uintptr_t>(racy_field(g->stack_hi));
  int n = 0;
  while (fp != 0 && fp >= lo && fp + 16 <= hi && n < kMaxFrames) {
    auto* frame = reinterpret_cast<const std::uintptr_t*>(fp);
    std::uintptr_t ret = read_stack_word(frame + 1);
    std::uintptr_t next = read_stack_word(frame);
    if (ret == 0) break;
    put_symbol(out, ret);
    ++n;
    if (next <= fp) break;
    fp = next;
  }
  if (n == kMaxFrames) out.put("...additional frames elided...\n");
  if (std::uintptr_t created = racy_field(g->created_pc); created != 0) {
    out.put("created by ");
    put_symbol(out, created);
  }
  out.put("\n");
}

void format_all(TraceOut& out) noexcept {
  G* self = current_g();
  if (self != nullptr) {
    auto fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    format_goroutine(out, self, "running", fp, 0);
  }
  struct Ctx {
    TraceOut* out;
    G* self;
  } ctx{&out, self};
  for_each_g(
      [](G* g, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        if (g == c->self) return;
        GState s = g->state.load(std::memory_order_acquire);
        if (s == GState::dead) return;
        if (s == GState::running) {
          c->out->putf("goroutine %llu [running]:\n\t(on another thread)\n\n",
                       static_cast<unsigned long long>(racy_field(g->id)));
          return;
        }
        format_goroutine(*c->out, g, nullptr, 0, 0);
      },
      &ctx);
}

}  // namespace goro::detail
