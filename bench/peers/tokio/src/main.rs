//! Tokio peer of troupe's workloads (../../WORKLOADS.md). The actor
//! workloads are in actors.rs, tcp_echo in net.rs; this file has the fiber and channel workloads
//! (fiber_switch, chan_pingpong, chan_throughput, select_fanin, fiber_spawn):
//! a fiber is a task, a channel a tokio::sync::mpsc channel of i64,
//! tr_select tokio::select!, tr_yield tokio::task::yield_now.
//!
//! Usage: bench-fiber-tokio [--scale F] [workload ...]  (or SCALE=F ...)
//!
//! Where Tokio differs from the spec (and from Go):
//! - mpsc has no rendezvous channel: chan_pingpong uses capacity 1, the
//!   smallest Tokio allows.
//! - mpsc has one receiver: chan_throughput's 4 consumers share it behind a
//!   tokio::sync::Mutex (the idiom Tokio's documentation gives for several
//!   consumers), each taking one value per lock.
//! - fiber_switch runs on a current_thread runtime (one thread, as troupe's
//!   threads = 1 and Go's GOMAXPROCS 1); the others on the default
//!   multi-thread runtime (one worker per CPU).
//!
//! stdout carries only RESULT lines; anything else goes to stderr.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex, Notify};

mod actors;
mod net;

/// A result whose n is SKIP_N prints check=skip: the runtime cannot express
/// the workload.
pub const SKIP_N: i64 = -1;

pub struct BenchResult {
    workload: &'static str,
    n: i64,
    elapsed: Duration,
    units: f64,
    ok: bool,
    extra: Vec<String>,
}

impl BenchResult {
    fn print(&self) {
        if self.n == SKIP_N {
            println!("RESULT workload={} impl=tokio n=0 ms=0 rate=0 check=skip", self.workload);
            return;
        }
        let ms = self.elapsed.as_nanos() as f64 / 1e6;
        let rate = if self.elapsed > Duration::ZERO {
            self.units / self.elapsed.as_secs_f64()
        } else {
            0.0
        };
        let check = if self.ok { "ok" } else { "FAIL" };
        let mut line = format!(
            "RESULT workload={} impl=tokio n={} ms={:.3} rate={:.0} check={}",
            self.workload, self.n, ms, rate, check
        );
        for e in &self.extra {
            line.push(' ');
            line.push_str(e);
        }
        println!("{}", line);
    }
}

pub fn scaled(def: f64, scale: f64) -> i64 {
    ((def * scale).round() as i64).max(1)
}

/// A workload's size parameter from the environment variable `name` (a
/// positive integer), `def` when unset or empty; any other value ends the
/// process with status 2.
pub fn env_param(name: &str, def: i64) -> i64 {
    match std::env::var(name) {
        Ok(s) if !s.is_empty() => match s.parse::<i64>() {
            Ok(v) if v >= 1 => v,
            _ => {
                eprintln!("{}={} is not a positive integer", name, s);
                std::process::exit(2);
            }
        },
        _ => def,
    }
}

/// Go's sync.WaitGroup; leaked per run so that tasks hold a &'static.
pub struct WaitGroup {
    left: AtomicUsize,
    zero: Notify,
}

impl WaitGroup {
    pub fn leak(n: usize) -> &'static WaitGroup {
        Box::leak(Box::new(WaitGroup {
            left: AtomicUsize::new(n),
            zero: Notify::new(),
        }))
    }
    pub fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.zero.notify_one();
        }
    }
    pub async fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            self.zero.notified().await;
        }
    }
}

/// Two tasks, each calling yield_now N/2 times.
async fn fiber_switch(scale: f64) -> BenchResult {
    let n = scaled(10_000_000.0, scale);
    let per = (n + 1) / 2;
    let n = per * 2;
    let wg = WaitGroup::leak(2);
    let start = Instant::now();
    for _ in 0..2 {
        tokio::spawn(async move {
            for _ in 0..per {
                tokio::task::yield_now().await;
            }
            wg.done();
        });
    }
    wg.wait().await;
    let el = start.elapsed();
    BenchResult {
        workload: "fiber_switch",
        n,
        elapsed: el,
        units: n as f64,
        ok: true,
        extra: vec![format!(
            "ns_per_yield={:.1}",
            el.as_nanos() as f64 / n as f64
        )],
    }
}

/// A sends i on ping and waits for i+1 on pong; B answers v with v+1.
async fn chan_pingpong(scale: f64) -> BenchResult {
    let n = scaled(1_000_000.0, scale);
    let (ping_tx, mut ping_rx) = mpsc::channel::<i64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<i64>(1);
    let start = Instant::now();
    let a = tokio::spawn(async move {
        let mut sum = 0i64;
        for i in 0..n {
            if ping_tx.send(i).await.is_err() {
                break;
            }
            match pong_rx.recv().await {
                Some(w) => sum += w,
                None => break,
            }
        }
        sum
    });
    let b = tokio::spawn(async move {
        for _ in 0..n {
            match ping_rx.recv().await {
                Some(v) => {
                    if pong_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
    });
    let sum = a.await.unwrap_or(-1);
    let _ = b.await;
    let el = start.elapsed();
    BenchResult {
        workload: "chan_pingpong",
        n,
        elapsed: el,
        units: n as f64,
        ok: sum == n * (n + 1) / 2,
        extra: vec![],
    }
}

/// 4 producers send their share of 0..N-1 on one channel buffered 1,024;
/// the channel closes when the last sender is dropped; 4 consumers share
/// the receiver and take values until it reports closed.
async fn chan_throughput(scale: f64) -> BenchResult {
    const PRODUCERS: i64 = 4;
    const CONSUMERS: usize = 4;
    let n = scaled(8_000_000.0, scale);
    let (tx, rx) = mpsc::channel::<i64>(1024);
    let rx = Arc::new(Mutex::new(rx));
    let sum: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(0)));
    let count: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(0)));
    let wg = WaitGroup::leak(PRODUCERS as usize + CONSUMERS);
    let start = Instant::now();
    for _ in 0..CONSUMERS {
        let rx = rx.clone();
        tokio::spawn(async move {
            let (mut s, mut c) = (0i64, 0i64);
            loop {
                let v = rx.lock().await.recv().await;
                match v {
                    Some(v) => {
                        s += v;
                        c += 1;
                    }
                    None => break,
                }
            }
            sum.fetch_add(s, Ordering::Relaxed);
            count.fetch_add(c, Ordering::Relaxed);
            wg.done();
        });
    }
    for k in 0..PRODUCERS {
        let tx = tx.clone();
        tokio::spawn(async move {
            for v in n * k / PRODUCERS..n * (k + 1) / PRODUCERS {
                if tx.send(v).await.is_err() {
                    break;
                }
            }
            drop(tx);
            wg.done();
        });
    }
    drop(tx);
    wg.wait().await;
    let el = start.elapsed();
    let (s, c) = (sum.load(Ordering::Relaxed), count.load(Ordering::Relaxed));
    BenchResult {
        workload: "chan_throughput",
        n,
        elapsed: el,
        units: n as f64,
        ok: c == n && s == n * (n - 1) / 2,
        extra: vec![],
    }
}

/// 8 producers, each with its own channel buffered 1,024, send their share
/// of 0..N-1 and drop their sender (close); one task selects over the 8
/// receivers, disabling a branch once it reports closed, until all are.
async fn select_fanin(scale: f64) -> BenchResult {
    let n = scaled(4_000_000.0, scale);
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for _ in 0..8 {
        let (tx, rx) = mpsc::channel::<i64>(1024);
        txs.push(tx);
        rxs.push(rx);
    }
    let start = Instant::now();
    let sel = tokio::spawn(async move {
        let mut it = rxs.into_iter();
        let (mut r0, mut r1, mut r2, mut r3) = (
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
        );
        let (mut r4, mut r5, mut r6, mut r7) = (
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
        );
        let mut open = [true; 8];
        let (mut s, mut c) = (0i64, 0i64);
        while open.iter().any(|&o| o) {
            let (i, v) = tokio::select! {
                v = r0.recv(), if open[0] => (0, v),
                v = r1.recv(), if open[1] => (1, v),
                v = r2.recv(), if open[2] => (2, v),
                v = r3.recv(), if open[3] => (3, v),
                v = r4.recv(), if open[4] => (4, v),
                v = r5.recv(), if open[5] => (5, v),
                v = r6.recv(), if open[6] => (6, v),
                v = r7.recv(), if open[7] => (7, v),
            };
            match v {
                Some(v) => {
                    s += v;
                    c += 1;
                }
                None => open[i] = false,
            }
        }
        (s, c)
    });
    for (k, tx) in txs.into_iter().enumerate() {
        let k = k as i64;
        tokio::spawn(async move {
            for v in n * k / 8..n * (k + 1) / 8 {
                if tx.send(v).await.is_err() {
                    break;
                }
            }
        });
    }
    let (s, c) = sel.await.unwrap_or((-1, -1));
    let el = start.elapsed();
    BenchResult {
        workload: "select_fanin",
        n,
        elapsed: el,
        units: n as f64,
        ok: c == n && s == n * (n - 1) / 2,
        extra: vec![],
    }
}

/// Resident set size in bytes (VmRSS of /proc/self/status: the resident
/// pages of /proc/self/statm, in kB, so no page size is assumed); -1 if
/// unreadable.
pub fn vm_rss() -> i64 {
    let status = match std::fs::read_to_string("/proc/self/status") {
        Ok(s) => s,
        Err(_) => return -1,
    };
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            if let Some(Ok(kb)) = rest.split_whitespace().next().map(|f| f.parse::<i64>()) {
                return kb * 1024;
            }
        }
    }
    -1
}

/// N tasks that each count themselves started and wait on their own
/// mailbox (an mpsc channel of () with room for the stop); ms is the time
/// until all have started; then each gets its stop and all exit.
async fn fiber_spawn(scale: f64) -> BenchResult {
    let n = scaled(1_000_000.0, scale);
    let mut mboxes: Vec<Option<mpsc::Sender<()>>> = Vec::with_capacity(n as usize);
    mboxes.resize_with(n as usize, || None);
    for slot in mboxes.iter_mut() {
        unsafe { std::ptr::write_volatile(slot, None) };
    }
    let started = WaitGroup::leak(n as usize);
    let stopped = WaitGroup::leak(n as usize);
    let before = vm_rss();
    let start = Instant::now();
    for slot in mboxes.iter_mut() {
        let (mbox, mut inbox) = mpsc::channel::<()>(1);
        *slot = Some(mbox);
        tokio::spawn(async move {
            started.done();
            let _ = inbox.recv().await;
            stopped.done();
        });
    }
    started.wait().await;
    let el = start.elapsed();
    let after = vm_rss();
    let tstart = Instant::now();
    for mbox in mboxes.iter().flatten() {
        let _ = mbox.send(()).await;
    }
    stopped.wait().await;
    let teardown = tstart.elapsed();
    let growth = after - before;
    BenchResult {
        workload: "fiber_spawn",
        n,
        elapsed: el,
        units: n as f64,
        ok: before > 0 && after > 0,
        extra: vec![
            format!("bytes_per_fiber={:.0}", growth as f64 / n as f64),
            format!("teardown_ms={:.3}", teardown.as_nanos() as f64 / 1e6),
            format!("rss_growth_mb={:.1}", growth as f64 / (1u64 << 20) as f64),
        ],
    }
}

type Workload = fn(f64) -> Pin<Box<dyn Future<Output = BenchResult> + Send>>;

const WORKLOADS: [(&str, Workload); 19] = [
    ("skynet", |s| Box::pin(actors::skynet(s))),
    ("pingpong", |s| Box::pin(actors::pingpong(s))),
    ("counting", |s| Box::pin(actors::counting(s))),
    ("fanin", |s| Box::pin(actors::fanin(s))),
    ("call", |s| Box::pin(actors::call(s))),
    ("call_thread", |s| Box::pin(actors::call_thread(s))),
    ("call_thread_4", |s| Box::pin(actors::call_thread_4(s))),
    ("spawn_idle", |s| Box::pin(actors::spawn_idle(s))),
    ("ring", |s| Box::pin(actors::ring(s))),
    ("pool", |s| Box::pin(actors::pool(s))),
    ("pool_sleep", |s| Box::pin(actors::pool_sleep(s))),
    ("restart", |s| Box::pin(actors::restart(s))),
    ("tickers", |s| Box::pin(actors::tickers(s))),
    ("fiber_switch", |s| Box::pin(fiber_switch(s))),
    ("chan_pingpong", |s| Box::pin(chan_pingpong(s))),
    ("chan_throughput", |s| Box::pin(chan_throughput(s))),
    ("select_fanin", |s| Box::pin(select_fanin(s))),
    ("fiber_spawn", |s| Box::pin(fiber_spawn(s))),
    ("tcp_echo", |s| Box::pin(net::tcp_echo(s))),
];

const FIBER_WORKLOADS: [&str; 5] = [
    "fiber_switch",
    "chan_pingpong",
    "chan_throughput",
    "select_fanin",
    "fiber_spawn",
];

fn usage(prog: &str) {
    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.0).collect();
    eprintln!(
        "usage: {} [--scale F] [workload ...]\nworkloads: {}",
        prog,
        names.join(" ")
    );
}

fn parse_scale(s: &str) -> f64 {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => f,
        _ => {
            eprintln!("bad scale {:?}", s);
            std::process::exit(2);
        }
    }
}

fn main() {
    // A panic in any task ends the process at once (check=FAIL from ./run).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(70);
    }));
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .map(String::as_str)
        .unwrap_or("bench-fiber-tokio");
    let mut scale = 1.0;
    if let Ok(s) = std::env::var("SCALE") {
        if !s.is_empty() {
            scale = parse_scale(&s);
        }
    }
    let mut names: Vec<String> = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--scale" {
            if i + 1 >= args.len() {
                usage(prog);
                std::process::exit(2);
            }
            i += 1;
            scale = parse_scale(&args[i]);
        } else if let Some(v) = a.strip_prefix("--scale=") {
            scale = parse_scale(v);
        } else if a == "-h" || a == "--help" {
            usage(prog);
            return;
        } else if a.starts_with('-') {
            usage(prog);
            std::process::exit(2);
        } else {
            names.push(a.to_string());
        }
        i += 1;
    }
    if names.is_empty() {
        names = WORKLOADS.iter().map(|w| w.0.to_string()).collect();
    }
    for name in &names {
        if !WORKLOADS.iter().any(|w| w.0 == name) {
            eprintln!("unknown workload {:?}", name);
            usage(prog);
            std::process::exit(2);
        }
    }
    let mut failed = false;
    for name in &names {
        let run = WORKLOADS.iter().find(|w| w.0 == name).unwrap().1;
        // The fiber workloads need no timer; the actor workloads get the
        // timer only, tcp_echo the IO driver and the timer (enable_all, the
        // runtime #[tokio::main] builds).
        let fiber = FIBER_WORKLOADS.contains(&name.as_str());
        let rt = if name == "fiber_switch" {
            tokio::runtime::Builder::new_current_thread().build()
        } else if fiber {
            tokio::runtime::Builder::new_multi_thread().build()
        } else if name == "tcp_echo" {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()
        } else {
            tokio::runtime::Builder::new_multi_thread().enable_time().build()
        }
        .expect("building the Tokio runtime");
        let r = rt.block_on(async move { tokio::spawn(run(scale)).await.expect("driver task") });
        r.print();
        drop(rt);
        failed = failed || !r.ok;
    }
    if failed {
        std::process::exit(1);
    }
}
