// goro/runtime.h — starting goroutines and asking the runtime about itself.
//
// A goroutine is a function running on its own small, growable stack, multiplexed
// with many others over a few OS threads by goro's scheduler (M:N). Starting one
// costs nanoseconds; a goroutine that blocks on a goro primitive parks and frees its
// thread for others.
//
//   goro::run([] {
//     goro::WaitGroup wg;
//     for (int i = 0; i < 1000; ++i) {
//       wg.add(1);
//       goro::go([&wg](int n) { work(n); wg.done(); }, i);
//     }
//     wg.wait();
//   });
//
// The runtime starts by itself on first use. `configure` (before that) or the
// environment variables GORO_PROCS, GORO_STACK_SIZE, GORO_STACK_GUARD and
// GORO_MAX_THREADS set it up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "goro/detail/spawn.h"

namespace goro {

// How the runtime is set up. A zero field means "use the environment variable, else
// the default".
struct Options {
  // Number of Ps: goroutines that may run in parallel. Env GORO_PROCS; default: the
  // CPUs this process may use (affinity mask and cgroup CPU quota both counted).
  int procs = 0;
  // Virtual reservation per goroutine stack, in bytes, guard page included. Pages are
  // committed only when touched, so a goroutine costs one page until it grows.
  // Env GORO_STACK_SIZE (bytes, or with a K/M/G suffix); default 128 KiB; at least
  // 16 KiB; rounded up to whole pages.
  std::size_t stack_size = 0;
  // How the guard page below each stack is made. Env GORO_STACK_GUARD
  // (auto|madvise|mprotect). `madvise` uses MADV_GUARD_INSTALL (Linux 6.13+), which
  // costs no kernel mapping; `mprotect` costs two mappings per stack and so is
  // limited by vm.max_map_count; `automatic` uses madvise where the kernel has it.
  enum class StackGuard { automatic, madvise, mprotect };
  StackGuard stack_guard = StackGuard::automatic;
  // Most OS threads that run goroutines or blocking calls (Ms), Ps' threads included.
  // A P whose thread is inside goro::blocking, or stuck in one goroutine for 10 ms,
  // is handed to another thread only while that stays within this bound; past it,
  // the P's other goroutines wait for the call (or the goroutine) to finish. Env
  // GORO_MAX_THREADS; default 10000 (Go's limit); at least procs + 1.
  int max_threads = 0;
};

// Sets the runtime's options. Must be called before the runtime starts (before the
// first goroutine or blocking primitive); throws std::logic_error afterwards.
void configure(const Options& options);

// The options in force (after environment and defaults are applied). Starts the
// runtime if it was not started.
Options current_options();

// go(f, args...) starts f(args...) in a new goroutine, like Go's `go f(args)`.
// f and args are decay-copied now, in the calling thread; the call runs later.
// An exception escaping f is fatal, as a panic is in Go: goro prints the goroutine,
// the exception's what() and every goroutine's stack, then aborts. Use goro::Group
// to carry errors back instead. Callable from goroutines and plain threads.
template <class F, class... Args>
void go(F&& f, Args&&... args) {
  using Fn = std::decay_t<F>;
  using Tuple = std::tuple<std::decay_t<Args>...>;
  static_assert(std::is_invocable_v<Fn, std::decay_t<Args>...>,
                "goro::go: f is not callable with these arguments");
  struct Closure {
    Fn fn;
    Tuple args;
    static void call(void* self) {
      auto* c = static_cast<Closure*>(self);
      std::apply(std::move(c->fn), std::move(c->args));
    }
    static void destroy(void* self) noexcept { static_cast<Closure*>(self)->~Closure(); }
  };
  detail::Spawn s = detail::spawn_begin(sizeof(Closure), alignof(Closure));
  try {
    ::new (s.storage) Closure{Fn(std::forward<F>(f)), Tuple(std::forward<Args>(args)...)};
  } catch (...) {
    detail::spawn_abort(s);
    throw;
  }
  detail::spawn_commit(s, &Closure::call, &Closure::destroy);
}

// run(f) runs f as a goroutine and blocks the calling thread (or parks the calling
// goroutine) until it returns, like Go's `func main`. Returns f's result; an
// exception escaping f is rethrown here.
template <class F>
std::invoke_result_t<std::decay_t<F>> run(F&& f) {
  using R = std::invoke_result_t<std::decay_t<F>>;
  detail::Completion done;
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    go(
        [&done, &error](std::decay_t<F> fn) {
          try {
            std::move(fn)();
          } catch (...) {
            error = std::current_exception();
          }
          done.signal();
        },
        std::forward<F>(f));
    done.wait();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<R> result;
    go(
        [&done, &error, &result](std::decay_t<F> fn) {
          try {
            result.emplace(std::move(fn)());
          } catch (...) {
            error = std::current_exception();
          }
          done.signal();
        },
        std::forward<F>(f));
    done.wait();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

namespace detail {
// goro::blocking's halves (Go's entersyscall / exitsyscall). enter returns the calling
// goroutine, or null when there is nothing to do (a plain thread, or already inside
// blocking); exit takes that back and returns holding a P, maybe on another thread.
void* blocking_enter() noexcept;
void blocking_exit(void* token) noexcept;
}  // namespace detail

// blocking(f) runs f() on the calling thread and returns its result (or rethrows its
// exception), letting the calling goroutine's P run other goroutines meanwhile: if f
// is still running after ~20 us and there is other work, the P goes to another thread
// (Go's syscall hand-off); when f returns, the goroutine takes a P back, or waits in
// the run queue for one. Use it around calls that block the thread and that goro does
// not know of: file I/O, a blocking library, a lock of another runtime.
//
//   std::string text = goro::blocking([&] { return read_whole_file(path); });
//
// Inside f the thread is a plain thread: in_goroutine() is false there, and a goro
// primitive f waits on (a channel, a Mutex) blocks the thread, not a goroutine. A
// short f costs a few atomic operations. Threads are bounded by
// Options::max_threads. On a plain thread, blocking(f) is just f().
template <class F>
decltype(auto) blocking(F&& f) {
  using R = std::invoke_result_t<F&&>;
  void* token = detail::blocking_enter();
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(f)();
    } catch (...) {
      error = std::current_exception();
    }
    detail::blocking_exit(token);
    if (error) std::rethrow_exception(error);
  } else if constexpr (std::is_reference_v<R>) {
    std::remove_reference_t<R>* result = nullptr;
    try {
      auto&& r = std::forward<F>(f)();
      result = std::addressof(r);
    } catch (...) {
      error = std::current_exception();
    }
    detail::blocking_exit(token);
    if (error) std::rethrow_exception(error);
    return static_cast<R>(*result);
  } else {
    std::optional<R> result;
    try {
      result.emplace(std::forward<F>(f)());
    } catch (...) {
      error = std::current_exception();
    }
    detail::blocking_exit(token);
    if (error) std::rethrow_exception(error);
    return R(std::move(*result));
  }
}

// Lets other goroutines run (Go's runtime.Gosched). On a plain thread it yields the
// thread to the OS.
void yield();

// The number of goroutines that exist now (started and not yet returned).
std::int64_t num_goroutines() noexcept;

// The number of Ps (Go's runtime.GOMAXPROCS(0)). Starts the runtime if needed.
int procs();

// Whether the caller runs as a goroutine (false on a plain thread).
bool in_goroutine() noexcept;

}  // namespace goro
