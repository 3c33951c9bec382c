// Go peer of troupe's actor workloads (../../WORKLOADS.md): skynet,
// pingpong, counting, fanin, call, spawn_idle, ring, pool, pool_sleep,
// restart (skipped: Go has no supervisors) and tickers.
//
// An actor is a goroutine that owns a mailbox: a buffered channel of
// mailboxCap messages (Go has no unbounded channel; a sender to a full
// mailbox waits, which troupe's senders never do). A synchronous call sends
// a request carrying a reply channel and waits on it. Where a workload's
// shape is forced by Go, the comment of its function says so.
package main

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// mailboxCap is the capacity of an actor's mailbox channel.
const mailboxCap = 64

// ---------------------------------------------------------------- skynet

// skyNode covers the leaves [lo, hi): a leaf sends its ordinal to parent;
// an inner node starts min(10, size) children over equal slices of its range
// (the 10-ary tree when N is a power of 10), adds their replies from its own
// mailbox and sends the sum to parent.
func skyNode(lo, hi int64, parent chan<- int64, actors *int64) {
	size := hi - lo
	if size == 1 {
		parent <- lo
		return
	}
	k := int64(10)
	if size < k {
		k = size
	}
	inbox := make(chan int64, k)
	atomic.AddInt64(actors, k)
	for c := int64(0); c < k; c++ {
		go skyNode(lo+size*c/k, lo+size*(c+1)/k, inbox, actors)
	}
	var sum int64
	for c := int64(0); c < k; c++ {
		sum += <-inbox
	}
	parent <- sum
}

func skynet(scale float64) result {
	n := scaled(1_000_000, scale)
	top := make(chan int64, 1)
	actors := int64(1)
	start := time.Now()
	go skyNode(0, n, top, &actors)
	sum := <-top
	el := time.Since(start)
	return result{"skynet", n, el, float64(n), sum == n*(n-1)/2,
		[]string{fmt.Sprintf("actors=%d", atomic.LoadInt64(&actors))}}
}

// ---------------------------------------------------------------- pingpong

// pingpong: A sends i to B's mailbox, B answers i to A's mailbox; A waits for
// the answer before the next ping. rate counts messages (2 per round trip).
// PAIRS (environment, default 1) independent pairs share the N round trips,
// N/PAIRS each, all at once: the goroutines are started before the clock,
// and each A waits for its go (sent after the clock starts, as troupe's).
func pingpong(scale float64) result {
	n := scaled(2_000_000, scale)
	pairs := envParam("PAIRS", 1)
	per := n / pairs
	if per < 1 {
		per = 1
	}
	n = per * pairs
	done := make(chan bool, pairs)
	starts := make([]chan struct{}, pairs)
	for p := range starts {
		start := make(chan struct{}, 1)
		starts[p] = start
		aBox, bBox := make(chan int64, mailboxCap), make(chan int64, mailboxCap)
		go func() { // B
			for v := range bBox {
				aBox <- v
			}
		}()
		go func() { // A
			<-start
			ok := true
			for i := int64(0); i < per; i++ {
				bBox <- i
				ok = ok && <-aBox == i
			}
			close(bBox)
			done <- ok
		}()
	}
	start := time.Now()
	for _, s := range starts {
		s <- struct{}{}
	}
	ok := true
	for p := int64(0); p < pairs; p++ {
		ok = <-done && ok
	}
	el := time.Since(start)
	return result{"pingpong", n, el, float64(2 * n), ok,
		[]string{fmt.Sprintf("msgs=%d", 2*n),
			fmt.Sprintf("roundtrips_per_s=%.0f", float64(n)/el.Seconds()),
			fmt.Sprintf("pairs=%d", pairs)}}
}

// ---------------------------------------------------------------- counting

// counterMsg is an increment (reply nil) or a get (reply set).
type counterMsg struct {
	reply chan int64
}

func counting(scale float64) result {
	n := scaled(10_000_000, scale)
	box := make(chan counterMsg, mailboxCap)
	go func() { // the counter actor
		var count int64
		for m := range box {
			if m.reply == nil {
				count++
			} else {
				m.reply <- count
			}
		}
	}()
	done := make(chan int64)
	start := time.Now()
	go func() { // the producer
		for i := int64(0); i < n; i++ {
			box <- counterMsg{}
		}
		reply := make(chan int64, 1)
		box <- counterMsg{reply}
		done <- <-reply
	}()
	got := <-done
	el := time.Since(start)
	close(box)
	return result{"counting", n, el, float64(n), got == n, nil}
}

// ---------------------------------------------------------------- fanin

// fanin: producer k sends the values [N·k/P, N·(k+1)/P) to the sink's
// mailbox; the sink counts and adds until it has N values. P = PRODUCERS
// (environment, default 8); N is rounded down to a multiple of P (at least
// one value each), so the total stays N.
func fanin(scale float64) result {
	producers := envParam("PRODUCERS", 8)
	n := scaled(8_000_000, scale) / producers
	if n < 1 {
		n = 1
	}
	n *= producers
	sink := make(chan int64, mailboxCap)
	done := make(chan [2]int64)
	start := time.Now()
	go func() {
		var count, sum int64
		for count < n {
			sum += <-sink
			count++
		}
		done <- [2]int64{count, sum}
	}()
	for k := int64(0); k < producers; k++ {
		go func(k int64) {
			for v := n * k / producers; v < n*(k+1)/producers; v++ {
				sink <- v
			}
		}(k)
	}
	got := <-done
	el := time.Since(start)
	return result{"fanin", n, el, float64(n), got[0] == n && got[1] == n*(n-1)/2,
		[]string{fmt.Sprintf("producers=%d", producers)}}
}

// ---------------------------------------------------------------- call

// call: the client makes N sequential calls to a server that adds 1 to its
// state and replies with it. The client's reply channel (room for one) is
// made once and carried by every request, as a Go client would.
func call(scale float64) result {
	n := scaled(1_000_000, scale)
	box := make(chan chan int64, mailboxCap)
	go func() { // the server
		var state int64
		for reply := range box {
			state++
			reply <- state
		}
	}()
	done := make(chan bool)
	start := time.Now()
	go func() { // the client
		reply := make(chan int64, 1)
		ok := true
		for i := int64(1); i <= n; i++ {
			box <- reply
			ok = ok && <-reply == i
		}
		done <- ok
	}()
	ok := <-done
	el := time.Since(start)
	close(box)
	return result{"call", n, el, float64(n), ok, nil}
}

// ---------------------------------------------------------------- spawn_idle

// spawnIdle: N goroutines that each count themselves started and block on
// their mailbox (a channel with room for the stop). ms runs until all have
// started; bytes_per_actor is the RSS growth over N with the table of
// mailboxes allocated and touched before the baseline; teardown_ms: send
// each its stop and wait until all have exited.
// N (environment) sets the number of goroutines, whatever the scale.
func spawnIdle(scale float64) result {
	n := envParam("N", scaled(1_000_000, scale))
	boxes := make([]chan struct{}, n)
	for i := range boxes {
		boxes[i] = nil
	}
	var started, stopped sync.WaitGroup
	started.Add(int(n))
	stopped.Add(int(n))
	runtime.GC()
	before := vmRSS()
	start := time.Now()
	for i := range boxes {
		box := make(chan struct{}, 1)
		boxes[i] = box
		go func() {
			started.Done()
			<-box
			stopped.Done()
		}()
	}
	started.Wait()
	el := time.Since(start)
	after := vmRSS()
	t0 := time.Now()
	for _, box := range boxes {
		box <- struct{}{}
	}
	stopped.Wait()
	teardown := time.Since(t0)
	growth := after - before
	return result{"spawn_idle", n, el, float64(n), before > 0 && after > 0,
		[]string{
			fmt.Sprintf("bytes_per_actor=%.0f", float64(growth)/float64(n)),
			fmt.Sprintf("teardown_ms=%.3f", float64(teardown.Nanoseconds())/1e6),
			fmt.Sprintf("rss_growth_mb=%.1f", float64(growth)/(1<<20)),
		}}
}

// ---------------------------------------------------------------- ring

// ring: 1,000 members, member i forwards to member (i+1) mod 1000. The
// token starts at N at member 0; a member that gets t > 0 sends t-1 on, one
// that gets 0 reports its index. Building the ring is not timed; closing the
// mailboxes afterwards stops the members.
func ring(scale float64) result {
	const size = 1000
	n := scaled(10_000_000, scale)
	boxes := make([]chan int64, size)
	for i := range boxes {
		boxes[i] = make(chan int64, mailboxCap)
	}
	done := make(chan int)
	hops := make([]int64, size)
	var exited sync.WaitGroup
	exited.Add(size)
	for i := 0; i < size; i++ {
		go func(i int) {
			next := boxes[(i+1)%size]
			var count int64
			for t := range boxes[i] {
				if t == 0 {
					done <- i
					continue
				}
				count++
				next <- t - 1
			}
			hops[i] = count
			exited.Done()
		}(i)
	}
	start := time.Now()
	boxes[0] <- n
	last := <-done
	el := time.Since(start)
	for _, b := range boxes {
		close(b)
	}
	exited.Wait()
	var total int64
	for _, h := range hops {
		total += h
	}
	return result{"ring", n, el, float64(n), int64(last) == n%size && total == n,
		[]string{fmt.Sprintf("actors=%d", size)}}
}

// ---------------------------------------------------------------- pool

type job struct {
	x     int64
	reply chan<- int64
}

func pool(scale float64) result {
	n := scaled(1_000_000, scale)
	el, ok := poolRun(n, 4, 1000, 0)
	return result{"pool", n, el, float64(n), ok,
		[]string{"workers=4", "in_flight=1000", "supervised=no"}}
}

func poolSleep(scale float64) result {
	const workers = 100
	n := scaled(10_000, scale)
	el, ok := poolRun(n, workers, 1000, 10*time.Millisecond)
	ideal := time.Duration((n+workers-1)/workers) * 10 * time.Millisecond
	return result{"pool_sleep", n, el, float64(n), ok,
		[]string{
			fmt.Sprintf("ideal_ratio=%.3f", el.Seconds()/ideal.Seconds()),
			fmt.Sprintf("ideal_ms=%d", ideal.Milliseconds()),
			fmt.Sprintf("workers=%d", workers), "in_flight=1000", "supervised=no",
		}}
}

// poolRun: a manager goroutine hands jobs round-robin to `workers` worker
// goroutines, which reply straight to the client; the client keeps at most
// `window` jobs in flight and adds the results (Σx², wrapping uint64).
// Nothing supervises the workers (Go has no supervisors). With pause > 0 a
// job first waits that long on a timer (time.Sleep parks the goroutine, not
// its OS thread).
func poolRun(n int64, workers, window int, pause time.Duration) (time.Duration, bool) {
	wboxes := make([]chan job, workers)
	for w := range wboxes {
		wbox := make(chan job, mailboxCap)
		wboxes[w] = wbox
		go func() { // a worker
			for j := range wbox {
				if pause > 0 {
					time.Sleep(pause)
				}
				j.reply <- j.x * j.x
			}
		}()
	}
	mgr := make(chan job, mailboxCap)
	go func() { // the manager: round-robin
		next := 0
		for j := range mgr {
			wboxes[next] <- j
			next = (next + 1) % len(wboxes)
		}
		for _, wbox := range wboxes {
			close(wbox)
		}
	}()
	// The client's mailbox has room for its whole window, so a worker never
	// waits on it.
	replies := make(chan int64, window)
	done := make(chan uint64)
	start := time.Now()
	go func() { // the client
		var sum uint64
		x := int64(1)
		for ; x <= n && x <= int64(window); x++ {
			mgr <- job{x, replies}
		}
		for got := int64(0); got < n; got++ {
			sum += uint64(<-replies)
			if x <= n {
				mgr <- job{x, replies}
				x++
			}
		}
		done <- sum
	}()
	sum := <-done
	el := time.Since(start)
	close(mgr)
	var want uint64
	for x := uint64(1); x <= uint64(n); x++ {
		want += x * x
	}
	return el, sum == want
}

// ---------------------------------------------------------------- tickers

// tickMsg is a tick (reply nil) or a request for the collector's count.
type tickMsg struct {
	reply chan int64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tickers: 10,000 goroutines, each with a time.Ticker of its own period
// (uniform 500..3000 ms, splitmix64 with a fixed seed), send a tick to a
// collector goroutine on every tick; the run lasts max(2 s, 10 s × scale)
// (the actor count is not scaled). cpu_pct = process CPU time over the
// window / wall; tick_accuracy = ticks counted / Σ⌊window_i / period_i⌋ (a
// Go ticker first fires one period after it is made).
func tickers(scale float64) result {
	const n = 10_000
	dur := time.Duration(float64(10*time.Second) * scale)
	if dur < 2*time.Second {
		dur = 2 * time.Second
	}
	periods := make([]time.Duration, n)
	seed := uint64(42)
	for i := range periods {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		periods[i] = time.Duration(500+z%2501) * time.Millisecond
	}
	starts := make([]time.Time, n)
	box := make(chan tickMsg, mailboxCap)
	go func() { // the collector
		var count int64
		for m := range box {
			if m.reply == nil {
				count++
			} else {
				m.reply <- count
			}
		}
	}()
	stop := make(chan struct{})
	var ready, exited sync.WaitGroup
	ready.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			t := time.NewTicker(periods[i])
			starts[i] = time.Now()
			ready.Done()
			for {
				select {
				case <-t.C:
					box <- tickMsg{}
				case <-stop:
					t.Stop()
					exited.Done()
					return
				}
			}
		}(i)
	}
	ready.Wait()
	cpu0, t0 := cpuTime(), time.Now()
	time.Sleep(dur)
	cpu1, tEnd := cpuTime(), time.Now()
	reply := make(chan int64, 1)
	box <- tickMsg{reply}
	observed := <-reply
	close(stop)
	exited.Wait()
	close(box)
	var expected int64
	for i, p := range periods {
		expected += int64(tEnd.Sub(starts[i]) / p)
	}
	wall := tEnd.Sub(t0)
	acc := float64(observed) / float64(expected)
	cpuPct := 100 * (cpu1 - cpu0).Seconds() / wall.Seconds()
	return result{"tickers", n, wall, float64(observed), expected > 0 && math.Abs(acc-1) <= 0.05,
		[]string{
			fmt.Sprintf("cpu_pct=%.2f", cpuPct),
			fmt.Sprintf("tick_accuracy=%.4f", acc),
			fmt.Sprintf("ticks=%d", observed),
			fmt.Sprintf("expected_ticks=%d", expected),
		}}
}
