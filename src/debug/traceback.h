// traceback.h — goroutine tracebacks in Go's format. Text goes through TraceOut: a
// fixed buffer flushed to a file descriptor (usable in a signal handler: no
// allocation, no demangling) or appended to a string (for goro::debug::dump).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sched/sched.h"

namespace goro::detail {

class TraceOut {
 public:
  // To a file descriptor. With demangle, C++ names are demangled (allocates: not in
  // a signal handler).
  TraceOut(int fd, bool demangle) noexcept : fd_(fd), demangle_(demangle) {}
  // To a string (demangled).
  explicit TraceOut(std::string* s) noexcept : str_(s), demangle_(true) {}
  ~TraceOut() { flush(); }
  TraceOut(const TraceOut&) = delete;
  TraceOut& operator=(const TraceOut&) = delete;

  void put(const char* s) noexcept;
  void putf(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
  void flush() noexcept;
  bool demangle() const noexcept { return demangle_; }

 private:
  char buf_[2048];
  std::size_t n_ = 0;
  int fd_ = -1;
  std::string* str_ = nullptr;
  bool demangle_;
};

// One word of a goroutine's stack, read by a traceback of another goroutine. Nothing
// stops that goroutine: it may have been resumed since it was seen parked, and be
// writing the word now, or its stack may already serve another goroutine. Stacks
// stay mapped, so the read is safe; what it returns may be stale, and the walk
// stops at any word outside the stack's bounds. Not instrumented by TSan or ASan
// (a sanitizer would rightly call it a race, or a read of a poisoned frame).
std::uintptr_t read_stack_word(const std::uintptr_t* p) noexcept;

// The frame pointer and return address saved in a parked goroutine's context
// (architecture-specific: frames_<arch>.cpp). False where unsupported.
bool saved_frame(const void* ctx, std::uintptr_t* fp, std::uintptr_t* pc) noexcept;

// "goroutine N [state]:" and its frames. `fp`/`pc` start the walk (0: from the saved
// context when the goroutine is parked).
void format_goroutine(TraceOut& out, G* g, const char* state_override, std::uintptr_t fp,
                      std::uintptr_t pc) noexcept;
// Every goroutine, the calling one first with its live frames.
void format_all(TraceOut& out) noexcept;

}  // namespace goro::detail
