// crash.cpp — what happens when a goroutine dies badly: an uncaught exception (Go's
// panic), a failed runtime check (Go's throw), and a stack overflow, detected by a
// SIGSEGV handler running on each runtime thread's alternate signal stack (a fault on
// the goroutine's own stack could not run a handler at all).
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cxxabi.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <ostream>
#include <string>
#include <typeinfo>

#include "debug/traceback.h"
#include "goro/debug.h"
#include "sched/internal.h"

namespace goro::detail {
namespace {

constexpr std::size_t kAltStackSize = 128 << 10;  // >= 64 KiB (runtime.md)

struct sigaction g_prev_segv;
struct sigaction g_prev_bus;

[[noreturn]] void report_overflow(G* g, const ucontext_t* uc, const void* addr) {
  std::uintptr_t fp = 0, pc = 0, sp = 0;
#if defined(__x86_64__)
  fp = std::uintptr_t(uc->uc_mcontext.gregs[REG_RBP]);
  pc = std::uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
  sp = std::uintptr_t(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  fp = std::uintptr_t(uc->uc_mcontext.regs[29]);
  pc = std::uintptr_t(uc->uc_mcontext.pc);
  sp = std::uintptr_t(uc->uc_mcontext.sp);
#else
  (void)uc;
#endif
  // Signal context: no allocation, no demangling.
  TraceOut out(2, /*demangle=*/false);
  out.putf(
      "runtime: goroutine %llu stack exceeds %zu-byte limit\n"
      "runtime: sp=%#lx stack=[%p, %p] fault=%p\n"
      "fatal error: stack overflow\n\n",
      static_cast<unsigned long long>(g->id), std::size_t(g->stack_hi - g->stack_lo),
      static_cast<unsigned long>(sp), static_cast<void*>(g->stack_lo),
      static_cast<void*>(g->stack_hi), addr);
  format_goroutine(out, g, "running", fp, pc);
  out.flush();
  _exit(2);
}

void chain(struct sigaction* prev, int sig, siginfo_t* info, void* uc) {
  if (prev->sa_flags & SA_SIGINFO) {
    if (prev->sa_sigaction != nullptr) {
      prev->sa_sigaction(sig, info, uc);
      return;
    }
  } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
    return;
  }
  // Default action: re-raise with the default disposition (the fault repeats on
  // return and kills the process with the right signal).
  signal(sig, SIG_DFL);
}

void on_fault(int sig, siginfo_t* info, void* ucv) {
  G* g = current_g_for_crash();
  if (g != nullptr && stacks::in_guard(static_cast<const char*>(info->si_addr), g->stack_lo))
    report_overflow(g, static_cast<ucontext_t*>(ucv), info->si_addr);
  chain(sig == SIGBUS ? &g_prev_bus : &g_prev_segv, sig, info, ucv);
}

// The stall report (GORO_STALL_REPORT), on the stalled goroutine's own thread.
std::atomic<std::int64_t> g_stall_ran_ns{0};

void on_stall_report(int, siginfo_t*, void* ucv) {
  G* g = current_g_for_crash();
  if (g == nullptr) return;  // it reached a scheduling point meanwhile
  int saved = errno;
  const auto* uc = static_cast<const ucontext_t*>(ucv);
  std::uintptr_t fp = 0, pc = 0;
#if defined(__x86_64__)
  fp = std::uintptr_t(uc->uc_mcontext.gregs[REG_RBP]);
  pc = std::uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  fp = std::uintptr_t(uc->uc_mcontext.regs[29]);
  pc = std::uintptr_t(uc->uc_mcontext.pc);
#else
  (void)uc;
#endif
  TraceOut out(2, /*demangle=*/false);  // signal context
  out.putf(
      "goro: stall: goroutine %llu has run for %lld ms without a scheduling point; the "
      "goroutines waiting for its P go to another thread\n\n",
      static_cast<unsigned long long>(g->id),
      static_cast<long long>(g_stall_ran_ns.load(std::memory_order_relaxed) / 1000000));
  format_goroutine(out, g, "running", fp, pc);
  out.flush();
  errno = saved;
}

void on_sigquit(int) {
  TraceOut out(2, /*demangle=*/false);  // signal context
  out.put("SIGQUIT: quit\n\n");
  format_all(out);
  out.flush();
  _exit(2);
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_prev_segv);
  sigaction(SIGBUS, &sa, &g_prev_bus);
  // SIGQUIT prints every goroutine, as in Go, unless the program handles it.
  struct sigaction cur;
  if (sigaction(SIGQUIT, nullptr, &cur) == 0 && cur.sa_handler == SIG_DFL) {
    struct sigaction q;
    std::memset(&q, 0, sizeof q);
    q.sa_handler = &on_sigquit;
    q.sa_flags = SA_ONSTACK;
    sigemptyset(&q.sa_mask);
    sigaction(SIGQUIT, &q, nullptr);
  }
}

void install_stall_report_handler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_stall_report;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, nullptr);
}

void request_stall_report(M* m, std::int64_t ran_ns) noexcept {
  g_stall_ran_ns.store(ran_ns, std::memory_order_relaxed);
  pthread_kill(m->thread, SIGURG);
}

void setup_thread_signals(M*) {
  void* mem =
      ::mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) fatal("goro: cannot allocate an alternate signal stack");
  stack_t ss;
  ss.ss_sp = mem;
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) fatal("goro: sigaltstack failed");
}

[[noreturn]] void crash_uncaught_exception(G* g) noexcept {
  std::string out = "panic: ";
  try {
    throw;
  } catch (const std::exception& e) {
    out += e.what();
    out += " [";
    int status = 0;
    char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
    out += status == 0 && name != nullptr ? name : typeid(e).name();
    std::free(name);
    out += "]";
  } catch (...) {
    std::type_info* t = abi::__cxa_current_exception_type();
    out += "exception of type ";
    if (t != nullptr) {
      int status = 0;
      char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
      out += status == 0 && name != nullptr ? name : t->name();
      std::free(name);
    } else {
      out += "?";
    }
  }
  TraceOut t(2, /*demangle=*/true);
  t.put(out.c_str());
  t.putf("\nfatal: uncaught exception in goroutine %llu\n\n",
         static_cast<unsigned long long>(g->id));
  format_all(t);
  t.flush();
  std::abort();
}

[[noreturn]] void fatal(const char* msg) noexcept {
  TraceOut out(2, /*demangle=*/true);
  out.putf("fatal error: %s\n\n", msg);
  format_all(out);
  out.flush();
  _exit(2);
}

[[noreturn]] void fatal_check(const char* msg, const char* file, int line) noexcept {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (%s:%d)", msg, file, line);
  fatal(buf);
}

}  // namespace goro::detail

namespace goro::debug {

void dump(std::ostream& out) {
  std::string s;
  if (detail::started()) {
    detail::TraceOut t(&s);
    detail::format_all(t);
  }
  out << s;
  out.flush();
}

}  // namespace goro::debug
