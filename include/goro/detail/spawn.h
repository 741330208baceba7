// goro/detail/spawn.h — what goro::go and goro::run need from the runtime.
// Not part of the public API: names here may change.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::detail {

struct G;

// A goroutine being started: its record and where its closure is constructed.
struct Spawn {
  G* g;
  void* storage;
};

// Allocates a goroutine record and room for a closure of `size` bytes (inside the
// record when small, else on the heap). Starts the runtime if needed.
Spawn spawn_begin(std::size_t size, std::size_t align);
// Gives up a spawn whose closure failed to construct.
void spawn_abort(Spawn s) noexcept;
// Makes the goroutine runnable; it will call call(storage) then destroy(storage).
void spawn_commit(Spawn s, void (*call)(void*), void (*destroy)(void*) noexcept);

// A one-shot event one goroutine or thread waits on and another signals. Parks a
// waiting goroutine; blocks a waiting plain thread.
class Completion {
 public:
  Completion() = default;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  // Wakes the waiter (now or when it arrives). Call once.
  void signal() noexcept;
  // Returns once signal() has been called. One waiter at most.
  void wait();

 private:
  // 0: nothing yet; 1: signalled; otherwise the address of the parked Waiter.
  // release/acquire: pairs the signaller's writes with the waiter's reads.
  std::atomic<std::uintptr_t> state_{0};
};

}  // namespace goro::detail
