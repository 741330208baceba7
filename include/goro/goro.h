// goro/goro.h — everything goro offers: Go's concurrency model in C++20.
//
//   #include <goro/goro.h>
//   int main() {
//     goro::run([] {
//       goro::WaitGroup wg;
//       wg.add(2);
//       goro::go([&] { std::puts("hello"); wg.done(); });
//       goro::go([&] { std::puts("world"); wg.done(); });
//       wg.wait();
//     });
//   }
#pragma once

#include "goro/chan.h"
#include "goro/context.h"
#include "goro/debug.h"
#include "goro/group.h"
#include "goro/net.h"
#include "goro/runtime.h"
#include "goro/select.h"
#include "goro/sync.h"
#include "goro/time.h"
