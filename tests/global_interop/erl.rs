//! A BEAM node with a stdin eval loop, on a private EPMD, for the global
//! interop tests (a stop-gap until the shared `tests/integration/support`
//! harness lands on main). Children are killed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An OTP release: the system one or a chroot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Release {
    pub(crate) label: &'static str,
    pub(crate) root: Option<&'static str>,
}

pub(crate) const RELEASES: [Release; 3] = [
    Release {
        label: "OTP 25",
        root: None,
    },
    Release {
        label: "OTP 27",
        root: Some("/opt/distro-otp/otp27"),
    },
    Release {
        label: "OTP 29",
        root: Some("/opt/distro-otp/otp29"),
    },
];

/// The releases to run: `DISTRO_OTP=25|27|29` picks one, default all installed.
pub(crate) fn releases() -> Vec<Release> {
    let want = std::env::var("DISTRO_OTP").ok();
    RELEASES
        .into_iter()
        .filter(|r| want.as_deref().is_none_or(|w| r.label.ends_with(w)))
        .filter(|r| {
            let ok = match r.root {
                Some(root) => std::path::Path::new(root).join("usr/bin/erl").exists(),
                None => std::path::Path::new("/usr/bin/erl").exists(),
            };
            if !ok {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{} missing under CI",
                    r.label
                );
                eprintln!("SKIP {}: not installed", r.label);
            }
            ok
        })
        .collect()
}

impl Release {
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

pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
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
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            output,
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
    pub(crate) port: u16,
    _proc: Proc,
}

impl Epmd {
    pub(crate) async fn start(release: Release) -> Self {
        for _ in 0..5 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let mut cmd = release.command("epmd");
            cmd.args(["-port", &port.to_string(), "-address", "127.0.0.1"]);
            let proc = Proc::spawn(cmd);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Self { port, _proc: proc };
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("no epmd");
    }
}

const LOOP: &str = r#"Loop = fun Loop(N) -> case io:get_line("") of eof -> halt(); Line -> R = try {ok, T, _} = erl_scan:string(Line), {ok, Es} = erl_parse:parse_exprs(T), {value, V, _} = erl_eval:exprs(Es, []), V catch C:E -> {eval_error, C, E} end, io:format("RESULT ~b ~0p~n", [N, R]), Loop(N + 1) end end, Loop(1)."#;

/// A BEAM node `name@127.0.0.1` evaluating lines from its stdin.
pub(crate) struct BeamNode {
    pub(crate) node: String,
    proc: Proc,
    n: u32,
}

impl BeamNode {
    pub(crate) fn start(release: Release, epmd: &Epmd, cookie: &str, extra: &[&str]) -> Self {
        let node = format!("{}@127.0.0.1", unique("b"));
        let mut cmd = release.command("erl");
        cmd.args(["-name", &node, "-setcookie", cookie, "-noshell"])
            .args(extra)
            .args(["-eval", LOOP])
            .env("ERL_EPMD_PORT", epmd.port.to_string());
        Self {
            node,
            proc: Proc::spawn(cmd),
            n: 0,
        }
    }

    pub(crate) fn output(&self) -> String {
        self.proc.output.lock().unwrap().clone()
    }

    /// Evaluates `expr` (one line, ending with `.`) and returns the printed result.
    pub(crate) async fn eval(&mut self, expr: &str) -> String {
        self.eval_timeout(expr, Duration::from_secs(30)).await
    }

    pub(crate) async fn eval_timeout(&mut self, expr: &str, t: Duration) -> String {
        self.n += 1;
        let stdin = self.proc.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{expr}").unwrap();
        stdin.flush().unwrap();
        let marker = format!("RESULT {} ", self.n);
        let deadline = Instant::now() + t;
        loop {
            let out = self.output();
            if let Some(i) = out.find(&marker) {
                let rest = &out[i + marker.len()..];
                return rest.lines().next().unwrap_or_default().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{expr} timed out on {}:\n{out}",
                self.node
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `expr` until its result satisfies `ok`.
    pub(crate) async fn eval_until(&mut self, expr: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.eval(expr).await;
            if ok(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{expr}: last result {r}\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
