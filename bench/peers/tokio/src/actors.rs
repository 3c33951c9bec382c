//! Tokio peer of troupe's actor workloads (../../WORKLOADS.md): skynet,
//! pingpong, counting, fanin, call, call_thread, call_thread_4, spawn_idle,
//! ring, pool, pool_sleep, restart (skipped: Tokio has no supervisors) and
//! tickers.
//!
//! An actor is a task started with `tokio::spawn` that owns the receiving
//! half of its mailbox, a bounded `mpsc::channel(MAILBOX)` (a sender to a
//! full mailbox waits, as a Go sender does; troupe's mailboxes are
//! unbounded). A call sends a request carrying a fresh `oneshot::Sender` and
//! awaits the `oneshot::Receiver`, the usual Tokio idiom. Every workload runs
//! on a fresh multi-thread runtime (one worker per CPU) with the timer
//! enabled; the driver is itself a task.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::{env_param, scaled, vm_rss, BenchResult, WaitGroup};

/// Capacity of an actor's mailbox.
const MAILBOX: usize = 64;

fn ms_of(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

// ------------------------------------------------------------------ skynet

/// Starts the node over the leaves [lo, hi): a leaf sends its ordinal to
/// its parent; an inner node starts min(10, size) children over equal slices
/// of its range (the 10-ary tree when N is a power of 10), adds their replies
/// from its own mailbox and sends the sum up.
fn sky_node(lo: i64, hi: i64, parent: mpsc::Sender<i64>, actors: &'static AtomicI64) {
    tokio::spawn(async move {
        let size = hi - lo;
        if size == 1 {
            let _ = parent.send(lo).await;
            return;
        }
        let k = size.min(10);
        let (tx, mut rx) = mpsc::channel::<i64>(k as usize);
        actors.fetch_add(k, Ordering::Relaxed);
        for c in 0..k {
            sky_node(lo + size * c / k, lo + size * (c + 1) / k, tx.clone(), actors);
        }
        drop(tx);
        let mut sum = 0i64;
        for _ in 0..k {
            sum += rx.recv().await.unwrap_or(0);
        }
        let _ = parent.send(sum).await;
    });
}

pub async fn skynet(scale: f64) -> BenchResult {
    let n = scaled(1_000_000.0, scale);
    let actors: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(1)));
    let (tx, mut rx) = mpsc::channel::<i64>(1);
    let start = Instant::now();
    sky_node(0, n, tx, actors);
    let sum = rx.recv().await.unwrap_or(-1);
    let el = start.elapsed();
    BenchResult {
        workload: "skynet",
        n,
        elapsed: el,
        units: n as f64,
        ok: sum == n * (n - 1) / 2,
        extra: vec![format!("actors={}", actors.load(Ordering::Relaxed))],
    }
}

// ---------------------------------------------------------------- pingpong

/// A sends i to B's mailbox, B answers i to A's; A waits for the answer
/// before the next ping. rate counts messages (2 per round trip). PAIRS
/// (environment, default 1) independent pairs share the N round trips,
/// N/PAIRS each, all at once: the tasks are started before the clock, and
/// each A waits for its go (a `oneshot` sent after the clock starts, as
/// troupe's).
pub async fn pingpong(scale: f64) -> BenchResult {
    let pairs = env_param("PAIRS", 1);
    let per = (scaled(2_000_000.0, scale) / pairs).max(1);
    let n = per * pairs;
    let mut ends = Vec::with_capacity(pairs as usize);
    let mut gos = Vec::with_capacity(pairs as usize);
    for _ in 0..pairs {
        let (go_tx, go_rx) = oneshot::channel::<()>();
        gos.push(go_tx);
        let (a_tx, mut a_rx) = mpsc::channel::<i64>(MAILBOX);
        let (b_tx, mut b_rx) = mpsc::channel::<i64>(MAILBOX);
        tokio::spawn(async move {
            while let Some(v) = b_rx.recv().await {
                if a_tx.send(v).await.is_err() {
                    break;
                }
            }
        });
        ends.push(tokio::spawn(async move {
            if go_rx.await.is_err() {
                return false;
            }
            let mut ok = true;
            for i in 0..per {
                if b_tx.send(i).await.is_err() {
                    return false;
                }
                ok &= a_rx.recv().await == Some(i);
            }
            ok
        }));
    }
    let start = Instant::now();
    for go in gos {
        let _ = go.send(());
    }
    let mut ok = true;
    for a in ends {
        ok &= a.await.unwrap_or(false);
    }
    let el = start.elapsed();
    BenchResult {
        workload: "pingpong",
        n,
        elapsed: el,
        units: 2.0 * n as f64,
        ok,
        extra: vec![
            format!("msgs={}", 2 * n),
            format!("roundtrips_per_s={:.0}", n as f64 / el.as_secs_f64()),
            format!("pairs={}", pairs),
        ],
    }
}

// ---------------------------------------------------------------- counting

enum CounterMsg {
    Increment,
    Get(oneshot::Sender<i64>),
}

/// One producer sends N increments to a counter actor, then calls get.
pub async fn counting(scale: f64) -> BenchResult {
    let n = scaled(10_000_000.0, scale);
    let (tx, mut rx) = mpsc::channel::<CounterMsg>(MAILBOX);
    tokio::spawn(async move {
        let mut count = 0i64;
        while let Some(m) = rx.recv().await {
            match m {
                CounterMsg::Increment => count += 1,
                CounterMsg::Get(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        for _ in 0..n {
            if tx.send(CounterMsg::Increment).await.is_err() {
                return -1;
            }
        }
        let (rtx, rrx) = oneshot::channel();
        if tx.send(CounterMsg::Get(rtx)).await.is_err() {
            return -1;
        }
        rrx.await.unwrap_or(-1)
    });
    let got = producer.await.unwrap_or(-1);
    let el = start.elapsed();
    BenchResult {
        workload: "counting",
        n,
        elapsed: el,
        units: n as f64,
        ok: got == n,
        extra: vec![],
    }
}

// ------------------------------------------------------------------- fanin

/// Producer k sends [N·k/P, N·(k+1)/P) to the sink's mailbox; the sink
/// counts and adds until it has N values. P = PRODUCERS (environment,
/// default 8); N is rounded down to a multiple of P (at least one value
/// each), so the total stays N.
pub async fn fanin(scale: f64) -> BenchResult {
    let producers = env_param("PRODUCERS", 8);
    let n = (scaled(8_000_000.0, scale) / producers).max(1) * producers;
    let (tx, mut rx) = mpsc::channel::<i64>(MAILBOX);
    let start = Instant::now();
    let sink = tokio::spawn(async move {
        let (mut count, mut sum) = (0i64, 0i64);
        while count < n {
            match rx.recv().await {
                Some(v) => {
                    sum += v;
                    count += 1;
                }
                None => break,
            }
        }
        (count, sum)
    });
    for k in 0..producers {
        let tx = tx.clone();
        tokio::spawn(async move {
            for v in n * k / producers..n * (k + 1) / producers {
                if tx.send(v).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let (count, sum) = sink.await.unwrap_or((-1, -1));
    let el = start.elapsed();
    BenchResult {
        workload: "fanin",
        n,
        elapsed: el,
        units: n as f64,
        ok: count == n && sum == n * (n - 1) / 2,
        extra: vec![format!("producers={}", producers)],
    }
}

// -------------------------------------------------------------------- call

/// Starts the call server: adds 1 to its state per request and replies
/// with the new state.
fn call_server() -> mpsc::Sender<oneshot::Sender<i64>> {
    let (tx, mut rx) = mpsc::channel::<oneshot::Sender<i64>>(MAILBOX);
    tokio::spawn(async move {
        let mut state = 0i64;
        while let Some(reply) = rx.recv().await {
            state += 1;
            let _ = reply.send(state);
        }
    });
    tx
}

/// A client task makes N sequential calls; each reply must be i.
pub async fn call(scale: f64) -> BenchResult {
    let n = scaled(1_000_000.0, scale);
    let server = call_server();
    let start = Instant::now();
    let client = tokio::spawn(async move {
        let mut ok = true;
        for i in 1..=n {
            let (rtx, rrx) = oneshot::channel();
            if server.send(rtx).await.is_err() {
                return false;
            }
            ok &= rrx.await == Ok(i);
        }
        ok
    });
    let ok = client.await.unwrap_or(false);
    let el = start.elapsed();
    BenchResult {
        workload: "call",
        n,
        elapsed: el,
        units: n as f64,
        ok,
        extra: vec![],
    }
}

/// As call, with the client on a plain OS thread (std::thread, not a
/// runtime worker) that blocks in `Sender::blocking_send` and
/// `oneshot::Receiver::blocking_recv`: the shape of troupe's blocking
/// tr_call from a thread.
pub async fn call_thread(scale: f64) -> BenchResult {
    let n = scaled(1_000_000.0, scale);
    let server = call_server();
    let (done_tx, done_rx) = oneshot::channel::<(bool, Duration)>();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut ok = true;
        for i in 1..=n {
            let (rtx, rrx) = oneshot::channel();
            if server.blocking_send(rtx).is_err() {
                ok = false;
                break;
            }
            ok &= rrx.blocking_recv() == Ok(i);
        }
        let _ = done_tx.send((ok, start.elapsed()));
    });
    let (ok, el) = done_rx.await.unwrap_or((false, Duration::ZERO));
    BenchResult {
        workload: "call_thread",
        n,
        elapsed: el,
        units: n as f64,
        ok,
        extra: vec!["client=thread".to_string()],
    }
}

/// call_thread_4: the call server called by 4 plain OS threads at once,
/// N/4 calls each, each as call_thread's client (`blocking_send`, a fresh
/// `oneshot` per call, `blocking_recv`). Each thread checks that its replies
/// (the server's counter) grow; the calls add up to N and the largest reply
/// seen is N.
pub async fn call_thread_4(scale: f64) -> BenchResult {
    const CLIENTS: i64 = 4;
    let per = (scaled(1_000_000.0, scale) / CLIENTS).max(1);
    let n = per * CLIENTS;
    let server = call_server();
    let (done_tx, done_rx) = oneshot::channel::<(bool, i64, i64, Duration)>();
    std::thread::spawn(move || {
        let start = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let server = server.clone();
                std::thread::spawn(move || {
                    let (mut ok, mut last, mut done) = (true, 0i64, 0i64);
                    while done < per {
                        let (rtx, rrx) = oneshot::channel();
                        if server.blocking_send(rtx).is_err() {
                            ok = false;
                            break;
                        }
                        match rrx.blocking_recv() {
                            Ok(v) => {
                                ok &= v > last;
                                last = v;
                            }
                            Err(_) => {
                                ok = false;
                                break;
                            }
                        }
                        done += 1;
                    }
                    (ok, done, last)
                })
            })
            .collect();
        let (mut ok, mut calls, mut top) = (true, 0i64, 0i64);
        for c in clients {
            let (c_ok, done, last) = c.join().unwrap_or((false, 0, 0));
            ok &= c_ok;
            calls += done;
            top = top.max(last);
        }
        let _ = done_tx.send((ok, calls, top, start.elapsed()));
    });
    let (ok, calls, top, el) = done_rx.await.unwrap_or((false, 0, 0, Duration::ZERO));
    BenchResult {
        workload: "call_thread_4",
        n,
        elapsed: el,
        units: calls as f64,
        ok: ok && calls == n && top == n,
        extra: vec!["clients=4 client=thread".to_string()],
    }
}

// -------------------------------------------------------------- spawn_idle

/// N tasks that each count themselves started and wait on their mailbox (a
/// channel of () with room for the stop). ms runs until all have started;
/// bytes_per_actor = RSS growth / N with the table of senders allocated and
/// touched before the baseline; teardown_ms: send each its stop, wait until
/// all have exited. N (environment) sets the number of tasks, whatever the
/// scale.
pub async fn spawn_idle(scale: f64) -> BenchResult {
    let n = env_param("N", scaled(1_000_000.0, scale));
    let mut boxes: Vec<Option<mpsc::Sender<()>>> = Vec::with_capacity(n as usize);
    boxes.resize_with(n as usize, || None);
    for slot in boxes.iter_mut() {
        unsafe { std::ptr::write_volatile(slot, None) };
    }
    let started = WaitGroup::leak(n as usize);
    let stopped = WaitGroup::leak(n as usize);
    let before = vm_rss();
    let start = Instant::now();
    for slot in boxes.iter_mut() {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        *slot = Some(tx);
        tokio::spawn(async move {
            started.done();
            let _ = rx.recv().await;
            stopped.done();
        });
    }
    started.wait().await;
    let el = start.elapsed();
    let after = vm_rss();
    let t0 = Instant::now();
    for tx in boxes.iter().flatten() {
        let _ = tx.send(()).await;
    }
    stopped.wait().await;
    let teardown = t0.elapsed();
    let growth = after - before;
    BenchResult {
        workload: "spawn_idle",
        n,
        elapsed: el,
        units: n as f64,
        ok: before > 0 && after > 0,
        extra: vec![
            format!("bytes_per_actor={:.0}", growth as f64 / n as f64),
            format!("teardown_ms={:.3}", ms_of(teardown)),
            format!("rss_growth_mb={:.1}", growth as f64 / (1u64 << 20) as f64),
        ],
    }
}

// -------------------------------------------------------------------- ring

/// 1,000 members; member i forwards to member (i+1) mod 1000. The token
/// starts at N at member 0; a member that gets t > 0 sends t-1 on, the one
/// that gets 0 reports its index. A member stops on the token -1 (its
/// mailbox never closes: its predecessor holds a sender). Building the ring
/// is not timed. Check: the last member is N mod 1000 and the members'
/// forwards add up to N.
pub async fn ring(scale: f64) -> BenchResult {
    const SIZE: usize = 1000;
    let n = scaled(10_000_000.0, scale);
    let mut txs = Vec::with_capacity(SIZE);
    let mut rxs = Vec::with_capacity(SIZE);
    for _ in 0..SIZE {
        let (tx, rx) = mpsc::channel::<i64>(MAILBOX);
        txs.push(tx);
        rxs.push(rx);
    }
    let (done_tx, mut done_rx) = mpsc::channel::<usize>(1);
    let mut members = Vec::with_capacity(SIZE);
    for (i, mut rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % SIZE].clone();
        let done = done_tx.clone();
        members.push(tokio::spawn(async move {
            let mut forwards = 0i64;
            while let Some(t) = rx.recv().await {
                if t < 0 {
                    break;
                }
                if t == 0 {
                    let _ = done.send(i).await;
                    continue;
                }
                forwards += 1;
                if next.send(t - 1).await.is_err() {
                    break;
                }
            }
            forwards
        }));
    }
    let start = Instant::now();
    let _ = txs[0].send(n).await;
    let last = done_rx.recv().await;
    let el = start.elapsed();
    for tx in &txs {
        let _ = tx.send(-1).await;
    }
    let mut total = 0i64;
    for m in members {
        total += m.await.unwrap_or(0);
    }
    BenchResult {
        workload: "ring",
        n,
        elapsed: el,
        units: n as f64,
        ok: last == Some((n % SIZE as i64) as usize) && total == n,
        extra: vec![format!("actors={}", SIZE)],
    }
}

// -------------------------------------------------------------------- pool

struct Job {
    x: i64,
    reply: mpsc::Sender<i64>,
}

/// A manager task hands jobs round-robin to `workers` worker tasks, which
/// reply straight to the client (each job carries a clone of the client's
/// sender); the client keeps at most `window` jobs in flight and adds the
/// results (Σx², wrapping u64). Nothing supervises the workers. With pause
/// > 0 a job first awaits `tokio::time::sleep(pause)` (a timer, no thread
/// held). Returns the time and whether the sum is right.
async fn pool_run(n: i64, workers: usize, window: usize, pause: Duration) -> (Duration, bool) {
    let mut wtxs = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, mut rx) = mpsc::channel::<Job>(MAILBOX);
        wtxs.push(tx);
        tokio::spawn(async move {
            while let Some(j) = rx.recv().await {
                if pause > Duration::ZERO {
                    tokio::time::sleep(pause).await;
                }
                let _ = j.reply.send(j.x.wrapping_mul(j.x)).await;
            }
        });
    }
    let (mgr, mut mgr_rx) = mpsc::channel::<Job>(MAILBOX);
    tokio::spawn(async move {
        let mut next = 0;
        while let Some(j) = mgr_rx.recv().await {
            if wtxs[next].send(j).await.is_err() {
                break;
            }
            next = (next + 1) % wtxs.len();
        }
    });
    // The client's mailbox has room for its whole window: a worker never
    // waits on it.
    let (rtx, mut rrx) = mpsc::channel::<i64>(window);
    let start = Instant::now();
    let client = tokio::spawn(async move {
        let mut sum = 0u64;
        let mut x = 1i64;
        while x <= n && x <= window as i64 {
            let _ = mgr.send(Job { x, reply: rtx.clone() }).await;
            x += 1;
        }
        for _ in 0..n {
            match rrx.recv().await {
                Some(r) => sum = sum.wrapping_add(r as u64),
                None => break,
            }
            if x <= n {
                let _ = mgr.send(Job { x, reply: rtx.clone() }).await;
                x += 1;
            }
        }
        sum
    });
    let sum = client.await.unwrap_or(0);
    let el = start.elapsed();
    let mut want = 0u64;
    for x in 1..=n as u64 {
        want = want.wrapping_add(x.wrapping_mul(x));
    }
    (el, sum == want)
}

pub async fn pool(scale: f64) -> BenchResult {
    let n = scaled(1_000_000.0, scale);
    let (el, ok) = pool_run(n, 4, 1000, Duration::ZERO).await;
    BenchResult {
        workload: "pool",
        n,
        elapsed: el,
        units: n as f64,
        ok,
        extra: vec!["workers=4 in_flight=1000 supervised=no".to_string()],
    }
}

pub async fn pool_sleep(scale: f64) -> BenchResult {
    const WORKERS: i64 = 100;
    let n = scaled(10_000.0, scale);
    let (el, ok) = pool_run(n, WORKERS as usize, 1000, Duration::from_millis(10)).await;
    let ideal_ms = ((n + WORKERS - 1) / WORKERS * 10) as f64;
    BenchResult {
        workload: "pool_sleep",
        n,
        elapsed: el,
        units: n as f64,
        ok,
        extra: vec![format!(
            "ideal_ratio={:.3} ideal_ms={:.0} workers={} in_flight=1000 supervised=no",
            ms_of(el) / ideal_ms,
            ideal_ms,
            WORKERS
        )],
    }
}

// ----------------------------------------------------------------- tickers

enum TickMsg {
    Tick,
    Count(oneshot::Sender<i64>),
}

/// Process CPU time (user + system) from getrusage.
fn cpu_time() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(us(ru.ru_utime) + us(ru.ru_stime))
}

/// 10,000 tasks, each with a `tokio::time::interval_at(now + period,
/// period)` (first tick one period after it is made, as a Go ticker;
/// `MissedTickBehavior::Skip`, so a late tick does not burst), send a tick
/// to a collector task on every tick. Periods are uniform 500..3000 ms
/// (splitmix64, fixed seed). The run lasts max(2 s, 10 s × scale); the
/// actor count is not scaled. cpu_pct = process CPU time over the window /
/// wall; tick_accuracy = ticks counted / Σ⌊window_i / period_i⌋.
pub async fn tickers(scale: f64) -> BenchResult {
    const N: usize = 10_000;
    let dur = Duration::from_secs_f64((10.0 * scale).max(2.0));
    let mut seed = 42u64;
    let periods: Vec<Duration> = (0..N)
        .map(|_| {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            Duration::from_millis(500 + z % 2501)
        })
        .collect();
    let (tx, mut rx) = mpsc::channel::<TickMsg>(MAILBOX);
    tokio::spawn(async move {
        let mut count = 0i64;
        while let Some(m) = rx.recv().await {
            match m {
                TickMsg::Tick => count += 1,
                TickMsg::Count(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    let mut starts = Vec::with_capacity(N);
    let mut handles = Vec::with_capacity(N);
    for &p in &periods {
        let now = tokio::time::Instant::now();
        starts.push(now.into_std());
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            let mut iv = tokio::time::interval_at(now + p, p);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                iv.tick().await;
                if tx.send(TickMsg::Tick).await.is_err() {
                    break;
                }
            }
        }));
    }
    let (cpu0, t0) = (cpu_time(), Instant::now());
    tokio::time::sleep(dur).await;
    let (cpu1, t_end) = (cpu_time(), Instant::now());
    let (ctx, crx) = oneshot::channel();
    let _ = tx.send(TickMsg::Count(ctx)).await;
    let observed = crx.await.unwrap_or(-1);
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    let mut expected = 0i64;
    for (s, p) in starts.iter().zip(&periods) {
        expected += (t_end.duration_since(*s).as_nanos() / p.as_nanos()) as i64;
    }
    let wall = t_end - t0;
    let acc = observed as f64 / expected as f64;
    let cpu_pct = 100.0 * (cpu1 - cpu0).as_secs_f64() / wall.as_secs_f64();
    BenchResult {
        workload: "tickers",
        n: N as i64,
        elapsed: wall,
        units: observed as f64,
        ok: expected > 0 && (acc - 1.0).abs() <= 0.05,
        extra: vec![format!(
            "cpu_pct={:.2} tick_accuracy={:.4} ticks={} expected_ticks={}",
            cpu_pct, acc, observed, expected
        )],
    }
}

/// restart: Tokio has no supervisors or links (WORKLOADS.md: runtimes
/// without them skip it); `check=skip`.
pub async fn restart(_scale: f64) -> BenchResult {
    BenchResult {
        workload: "restart",
        n: crate::SKIP_N,
        elapsed: Duration::ZERO,
        units: 0.0,
        ok: true,
        extra: vec![],
    }
}
