// frames_x86_64.cpp — where Boost.Context's x86_64 SysV jump_fcontext and
// ontop_fcontext (both suspend the same way) leave the frame pointer and return
// address of a suspended context: they reserve 0x38 bytes below the return address and
// store MXCSR/x87 CW, r12-r15, rbx, rbp (at +0x30).
#if defined(__x86_64__)
#include "debug/traceback.h"

namespace goro::detail {

bool saved_frame(const void* ctx, std::uintptr_t* fp, std::uintptr_t* pc) noexcept {
  if (ctx == nullptr) return false;
  auto* words = static_cast<const std::uintptr_t*>(ctx);
  *fp = read_stack_word(words + 6);
  *pc = read_stack_word(words + 7);
  return true;
}

}  // namespace goro::detail
#endif
