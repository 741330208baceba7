// goro/select.h — waiting on several channel operations at once (Go's `select`).
//
//   std::size_t i = goro::select(
//       goro::case_recv(in, [&](std::optional<int> v) { /* v == nullopt: in closed */ }),
//       goro::case_send(out, 42, [&] { /* sent */ }),
//       goro::case_default([&] { /* nothing was ready */ }));  // optional
//
// select blocks until one case can proceed, performs exactly that one, runs its
// handler and returns the case's index (its position in the argument list, the
// default case included). When several are ready it picks one uniformly at random.
// Cases on nil channels never fire; `goro::select()` with no cases, or only nil
// channels and no default, blocks forever. A send case on a closed channel throws
// ClosedChannelError. A goroutine parks on all of its channels at once (no polling);
// a plain thread blocks. `case_recv(goro::after(d), ...)` is the timeout idiom.
//
// Handlers are optional: case_recv(ch) and case_send(ch, v) do nothing more. A
// case_recv handler takes std::optional<T> (or nothing).
//
// goro::Selector is the same with a list of cases built at run time (Go's
// reflect.Select).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/chan.h"
#include "goro/detail/chan_core.h"

namespace goro {

namespace detail {

struct NoHandler {
  void operator()() const noexcept {}
};

template <class F, class T>
void call_recv_handler(F& f, std::optional<T>&& v) {
  if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
    f(std::move(v));
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "goro::case_recv: the handler must take std::optional<T> or nothing");
    f();
  }
}

template <class T, class F>
struct RecvCase {
  ChanCore* chan;
  F handler;
  std::optional<T> value;
  static constexpr bool kDefault = false;
  SelectCase erase() noexcept { return SelectCase{chan, &value, false}; }
  void fire() { call_recv_handler(handler, std::move(value)); }
};

template <class T, class F>
struct SendCase {
  ChanCore* chan;
  T value;
  F handler;
  static constexpr bool kDefault = false;
  SelectCase erase() noexcept { return SelectCase{chan, &value, true}; }
  void fire() { handler(); }
};

template <class F>
struct DefaultCase {
  F handler;
  static constexpr bool kDefault = true;
  void fire() { handler(); }
};

template <class C>
constexpr bool is_default_case = std::remove_cvref_t<C>::kDefault;

}  // namespace detail

// A case receiving from ch; its handler gets the value, or std::nullopt if ch is
// closed and drained.
template <class T, class F = detail::NoHandler>
detail::RecvCase<T, std::decay_t<F>> case_recv(const Chan<T>& ch, F&& handler = {}) {
  return {detail::ChanAccess::core(ch), std::forward<F>(handler), std::nullopt};
}

// A case sending v on ch (v is copied or moved into the case now, and moved into
// the channel only if this case fires); its handler runs after the send.
template <class T, class V, class F = detail::NoHandler>
detail::SendCase<T, std::decay_t<F>> case_send(const Chan<T>& ch, V&& v, F&& handler = {}) {
  return {detail::ChanAccess::core(ch), T(std::forward<V>(v)), std::forward<F>(handler)};
}

// The case taken when no other case is ready now: makes the select non-blocking.
template <class F>
detail::DefaultCase<std::decay_t<F>> case_default(F&& handler) {
  return {std::forward<F>(handler)};
}

// Performs one of the cases (see the top of this file); returns its index.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t n = sizeof...(Cases);
  if constexpr (n == 0) {
    detail::block_forever(detail::WaitReason::select_no_cases);
  } else {
    constexpr std::size_t ndefault = (std::size_t{detail::is_default_case<Cases>} + ...);
    static_assert(ndefault <= 1, "goro::select: at most one case_default");
    constexpr std::size_t m = n - ndefault;
    // The channel cases, type-erased, and their argument positions.
    detail::SelectCase erased[m == 0 ? 1 : m];
    std::size_t position[m == 0 ? 1 : m];
    std::size_t default_position = n;
    std::size_t k = 0, arg = 0;
    auto collect = [&](auto& c) {
      if constexpr (detail::is_default_case<decltype(c)>) {
        default_position = arg;
      } else {
        erased[k] = c.erase();
        position[k++] = arg;
      }
      ++arg;
    };
    (collect(cases), ...);
    std::size_t chosen = default_position;
    if constexpr (m > 0) {
      int r = detail::select_impl(erased, m, ndefault != 0);
      if (r >= 0) chosen = position[r];
    }
    // m == 0: only a default case, which runs at once (Go's `select { default: }`).
    arg = 0;
    auto dispatch = [&](auto& c) {
      if (arg++ == chosen) c.fire();
    };
    (dispatch(cases), ...);
    return chosen;
  }
}

// A select whose cases are chosen at run time (Go's reflect.Select). Cases are
// numbered in the order they are added; select() can be called again and again.
//
//   goro::Selector sel;
//   for (auto& ch : inputs) sel.recv(ch, [&](std::optional<int> v) { ... });
//   std::size_t i = sel.select();
class Selector {
 public:
  Selector() = default;
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;

  template <class T, class F = detail::NoHandler>
  Selector& recv(const Chan<T>& ch, F&& handler = {}) {
    cases_.push_back(std::make_unique<Recv<T, std::decay_t<F>>>(ch, std::forward<F>(handler)));
    return *this;
  }
  // Each select() that fires this case sends a copy of v (a move-only v can be sent
  // once; a later select() then throws std::logic_error).
  template <class T, class V, class F = detail::NoHandler>
  Selector& send(const Chan<T>& ch, V&& v, F&& handler = {}) {
    cases_.push_back(std::make_unique<Send<T, std::decay_t<F>>>(ch, T(std::forward<V>(v)),
                                                                std::forward<F>(handler)));
    return *this;
  }
  // At most one; throws std::logic_error on a second.
  template <class F>
  Selector& default_case(F&& handler) {
    if (default_ >= 0) throw std::logic_error("goro::Selector: more than one default case");
    default_ = static_cast<std::ptrdiff_t>(cases_.size());
    cases_.push_back(std::make_unique<Default<std::decay_t<F>>>(std::forward<F>(handler)));
    return *this;
  }

  // Performs one case, runs its handler, and returns its index.
  std::size_t select() {
    erased_.clear();
    position_.clear();
    for (std::size_t i = 0; i < cases_.size(); ++i) {
      if (static_cast<std::ptrdiff_t>(i) == default_) continue;
      erased_.push_back(cases_[i]->prepare());
      position_.push_back(i);
    }
    if (cases_.empty()) detail::block_forever(detail::WaitReason::select_no_cases);
    int r = detail::select_impl(erased_.data(), erased_.size(), default_ >= 0);
    std::size_t chosen = r < 0 ? static_cast<std::size_t>(default_) : position_[r];
    for (std::size_t j = 0; j < erased_.size(); ++j)
      if (position_[j] != chosen) cases_[position_[j]]->reset();
    cases_[chosen]->fire();
    return chosen;
  }

  std::size_t size() const noexcept { return cases_.size(); }
  void clear() noexcept {
    cases_.clear();
    default_ = -1;
  }

 private:
  struct Case {
    virtual ~Case() = default;
    virtual detail::SelectCase prepare() = 0;
    virtual void reset() noexcept {}
    virtual void fire() = 0;
  };
  template <class T, class F>
  struct Recv final : Case {
    // G: the handler as given (an lvalue is copied, an rvalue moved).
    template <class G>
    Recv(const Chan<T>& c, G&& f) : ch(c), handler(std::forward<G>(f)) {}
    detail::SelectCase prepare() override {
      value.reset();
      return {detail::ChanAccess::core(ch), &value, false};
    }
    void fire() override { detail::call_recv_handler(handler, std::move(value)); }
    Chan<T> ch;
    F handler;
    std::optional<T> value;
  };
  template <class T, class F>
  struct Send final : Case {
    template <class G>
    Send(const Chan<T>& c, T&& v, G&& f)
        : ch(c), value(std::move(v)), handler(std::forward<G>(f)) {}
    detail::SelectCase prepare() override {
      if constexpr (std::is_copy_constructible_v<T>) {
        pending.emplace(*value);  // the channel moves from the copy, if this case fires
        return {detail::ChanAccess::core(ch), &*pending, true};
      } else {
        if (!value)
          throw std::logic_error("goro::Selector: a move-only send case was already sent");
        return {detail::ChanAccess::core(ch), &*value, true};
      }
    }
    void reset() noexcept override { pending.reset(); }
    void fire() override {
      pending.reset();
      if constexpr (!std::is_copy_constructible_v<T>) value.reset();
      handler();
    }
    Chan<T> ch;
    std::optional<T> value;
    F handler;
    std::optional<T> pending;
  };
  template <class F>
  struct Default final : Case {
    template <class G>
    explicit Default(G&& f) : handler(std::forward<G>(f)) {}
    detail::SelectCase prepare() override { return {}; }
    void fire() override { handler(); }
    F handler;
  };

  std::vector<std::unique_ptr<Case>> cases_;
  std::vector<detail::SelectCase> erased_;
  std::vector<std::size_t> position_;
  std::ptrdiff_t default_ = -1;
};

}  // namespace goro
