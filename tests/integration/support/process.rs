//! A child process owned by a test: spawned safely, its output captured line
//! by line, killed by PID when dropped.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{self, Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How many trailing log lines are shown in failure messages and panic dumps.
pub(crate) const TAIL_LINES: usize = 60;

/// How long, after a process exited, to wait for its last output lines.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Which output stream a captured line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// One captured line (without its line terminator).
#[derive(Clone, Debug)]
pub(crate) struct Line {
    /// Where the line was written.
    pub(crate) stream: Stream,
    /// The text, decoded as UTF-8 (invalid bytes replaced).
    pub(crate) text: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.stream {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
        };
        write!(f, "[{tag}] {}", self.text)
    }
}

#[derive(Default)]
struct OutputState {
    lines: Vec<Line>,
    /// Streams whose reader thread has not yet seen end of file.
    open_streams: usize,
}

#[derive(Default)]
struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
}

/// The captured output of one process: a cheap, cloneable handle to the line
/// store that the reader threads fill. Usable from any thread, also after the
/// process is gone.
#[derive(Clone)]
pub(crate) struct Log {
    label: Arc<str>,
    output: Arc<Output>,
}

impl Log {
    fn new(label: &str) -> Self {
        Self {
            label: label.into(),
            output: Arc::new(Output::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, OutputState> {
        // A panicking reader thread cannot leave the store half-written, so a
        // poisoned lock is still usable.
        self.output.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of lines captured so far; use as a cursor for
    /// [`Self::wait_for_line_from`].
    pub(crate) fn line_count(&self) -> usize {
        self.lock().lines.len()
    }

    /// A copy of all captured lines, in arrival order (stdout and stderr are
    /// interleaved in the order the reader threads saw them).
    pub(crate) fn lines(&self) -> Vec<Line> {
        self.lock().lines.clone()
    }

    /// Whether any captured line (either stream) contains `needle`.
    pub(crate) fn contains(&self, needle: &str) -> bool {
        self.lock().lines.iter().any(|l| l.text.contains(needle))
    }

    /// Waits up to `timeout` for a line containing `needle` and returns it.
    pub(crate) fn wait_for(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        self.wait_for_line_from(0, timeout, |l| l.text.contains(needle))
            .map(|l| l.text)
            .with_context(|| format!("waiting for a log line containing {needle:?}"))
    }

    /// Waits up to `timeout` for a line at index `from` or later that matches
    /// `pred`. Fails early when both output streams are closed (the process
    /// is gone) and no such line arrived.
    pub(crate) fn wait_for_line_from(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Line) -> bool,
    ) -> anyhow::Result<Line> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        let mut next = from;
        loop {
            if let Some(line) = state.lines.iter().skip(next).find(|l| pred(l)) {
                return Ok(line.clone());
            }
            next = state.lines.len().max(from);
            if state.open_streams == 0 {
                drop(state);
                bail!(
                    "{}: output closed (process exited) before a matching line arrived\n{}",
                    self.label,
                    self.tail(TAIL_LINES)
                );
            }
            let now = Instant::now();
            if now >= deadline {
                drop(state);
                bail!(
                    "{}: no matching line within {timeout:?}\n{}",
                    self.label,
                    self.tail(TAIL_LINES)
                );
            }
            state = self
                .output
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Whether both output streams have reached end of file.
    pub(crate) fn closed(&self) -> bool {
        self.lock().open_streams == 0
    }

    /// Waits up to `timeout` for both output streams to reach end of file;
    /// returns whether they did.
    pub(crate) fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.open_streams > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .output
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// The last `n` captured lines, formatted for a failure message.
    pub(crate) fn tail(&self, n: usize) -> String {
        let state = self.lock();
        let skip = state.lines.len().saturating_sub(n);
        let mut out = format!(
            "--- last {} of {} lines of {} ---\n",
            state.lines.len() - skip,
            state.lines.len(),
            self.label
        );
        for line in &state.lines[skip..] {
            out.push_str(&line.to_string());
            out.push('\n');
        }
        out
    }

    fn push(&self, line: Line) {
        self.lock().lines.push(line);
        self.output.changed.notify_all();
    }

    fn close_stream(&self) {
        self.lock().open_streams -= 1;
        self.output.changed.notify_all();
    }
}

/// A child process of the test, with captured stdout/stderr.
///
/// Dropping the guard kills the process (SIGKILL, by PID) and reaps it. The
/// child is also spawned with `PR_SET_PDEATHSIG = SIGKILL` by one long-lived
/// spawner thread, so it dies with the test binary (however that ends) and
/// from any thread it may be spawned, blocking-pool threads included.
pub(crate) struct ProcessGuard {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: Log,
    status: Option<ExitStatus>,
}

impl ProcessGuard {
    /// Spawns `cmd` with piped stdin/stdout/stderr. `label` names the process
    /// in messages (e.g. the node name).
    pub(crate) fn spawn(label: impl Into<String>, mut cmd: Command) -> anyhow::Result<Self> {
        let label = label.into();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = format!("{cmd:?}");
        let mut child =
            spawn_child(cmd).with_context(|| format!("{label}: cannot spawn {program}"))?;
        let log = Log::new(&label);
        log.lock().open_streams = 2;
        let echo = std::env::var_os("DISTRO_TEST_ECHO").is_some_and(|v| v != "0");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        spawn_reader(Stream::Stdout, stdout, log.clone(), echo)?;
        spawn_reader(Stream::Stderr, stderr, log.clone(), echo)?;
        let stdin = child.stdin.take();
        Ok(Self {
            label,
            child,
            stdin,
            log,
            status: None,
        })
    }

    /// The label given at spawn time.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The OS process id of the direct child.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin, while it has not been closed.
    pub(crate) fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.stdin.as_mut()
    }

    /// Closes the child's stdin (it sees end of file).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// `Some(status)` once the process has exited (it is then reaped).
    ///
    /// The first time an exit is seen, this also waits (up to
    /// [`DRAIN_TIMEOUT`]) until the reader threads have captured everything
    /// the process wrote, so log assertions after an exit are not racy.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            let status = self.child.try_wait().ok().flatten()?;
            self.exited(status);
        }
        self.status
    }

    fn exited(&mut self, status: ExitStatus) {
        self.status = Some(status);
        // A grandchild that inherited the pipes could keep them open; do not
        // wait for it forever.
        self.log.wait_closed(DRAIN_TIMEOUT);
    }

    /// Whether the process is still running (a stopped process is running).
    pub(crate) fn is_running(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`) to the process, by PID.
    ///
    /// Refuses once the process has been reaped, because its PID may then
    /// belong to an unrelated process.
    pub(crate) fn signal(&mut self, signal: libc::c_int) -> anyhow::Result<()> {
        if let Some(status) = self.try_wait() {
            bail!("{}: cannot signal, already exited ({status})", self.label);
        }
        let pid = libc::pid_t::try_from(self.child.id()).context("pid out of range")?;
        // SAFETY: kill(2) has no memory-safety preconditions; the PID is our
        // unreaped child, so it cannot have been recycled.
        if unsafe { libc::kill(pid, signal) } != 0 {
            let err = std::io::Error::last_os_error();
            bail!("{}: kill({pid}, {signal}): {err}", self.label);
        }
        Ok(())
    }

    /// SIGKILLs the process (by PID) and reaps it. Does nothing if it has
    /// already exited.
    pub(crate) fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.try_wait() {
            return status;
        }
        // Child::kill sends SIGKILL to our own unreaped child's PID.
        let _ = self.child.kill();
        let status = self.child.wait().expect("waiting for a killed child");
        self.exited(status);
        status
    }

    /// SIGTERMs the process and waits up to `timeout` for it to exit; if it
    /// does not, SIGKILLs it. Returns the exit status.
    pub(crate) fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        if self.signal(libc::SIGTERM).is_ok() {
            if let Some(status) = self.wait_exit(timeout) {
                return status;
            }
        }
        self.kill()
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The captured output.
    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    /// The last `n` captured lines, formatted for a failure message.
    pub(crate) fn tail(&self, n: usize) -> String {
        self.log.tail(n)
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.tail(TAIL_LINES));
        }
        self.stdin = None;
        self.kill();
    }
}

/// Spawns `cmd` so that its child gets SIGKILL when this test process
/// exits, however it exits, and not before.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
/// not the process: a child spawned from a tokio blocking-pool thread was
/// killed when that thread retired after 10 s idle, in the middle of its
/// test. So every child is forked by one spawner thread that lives as long
/// as the test process.
fn spawn_child(mut cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: std::sync::OnceLock<Mutex<mpsc::Sender<Job>>> = std::sync::OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("test-spawner".to_owned())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    if let Err(e) = die_with_parent(&mut cmd) {
        return Err(std::io::Error::other(e.to_string()));
    }
    let (tx, rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// Makes the child of `cmd` get SIGKILL when the thread that spawns it
/// exits (`PR_SET_PDEATHSIG`); [`spawn_child`] makes that thread live as
/// long as the test process.
fn die_with_parent(cmd: &mut Command) -> anyhow::Result<()> {
    let parent = libc::pid_t::try_from(std::process::id()).context("pid out of range")?;
    // SAFETY: the closure only calls async-signal-safe functions (prctl,
    // getppid) between fork and exec, and allocates nothing on success.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("parent exited before exec"));
            }
            Ok(())
        });
    }
    Ok(())
}

/// Runs a short-lived command to completion, with an empty stdin, and
/// returns its exit status and everything it wrote (e.g. `epmd -names`, or
/// the `distro` binary with bad arguments).
///
/// Like [`ProcessGuard`], the child dies with the spawning thread; it is
/// killed (by PID) and an error returned if it has not exited after
/// `timeout`. `label` names it in messages.
pub(crate) fn run(
    label: &str,
    mut cmd: Command,
    timeout: Duration,
) -> anyhow::Result<process::Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let shown = format!("{cmd:?}");
    let mut child = match spawn_child(cmd) {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{label}: `{program}` not found")
        }
        Err(e) => return Err(e).with_context(|| format!("{label}: cannot spawn {shown}")),
    };
    let stdout = collect(child.stdout.take().expect("stdout is piped"))?;
    let stderr = collect(child.stderr.take().expect("stderr is piped"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for a child")? {
            break status;
        }
        if Instant::now() >= deadline {
            // Child::kill sends SIGKILL to our own unreaped child's PID.
            let _ = child.kill();
            let _ = child.wait();
            bail!("{label}: did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Ok(process::Output {
        status,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
    })
}

/// Everything read from one pipe of a [`run`] child, by a reader thread.
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Collected {
    /// The bytes, once the pipe is closed (or after [`DRAIN_TIMEOUT`], if a
    /// grandchild that inherited it keeps it open).
    fn finish(self) -> Vec<u8> {
        let _ = self.done.recv_timeout(DRAIN_TIMEOUT);
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> anyhow::Result<Collected> {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = mpsc::channel();
    let sink = bytes.clone();
    thread::Builder::new()
        .name("run-output".to_owned())
        .spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send(());
        })
        .context("spawning an output reader thread")?;
    Ok(Collected { bytes, done })
}

fn spawn_reader(
    stream: Stream,
    pipe: impl Read + Send + 'static,
    log: Log,
    echo: bool,
) -> anyhow::Result<()> {
    let thread_name = format!("{}-{stream:?}", log.label);
    thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        while matches!(buf.last(), Some(b'\n' | b'\r')) {
                            buf.pop();
                        }
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        if echo {
                            eprintln!("[{} {stream:?}] {text}", log.label);
                        }
                        log.push(Line { stream, text });
                    }
                }
            }
            log.close_stream();
        })
        .context("spawning an output reader thread")?;
    Ok(())
}
