//! The BEAM side of the interop tests: OTP releases (system or chroot),
//! a private `epmd -port P`, `erl -name …` children killed by PID on drop
//! (also on panic) with their output captured, and a minimal inline EPMD
//! client (`PORT_PLEASE2_REQ`, `ALIVE2_REQ`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single wait may take.
pub(crate) const STEP: Duration = Duration::from_secs(20);

// ---- releases ----

#[derive(Clone, Copy)]
pub(crate) struct Release {
    pub(crate) label: &'static str,
    /// The chroot holding that release, or `None` for the system one.
    root: Option<&'static str>,
}

pub(crate) const OTP25: Release = Release {
    label: "OTP 25",
    root: None,
};
pub(crate) const OTP27: Release = Release {
    label: "OTP 27",
    root: Some("/opt/distro-otp/otp27"),
};
pub(crate) const OTP29: Release = Release {
    label: "OTP 29",
    root: Some("/opt/distro-otp/otp29"),
};

impl Release {
    fn has_erl(self) -> bool {
        match self.root {
            Some(root) => Path::new(root).join("usr/bin/erl").exists(),
            None => std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("erl").is_file())),
        }
    }

    /// Whether to run; skips loudly, or fails under `CI=true`.
    pub(crate) fn available(self, test: &str) -> bool {
        if self.has_erl() {
            return true;
        }
        let where_ = self.root.unwrap_or("$PATH");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{}: no erl in {where_}, and CI=true", self.label);
        }
        eprintln!(
            "SKIP {test}: {} not installed (no erl in {where_})",
            self.label
        );
        false
    }

    /// `program args…`, run inside the release's chroot if it has one.
    fn command(self, program: &str) -> Command {
        match self.root {
            Some(root) => {
                let mut c = Command::new("chroot");
                c.arg(root).arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

/// A name no other test (of this run, or of a concurrent one) uses.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `unique(prefix)@127.0.0.1`.
pub(crate) fn node_name(prefix: &str) -> String {
    format!("{}@127.0.0.1", unique(prefix))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

// ---- child processes, killed by PID on drop ----

/// A child process and everything it printed.
pub(crate) struct Proc {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for pipe in pipes {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut o = output.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Self { child, output }
    }

    pub(crate) fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `text`.
    pub(crate) async fn wait_output(&self, text: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let out = self.output();
            if out.contains(text) {
                return out;
            }
            assert!(Instant::now() < deadline, "{text:?} not in output:\n{out}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private `epmd -port P`.
pub(crate) struct Epmd {
    port: u16,
    _proc: Proc,
}

impl Epmd {
    pub(crate) async fn start(release: Release) -> Self {
        // The free port may be taken again before epmd binds it: retry.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = release.command("epmd");
            cmd.args(["-port", &port.to_string(), "-address", "127.0.0.1"]);
            let mut proc = Proc::spawn(cmd);
            let deadline = Instant::now() + STEP;
            loop {
                if let Ok(Some(_)) = proc.child.try_wait() {
                    break; // exited: port in use
                }
                if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return Self { port, _proc: proc };
                }
                assert!(Instant::now() < deadline, "epmd on {port} never listened");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("could not start a private epmd");
    }
}

/// A BEAM node `name@127.0.0.1` on a private EPMD.
pub(crate) struct Erl {
    /// Its full node name.
    pub(crate) node: String,
    /// The `erl` process and its output.
    pub(crate) proc: Proc,
}

impl Erl {
    pub(crate) fn start(
        release: Release,
        epmd: &Epmd,
        name: &str,
        cookie: &str,
        eval: Option<&str>,
    ) -> Self {
        let node = format!("{name}@127.0.0.1");
        let mut cmd = release.command("erl");
        cmd.args(["-name", &node, "-setcookie", cookie, "-noshell"])
            .env("ERL_EPMD_PORT", epmd.port.to_string());
        if let Some(eval) = eval {
            cmd.args(["-eval", eval]);
        }
        Self {
            node,
            proc: Proc::spawn(cmd),
        }
    }

    /// Waits for the node to register, and returns its distribution port.
    pub(crate) async fn port(&self, epmd: &Epmd) -> u16 {
        let name = self.node.split('@').next().unwrap_or_default();
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(port) = port_please(epmd.port, name).await {
                return port;
            }
            assert!(
                Instant::now() < deadline,
                "{} never registered:\n{}",
                self.node,
                self.proc.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---- minimal EPMD client ----

/// `PORT_PLEASE2_REQ` (122) → `PORT2_RESP` (119, result, port, …).
async fn port_please(epmd: u16, name: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", epmd)).await.ok()?;
    let mut req = ((1 + name.len()) as u16).to_be_bytes().to_vec();
    req.push(122);
    req.extend(name.as_bytes());
    s.write_all(&req).await.ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.ok()?;
    match resp[..] {
        [119, 0, hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
        _ => None,
    }
}

/// `ALIVE2_REQ` (120): registers `name` at `port`; keep the stream open.
pub(crate) async fn alive2(epmd: &Epmd, name: &str, port: u16) -> (TcpStream, u32) {
    let mut body = vec![120];
    body.extend(port.to_be_bytes());
    body.extend([77, 0]); // node type: normal; protocol: TCP/IPv4
    body.extend(6u16.to_be_bytes()); // highest version
    body.extend(6u16.to_be_bytes()); // lowest version
    body.extend((name.len() as u16).to_be_bytes());
    body.extend(name.as_bytes());
    body.extend(0u16.to_be_bytes()); // no extra
    let mut req = (body.len() as u16).to_be_bytes().to_vec();
    req.extend(body);
    let mut s = TcpStream::connect(("127.0.0.1", epmd.port))
        .await
        .expect("epmd");
    s.write_all(&req).await.expect("alive2");
    let mut resp = [0; 2];
    s.read_exact(&mut resp).await.expect("alive2 resp");
    let creation = match resp {
        [118, 0] => s.read_u32().await.expect("creation"), // ALIVE2_X_RESP
        [121, 0] => u32::from(s.read_u16().await.expect("creation")), // ALIVE2_RESP
        other => panic!("ALIVE2 refused: {other:?}"),
    };
    (s, creation)
}
