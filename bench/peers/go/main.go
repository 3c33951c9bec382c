// Go peer of troupe's workloads (../../WORKLOADS.md). The actor workloads
// are in actors.go, tcp_echo in net.go; this file has the fiber and channel workloads
// (fiber_switch, chan_pingpong, chan_throughput, select_fanin, fiber_spawn):
// a fiber is a goroutine, a troupe channel a Go channel of int64, tr_select a
// select statement, tr_yield runtime.Gosched.
//
// Usage: bench-go [--scale F] [workload ...]   (or SCALE=F bench-go ...)
//
// With no workload named, all run in this process in the table's order;
// ./run starts one process per workload instead. Only the standard library
// is used; GOMAXPROCS is left at its default (all cores) except in
// fiber_switch, which measures one scheduler thread (GOMAXPROCS 1).
// stdout carries only RESULT lines; anything else goes to stderr.
package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	workload string
	n        int64
	elapsed  time.Duration
	units    float64 // what rate counts in elapsed
	ok       bool
	extra    []string // "key=value"
}

// skipN as a result's n means the runtime cannot express the workload: its
// RESULT line says check=skip.
const skipN = -1

func (r result) print() {
	ms := float64(r.elapsed.Nanoseconds()) / 1e6
	rate := 0.0
	if r.elapsed > 0 {
		rate = r.units / r.elapsed.Seconds()
	}
	if r.n == skipN {
		fmt.Printf("RESULT workload=%s impl=go n=0 ms=0 rate=0 check=skip\n", r.workload)
		return
	}
	check := "ok"
	if !r.ok {
		check = "FAIL"
	}
	line := fmt.Sprintf("RESULT workload=%s impl=go n=%d ms=%.3f rate=%.0f check=%s",
		r.workload, r.n, ms, rate, check)
	for _, e := range r.extra {
		line += " " + e
	}
	fmt.Println(line)
}

func scaled(def float64, scale float64) int64 {
	n := int64(math.Round(def * scale))
	if n < 1 {
		n = 1
	}
	return n
}

// envParam is a workload's size parameter from the environment variable
// name (a positive integer), def when unset or empty; any other value ends
// the process with status 2.
func envParam(name string, def int64) int64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		fmt.Fprintf(os.Stderr, "%s=%s is not a positive integer\n", name, s)
		os.Exit(2)
	}
	return v
}

// fiberSwitch: two goroutines on one P, each calling runtime.Gosched N/2
// times; every Gosched switches to the other one.
func fiberSwitch(scale float64) result {
	n := scaled(10_000_000, scale)
	per := (n + 1) / 2
	n = per * 2
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := int64(0); i < per; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return result{"fiber_switch", n, el, float64(n), true,
		[]string{fmt.Sprintf("ns_per_yield=%.1f", float64(el.Nanoseconds())/float64(n))}}
}

// chanPingpong: A sends i on ping and waits for i+1 on pong; B answers each
// v with v+1. Both channels unbuffered.
func chanPingpong(scale float64) result {
	n := scaled(1_000_000, scale)
	ping, pong := make(chan int64), make(chan int64)
	var sum int64
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() {
		s := int64(0)
		for i := int64(0); i < n; i++ {
			ping <- i
			s += <-pong
		}
		sum = s
		wg.Done()
	}()
	go func() {
		for i := int64(0); i < n; i++ {
			v := <-ping
			pong <- v + 1
		}
		wg.Done()
	}()
	wg.Wait()
	el := time.Since(start)
	return result{"chan_pingpong", n, el, float64(n), sum == n*(n+1)/2, nil}
}

// chanThroughput: 4 producers send their share of 0..N-1 on one channel
// buffered 1,024; the last producer closes it; 4 consumers receive until
// closed.
func chanThroughput(scale float64) result {
	const producers, consumers = 4, 4
	n := scaled(8_000_000, scale)
	ch := make(chan int64, 1024)
	var left int32 = producers
	var sum, count int64
	var wg sync.WaitGroup
	wg.Add(producers + consumers)
	start := time.Now()
	for k := 0; k < consumers; k++ {
		go func() {
			s, c := int64(0), int64(0)
			for v := range ch {
				s += v
				c++
			}
			atomic.AddInt64(&sum, s)
			atomic.AddInt64(&count, c)
			wg.Done()
		}()
	}
	for k := int64(0); k < producers; k++ {
		go func(k int64) {
			lo, hi := n*k/producers, n*(k+1)/producers
			for v := lo; v < hi; v++ {
				ch <- v
			}
			if atomic.AddInt32(&left, -1) == 0 {
				close(ch)
			}
			wg.Done()
		}(k)
	}
	wg.Wait()
	el := time.Since(start)
	return result{"chan_throughput", n, el, float64(n), count == n && sum == n*(n-1)/2, nil}
}

// selectFanin: 8 producers, each with its own channel buffered 1,024, send
// their share of 0..N-1 and close it; one goroutine selects over the 8
// channels, setting a channel to nil when it is closed, until all are.
func selectFanin(scale float64) result {
	n := scaled(4_000_000, scale)
	var chs [8]chan int64
	for k := range chs {
		chs[k] = make(chan int64, 1024)
	}
	var sum, count int64
	var wg sync.WaitGroup
	wg.Add(9)
	start := time.Now()
	go func() {
		c := chs
		open := 8
		s, cnt := int64(0), int64(0)
		for open > 0 {
			var v int64
			var ok bool
			var i int
			select {
			case v, ok = <-c[0]:
				i = 0
			case v, ok = <-c[1]:
				i = 1
			case v, ok = <-c[2]:
				i = 2
			case v, ok = <-c[3]:
				i = 3
			case v, ok = <-c[4]:
				i = 4
			case v, ok = <-c[5]:
				i = 5
			case v, ok = <-c[6]:
				i = 6
			case v, ok = <-c[7]:
				i = 7
			}
			if ok {
				s += v
				cnt++
			} else {
				c[i] = nil
				open--
			}
		}
		sum, count = s, cnt
		wg.Done()
	}()
	for k := int64(0); k < 8; k++ {
		go func(k int64) {
			lo, hi := n*k/8, n*(k+1)/8
			for v := lo; v < hi; v++ {
				chs[k] <- v
			}
			close(chs[k])
			wg.Done()
		}(k)
	}
	wg.Wait()
	el := time.Since(start)
	return result{"select_fanin", n, el, float64(n), count == n && sum == n*(n-1)/2, nil}
}

// vmRSS: resident set size in bytes from /proc/self/statm, -1 if unreadable.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return -1
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return -1
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(syscall.Getpagesize())
}

// fiberSpawn: N goroutines that each count themselves started and block on
// their own mailbox (a chan struct{} with room for the stop); ms is the time
// until all have started; then each gets its stop and all exit.
func fiberSpawn(scale float64) result {
	n := scaled(1_000_000, scale)
	mboxes := make([]chan struct{}, n)
	for i := range mboxes { // touch the table's pages before the baseline
		mboxes[i] = nil
	}
	var started, stopped sync.WaitGroup
	started.Add(int(n))
	stopped.Add(int(n))
	runtime.GC()
	before := vmRSS()
	start := time.Now()
	for i := int64(0); i < n; i++ {
		mb := make(chan struct{}, 1)
		mboxes[i] = mb
		go func(mb chan struct{}) {
			started.Done()
			<-mb
			stopped.Done()
		}(mb)
	}
	started.Wait()
	el := time.Since(start)
	after := vmRSS()
	tstart := time.Now()
	for _, mb := range mboxes {
		mb <- struct{}{}
	}
	stopped.Wait()
	teardown := time.Since(tstart)
	growth := after - before
	return result{"fiber_spawn", n, el, float64(n), before > 0 && after > 0,
		[]string{
			fmt.Sprintf("bytes_per_fiber=%.0f", float64(growth)/float64(n)),
			fmt.Sprintf("teardown_ms=%.3f", float64(teardown.Nanoseconds())/1e6),
			fmt.Sprintf("rss_growth_mb=%.1f", float64(growth)/(1<<20)),
		}}
}

// restartSkip: Go has no supervisors or links, so restart is not expressed
// (WORKLOADS.md: runtimes without supervisors skip it).
func restartSkip(float64) result {
	return result{workload: "restart", n: skipN, ok: true}
}

var workloads = []struct {
	name string
	run  func(float64) result
}{
	{"skynet", skynet},
	{"pingpong", pingpong},
	{"counting", counting},
	{"fanin", fanin},
	{"call", call},
	{"spawn_idle", spawnIdle},
	{"ring", ring},
	{"pool", pool},
	{"pool_sleep", poolSleep},
	{"restart", restartSkip},
	{"tickers", tickers},
	{"fiber_switch", fiberSwitch},
	{"chan_pingpong", chanPingpong},
	{"chan_throughput", chanThroughput},
	{"select_fanin", selectFanin},
	{"fiber_spawn", fiberSpawn},
	{"tcp_echo", tcpEcho},
}

func usage() {
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.name
	}
	fmt.Fprintf(os.Stderr, "usage: %s [--scale F] [workload ...]\nworkloads: %s\n",
		os.Args[0], strings.Join(names, " "))
}

func parseScale(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		fmt.Fprintf(os.Stderr, "bad scale %q\n", s)
		os.Exit(2)
	}
	return f
}

func main() {
	scale := 1.0
	if s := os.Getenv("SCALE"); s != "" {
		scale = parseScale(s)
	}
	var names []string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--scale":
			if i+1 >= len(args) {
				usage()
				os.Exit(2)
			}
			i++
			scale = parseScale(args[i])
		case strings.HasPrefix(a, "--scale="):
			scale = parseScale(strings.TrimPrefix(a, "--scale="))
		case a == "-h" || a == "--help":
			usage()
			return
		case strings.HasPrefix(a, "-"):
			usage()
			os.Exit(2)
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		for _, w := range workloads {
			names = append(names, w.name)
		}
	}
	for _, name := range names {
		found := false
		for _, w := range workloads {
			found = found || w.name == name
		}
		if !found {
			fmt.Fprintf(os.Stderr, "unknown workload %q\n", name)
			usage()
			os.Exit(2)
		}
	}
	failed := false
	for _, name := range names {
		for _, w := range workloads {
			if w.name == name {
				runtime.GC()
				r := w.run(scale)
				r.print()
				failed = failed || !r.ok
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
