// goro/chan.h — channels: typed pipes that goroutines (and plain threads) use to hand
// values to each other, as Go's `chan T`.
//
// A Chan<T> is a cheap handle; copies refer to the same channel, which lives while
// any handle does. An unbuffered channel hands each value from a sender straight to
// a receiver (both wait for the other); a buffered one holds up to capacity() values.
// A goroutine that must wait parks and frees its thread; a plain thread blocks.
//
//   goro::Chan<int> ch;                       // unbuffered
//   goro::go([ch] { for (int i = 0; i < 3; ++i) ch.send(i); ch.close(); });
//   for (int v : ch) std::printf("%d\n", v);  // 0 1 2, until closed
//
// Memory: a send happens before the receive that gets its value completes; a close
// happens before a receive that returns because the channel is closed; with an
// unbuffered channel, a receive happens before the send it pairs with completes.
//
// T must be nothrow move-constructible and nothrow destructible (values are moved
// while the channel's lock is held). T may be move-only.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "goro/detail/chan_core.h"

namespace goro {

namespace detail {
struct ChanAccess;
}

// Thrown by a send on a closed channel ("send on closed channel"), and by closing a
// closed or nil channel ("close of closed channel", "close of nil channel"): the
// panics Go raises for these mistakes.
class ClosedChannelError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <class T>
class Chan {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "goro::Chan<T>: T must be nothrow move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "goro::Chan<T>: T must be nothrow destructible");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>,
                "goro::Chan<T>: T must be a non-const object type");

 public:
  using value_type = T;

  // An unbuffered channel (Go's make(chan T)).
  Chan() : c_(detail::chan_make(0, &detail::ElemOpsFor<T>::ops)) {}
  // A channel buffering up to `capacity` values (Go's make(chan T, capacity)); 0 is
  // unbuffered.
  explicit Chan(std::size_t capacity)
      : c_(detail::chan_make(capacity, &detail::ElemOpsFor<T>::ops)) {}
  // The nil channel (Go's `var ch chan T`): send and receive block forever, a select
  // never picks it, close throws.
  static Chan nil() noexcept { return Chan(NilTag{}); }

  Chan(const Chan& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) detail::chan_retain(c_);
  }
  // Leaves `o` nil.
  Chan(Chan&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Chan& operator=(const Chan& o) noexcept {
    Chan(o).swap(*this);
    return *this;
  }
  Chan& operator=(Chan&& o) noexcept {
    Chan(std::move(o)).swap(*this);
    return *this;
  }
  ~Chan() {
    if (c_ != nullptr) detail::chan_release(c_);
  }
  void swap(Chan& o) noexcept { std::swap(c_, o.c_); }

  // Sends v (Go's `ch <- v`): blocks until a receiver takes it or it is buffered.
  // Throws ClosedChannelError if the channel is closed (also if it is closed while
  // this waits). On a nil channel, blocks forever.
  void send(const T& v) const {
    T copy(v);
    detail::chan_send(c_, &copy, true);
  }
  // As above, moving from v only if the send happens.
  void send(T&& v) const { detail::chan_send(c_, &v, true); }

  // Receives a value (Go's `v, ok := <-ch`): blocks until one is available; returns
  // std::nullopt once the channel is closed and every buffered value was received.
  // On a nil channel, blocks forever.
  std::optional<T> recv() const {
    std::optional<T> out;
    detail::chan_recv(c_, &out, true);
    return out;
  }

  // Sends v if that can happen without waiting (a receiver waits, or there is room);
  // returns whether it did. Throws ClosedChannelError on a closed channel.
  bool try_send(const T& v) const {
    T copy(v);
    return detail::chan_send(c_, &copy, false);
  }
  bool try_send(T&& v) const { return detail::chan_send(c_, &v, false); }

  // Receives a value if one is available without waiting; std::nullopt if none is,
  // or if the channel is closed and drained.
  std::optional<T> try_recv() const {
    std::optional<T> out;
    detail::chan_recv(c_, &out, false);
    return out;
  }

  // Closes the channel (Go's close(ch)): waiting receivers get std::nullopt (after
  // any buffered values), waiting senders throw ClosedChannelError. Throws
  // ClosedChannelError if the channel is already closed or is nil.
  void close() const { detail::chan_close(c_); }

  // Values buffered now (Go's len(ch)); 0 for a nil channel.
  std::size_t size() const noexcept { return c_ != nullptr ? detail::chan_size(c_) : 0; }
  // The buffer's capacity (Go's cap(ch)); 0 for unbuffered and nil channels.
  std::size_t capacity() const noexcept { return c_ != nullptr ? detail::chan_capacity(c_) : 0; }

  bool is_nil() const noexcept { return c_ == nullptr; }
  // Whether both handles refer to the same channel (Go's ch1 == ch2).
  friend bool operator==(const Chan& a, const Chan& b) noexcept { return a.c_ == b.c_; }

  // `for (T v : ch)` receives until the channel is closed and drained (Go's
  // `for v := range ch`).
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    iterator() = default;
    T& operator*() { return *cur_; }
    T* operator->() { return &*cur_; }
    iterator& operator++() {
      cur_.reset();
      detail::chan_recv(c_, &cur_, true);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.cur_.has_value();
    }

   private:
    friend class Chan;
    explicit iterator(detail::ChanCore* c) : c_(c) { ++*this; }
    detail::ChanCore* c_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() const { return iterator(c_); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend struct detail::ChanAccess;
  // A tag, not std::nullptr_t: the literal 0 converts to a null pointer as readily as
  // to std::size_t, so a nullptr_t constructor made Chan<T>(0) ambiguous.
  struct NilTag {};
  explicit Chan(NilTag) noexcept : c_(nullptr) {}
  detail::ChanCore* c_;
};

namespace detail {
// What select.h needs of a Chan: its core.
struct ChanAccess {
  template <class T>
  static ChanCore* core(const Chan<T>& ch) noexcept {
    return ch.c_;
  }
};
}  // namespace detail

}  // namespace goro
