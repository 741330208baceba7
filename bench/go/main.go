// The comparison suite's Go column: the same workloads as bench/workloads.cpp, with
// the same parameters and the same RESULT lines.
//
//	go_workloads spawn|yield|park|idle [--n N] [--quick]
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

// park blocks n goroutines on a WaitGroup gate, as the goro version does (bench.md's
// channel-close variant comes when goro has channels).
func park(n int) {
	runtime.GC()
	before := rssPlusPTE()
	rss0, pte0 := statusKiB("VmRSS"), statusKiB("VmPTE")
	var started, gate, finished sync.WaitGroup
	started.Add(n)
	gate.Add(1)
	finished.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			gate.Wait()
			finished.Done()
		}()
	}
	started.Wait()
	spawnNs := float64(time.Since(t0).Nanoseconds()) / float64(n)
	after := rssPlusPTE()
	fmt.Printf("# park: per goroutine VmRSS +%.0f bytes, VmPTE +%.0f bytes\n",
		float64(statusKiB("VmRSS")-rss0)*1024/float64(n), float64(statusKiB("VmPTE")-pte0)*1024/float64(n))
	t1 := time.Now()
	gate.Done()
	finished.Wait()
	wakeNs := float64(time.Since(t1).Nanoseconds()) / float64(n)
	p := runtime.GOMAXPROCS(0)
	result("park", p, "bytes_each", float64(after-before)/float64(n), "bytes")
	result("park", p, "spawn_ns_each", spawnNs, "ns")
	result("park", p, "wake_ns_each", wakeNs, "ns")
	result("park", p, "parked", float64(n), "count")
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
		fmt.Fprintln(os.Stderr, "usage: go_workloads spawn|yield|park|idle [--n N] [--quick]")
		os.Exit(2)
	}
	quick := false
	n := -1
	for i := 2; i < len(os.Args); i++ {
		switch os.Args[i] {
		case "--quick":
			quick = true
		case "--n":
			if i+1 < len(os.Args) {
				n, _ = strconv.Atoi(os.Args[i+1])
				i++
			}
		}
	}
	pick := func(full, small int) int {
		if n > 0 {
			return n
		}
		if quick {
			return small
		}
		return full
	}
	fmt.Printf("# build: %s\n", runtime.Version())
	switch os.Args[1] {
	case "spawn":
		spawn(pick(1000000, 100000))
	case "yield":
		yield(pick(1000000, 100000))
	case "park":
		park(pick(1000000, 100000))
	case "idle":
		idle(pick(5, 1))
	default:
		fmt.Fprintln(os.Stderr, "go_workloads: unknown workload", os.Args[1])
		os.Exit(2)
	}
}
