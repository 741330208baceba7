// goro/detail/chan_core.h — the type-erased channel and select core that the
// Chan<T> and select templates are thin shells over. Not part of the public API:
// names here may change. The core lives in src/chan/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "goro/detail/sema.h"

namespace goro::detail {

struct ChanCore;  // opaque: src/chan/chan_internal.h

// How the core moves and destroys elements of one type T, without knowing T.
struct ElemOps {
  std::size_t size;
  std::size_t align;
  // Constructs a T in raw storage `dst`, moving from the T at `src`.
  void (*move_construct)(void* dst, void* src) noexcept;
  // Emplaces into the std::optional<T> at `opt`, moving from the T at `src`.
  void (*emplace)(void* opt, void* src) noexcept;
  void (*destroy)(void* p) noexcept;
};

template <class T>
struct ElemOpsFor {
  static void move_construct(void* dst, void* src) noexcept {
    ::new (dst) T(std::move(*static_cast<T*>(src)));
  }
  static void emplace(void* opt, void* src) noexcept {
    static_cast<std::optional<T>*>(opt)->emplace(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr ElemOps ops{sizeof(T), alignof(T), &move_construct, &emplace, &destroy};
};

// A new channel with a reference count of 1.
ChanCore* chan_make(std::size_t capacity, const ElemOps* ops);
void chan_retain(ChanCore* c) noexcept;
void chan_release(ChanCore* c) noexcept;  // destroys the channel at zero

// Sends the T at `src` (moved from only if the send happens). With block, waits
// until it happens; without, returns false if it cannot happen now. A nil channel
// (c == null) blocks forever, or returns false. Throws ClosedChannelError on a
// closed channel.
bool chan_send(ChanCore* c, void* src, bool block);
// Receives into the empty std::optional<T> at `dst` (left empty if the channel is
// closed and drained). With block, waits; without, returns false if nothing can be
// received now (`dst` untouched). A nil channel blocks forever, or returns false.
bool chan_recv(ChanCore* c, void* dst, bool block);
// Closes the channel; throws ClosedChannelError if it is nil or already closed.
void chan_close(ChanCore* c);
std::size_t chan_size(const ChanCore* c) noexcept;
std::size_t chan_capacity(const ChanCore* c) noexcept;

// One case of a select, type-erased. `elem`: for a send, the T to send (moved from
// only if this case fires); for a receive, the empty std::optional<T> to fill.
struct SelectCase {
  ChanCore* chan;  // null: a nil channel, never fires
  void* elem;
  bool is_send;
};

// Performs exactly one of the cases, chosen uniformly at random among those ready,
// and returns its index; with has_default, returns -1 if none is ready; without,
// blocks until one is (forever, if every channel is nil). Throws ClosedChannelError
// if the case chosen is a send on a closed channel.
int select_impl(SelectCase* cases, std::size_t n, bool has_default);

// Parks the caller forever (a nil channel, an empty select), as `reason`.
[[noreturn]] void block_forever(WaitReason reason);

}  // namespace goro::detail
