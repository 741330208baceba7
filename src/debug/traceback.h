// traceback.h — goroutine tracebacks in Go's format, written to a file descriptor with
// no allocation on the hot part, so crash and overflow handlers can use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sched/sched.h"

namespace goro::detail {

// The frame pointer and return address saved in a parked goroutine's context
// (architecture-specific: frames_<arch>.cpp). False where unsupported.
bool saved_frame(const void* ctx, std::uintptr_t* fp, std::uintptr_t* pc) noexcept;

// Appends to out: "goroutine N [state]:" and its frames. `fp`/`pc` start the walk
// (0: derive from the saved context when the goroutine is parked).
void format_goroutine(std::string& out, G* g, const char* state_override, std::uintptr_t fp,
                      std::uintptr_t pc);
// Appends every goroutine (the current one first with its live frames).
void format_all(std::string& out);
void write_all_fd(int fd, const std::string& s) noexcept;

}  // namespace goro::detail
