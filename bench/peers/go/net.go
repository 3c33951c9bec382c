// Go peer of troupe's network workload tcp_echo (../../WORKLOADS.md,
// "Network"): an echo server on the loopback and 4 clients, each on its own
// connection, sending 64 bytes and reading them back N/4 times.
//
// The server is Go's usual one: net.Listen, an accept loop, a goroutine per
// connection looping on Read and Write (net.Conn; TCP_NODELAY is Go's
// default). It is the shape of troupe's tcp_echo_fiber; bench/compare also
// sets it beside troupe's actor server (tcp_echo).
//
// The clients are goroutines with net.Conn by default (client=goroutine).
// ECHO_CLIENT=thread makes them troupe's shape instead: each a goroutine
// locked to its OS thread, on a blocking socket (raw socket, connect,
// write, read system calls; client=thread). That shape is not the default
// because a thread blocked in read(2) keeps its P until sysmon takes it
// back (20 us or more), which delays the server's goroutines and would
// charge a client-side cost to Go's server (at --scale 0.05 on 2 cores:
// ~70k round trips/s with goroutine clients, ~45k with thread clients).
// Each client times every round trip (p50_us, p99_us) and compares each
// echo with what it sent (the check). The clock runs from before the
// clients connect until the last one is done, as troupe's.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"
)

const (
	echoClients = 4
	echoMsg     = 64
)

// echoServe accepts connections on ln until it is closed; each gets a
// goroutine that writes back what it reads.
func echoServe(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				k, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:k]); err != nil {
					return
				}
			}
		}(c)
	}
}

// echoClient makes rounds round trips of echoMsg bytes on its own
// connection; lat gets each one's duration. Reports whether every echo was
// right.
func echoClient(addr string, rounds int64, lat []time.Duration) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	out := bytes.Repeat([]byte{'x'}, echoMsg)
	in := make([]byte, echoMsg)
	for i := int64(0); i < rounds; i++ {
		binary.LittleEndian.PutUint64(out, uint64(i))
		t0 := time.Now()
		if _, err := c.Write(out); err != nil {
			return false
		}
		if _, err := io.ReadFull(c, in); err != nil {
			return false
		}
		lat[i] = time.Since(t0)
		if !bytes.Equal(in, out) {
			return false
		}
	}
	return true
}

// echoClientThread is echoClient on a blocking POSIX socket from its own
// locked OS thread (raw socket, connect, write, read system calls), the
// shape of troupe's clients (ECHO_CLIENT=thread).
func echoClientThread(port int, rounds int64, lat []time.Duration) bool {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}) != nil {
		return false
	}
	out := bytes.Repeat([]byte{'x'}, echoMsg)
	in := make([]byte, echoMsg)
	for i := int64(0); i < rounds; i++ {
		binary.LittleEndian.PutUint64(out, uint64(i))
		t0 := time.Now()
		if k, err := syscall.Write(fd, out); err != nil || k != echoMsg {
			return false
		}
		for got := 0; got < echoMsg; {
			k, err := syscall.Read(fd, in[got:])
			if err != nil || k <= 0 {
				return false
			}
			got += k
		}
		lat[i] = time.Since(t0)
		if !bytes.Equal(in, out) {
			return false
		}
	}
	return true
}

func tcpEcho(scale float64) result {
	n := scaled(200_000, scale)
	per := n / echoClients
	if per < 1 {
		per = 1
	}
	n = per * echoClients
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{"tcp_echo", n, 0, 0, false, []string{"error=listen"}}
	}
	defer ln.Close()
	go echoServe(ln)
	addr := ln.Addr().String()
	threads := os.Getenv("ECHO_CLIENT") == "thread"
	lat := make([]time.Duration, n)
	oks := make([]bool, echoClients)
	var wg sync.WaitGroup
	wg.Add(echoClients)
	start := time.Now()
	for k := 0; k < echoClients; k++ {
		go func(k int) {
			l := lat[int64(k)*per : int64(k+1)*per]
			if threads {
				oks[k] = echoClientThread(ln.Addr().(*net.TCPAddr).Port, per, l)
			} else {
				oks[k] = echoClient(addr, per, l)
			}
			wg.Done()
		}(k)
	}
	wg.Wait()
	el := time.Since(start)
	ok := true
	for _, o := range oks {
		ok = ok && o
	}
	var extra []string
	client := "goroutine"
	if threads {
		client = "thread"
	}
	if ok {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		extra = []string{fmt.Sprintf("clients=%d msg=%d p50_us=%.1f p99_us=%.1f client=%s",
			echoClients, echoMsg, us(lat[n/2]), us(lat[n*99/100]), client)}
	}
	return result{"tcp_echo", n, el, float64(n), ok, extra}
}
