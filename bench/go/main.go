// The comparison suite's Go column: the same workloads as bench/workloads.cpp, with
// the same parameters and the same RESULT lines.
//
//	go_workloads spawn|yield|pingpong|ring|park|mpmc|select|fib|mutex|sleep|idle [--n N] [--quick]
//	go_workloads ring [--n GOROUTINES] [--rounds R]
//
// GOMAXPROCS comes from the environment (bench/compare sets it).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func result(workload string, procs int, metric string, value float64, unit string) {
	fmt.Printf("RESULT workload=%s impl=go procs=%d metric=%s value=%g unit=%s\n", workload, procs, metric, value, unit)
}

func statusKiB(name string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			f := strings.Fields(l[len(name)+1:])
			v, _ := strconv.ParseInt(f[0], 10, 64)
			return v
		}
	}
	return -1
}

func rssPlusPTE() int64 { return (statusKiB("VmRSS") + statusKiB("VmPTE")) * 1024 }

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

const reps = 3

func spawn(n int) {
	var ns []float64
	for rep := 0; rep < reps; rep++ {
		t0 := time.Now()
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(n))
	}
	result("spawn", runtime.GOMAXPROCS(0), "ns_each", median(ns), "ns")
}

func yield(n int) {
	var ns []float64
	for rep := 0; rep < reps; rep++ {
		t0 := time.Now()
		var wg sync.WaitGroup
		wg.Add(2)
		for k := 0; k < 2; k++ {
			go func() {
				for i := 0; i < n; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(2*n))
	}
	result("yield", runtime.GOMAXPROCS(0), "ns_per_switch", median(ns), "ns")
}

// park: n goroutines blocked at once on one channel, then all released by close.
func park(n int) {
	runtime.GC()
	before := rssPlusPTE()
	rss0, pte0 := statusKiB("VmRSS"), statusKiB("VmPTE")
	var started, finished sync.WaitGroup
	gate := make(chan struct{})
	started.Add(n)
	finished.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-gate
			finished.Done()
		}()
	}
	started.Wait()
	spawnNs := float64(time.Since(t0).Nanoseconds()) / float64(n)
	after := rssPlusPTE()
	fmt.Printf("# park: per goroutine VmRSS +%.0f bytes, VmPTE +%.0f bytes\n",
		float64(statusKiB("VmRSS")-rss0)*1024/float64(n), float64(statusKiB("VmPTE")-pte0)*1024/float64(n))
	t1 := time.Now()
	close(gate)
	finished.Wait()
	wakeNs := float64(time.Since(t1).Nanoseconds()) / float64(n)
	p := runtime.GOMAXPROCS(0)
	result("park", p, "bytes_each", float64(after-before)/float64(n), "bytes")
	result("park", p, "spawn_ns_each", spawnNs, "ns")
	result("park", p, "wake_ns_each", wakeNs, "ns")
	result("park", p, "parked", float64(n), "count")
}

// pingpong: 2 goroutines bounce an int over two unbuffered channels, n round trips.
func pingpong(n int) {
	var ns []float64
	for rep := 0; rep < reps; rep++ {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v + 1
			}
		}()
		t0 := time.Now()
		v := 0
		for i := 0; i < n; i++ {
			ping <- v
			v = <-pong
		}
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(n))
		close(ping)
		if v != n {
			fmt.Fprintln(os.Stderr, "pingpong: wrong count", v)
			os.Exit(1)
		}
	}
	result("pingpong", runtime.GOMAXPROCS(0), "ns_per_round_trip", median(ns), "ns")
}

// ring: g goroutines in a ring of unbuffered channels; a token goes round `rounds`
// times. Goroutine i receives on ring[i] and sends on ring[(i+1)%g]; the last hop
// goes to `done` instead of back to goroutine 0. Timed from the first send to the
// last receive, after every goroutine has started.
func ring(g, rounds int) {
	var ns []float64
	hops := g * rounds
	for rep := 0; rep < reps; rep++ {
		chans := make([]chan int, g)
		for i := range chans {
			chans[i] = make(chan int)
		}
		done := make(chan int)
		var started sync.WaitGroup
		started.Add(g)
		for i := 0; i < g; i++ {
			in, out, last := chans[i], chans[(i+1)%g], i == g-1
			go func() {
				started.Done()
				for r := 0; r < rounds; r++ {
					v := <-in
					if last && r == rounds-1 {
						done <- v + 1
					} else {
						out <- v + 1
					}
				}
			}()
		}
		started.Wait()
		t0 := time.Now()
		chans[0] <- 0
		v := <-done
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(hops))
		if v != hops {
			fmt.Fprintln(os.Stderr, "ring: wrong hop count", v)
			os.Exit(1)
		}
	}
	fmt.Printf("# ring: %d goroutines, %d rounds, %d hops\n", g, rounds, hops)
	result("ring", runtime.GOMAXPROCS(0), "ns_per_hop", median(ns), "ns")
}

// mpmc: 4 producers send n ints in all on one channel of capacity 1024; 4 consumers
// receive until it is closed.
func mpmc(n int) {
	const producers, consumers, capacity = 4, 4, 1024
	var ns []float64
	for rep := 0; rep < reps; rep++ {
		ch := make(chan int, capacity)
		var prod, cons sync.WaitGroup
		var total int64
		var mu sync.Mutex
		prod.Add(producers)
		cons.Add(consumers)
		t0 := time.Now()
		for c := 0; c < consumers; c++ {
			go func() {
				var sum int64
				for v := range ch {
					sum += int64(v)
				}
				mu.Lock()
				total += sum
				mu.Unlock()
				cons.Done()
			}()
		}
		for p := 0; p < producers; p++ {
			lo, hi := n*p/producers, n*(p+1)/producers
			go func() {
				for i := lo; i < hi; i++ {
					ch <- i
				}
				prod.Done()
			}()
		}
		prod.Wait()
		close(ch)
		cons.Wait()
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(n))
		if want := int64(n) * int64(n-1) / 2; total != want {
			fmt.Fprintln(os.Stderr, "mpmc: wrong sum", total, "want", want)
			os.Exit(1)
		}
	}
	result("mpmc", runtime.GOMAXPROCS(0), "ns_per_item", median(ns), "ns")
}

// selectBench: 2 goroutines exchanging over 2-case selects, n rounds. Each round one
// int goes from the sender's select (send on a or on b) to the receiver's select
// (receive from a or from b); the figure is wall time per round.
func selectBench(n int) {
	var ns []float64
	for rep := 0; rep < reps; rep++ {
		a, b := make(chan int), make(chan int)
		got := make(chan int64)
		go func() {
			var sum int64
			for i := 0; i < n; i++ {
				select {
				case v := <-a:
					sum += int64(v)
				case v := <-b:
					sum += int64(v)
				}
			}
			got <- sum
		}()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			select {
			case a <- i:
			case b <- i:
			}
		}
		sum := <-got
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(n))
		if want := int64(n) * int64(n-1) / 2; sum != want {
			fmt.Fprintln(os.Stderr, "select: wrong sum", sum, "want", want)
			os.Exit(1)
		}
	}
	result("select", runtime.GOMAXPROCS(0), "ns_per_select", median(ns), "ns")
}

const fibSerialBelow = 15 // fib(n) for n <= 15 is a plain recursive call

func fibSerial(n int) int {
	if n < 2 {
		return n
	}
	return fibSerial(n-1) + fibSerial(n-2)
}

// fibGo: above n=15, each of the two recursive calls runs in a goroutine of its own,
// joined by a WaitGroup.
func fibGo(n int) int {
	if n <= fibSerialBelow {
		return fibSerial(n)
	}
	var a, b int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { a = fibGo(n - 1); wg.Done() }()
	go func() { b = fibGo(n - 2); wg.Done() }()
	wg.Wait()
	return a + b
}

const fibReps = 5 // fib(32) takes ~10 ms: one untimed run, then the median of five

func fib(n int) {
	want := fibSerial(n)
	var ms []float64
	for rep := -1; rep < fibReps; rep++ {
		t0 := time.Now()
		got := fibGo(n)
		if rep >= 0 {
			ms = append(ms, float64(time.Since(t0).Nanoseconds())/1e6)
		}
		if got != want {
			fmt.Fprintln(os.Stderr, "fib: wrong value", got, "want", want)
			os.Exit(1)
		}
	}
	fmt.Printf("# fib(%d) = %d, a goroutine per call above n=%d\n", n, want, fibSerialBelow)
	result("fib", runtime.GOMAXPROCS(0), "ms", median(ms), "ms")
}

// mutex: 1,000 goroutines doing n lock/increment/unlock in all (n/1000 each).
func mutex(n int) {
	const g = 1000
	var ns []float64
	for rep := 0; rep < reps; rep++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		counter := 0
		each := n / g
		wg.Add(g)
		t0 := time.Now()
		for i := 0; i < g; i++ {
			go func() {
				for k := 0; k < each; k++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		ns = append(ns, float64(time.Since(t0).Nanoseconds())/float64(g*each))
		if counter != g*each {
			fmt.Fprintln(os.Stderr, "mutex: wrong count", counter)
			os.Exit(1)
		}
	}
	result("mutex", runtime.GOMAXPROCS(0), "ns_per_lock", median(ns), "ns")
}

// sleepBench: n goroutines sleeping i%100+1 ms each, all at once: wall ms from the
// first spawn to the last wake-up, and the 99th percentile of lateness in ms.
func sleepBench(n int) {
	var wall, p99 []float64
	for rep := 0; rep < reps; rep++ {
		late := make([]int64, n)
		var wg sync.WaitGroup
		wg.Add(n)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			go func(i int) {
				d := time.Duration(i%100+1) * time.Millisecond
				deadline := time.Now().Add(d)
				time.Sleep(d)
				late[i] = int64(time.Since(deadline))
				wg.Done()
			}(i)
		}
		wg.Wait()
		wall = append(wall, float64(time.Since(t0).Nanoseconds())/1e6)
		sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
		if late[0] < 0 {
			fmt.Fprintln(os.Stderr, "sleep: woke before its deadline", late[0])
			os.Exit(1)
		}
		p99 = append(p99, float64(late[len(late)*99/100])/1e6)
	}
	p := runtime.GOMAXPROCS(0)
	result("sleep", p, "wall_ms", median(wall), "ms")
	result("sleep", p, "p99_late_ms", median(p99), "ms")
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func idle(seconds int) {
	var wg sync.WaitGroup
	n := runtime.GOMAXPROCS(0) * 4
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { runtime.Gosched(); wg.Done() }()
	}
	wg.Wait()
	c0 := cpuSeconds()
	time.Sleep(time.Duration(seconds) * time.Second)
	result("idle", runtime.GOMAXPROCS(0), "cpu_seconds", cpuSeconds()-c0, "cpu_s")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_workloads spawn|yield|pingpong|ring|park|mpmc|select|fib|mutex|sleep|idle [--n N] [--rounds R] [--quick]")
		os.Exit(2)
	}
	quick := false
	n, rounds := -1, -1
	for i := 2; i < len(os.Args); i++ {
		switch os.Args[i] {
		case "--quick":
			quick = true
		case "--n", "--rounds":
			if i+1 < len(os.Args) {
				v, _ := strconv.Atoi(os.Args[i+1])
				if os.Args[i] == "--n" {
					n = v
				} else {
					rounds = v
				}
				i++
			}
		}
	}
	pickFrom := func(given, full, small int) int {
		if given > 0 {
			return given
		}
		if quick {
			return small
		}
		return full
	}
	pick := func(full, small int) int { return pickFrom(n, full, small) }
	fmt.Printf("# build: %s\n", runtime.Version())
	switch os.Args[1] {
	case "spawn":
		spawn(pick(1000000, 100000))
	case "yield":
		yield(pick(1000000, 100000))
	case "pingpong":
		pingpong(pick(1000000, 100000))
	case "ring":
		ring(pick(10000, 10000), pickFrom(rounds, 100, 10))
	case "park":
		park(pick(1000000, 100000))
	case "mpmc":
		mpmc(pick(10000000, 1000000))
	case "select":
		selectBench(pick(1000000, 100000))
	case "fib":
		fib(pick(32, 27))
	case "mutex":
		mutex(pick(10000000, 1000000))
	case "sleep":
		sleepBench(pick(100000, 10000))
	case "idle":
		idle(pick(5, 1))
	default:
		fmt.Fprintln(os.Stderr, "go_workloads: unknown workload", os.Args[1])
		os.Exit(2)
	}
}
