// frames_generic.cpp — architectures whose saved-context layout goro does not read yet:
// parked goroutines are listed without frames.
#if !defined(__x86_64__)
#include "debug/traceback.h"

namespace goro::detail {

bool saved_frame(const void*, std::uintptr_t*, std::uintptr_t*) noexcept { return false; }

}  // namespace goro::detail
#endif
