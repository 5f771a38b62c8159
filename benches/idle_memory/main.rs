//! Server memory per idle WebSocket connection: Halyard against npm's engine.io and
//! socket.io (see `benches/README.md`, "Idle memory per WebSocket connection").
//!
//! Each server runs as a separate process, and all run the same application: one
//! `message` echo handler per socket (Socket.IO) or every message echoed (Engine.IO);
//! the Halyard ones are `idle_memory_server` (`idle_memory/server.rs`), the Node ones
//! `node_server.js`. For every run the tool starts the server,
//! waits for it to answer, opens and closes a few warm-up connections, reads the
//! server's `VmRSS` from `/proc/<pid>/status`, opens N WebSocket connections
//! (`transport=websocket`, Engine.IO handshake read; for socket.io also `40` sent and the
//! CONNECT answer read), leaves them idle (answering pings) for the settle time, reads
//! `VmRSS` again and reports `(after - before) / N`. Loopback only, bounded in count and
//! time; the server is killed at the end of each run.
//!
//! ```sh
//! benches/idle_memory/run.sh                       # builds everything, then runs
//! benches/idle_memory/run.sh --connections 2000 --runs 1 --servers halyard-tokio-sio
//! ```
//!
//! Options: `--connections 2000,5000`, `--runs 3`, `--settle-secs 3`, `--concurrency 32`,
//! `--warmup 20`, `--servers` (default: all of `SERVERS`),
//! `--attach KIND ADDR PID` (measure a server started by hand, for example under
//! `heaptrack`, instead of starting one), `--hold` (after the measurement, keep the
//! connections open until that server exits).

// A command-line report: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use smol::Timer;
use smol::net::TcpStream;
use smol::stream::StreamExt;

/// Every server the tool knows, in report order: Engine.IO servers (`-eio`, npm's
/// `engine.io`), then Socket.IO servers (`-sio`, npm's `socket.io`).
const SERVERS: [&str; 6] = [
    "halyard-tokio-eio",
    "halyard-smol-eio",
    "node-engine.io",
    "halyard-tokio-sio",
    "halyard-smol-sio",
    "node-socket.io",
];

/// The runtime and kind (`idle_memory_server --runtime R --kind K`) of each Halyard
/// server: the same application as `node_server.js` (one `message` echo handler per
/// socket; Engine.IO: every message echoed), in `idle_memory/server.rs`.
fn halyard_server(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "halyard-tokio-eio" => Some(("tokio", "engine.io")),
        "halyard-smol-eio" => Some(("smol", "engine.io")),
        "halyard-tokio-sio" => Some(("tokio", "socket.io")),
        "halyard-smol-sio" => Some(("smol", "socket.io")),
        _ => None,
    }
}

/// Whether `kind` is a Socket.IO server (path `/socket.io/`, CONNECT after the handshake).
fn is_socketio(kind: &str) -> bool {
    kind.ends_with("-sio") || kind == "node-socket.io"
}

/// The longest a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest one connection's handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

struct Options {
    connections: Vec<usize>,
    runs: usize,
    settle: Duration,
    concurrency: usize,
    warmup: usize,
    servers: Vec<String>,
    /// A server started by hand (`--attach KIND ADDR PID`): only connect to it.
    external: Option<(String, SocketAddr, u32)>,
    hold: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        connections: vec![2000, 5000],
        runs: 3,
        settle: Duration::from_secs(3),
        concurrency: 32,
        warmup: 20,
        servers: SERVERS.iter().map(|s| (*s).to_owned()).collect(),
        external: None,
        hold: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--connections" => {
                options.connections = value()?
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|e| format!("--connections: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--runs" => options.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--settle-secs" => {
                let secs: f64 = value()?
                    .parse()
                    .map_err(|e| format!("--settle-secs: {e}"))?;
                options.settle = Duration::from_secs_f64(secs);
            }
            "--concurrency" => {
                options.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?;
            }
            "--warmup" => {
                options.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?;
            }
            "--servers" => {
                options.servers = value()?.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(unknown) = options
                    .servers
                    .iter()
                    .find(|s| !SERVERS.contains(&s.as_str()))
                {
                    return Err(format!("unknown server {unknown}; known: {SERVERS:?}"));
                }
            }
            "--attach" => {
                // KIND ADDR PID: a server already running (for example under heaptrack).
                let kind = value()?;
                let addr = value()?
                    .parse()
                    .map_err(|e| format!("--attach addr: {e}"))?;
                let pid = value()?.parse().map_err(|e| format!("--attach pid: {e}"))?;
                options.external = Some((kind, addr, pid));
            }
            "--hold" => options.hold = true,
            "-h" | "--help" => {
                return Err("usage: idle_memory [--connections 2000,5000] [--runs 3] \
                            [--settle-secs 3] [--concurrency 32] [--warmup 20] \
                            [--servers a,b] [--attach KIND ADDR PID [--hold]]"
                    .to_owned());
            }
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    if options.connections.is_empty() || options.runs == 0 || options.concurrency == 0 {
        return Err("--connections, --runs and --concurrency must be positive".to_owned());
    }
    Ok(options)
}

/// Memory figures of a process, in KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
struct Mem {
    rss: u64,
    hwm: u64,
    anon: u64,
    threads: u64,
}

fn read_mem(pid: u32) -> std::io::Result<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Ok(Mem {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        threads: field("Threads:"),
    })
}

/// Raises this process's open-file limit to its hard limit (the servers started from
/// here inherit it) and checks that `needed` descriptors fit.
fn raise_nofile(needed: u64) -> Result<(), String> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit).map_err(|e| format!("setrlimit: {e}"))?;
    }
    match limit.current {
        Some(current) if current < needed => Err(format!(
            "the open-file limit is {current}, {needed} are needed: raise `ulimit -Hn`"
        )),
        _ => Ok(()),
    }
}

fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn target_dir() -> PathBuf {
    // This binary is target/<profile>/idle_memory; idle_memory_server is beside it.
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().expect("exe dir").to_path_buf()
}

/// Starts server `kind` on `addr`.
fn start_server(kind: &str, addr: SocketAddr) -> std::io::Result<Child> {
    let mut command = match (halyard_server(kind), kind) {
        (Some((runtime, protocol)), _) => {
            let path = target_dir().join("idle_memory_server");
            if !path.exists() {
                return Err(std::io::Error::other(format!(
                    "{} is missing: run benches/idle_memory/run.sh, which builds it",
                    path.display()
                )));
            }
            let mut command = Command::new(path);
            command
                .args(["--runtime", runtime, "--kind", protocol, "--port"])
                .arg(addr.port().to_string());
            command
        }
        (None, "node-engine.io" | "node-socket.io") => {
            let script =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("idle_memory/node_server.js");
            let mut command = Command::new("node");
            command
                .arg(script)
                .arg(kind.trim_start_matches("node-"))
                .arg(addr.port().to_string());
            command
        }
        (None, other) => return Err(std::io::Error::other(format!("unknown server {other}"))),
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
}

/// Waits until `addr` accepts TCP connections.
async fn wait_listening(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited before listening: {status}"));
        }
        if start.elapsed() > START_TIMEOUT {
            return Err("server did not start listening in time".to_owned());
        }
        Timer::after(Duration::from_millis(50)).await;
    }
}

fn url(kind: &str, addr: SocketAddr) -> String {
    let path = if is_socketio(kind) {
        "socket.io"
    } else {
        "engine.io"
    };
    format!("ws://{addr}/{path}/?EIO=4&transport=websocket")
}

type Ws = async_tungstenite::WebSocketStream<TcpStream>;

/// Opens one connection and completes the Engine.IO (and, for socket.io, the Socket.IO)
/// handshake.
async fn connect(url: &str, addr: SocketAddr, socketio: bool) -> Result<Ws, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // Small client buffers: 5000 clients with tungstenite's 128 KiB default would cost
    // the client 640 MiB for nothing (the client's memory is not measured, but the
    // machine is shared).
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = async_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("WebSocket handshake: {e}"))?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(format!("expected an Engine.IO open packet, got {open:?}"));
    }
    if socketio {
        ws.send(Message::text("40"))
            .await
            .map_err(|e| format!("send 40: {e}"))?;
        loop {
            let text = next_text(&mut ws).await?;
            if text.starts_with("40") {
                break;
            }
            if text == "2" {
                ws.send(Message::text("3"))
                    .await
                    .map_err(|e| format!("pong: {e}"))?;
                continue;
            }
            return Err(format!("expected a Socket.IO CONNECT answer, got {text:?}"));
        }
    }
    Ok(ws)
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => return Err(format!("unexpected message {other:?}")),
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("closed during the handshake".to_owned()),
        }
    }
}

/// Keeps a connection idle: answers Engine.IO pings, counts it as gone when it ends.
async fn idle(mut ws: Ws, alive: Arc<AtomicUsize>) {
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Text(text) = message
            && text.as_str() == "2"
            && ws.send(Message::text("3")).await.is_err()
        {
            break;
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}

/// Opens `n` connections, `concurrency` handshakes at a time, and keeps each in a task
/// of its own. Returns the tasks (dropping them closes the connections).
async fn open_many(
    url: &str,
    addr: SocketAddr,
    socketio: bool,
    n: usize,
    concurrency: usize,
    alive: &Arc<AtomicUsize>,
) -> Result<Vec<smol::Task<()>>, String> {
    let url: Arc<str> = url.into();
    let opened = Arc::new(smol::lock::Semaphore::new(concurrency));
    let mut handshakes = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = opened.acquire_arc().await;
        let url = url.clone();
        handshakes.push(smol::spawn(async move {
            let result = smol::future::or(connect(&url, addr, socketio), async {
                Timer::after(HANDSHAKE_TIMEOUT).await;
                Err("handshake timed out".to_owned())
            })
            .await;
            drop(permit);
            result
        }));
    }
    let mut tasks = Vec::with_capacity(n);
    for handshake in handshakes {
        let ws = handshake.await?;
        alive.fetch_add(1, Ordering::Relaxed);
        tasks.push(smol::spawn(idle(ws, alive.clone())));
    }
    Ok(tasks)
}

/// One run's result.
#[derive(Debug, Clone, Copy)]
struct Sample {
    before: Mem,
    after: Mem,
    per_conn_kib: f64,
    anon_per_conn_kib: f64,
    connect_secs: f64,
}

async fn measure(
    kind: &str,
    addr: SocketAddr,
    pid: u32,
    n: usize,
    options: &Options,
) -> Result<Sample, String> {
    let socketio = is_socketio(kind);
    let url = url(kind, addr);
    let io = |e: std::io::Error| format!("reading /proc/{pid}/status: {e}");

    // Warm-up: first-use allocations (and, on Node, JIT-compiled code) belong to the
    // baseline, not to the connections.
    let warm_alive = Arc::new(AtomicUsize::new(0));
    let warm = open_many(
        &url,
        addr,
        socketio,
        options.warmup,
        options.concurrency,
        &warm_alive,
    )
    .await?;
    drop(warm);
    Timer::after(Duration::from_secs(1)).await;

    let before = read_mem(pid).map_err(io)?;
    let alive = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks = open_many(&url, addr, socketio, n, options.concurrency, &alive).await?;
    let connect_secs = start.elapsed().as_secs_f64();
    Timer::after(options.settle).await;
    let after = read_mem(pid).map_err(io)?;
    let still = alive.load(Ordering::Relaxed);
    if still != n {
        return Err(format!(
            "{} of {n} connections closed while idle",
            n - still
        ));
    }
    if options.hold {
        eprintln!("holding {n} connections until the server exits");
        while alive.load(Ordering::Relaxed) > 0 {
            Timer::after(Duration::from_millis(200)).await;
        }
    }
    drop(tasks);
    let kib = |a: u64, b: u64| (a as f64 - b as f64) / n as f64;
    Ok(Sample {
        before,
        after,
        per_conn_kib: kib(after.rss, before.rss),
        anon_per_conn_kib: kib(after.anon, before.anon),
        connect_secs,
    })
}

fn run_one(kind: &str, n: usize, options: &Options) -> Result<Sample, String> {
    if let Some((kind, addr, pid)) = &options.external {
        return smol::block_on(measure(kind, *addr, *pid, n, options));
    }
    let addr = free_port().map_err(|e| format!("free port: {e}"))?;
    let mut child = start_server(kind, addr).map_err(|e| format!("starting {kind}: {e}"))?;
    let pid = child.id();
    let result = smol::block_on(async {
        wait_listening(addr, &mut child).await?;
        // Let the server finish starting (Node loads modules lazily).
        Timer::after(Duration::from_millis(500)).await;
        measure(kind, addr, pid, n, options).await
    });
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let largest = *options.connections.iter().max().expect("not empty") as u64;
    if let Err(message) = raise_nofile(largest + options.warmup as u64 + 256) {
        eprintln!("{message}");
        std::process::exit(2);
    }
    let servers: Vec<String> = match &options.external {
        Some((kind, ..)) => vec![kind.clone()],
        None => options.servers.clone(),
    };
    // Runs are interleaved (every N and every server, then the next run), so a change
    // in the machine's load touches all servers alike.
    let mut samples: BTreeMap<(usize, usize), Vec<Sample>> = BTreeMap::new();
    for run in 1..=options.runs {
        for &n in &options.connections {
            for (index, kind) in servers.iter().enumerate() {
                match run_one(kind, n, &options) {
                    Ok(sample) => {
                        eprintln!(
                            "run {run} {kind:>15} N={n:>5}: RSS {} -> {} KiB (HWM {} KiB, \
                             anon {} -> {}, {} threads), {:.2} KiB/conn (anon {:.2}), \
                             connected in {:.1} s",
                            sample.before.rss,
                            sample.after.rss,
                            sample.after.hwm,
                            sample.before.anon,
                            sample.after.anon,
                            sample.after.threads,
                            sample.per_conn_kib,
                            sample.anon_per_conn_kib,
                            sample.connect_secs,
                        );
                        samples.entry((n, index)).or_default().push(sample);
                    }
                    Err(message) => {
                        eprintln!("run {run} {kind} N={n}: FAILED: {message}");
                        std::process::exit(1);
                    }
                }
            }
        }
    }

    println!(
        "\nMedian of {} run(s), settle {:.1} s: server RSS growth per idle WebSocket connection\n",
        options.runs,
        options.settle.as_secs_f64()
    );
    println!(
        "| server | N | RSS before (KiB) | RSS after (KiB) | KiB/conn (RSS) | min–max | KiB/conn (RssAnon) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut medians: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for (&(n, index), runs) in &samples {
        let mut per: Vec<f64> = runs.iter().map(|s| s.per_conn_kib).collect();
        let mut anon: Vec<f64> = runs.iter().map(|s| s.anon_per_conn_kib).collect();
        let mut before: Vec<f64> = runs.iter().map(|s| s.before.rss as f64).collect();
        let mut after: Vec<f64> = runs.iter().map(|s| s.after.rss as f64).collect();
        let min = per.iter().copied().fold(f64::INFINITY, f64::min);
        let max = per.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let m = median(&mut per);
        medians.insert((n, index), m);
        println!(
            "| {} | {n} | {:.0} | {:.0} | **{m:.2}** | {min:.2}–{max:.2} | {:.2} |",
            servers[index],
            median(&mut before),
            median(&mut after),
            median(&mut anon),
        );
    }
    // Each Node server against the Halyard tokio server of the same protocol.
    let mut lines = Vec::new();
    for (node, halyard) in [
        ("node-engine.io", "halyard-tokio-eio"),
        ("node-socket.io", "halyard-tokio-sio"),
    ] {
        let (Some(node_index), Some(halyard_index)) = (
            servers.iter().position(|s| s == node),
            servers.iter().position(|s| s == halyard),
        ) else {
            continue;
        };
        for &n in &options.connections {
            if let (Some(a), Some(b)) = (
                medians.get(&(n, node_index)),
                medians.get(&(n, halyard_index)),
            ) {
                lines.push(format!("| {node} / {halyard} | {n} | {:.1}× |", a / b));
            }
        }
    }
    if !lines.is_empty() {
        println!("\n| ratio (medians) | N | Node / Halyard |\n|---|---:|---:|");
        for line in lines {
            println!("{line}");
        }
    }
}
