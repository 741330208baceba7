// pipeline.cpp — the concurrent prime sieve from Go's tour: a chain of goroutines,
// one per prime found, each filtering the multiples of its prime out of the stream
// it receives and passing the rest on over an unbuffered channel.
//
//   ./pipeline [n]     prints the first n primes (default 20)
#include <goro/goro.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20;
  goro::run([n] {
    goro::Chan<int> ch;
    goro::go([ch] {
      for (int i = 2;; ++i) {
        // Stop when the last filter is gone (its channel closed on us).
        try {
          ch.send(i);
        } catch (const goro::ClosedChannelError&) {
          return;
        }
      }
    });
    goro::Chan<int> in = ch;
    goro::WaitGroup filters;
    for (int k = 0; k < n; ++k) {
      int prime = *in.recv();
      std::printf("%d\n", prime);
      goro::Chan<int> out;
      filters.add(1);
      goro::go([in, out, prime, &filters] {
        // Pass on what is not a multiple of prime, until the next stage stops.
        for (;;) {
          int v = *in.recv();
          if (v % prime == 0) continue;
          try {
            out.send(v);
          } catch (const goro::ClosedChannelError&) {
            break;
          }
        }
        in.close();  // tell the previous stage to stop
        filters.done();
      });
      in = out;
    }
    in.close();  // the last stage stops; each stage then stops the one before
    filters.wait();
  });
}
