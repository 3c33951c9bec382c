//! Tokio peer of troupe's network workload tcp_echo (../../WORKLOADS.md,
//! "Network"): an echo server on the loopback and 4 clients, each on its
//! own connection, sending 64 bytes and reading them back N/4 times.
//!
//! The server is Tokio's usual one: a `TcpListener`, an accept loop task,
//! a task per connection (`set_nodelay(true)`) looping on `read` and
//! `write_all`. It is the shape of troupe's tcp_echo_fiber; bench/compare
//! also sets it beside troupe's actor server (tcp_echo).
//!
//! The clients are troupe's: plain OS threads (`std::thread`) with blocking
//! `std::net::TcpStream`s (`TCP_NODELAY`), outside the runtime
//! (client=thread). ECHO_CLIENT=task makes them Tokio tasks on the runtime
//! instead (client=task). Each client times every round trip (p50_us,
//! p99_us) and compares each echo with what it sent (the check). The clock
//! runs from before the clients connect until the last one is done, as
//! troupe's.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{scaled, BenchResult};

const CLIENTS: i64 = 4;
const MSG: usize = 64;

/// Accepts connections until the runtime ends; each gets a task that writes
/// back what it reads.
async fn serve(ln: TcpListener) {
    while let Ok((mut c, _)) = ln.accept().await {
        tokio::spawn(async move {
            let _ = c.set_nodelay(true);
            let mut buf = vec![0u8; 4096];
            loop {
                match c.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        if c.write_all(&buf[..k]).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
}

/// The message of round trip i: i in the first 8 bytes, then 'x'.
fn message(i: i64) -> [u8; MSG] {
    let mut out = [b'x'; MSG];
    out[..8].copy_from_slice(&i.to_le_bytes());
    out
}

/// Records the round trip that started at t0; None if the echo is wrong.
fn timed_echo(lat: &mut Vec<Duration>, t0: Instant, input: &[u8], out: &[u8]) -> Option<()> {
    lat.push(t0.elapsed());
    (input == out).then_some(())
}

/// A blocking client on its own thread: rounds round trips; returns the
/// latencies, or None if a round trip failed or an echo was wrong.
fn thread_client(addr: SocketAddr, rounds: i64) -> Option<Vec<Duration>> {
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    c.set_nodelay(true).ok()?;
    let mut lat = Vec::with_capacity(rounds as usize);
    let mut input = [0u8; MSG];
    for i in 0..rounds {
        let (out, t0) = (message(i), Instant::now());
        c.write_all(&out).ok()?;
        c.read_exact(&mut input).ok()?;
        timed_echo(&mut lat, t0, &input, &out)?;
    }
    Some(lat)
}

/// The same client as a task (ECHO_CLIENT=task).
async fn task_client(addr: SocketAddr, rounds: i64) -> Option<Vec<Duration>> {
    let mut c = TcpStream::connect(addr).await.ok()?;
    c.set_nodelay(true).ok()?;
    let mut lat = Vec::with_capacity(rounds as usize);
    let mut input = [0u8; MSG];
    for i in 0..rounds {
        let (out, t0) = (message(i), Instant::now());
        c.write_all(&out).await.ok()?;
        c.read_exact(&mut input).await.ok()?;
        timed_echo(&mut lat, t0, &input, &out)?;
    }
    Some(lat)
}

pub async fn tcp_echo(scale: f64) -> BenchResult {
    let per = (scaled(200_000.0, scale) / CLIENTS).max(1);
    let n = per * CLIENTS;
    let tasks = std::env::var("ECHO_CLIENT").map_or(false, |v| v == "task");
    let fail = |what: &str| BenchResult {
        workload: "tcp_echo",
        n,
        elapsed: Duration::ZERO,
        units: 0.0,
        ok: false,
        extra: vec![format!("error={}", what)],
    };
    let ln = match TcpListener::bind("127.0.0.1:0").await {
        Ok(ln) => ln,
        Err(_) => return fail("listen"),
    };
    let addr = match ln.local_addr() {
        Ok(a) => a,
        Err(_) => return fail("listen"),
    };
    tokio::spawn(serve(ln));
    let start = Instant::now();
    let mut lats: Vec<Option<Vec<Duration>>> = Vec::new();
    if tasks {
        let hs: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(task_client(addr, per)))
            .collect();
        for h in hs {
            lats.push(h.await.unwrap_or(None));
        }
    } else {
        let hs: Vec<_> = (0..CLIENTS)
            .map(|_| std::thread::spawn(move || thread_client(addr, per)))
            .collect();
        // Joined from a blocking section, so the runtime's worker is free.
        lats = tokio::task::spawn_blocking(move || {
            hs.into_iter().map(|h| h.join().unwrap_or(None)).collect()
        })
        .await
        .unwrap_or_default();
    }
    let el = start.elapsed();
    let ok = lats.len() == CLIENTS as usize && lats.iter().all(|l| l.is_some());
    let mut extra = vec![];
    if ok {
        let mut all: Vec<Duration> = lats.into_iter().flatten().flatten().collect();
        all.sort_unstable();
        let us = |d: Duration| d.as_nanos() as f64 / 1e3;
        extra.push(format!(
            "clients={} msg={} p50_us={:.1} p99_us={:.1} client={}",
            CLIENTS,
            MSG,
            us(all[all.len() / 2]),
            us(all[all.len() * 99 / 100]),
            if tasks { "task" } else { "thread" }
        ));
    }
    BenchResult {
        workload: "tcp_echo",
        n,
        elapsed: el,
        units: n as f64,
        ok,
        extra,
    }
}
