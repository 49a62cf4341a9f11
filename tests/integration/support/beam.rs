//! Real BEAM nodes driven through a stdin eval loop.
//!
//! A node is `erl -noshell -eval <loop>`; the loop (`eval_loop.erl`, passed
//! verbatim, so it needs no compiled module and runs inside the chroots too)
//! reads one Erlang expression sequence per stdin line, evaluates it with
//! `erl_eval` (bindings persist across lines) and answers with exactly one
//! line: `@@R <n> <value>` or `@@E <n> <class>:<reason>`, printed with `~0tp`
//! (one line, no depth limit, Unicode safe). `<n>` numbers the input lines,
//! so an answer that arrives after its eval timed out is never mistaken for
//! the answer to a later eval.

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, ToSocketAddrs};
use std::process::{Command, ExitStatus};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::DEFAULT_COOKIE;
use super::epmd::Epmd;
use super::names::unique_name;
use super::otp::Otp;
use super::process::{Log, ProcessGuard, Stream, TAIL_LINES};

/// The eval loop, passed to `erl -eval` as is.
pub(crate) const EVAL_LOOP: &str = include_str!("eval_loop.erl");

/// Default timeout of [`BeamNode::eval`].
pub(crate) const EVAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time a node gets to print its ready line.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Long (`-name x@127.0.0.1`) or short (`-sname x`) node names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// `-name <name>@127.0.0.1` (the default).
    Long,
    /// `-sname <name>`: the host part is the machine's short host name,
    /// which must resolve to a loopback address (e.g. via `/etc/hosts`);
    /// the node listens on that address only.
    Short,
    /// `-proto_dist inet6_tcp -name <name>@<host>` (`-sname` for a host
    /// without dots), listening on `::1` only; the host is `::1` or a name
    /// that resolves to it.
    Ipv6(&'static str),
}

/// How to start a [`BeamNode`]. Build with [`BeamOpts::new`] and the
/// chainable setters.
#[derive(Clone, Debug)]
pub(crate) struct BeamOpts {
    label: String,
    name: Option<String>,
    kind: NameKind,
    cookie: String,
    hidden: bool,
    args: Vec<String>,
    env: Vec<(String, String)>,
    otp: Option<Otp>,
    start_timeout: Duration,
}

impl BeamOpts {
    /// Options for a node named `unique_name(label)@127.0.0.1`, with the
    /// default cookie, visible, of the release selected by `DISTRO_OTP`.
    pub(crate) fn new(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            name: None,
            kind: NameKind::Long,
            cookie: DEFAULT_COOKIE.to_owned(),
            hidden: false,
            args: Vec::new(),
            env: Vec::new(),
            otp: None,
            start_timeout: START_TIMEOUT,
        }
    }

    /// Uses exactly `name` (the part before `@`) instead of a unique name.
    pub(crate) fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Uses `-sname` instead of `-name` (see [`NameKind::Short`]).
    pub(crate) fn sname(mut self) -> Self {
        self.kind = NameKind::Short;
        self
    }

    /// IPv6 distribution with the host `host` (see [`NameKind::Ipv6`]).
    pub(crate) fn ipv6(mut self, host: &'static str) -> Self {
        self.kind = NameKind::Ipv6(host);
        self
    }

    /// Sets the cookie (`-setcookie`).
    pub(crate) fn cookie(mut self, cookie: &str) -> Self {
        self.cookie = cookie.to_owned();
        self
    }

    /// Starts the node with `-hidden`.
    pub(crate) fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Appends one raw `erl` argument.
    pub(crate) fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends raw `erl` arguments, e.g. `["-config", path]`.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Appends `-kernel <key> <value>`, e.g. `kernel("net_ticktime", "4")`.
    pub(crate) fn kernel(self, key: &str, value: &str) -> Self {
        self.args(["-kernel", key, value])
    }

    /// Sets an environment variable for the node (it reaches chroot'd nodes).
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the node on this release instead of the `DISTRO_OTP` one (for
    /// mixed-release clusters).
    pub(crate) fn otp(mut self, otp: Otp) -> Self {
        self.otp = Some(otp);
        self
    }

    /// How long the node gets to start (default 60 s).
    pub(crate) fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }
}

/// Why [`BeamNode::eval`] did not return a value.
#[derive(thiserror::Error)]
pub(crate) enum EvalError {
    /// The expression raised an exception (or did not scan/parse: class
    /// `error`, reason `{scan_error, …}` / `{parse_error, …}`).
    #[error("{node}: `{expr}` raised {class}:{reason}")]
    Exception {
        /// The node that evaluated it.
        node: String,
        /// The expression as sent.
        expr: String,
        /// `error`, `exit` or `throw`.
        class: String,
        /// The reason, printed with `~0tp`.
        reason: String,
    },
    /// No answer within the timeout (the node may be stopped, or the
    /// expression may still be running; its late answer is ignored).
    #[error("{node}: no answer to `{expr}` within {after:?}\n{tail}")]
    Timeout {
        /// The node that was asked.
        node: String,
        /// The expression as sent.
        expr: String,
        /// The timeout that expired.
        after: Duration,
        /// The last lines of the node's output.
        tail: String,
    },
    /// The node exited (or its eval loop crashed) before answering.
    #[error("{node}: exited before answering `{expr}`\n{detail}")]
    Exited {
        /// The node that was asked.
        node: String,
        /// The expression as sent.
        expr: String,
        /// What is known: exit status and the last output lines.
        detail: String,
    },
}

impl fmt::Debug for EvalError {
    // `.unwrap()` / `.expect()` print Debug: make that the readable message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl EvalError {
    /// `Some((class, reason))` if the expression raised an exception.
    pub(crate) fn exception(&self) -> Option<(&str, &str)> {
        match self {
            Self::Exception { class, reason, .. } => Some((class, reason)),
            _ => None,
        }
    }

    /// Whether this is a timeout.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

struct Control {
    process: ProcessGuard,
    /// The number the eval loop will give the next input line.
    next_id: u64,
}

/// A running BEAM node; killed (SIGKILL, by PID) when dropped.
pub(crate) struct BeamNode {
    control: Mutex<Control>,
    log: Log,
    node: String,
    cookie: String,
    otp: Otp,
    release: String,
    os_pid: u32,
}

impl BeamNode {
    /// Starts a node registered with `epmd` and waits until its eval loop is
    /// ready (distribution, if any, is then up and registered with EPMD).
    ///
    /// Every node listens for distribution on 127.0.0.1 only
    /// (`-kernel inet_dist_use_interface`), gets `ERL_EPMD_PORT` of `epmd`,
    /// and runs with `-noshell`.
    pub(crate) fn start(epmd: &Epmd, opts: BeamOpts) -> anyhow::Result<Self> {
        Self::start_on(epmd.port(), opts)
    }

    /// [`Self::start`] with the EPMD on 127.0.0.1:`epmd_port` instead of a
    /// harness [`Epmd`]: for an EPMD that is not a child process, such as
    /// the crate's own EPMD server under test.
    pub(crate) fn start_on(epmd_port: u16, opts: BeamOpts) -> anyhow::Result<Self> {
        let otp = opts.otp.clone().unwrap_or_else(Otp::from_env);
        let name = opts
            .name
            .clone()
            .unwrap_or_else(|| unique_name(&opts.label));
        let mut cmd = otp.erl_command();
        // The loop goes first: anything after a user's `-extra` is plain args.
        // `-start_epmd false`: the test's own EPMD is already up; never let
        // erl spawn an `epmd -daemon` (on 4369 if ERL_EPMD_PORT were lost).
        cmd.args(["-noshell", "-start_epmd", "false", "-eval", EVAL_LOOP]);
        let interface = match opts.kind {
            NameKind::Long => {
                cmd.args(["-name", &format!("{name}@127.0.0.1")]);
                "{127,0,0,1}".to_owned()
            }
            NameKind::Short => {
                cmd.args(["-sname", &name]);
                let [a, b, c, d] = short_host_loopback()?;
                format!("{{{a},{b},{c},{d}}}")
            }
            NameKind::Ipv6(host) => {
                // erl takes a host without dots for short names only.
                let flag = if host.contains(['.', ':']) {
                    "-name"
                } else {
                    "-sname"
                };
                // Unless the caller's arguments choose the carrier
                // (`-proto_dist inet6_tls`).
                if !opts.args.iter().any(|a| a == "-proto_dist") {
                    cmd.args(["-proto_dist", "inet6_tcp"]);
                }
                cmd.args([flag, &format!("{name}@{host}")]);
                "{0,0,0,0,0,0,0,1}".to_owned()
            }
        };
        cmd.args(["-setcookie", &opts.cookie]).args([
            "-kernel",
            "inet_dist_use_interface",
            &interface,
        ]);
        if opts.hidden {
            cmd.arg("-hidden");
        }
        cmd.args(&opts.args);
        cmd.env("ERL_EPMD_PORT", epmd_port.to_string());
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }

        let label = format!("{name} [{}]", otp.describe());
        let process = ProcessGuard::spawn(label.clone(), cmd)?;
        let log = process.log().clone();
        let (os_pid, node, release) =
            ready_line(&label, &log, opts.start_timeout).context("starting a BEAM node")?;
        // chroot, the erl script and erlexec all exec, so our child is the
        // beam itself; signals and kills rely on that.
        if os_pid != process.pid() {
            bail!(
                "{label}: beam pid {os_pid} differs from the spawned pid {}; \
                 the harness cannot safely signal it",
                process.pid()
            );
        }
        Ok(Self {
            control: Mutex::new(Control {
                process,
                next_id: 1,
            }),
            log,
            node,
            cookie: opts.cookie,
            otp,
            release,
            os_pid,
        })
    }

    /// Drives the eval loop of a node behind `cmd`, a client that relays
    /// its stdin and stdout, such as `docker start --attach --interactive`
    /// of a container running `erl … -eval` [`EVAL_LOOP`]. Nothing is
    /// checked about PIDs: [`Self::os_pid`] is the beam's PID where it runs
    /// (e.g. inside the container), and [`Self::kill`] and
    /// [`Self::signal`] act on the client only; whoever owns the container
    /// removes the node.
    pub(crate) fn attach(
        label: &str,
        cmd: Command,
        otp: Otp,
        cookie: &str,
        start_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let process = ProcessGuard::spawn(label.to_owned(), cmd)?;
        let log = process.log().clone();
        let (os_pid, node, release) =
            ready_line(label, &log, start_timeout).context("attaching to a BEAM node")?;
        Ok(Self {
            control: Mutex::new(Control {
                process,
                next_id: 1,
            }),
            log,
            node,
            cookie: cookie.to_owned(),
            otp,
            release,
            os_pid,
        })
    }

    /// The full node name, e.g. `t1234_0_a@127.0.0.1`.
    pub(crate) fn node_name(&self) -> &str {
        &self.node
    }

    /// The name before the `@`, as registered with EPMD, e.g. `t1234_0_a`.
    pub(crate) fn alive_name(&self) -> &str {
        self.node
            .split_once('@')
            .map_or(&*self.node, |(alive, _)| alive)
    }

    /// The port the node listens on for distribution, as registered in
    /// `epmd` (the node is registered once [`Self::start`] returned).
    pub(crate) fn dist_port(&self, epmd: &Epmd) -> anyhow::Result<u16> {
        epmd.port_of(self.alive_name())
    }

    /// The node name as an Erlang atom literal, e.g. `'t1234_0_a@127.0.0.1'`.
    pub(crate) fn atom(&self) -> String {
        format!("'{}'", self.node)
    }

    /// The cookie it was started with.
    pub(crate) fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The release it runs.
    pub(crate) fn otp(&self) -> &Otp {
        &self.otp
    }

    /// `erlang:system_info(otp_release)` as reported by the node.
    pub(crate) fn release(&self) -> &str {
        &self.release
    }

    /// The OS PID of `beam.smp` (also the PID the harness spawned).
    pub(crate) fn os_pid(&self) -> u32 {
        self.os_pid
    }

    /// Evaluates `expr` (an expression sequence ending in `.`) with the
    /// default timeout of 30 s and returns the value printed with `~0tp`.
    ///
    /// Newlines in `expr` are sent as spaces (the loop reads one line per
    /// request): write `\n` inside string literals as the escape `\\n`.
    ///
    /// Bindings persist from line to line, like the shell's: an expression
    /// evaluated more than once (a helper, a poll) must not bind variables
    /// at top level or in a `case` pattern, or its second run only matches
    /// the first run's values. Bind them as fun-head parameters instead.
    pub(crate) fn eval(&self, expr: &str) -> Result<String, EvalError> {
        self.eval_timeout(expr, EVAL_TIMEOUT)
    }

    /// [`Self::eval`] with an explicit timeout.
    pub(crate) fn eval_timeout(&self, expr: &str, timeout: Duration) -> Result<String, EvalError> {
        self.eval_start(expr)?.wait(timeout)
    }

    /// Sends `expr` for evaluation without waiting for its value: for an
    /// expression that blocks until the test does something, e.g.
    /// `net_adm:ping/1` to a node whose handshake the test drives by hand.
    /// Collect the value with [`PendingEval::wait`]. The node evaluates one
    /// expression at a time: later evals are answered after this one.
    pub(crate) fn eval_start(&self, expr: &str) -> Result<PendingEval<'_>, EvalError> {
        let (id, from) = self.send(expr)?;
        Ok(PendingEval {
            node: self,
            expr: expr.to_owned(),
            id,
            from,
        })
    }

    fn wait_answer(
        &self,
        expr: &str,
        id: u64,
        from: usize,
        timeout: Duration,
    ) -> Result<String, EvalError> {
        let ok = format!("@@R {id} ");
        let err = format!("@@E {id} ");
        let found = self.log.wait_for_line_from(from, timeout, |l| {
            l.stream == Stream::Stdout
                && (l.text.contains(&ok) || l.text.contains(&err) || l.text.starts_with("@@FATAL"))
        });
        let line = match found {
            Ok(line) => line.text,
            Err(_) if self.log.closed() => return Err(self.exited(expr)),
            Err(_) => {
                return Err(EvalError::Timeout {
                    node: self.node.clone(),
                    expr: expr.to_owned(),
                    after: timeout,
                    tail: self.log.tail(TAIL_LINES),
                });
            }
        };
        if let Some(at) = line.find(&ok) {
            return Ok(line[at + ok.len()..].to_owned());
        }
        if let Some(at) = line.find(&err) {
            let rest = &line[at + err.len()..];
            let (class, reason) = rest.split_once(':').unwrap_or(("error", rest));
            return Err(EvalError::Exception {
                node: self.node.clone(),
                expr: expr.to_owned(),
                class: class.to_owned(),
                reason: reason.to_owned(),
            });
        }
        Err(self.exited(expr))
    }

    /// Evaluates `expr` repeatedly (every 100 ms) until its value equals
    /// `expected`, for up to `timeout`. Returns the last error or value seen
    /// if it never does.
    pub(crate) fn eval_until(
        &self,
        expr: &str,
        expected: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        self.eval_until_match(expr, timeout, |v| v == expected)
            .map(drop)
            .with_context(|| format!("waiting for {expected}"))
    }

    /// Evaluates `expr` repeatedly (every 100 ms) until `accept` accepts its
    /// value, for up to `timeout`, and returns that value. Fails with the
    /// last error or value seen if no value is accepted in time.
    pub(crate) fn eval_until_match(
        &self,
        expr: &str,
        timeout: Duration,
        mut accept: impl FnMut(&str) -> bool,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let last = match self.eval_timeout(expr, left.max(Duration::from_millis(100))) {
                Ok(v) if accept(&v) => return Ok(v),
                Ok(v) => format!("value {v}"),
                Err(e @ EvalError::Exited { .. }) => return Err(e.into()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{}: `{expr}` gave no accepted value within {timeout:?}; last: {last}",
                    self.node
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether any captured stdout/stderr line contains `needle`.
    pub(crate) fn log_contains(&self, needle: &str) -> bool {
        self.log.contains(needle)
    }

    /// Waits up to `timeout` for an output line containing `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        self.log.wait_for(needle, timeout)
    }

    /// The captured output (for custom matching with cursors).
    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    /// Sends a signal to the beam process, e.g. `libc::SIGSTOP`.
    pub(crate) fn signal(&self, signal: libc::c_int) -> anyhow::Result<()> {
        self.lock().process.signal(signal)
    }

    /// `kill -STOP` the beam: it stops answering, ticking and evaluating.
    pub(crate) fn suspend(&self) -> anyhow::Result<()> {
        self.signal(libc::SIGSTOP)
    }

    /// `kill -CONT` a suspended beam.
    pub(crate) fn resume(&self) -> anyhow::Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// Whether the beam process is still running (also when suspended).
    pub(crate) fn is_alive(&self) -> bool {
        self.lock().process.is_running()
    }

    /// SIGKILLs the beam (by PID) and reaps it.
    pub(crate) fn kill(&self) -> ExitStatus {
        self.lock().process.kill()
    }

    /// Stops the node gracefully with `init:stop()` and waits up to 30 s for
    /// it to exit; kills it and fails if it does not.
    pub(crate) fn stop(&self) -> anyhow::Result<ExitStatus> {
        self.send("init:stop().")?;
        let mut control = self.lock();
        if let Some(status) = control.process.wait_exit(Duration::from_secs(30)) {
            return Ok(status);
        }
        control.process.kill();
        bail!(
            "{}: did not exit within 30 s of init:stop(); killed\n{}",
            self.node,
            self.log.tail(TAIL_LINES)
        )
    }

    /// Writes one request line; returns its id and the log cursor before it.
    fn send(&self, expr: &str) -> Result<(u64, usize), EvalError> {
        let mut control = self.lock();
        let from = self.log.line_count();
        let line: String = expr
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        let written = match control.process.stdin() {
            Some(stdin) => stdin
                .write_all(format!("{line}\n").as_bytes())
                .and_then(|()| stdin.flush())
                .is_ok(),
            None => false,
        };
        if !written {
            drop(control);
            return Err(self.exited(expr));
        }
        let id = control.next_id;
        control.next_id += 1;
        Ok((id, from))
    }

    fn exited(&self, expr: &str) -> EvalError {
        let status = self
            .lock()
            .process
            .wait_exit(Duration::from_millis(500))
            .map_or_else(|| "still running".to_owned(), |s| s.to_string());
        EvalError::Exited {
            node: self.node.clone(),
            expr: expr.to_owned(),
            detail: format!("status: {status}\n{}", self.log.tail(TAIL_LINES)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An expression sent with [`BeamNode::eval_start`] whose value has not been
/// read yet.
#[must_use = "an eval's value (or exception) should be checked"]
pub(crate) struct PendingEval<'a> {
    node: &'a BeamNode,
    expr: String,
    id: u64,
    from: usize,
}

impl PendingEval<'_> {
    /// Waits up to `timeout` for the value, as [`BeamNode::eval_timeout`].
    pub(crate) fn wait(self, timeout: Duration) -> Result<String, EvalError> {
        self.node
            .wait_answer(&self.expr, self.id, self.from, timeout)
    }
}

/// Waits for the eval loop's `@@READY <os pid> <node> <release>` line.
fn ready_line(label: &str, log: &Log, timeout: Duration) -> anyhow::Result<(u32, String, String)> {
    let ready = log.wait_for_line_from(0, timeout, |l| {
        l.stream == Stream::Stdout && l.text.starts_with("@@READY ")
    })?;
    let mut words = ready.text.split_whitespace().skip(1);
    let (Some(pid), Some(node), Some(release)) = (words.next(), words.next(), words.next()) else {
        bail!("{label}: malformed ready line {:?}", ready.text);
    };
    let os_pid: u32 = pid.parse().context("os pid in ready line")?;
    Ok((os_pid, node.to_owned(), release.to_owned()))
}

/// The loopback IPv4 address the machine's short host name resolves to, for
/// `-sname` nodes.
fn short_host_loopback() -> anyhow::Result<[u8; 4]> {
    let host = short_hostname()?;
    let addrs: Vec<IpAddr> = (host.as_str(), 0)
        .to_socket_addrs()
        .with_context(|| format!("resolving the host name {host:?} for -sname"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find_map(|ip| match ip {
            IpAddr::V4(v4) if v4.is_loopback() => Some(v4.octets()),
            _ => None,
        })
        .with_context(|| {
            format!(
                "-sname nodes need the host name {host:?} to resolve to a 127.x.x.x \
                 address (add it to /etc/hosts, and to the chroots' /etc/hosts); \
                 it resolves to {addrs:?}"
            )
        })
}

/// `gethostname()` up to the first dot, as `erl -sname` uses it.
pub(crate) fn short_hostname() -> anyhow::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes a
    // NUL-terminated name into it (truncated if needed).
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("gethostname");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let full = String::from_utf8_lossy(&buf[..end]).into_owned();
    Ok(full.split('.').next().unwrap_or_default().to_owned())
}
