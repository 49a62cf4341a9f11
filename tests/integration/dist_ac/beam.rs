//! BEAM nodes for the dist_ac interop tests: an OTP release (system or a
//! chroot under `/opt/distro-otp`, selected by `DISTRO_OTP` = 25 | 27 | 29),
//! a private `epmd -port P`, `erl -name …` children with `-config` files and
//! the `erl_interop/myapp` application, killed by PID on drop; a hidden Rust
//! probe node that asks BEAM nodes things through their `rex`.
//!
//! (Local stand-in until the shared harness, `tests/integration/support`,
//! is on main.)

use distro::runtime::{Node, NodeConfig};
use distro::term::{Term, TermExt, atom, list, tuple};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const COOKIE: &str = "distac_cookie";

/// The OTP release under test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Release {
    pub(crate) label: &'static str,
    root: Option<&'static str>,
}

impl Release {
    /// From `DISTRO_OTP` (default 25).
    pub(crate) fn selected() -> Self {
        match std::env::var("DISTRO_OTP").as_deref() {
            Ok("27") => Self {
                label: "OTP 27",
                root: Some("/opt/distro-otp/otp27"),
            },
            Ok("29") => Self {
                label: "OTP 29",
                root: Some("/opt/distro-otp/otp29"),
            },
            _ => Self {
                label: "OTP 25",
                root: None,
            },
        }
    }

    /// Whether `erl` is there; skips loudly (fails under `CI=true`).
    pub(crate) fn available(self, test: &str) -> bool {
        let ok = match self.root {
            Some(r) => Path::new(r).join("usr/bin/erl").exists(),
            None => Command::new("erl")
                .arg("-version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok(),
        };
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{}: no erl",
                self.label
            );
            eprintln!("SKIP {test}: {} not installed", self.label);
        }
        ok
    }

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

    /// A directory visible to the release's `erl`: (host path, path inside).
    fn scratch(self, name: &str) -> (PathBuf, String) {
        let inside = format!("/tmp/distac-{name}");
        let host = match self.root {
            Some(r) => PathBuf::from(r).join(inside.trim_start_matches('/')),
            None => PathBuf::from(&inside),
        };
        std::fs::create_dir_all(&host).expect("scratch dir");
        (host, inside)
    }
}

/// A name no other test uses.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A child process and its output.
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

    /// `kill -9`.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private epmd.
pub(crate) struct Epmd {
    pub(crate) port: u16,
    _proc: Proc,
}

impl Epmd {
    pub(crate) async fn start(release: Release) -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = release.command("epmd");
            cmd.args(["-port", &port.to_string(), "-address", "127.0.0.1"]);
            let mut proc = Proc::spawn(cmd);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = proc.child.try_wait() {
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Self { port, _proc: proc };
                }
                assert!(Instant::now() < deadline, "epmd never listened");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("no epmd");
    }
}

/// A test cluster: release, epmd, scratch dir, and a hidden probe node.
pub(crate) struct Cluster {
    pub(crate) release: Release,
    pub(crate) epmd: Epmd,
    dir: (PathBuf, String),
    pub(crate) probe: Node,
}

impl Cluster {
    pub(crate) async fn new(release: Release, start_phases: bool) -> Self {
        let epmd = Epmd::start(release).await;
        let tag = unique("c");
        let dir = release.scratch(&tag);
        // Build myapp with this release's erlc, inside its root.
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("erl_interop/myapp/src");
        std::fs::create_dir_all(dir.0.join("src")).unwrap();
        std::fs::create_dir_all(dir.0.join("ebin")).unwrap();
        for f in std::fs::read_dir(&src).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.0.join("src").join(f.file_name().unwrap())).unwrap();
        }
        let app = std::fs::read_to_string(src.join("myapp.app.src")).unwrap();
        let app = if start_phases {
            app.replace(
                "{mod, {myapp_app, []}}",
                "{mod, {myapp_app, []}},\n  {start_phases, [{go, []}]}",
            )
        } else {
            app
        };
        std::fs::write(dir.0.join("ebin/myapp.app"), app).unwrap();
        let mut erlc = release.command("erlc");
        erlc.args(["-o", &format!("{}/ebin", dir.1)]);
        for m in ["myapp_app", "myapp_sup", "myapp_server"] {
            erlc.arg(format!("{}/src/{m}.erl", dir.1));
        }
        let st = erlc.status().expect("erlc");
        assert!(st.success(), "erlc failed");
        let mut cfg = NodeConfig::new(&format!("{}@127.0.0.1", unique("probe")), COOKIE);
        cfg.hidden = true;
        cfg.epmd_port = epmd.port;
        cfg.listen_addr = "127.0.0.1".parse().unwrap();
        let probe = Node::start(cfg).await.expect("probe node");
        Self {
            release,
            epmd,
            dir,
            probe,
        }
    }

    /// `erl -name Name -config <written config> -pa myapp -eval 'application:start(myapp)'`.
    pub(crate) fn erl(&self, name: &str, kernel_env: &str, start_myapp: bool) -> Erl {
        let cfg_file = format!("{}/{}.config", self.dir.1, name.split('@').next().unwrap());
        std::fs::write(
            self.dir
                .0
                .join(format!("{}.config", name.split('@').next().unwrap())),
            format!("[{{kernel, [{kernel_env}]}}].\n"),
        )
        .unwrap();
        let mut cmd = self.release.command("erl");
        cmd.args(["-name", name, "-setcookie", COOKIE, "-noshell"])
            .args(["-config", &cfg_file, "-pa", &format!("{}/ebin", self.dir.1)])
            .env("ERL_EPMD_PORT", self.epmd.port.to_string());
        if start_myapp {
            cmd.args([
                "-eval",
                "ok = application:start(myapp), io:format(\"@@myapp start returned~n\").",
            ]);
        }
        Erl {
            node: name.to_owned(),
            proc: Proc::spawn(cmd),
        }
    }

    /// An Elixir node running the seed's `distro` app (system OTP only:
    /// Elixir is not installed in the chroots). `None` when unavailable.
    pub(crate) fn elixir(&self, name: &str, kernel_env: &str) -> Option<Erl> {
        if self.release.root.is_some() || Command::new("elixir").arg("--version").output().is_err()
        {
            return None;
        }
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("erl_interop/distro");
        let ebin = project.join("_build/prod/lib/distro/ebin");
        if !ebin.join("distro.app").exists() {
            let st = Command::new("mix")
                .arg("compile")
                .env("MIX_ENV", "prod")
                .current_dir(&project)
                .status()
                .ok()?;
            if !st.success() {
                return None;
            }
        }
        let short = name.split('@').next().unwrap();
        let cfg = self.dir.0.join(format!("{short}.config"));
        std::fs::write(&cfg, format!("[{{kernel, [{kernel_env}]}}].\n")).unwrap();
        let mut cmd = Command::new("elixir");
        cmd.args(["--name", name, "--cookie", COOKIE])
            .args(["--erl", &format!("-config {}", cfg.with_extension("").display())])
            .arg("-pa")
            .arg(&ebin)
            .args([
                "--no-halt",
                "-e",
                "{:ok, _} = Application.ensure_all_started(:distro); IO.puts(\"@@distro start returned\")",
            ])
            .env("ERL_EPMD_PORT", self.epmd.port.to_string());
        Some(Erl {
            node: name.to_owned(),
            proc: Proc::spawn(cmd),
        })
    }

    /// `rpc:call(Node, M, F, A)` from the probe (through the peer's `rex`).
    pub(crate) async fn rpc(&self, node: &str, m: &str, f: &str, args: Vec<Term>) -> Option<Term> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let node = node.to_owned();
        let req = tuple(vec![
            atom("call"),
            atom(m),
            atom(f),
            list(args),
            atom("undefined"),
        ]);
        self.probe.spawn(move |mut p| async move {
            let gl = Term::Pid(p.pid().clone());
            let req = match req.as_tuple() {
                Some([a, b, c, d, _]) => {
                    tuple(vec![a.clone(), b.clone(), c.clone(), d.clone(), gl])
                }
                _ => req,
            };
            let _ = tx.send(
                p.call(("rex", node.as_str()), req, Duration::from_secs(30))
                    .await
                    .ok(),
            );
        });
        rx.await.ok().flatten()
    }

    /// Names of the applications `which_applications()` lists at `node`.
    pub(crate) async fn which(&self, node: &str) -> Option<Vec<String>> {
        let t = self
            .rpc(node, "application", "which_applications", vec![])
            .await?;
        Some(
            t.as_list()?
                .iter()
                .filter_map(|e| e.elem(0).and_then(TermExt::as_atom).map(str::to_owned))
                .collect(),
        )
    }

    /// Waits until `cond` holds (polling every 50 ms), up to `limit`.
    pub(crate) async fn until<F, Fut>(&self, what: &str, limit: Duration, mut cond: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let t0 = Instant::now();
        while !cond().await {
            assert!(t0.elapsed() < limit, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        t0.elapsed()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir.0);
    }
}

/// A BEAM node.
pub(crate) struct Erl {
    pub(crate) node: String,
    pub(crate) proc: Proc,
}

impl Erl {
    /// Waits until `application:start(myapp)` returned (dist_ac decided).
    pub(crate) async fn started(&self) {
        self.wait_for("start returned").await;
    }

    /// Waits until the node printed `text`.
    pub(crate) async fn wait_for(&self, text: &str) {
        let t0 = Instant::now();
        while !self.proc.output().contains(text) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{}: {text:?} never printed:\n{}",
                self.node,
                self.proc.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
