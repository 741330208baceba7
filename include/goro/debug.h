// goro/debug.h — looking inside a running program.
#pragma once

#include <iosfwd>

namespace goro::debug {

// Writes every goroutine in Go's traceback format:
//
//   goroutine 7 [sync.Mutex, 2 minutes]:
//   my_function(int)
//           /path/to/binary+0x1234
//
// id, state or wait reason, how long it has waited (once over a minute, as Go), and
// its stack from frame pointers. Safe to call from any goroutine or thread.
void dump(std::ostream& out);

}  // namespace goro::debug
