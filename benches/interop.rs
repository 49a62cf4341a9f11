//! `cargo bench --bench interop`: distro against BEAM, measured in the same
//! run by the same BEAM driver node, printed as a table with ratios.
//!
//! Two target nodes are started on a private EPMD: a BEAM node (`erl`) and
//! the `distro` binary. A third, BEAM, node runs `benches/interop_driver.erl`
//! against each: handshake time, gen_server call round trips (sequential and
//! 8 concurrent callers, answered by each target's own `net_kernel`), rpc
//! calls (erpc `spawn_request`), and calls carrying 1 KiB. Then the resident
//! memory of both target processes is read from `/proc`, and their start-up
//! time (spawn to EPMD registration) is reported.
//!
//! Then the same again with every node on TLS distribution (`-proto_dist
//! inet_tls`, mutually verified, certificates generated for the run): the
//! `TLS:` rows. Each round also streams 64 KiB messages one way
//! (`stream_mib_per_s`).
//!
//! Then the load round (issue #13's rows): the BEAM target runs
//! `benches/bench_target.erl`'s `bench_echo` and `bench_streamer`, and the
//! distro target is a node started in this process with the same two
//! processes written against the library ([`load_target`]); the driver
//! streams 100 B and 64 KiB messages in and out, from 8 senders, calls the
//! echo from 1 and 64 callers (p50, p99, CPU per call), echoes 10 MiB, and
//! reads each target's CPU time from `/proc`. Resident memory is read idle,
//! after the load (VmRSS) and at its peak (VmHWM).
//!
//! `cargo bench --bench interop -- --quick` runs a shorter measurement;
//! `-- --load` runs only the load round.
//!
//! Profiling recipe (README, "Benchmarks"): the load round's distro target
//! runs in this process, so `perf record -F 2000 -o /tmp/perf.data
//! target/release/deps/interop-<hash> --load --quick`, then
//! `perf report -i /tmp/perf.data --comm tokio-rt-worker --sort dso,sym`;
//! `perf record -g -p <pid>` attaches to the BEAM target.
//! Needs `erl`, `erlc` and `epmd` on PATH (OTP 25 on Debian 12).

#[path = "../src/dist/tls/test_pki.rs"]
#[allow(dead_code)]
mod test_pki;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An EPMD on a free port of its own, stopped when dropped.
fn private_epmd() -> (u16, Killed) {
    let port = free_port();
    let epmd = Killed(
        Command::new("epmd")
            .args(["-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("epmd runs (install erlang)"),
    );
    std::thread::sleep(Duration::from_millis(300));
    (port, epmd)
}

fn registered(epmd_port: u16, name: &str) -> bool {
    Command::new("epmd")
        .args(["-port", &epmd_port.to_string(), "-names"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("name {name} at")))
        .unwrap_or(false)
}

fn wait_registered(epmd_port: u16, name: &str, started: Instant) -> Duration {
    while !registered(epmd_port, name) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} did not register with EPMD"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    started.elapsed()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// What one round measured: driver results per target kind, resident
/// memory and start-up times.
struct Round {
    results: Vec<(String, String, f64)>,
    rss: (u64, u64),
    start: (Duration, Duration),
}

impl Round {
    fn get(&self, kind: &str, metric: &str) -> Option<f64> {
        self.results
            .iter()
            .find(|(k, m, _)| k == kind && m == metric)
            .map(|r| r.2)
    }
}

/// Certificates and `-ssl_dist_optfile` files for the TLS round: every
/// node mutually verified, as in the interop tests.
struct TlsFiles {
    dir: tempfile::TempDir,
}

impl TlsFiles {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = test_pki::Pki::new("bench CA");
        let leaf = pki.node("bench", &["127.0.0.1"], test_pki::Validity::Current);
        let p = |f: &str| dir.path().join(f).display().to_string();
        std::fs::write(p("ca.pem"), pki.ca_pem()).expect("ca");
        std::fs::write(p("node.pem"), &leaf.cert_pem).expect("cert");
        std::fs::write(p("node.key"), &leaf.key_pem).expect("key");
        let mine = format!(
            "{{certfile, {:?}}}, {{keyfile, {:?}}}, {{cacertfile, {:?}}}, {{verify, verify_peer}}",
            p("node.pem"),
            p("node.key"),
            p("ca.pem")
        );
        std::fs::write(
            p("ssl_dist.conf"),
            format!(
                "[{{server, [{mine}, {{fail_if_no_peer_cert, true}}]}}, {{client, [{mine}]}}].\n"
            ),
        )
        .expect("options file");
        Self { dir }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "-proto_dist".into(),
            "inet_tls".into(),
            "-ssl_dist_optfile".into(),
            self.dir.path().join("ssl_dist.conf").display().to_string(),
        ]
    }
}

/// One round: a private EPMD, a BEAM and a distro target, and the driver,
/// all with `extra` arguments (TLS distribution's, or none).
fn round(quick: bool, extra: &[String], tag: &str) -> Round {
    let cookie = "distro_bench";
    let (epmd_port, _epmd) = private_epmd();
    let env_port = epmd_port.to_string();
    let tag = format!("{tag}_{}", std::process::id());
    let beam_name = format!("bench_beam_{tag}");
    let distro_name = format!("bench_distro_{tag}");

    let started = Instant::now();
    let beam = Killed(
        Command::new("erl")
            .args([
                "-name",
                &format!("{beam_name}@127.0.0.1"),
                "-setcookie",
                cookie,
                "-noshell",
                "-noinput",
            ])
            .args(["-kernel", "inet_dist_use_interface", "{127,0,0,1}"])
            .args(extra)
            .env("ERL_EPMD_PORT", &env_port)
            .stdout(Stdio::null())
            .spawn()
            .expect("erl runs"),
    );
    let beam_start = wait_registered(epmd_port, &beam_name, started);

    let started = Instant::now();
    let distro = Killed(
        Command::new(env!("CARGO_BIN_EXE_distro"))
            .args([
                "-name",
                &format!("{distro_name}@127.0.0.1"),
                "-setcookie",
                cookie,
            ])
            .args(extra)
            .env("ERL_EPMD_PORT", &env_port)
            .env("DISTRO_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("distro runs"),
    );
    let distro_start = wait_registered(epmd_port, &distro_name, started);

    let dir = tempfile::tempdir().expect("temp dir");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/interop_driver.erl");
    let ok = Command::new("erlc")
        .args(["-o"])
        .arg(dir.path())
        .arg(src)
        .status()
        .expect("erlc runs");
    assert!(ok.success(), "erlc failed");
    let mut driver = Killed(
        Command::new("erl")
            // Hidden, so that its disconnect/connect loop does not involve
            // global (prevent_overlapping_partitions) on the targets.
            .args([
                "-name",
                &format!("bench_driver_{tag}@127.0.0.1"),
                "-setcookie",
                cookie,
                "-noshell",
                "-hidden",
            ])
            .args(extra)
            .arg("-pa")
            .arg(dir.path())
            .args([
                "-run",
                "interop_driver",
                "main",
                if quick { "quick" } else { "full" },
            ])
            .arg(format!("{beam_name}@127.0.0.1"))
            .arg(format!("{distro_name}@127.0.0.1"))
            .env("ERL_EPMD_PORT", &env_port)
            .stdout(Stdio::piped())
            .spawn()
            .expect("driver runs"),
    );
    let out = driver.0.stdout.take().expect("driver stdout");
    let results = driver_results(out);
    Round {
        results,
        rss: (rss_kib(beam.0.id()), rss_kib(distro.0.id())),
        start: (beam_start, distro_start),
    }
}

/// `VmRSS` and `VmHWM` of a process, KiB.
fn rss_hwm_kib(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The distro side of the load round: a node in this process with
/// `bench_echo` and `bench_streamer` as `benches/bench_target.erl` has them.
fn load_target(rt: &tokio::runtime::Runtime, name: &str, cookie: &str, epmd_port: u16) {
    use distro::runtime::{GenCall, NodeConfig};
    use distro::term::{Term, TermExt, atom, tuple};
    let mut cfg = NodeConfig::new(name, cookie);
    cfg.epmd_port = epmd_port;
    rt.block_on(async move {
        let (node, kernel) = distro::start(cfg).await.expect("distro node starts");
        std::mem::forget(kernel);
        node.spawn(|mut p| async move {
            p.register("bench_echo").expect("bench_echo");
            loop {
                match GenCall::take(p.recv().await) {
                    Ok(call) => p.reply(&call.from, call.request),
                    Err(msg) => {
                        if let Some([Term::Pid(from), tag, m]) = msg.as_tuple() {
                            p.send(from, tuple(vec![tag.clone(), m.clone()]));
                        }
                    }
                }
            }
        });
        node.spawn(|mut p| async move {
            p.register("bench_streamer").expect("bench_streamer");
            loop {
                let msg = p.recv().await;
                if let Some([tag, Term::Pid(to), n, bin]) = msg.as_tuple()
                    && tag.as_atom() == Some("stream")
                {
                    for _ in 0..n.as_i64().unwrap_or(0) {
                        // Waits while the connection is busy, as a BEAM
                        // sender is suspended.
                        p.send_wait(to, bin.clone()).await;
                    }
                    p.send(to, tuple(vec![atom("stream_done"), n.clone()]));
                }
            }
        });
        std::mem::forget(node);
    });
}

/// The load round: results per target kind, and (idle, after, peak)
/// resident memory of (BEAM, distro), KiB.
struct Load {
    results: Vec<(String, String, f64)>,
    rss: [(u64, u64); 3],
}

fn load_round(quick: bool) -> Load {
    let cookie = "distro_bench";
    let (epmd_port, _epmd) = private_epmd();
    let env_port = epmd_port.to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["interop_driver.erl", "bench_target.erl"] {
        let ok = Command::new("erlc")
            .arg("-o")
            .arg(dir.path())
            .arg(format!("{}/benches/{f}", env!("CARGO_MANIFEST_DIR")))
            .status()
            .expect("erlc runs");
        assert!(ok.success(), "erlc {f} failed");
    }
    let tag = std::process::id();
    let beam_name = format!("bench_lbeam_{tag}@127.0.0.1");
    let distro_name = format!("bench_ldistro_{tag}@127.0.0.1");
    let started = Instant::now();
    let beam = Killed(
        Command::new("erl")
            .args(["-name", &beam_name, "-setcookie", cookie, "-noshell"])
            .args(["-noinput", "-pa"])
            .arg(dir.path())
            .args(["-s", "bench_target", "start"])
            .env("ERL_EPMD_PORT", &env_port)
            .stdout(Stdio::null())
            .spawn()
            .expect("erl runs"),
    );
    wait_registered(epmd_port, beam_name.split('@').next().unwrap(), started);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    load_target(&rt, &distro_name, cookie, epmd_port);
    std::thread::sleep(Duration::from_secs(1));
    let me = std::process::id();
    let idle = (rss_kib(beam.0.id()), rss_kib(me));
    let mut driver = Killed(
        Command::new("erl")
            .args(["-name", &format!("bench_ldriver_{tag}@127.0.0.1")])
            .args(["-setcookie", cookie, "-noshell", "-hidden", "-pa"])
            .arg(dir.path())
            .args(["-run", "interop_driver", "main", "load"])
            .arg(if quick { "quick" } else { "full" })
            .args([&beam_name, &beam.0.id().to_string()])
            .args([&distro_name, &me.to_string()])
            .env("ERL_EPMD_PORT", &env_port)
            .stdout(Stdio::piped())
            .spawn()
            .expect("driver runs"),
    );
    let out = driver.0.stdout.take().expect("driver stdout");
    let results = driver_results(out);
    std::thread::sleep(Duration::from_secs(2));
    let (b, d) = (rss_hwm_kib(beam.0.id()), rss_hwm_kib(me));
    rt.shutdown_background();
    Load {
        results,
        rss: [idle, (b.0, d.0), (b.1, d.1)],
    }
}

/// The driver's "R target metric value" lines until DONE.
fn driver_results(out: std::process::ChildStdout) -> Vec<(String, String, f64)> {
    let mut results = Vec::new();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if line == "DONE" {
            break;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["R", target, metric, value] = parts.as_slice() {
            let kind = if target.starts_with("bench_beam") || target.starts_with("bench_lbeam") {
                "beam"
            } else {
                "distro"
            };
            results.push((
                kind.to_owned(),
                (*metric).to_owned(),
                value.parse().unwrap_or(0.0),
            ));
        } else {
            eprintln!("driver: {line}");
        }
    }
    results
}

fn print_load(l: &Load) {
    let get = |kind: &str, metric: &str| {
        l.results
            .iter()
            .find(|(k, m, _)| k == kind && m == metric)
            .map(|r| r.2)
    };
    let rows: [(&str, &str); 18] = [
        ("in_100b_per_s", "stream in, 100 B messages/s"),
        ("in_100b_cpu_us", "  CPU per message, µs (lower is better)"),
        ("in_64k_mib_per_s", "stream in, 64 KiB messages, MiB/s"),
        (
            "in_64k_cpu_ns_per_kib",
            "  CPU per KiB, ns (lower is better)",
        ),
        ("out_100b_per_s", "stream out, 100 B messages/s"),
        ("out_100b_cpu_us", "  CPU per message, µs (lower is better)"),
        ("out_64k_mib_per_s", "stream out, 64 KiB messages, MiB/s"),
        (
            "out_64k_cpu_ns_per_kib",
            "  CPU per KiB, ns (lower is better)",
        ),
        ("senders8_per_s", "8 senders in, 100 B messages/s"),
        ("echo1_per_s", "echo call, 1 caller, calls/s"),
        ("echo1_p50_us", "  p50, µs (lower is better)"),
        ("echo1_p99_us", "  p99, µs (lower is better)"),
        ("echo1_cpu_us", "  CPU per call, µs (lower is better)"),
        ("echo64_per_s", "echo call, 64 callers, calls/s"),
        ("echo64_p50_us", "  p50, µs (lower is better)"),
        ("echo64_p99_us", "  p99, µs (lower is better)"),
        ("echo64_cpu_us", "  CPU per call, µs (lower is better)"),
        ("echo10m_ms", "10 MiB echo, ms (median, lower is better)"),
    ];
    for (key, label) in rows {
        if let (Some(b), Some(d)) = (get("beam", key), get("distro", key)) {
            let r = d / if b == 0.0 { f64::MIN_POSITIVE } else { b };
            println!("{label:<46} {b:>12.3} {d:>12.3} {r:>11.2}");
        }
    }
    for ((b, d), label) in l.rss.iter().zip([
        "resident memory, KiB (idle, in-process node)",
        "resident memory, KiB (after the load)",
        "resident memory, KiB (peak)",
    ]) {
        println!(
            "{label:<46} {b:>12} {d:>12} {:>11.2}",
            *d as f64 / (*b).max(1) as f64
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let load = load_round(quick);
    if std::env::args().any(|a| a == "--load") {
        print_header();
        print_load(&load);
        println!();
        return;
    }
    let tcp = round(quick, &[], "tcp");
    let tls_files = TlsFiles::new();
    let tls = round(quick, &tls_files.args(), "tls");
    print_header();
    let metrics: [(&str, &str); 6] = [
        ("connect_us", "handshake, µs (median, lower is better)"),
        ("call_per_s", "gen_server:call round trips/s"),
        ("call_par_per_s", "  8 concurrent callers, calls/s"),
        ("rpc_per_s", "rpc:call (erpc) calls/s"),
        ("call_1k_per_s", "calls with 1 KiB payload/s"),
        ("stream_mib_per_s", "stream of 64 KiB messages, MiB/s"),
    ];
    for (r, prefix) in [(&tcp, ""), (&tls, "TLS: ")] {
        for (key, label) in metrics {
            if let (Some(b), Some(d)) = (r.get("beam", key), r.get("distro", key)) {
                let label = format!("{prefix}{label}");
                println!("{label:<46} {b:>12.0} {d:>12.0} {:>11.2}", d / b.max(1.0));
            }
        }
    }
    let (rb, rd) = tcp.rss;
    println!(
        "{:<46} {:>12} {:>12} {:>11.2}",
        "resident memory, KiB (idle)",
        rb,
        rd,
        rd as f64 / rb.max(1) as f64
    );
    for (r, label) in [
        (&tcp, "start-up to EPMD registration, ms"),
        (&tls, "TLS: start-up to EPMD registration, ms"),
    ] {
        let (b, d) = r.start;
        println!(
            "{:<46} {:>12} {:>12} {:>11.2}",
            label,
            b.as_millis(),
            d.as_millis(),
            d.as_secs_f64() / b.as_secs_f64().max(1e-9)
        );
    }
    print_load(&load);
    println!();
}

fn print_header() {
    println!();
    println!(
        "{:<46} {:>12} {:>12} {:>11}",
        "metric (same run)", "BEAM", "distro", "distro/BEAM"
    );
    println!("{}", "-".repeat(84));
}
