//! A `distro` node running inside the test process (the library, not the
//! binary), on its own tokio runtime, registered with the test's EPMD.
//!
//! Tests stay synchronous: BEAM evals block the test thread while the
//! node's tasks run on the runtime's workers. [`RustNode::probe`] spawns a
//! process whose mailbox the test can read with a timeout.

use super::{DEFAULT_COOKIE, Epmd, unique_node};
use distro::kernel::{Kernel, KernelConfig};
use distro::runtime::{GenCall, Node, NodeConfig, Process};
use distro::term;
use distro::term::{Pid, Term, atom, tuple};
use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

/// An in-process node.
pub(crate) struct RustNode {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) node: Node,
    pub(crate) kernel: Kernel,
}

/// A process whose received messages the test reads.
pub(crate) struct Probe {
    pub(crate) pid: Pid,
    rx: mpsc::Receiver<Term>,
}

impl Probe {
    /// A probe over a process that forwards to `rx`.
    pub(crate) fn new(pid: Pid, rx: mpsc::Receiver<Term>) -> Self {
        Self { pid, rx }
    }

    /// The next message, or `None` after `timeout`.
    pub(crate) fn recv(&self, timeout: Duration) -> Option<Term> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl RustNode {
    /// A node named `unique_name(label)@127.0.0.1`.
    pub(crate) fn start(epmd: &Epmd, label: &str) -> Self {
        Self::start_named(epmd, &unique_node(label), |_| {})
    }

    /// A node with the full `name`, after `tweak` adjusts its configuration.
    pub(crate) fn start_named(
        epmd: &Epmd,
        name: &str,
        tweak: impl FnOnce(&mut NodeConfig),
    ) -> Self {
        Self::start_with_kernel(epmd, name, tweak, KernelConfig::default())
    }

    /// [`Self::start_named`] with kernel parameters, e.g. global's
    /// `connect_all` (erl's `-connect_all false`).
    pub(crate) fn start_with_kernel(
        epmd: &Epmd,
        name: &str,
        tweak: impl FnOnce(&mut NodeConfig),
        kernel: KernelConfig,
    ) -> Self {
        // The crate's logs (RUST_LOG=…) in the test's captured output, and
        // its warnings for `rust_log`.
        super::rust_log::init();
        let rt = super::tokio_runtime();
        let mut cfg = NodeConfig::new(name, DEFAULT_COOKIE);
        cfg.epmd_port = epmd.port();
        cfg.listen_addr = Some(std::net::Ipv4Addr::LOCALHOST.into());
        tweak(&mut cfg);
        let (node, kernel) = rt
            .block_on(async {
                let node = Node::start(cfg).await?;
                let kernel = distro::kernel::start_with(&node, kernel);
                Ok::<_, distro::runtime::StartError>((node, kernel))
            })
            .expect("rust node starts");
        Self { rt, node, kernel }
    }

    /// The node name.
    pub(crate) fn name(&self) -> &str {
        &self.node.name().name
    }

    /// The node name as an Erlang atom literal.
    pub(crate) fn atom(&self) -> String {
        format!("'{}'", self.name())
    }

    /// Runs a future on the node's runtime.
    pub(crate) fn run<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Runs `body` in a new process on this node and returns its result;
    /// panics if it has none after `timeout`.
    pub(crate) fn in_process<R, F, Fut>(&self, timeout: Duration, body: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let _guard = self.rt.enter();
        self.node.spawn(move |p| async move {
            let _ = tx.send(body(p).await);
        });
        rx.recv_timeout(timeout)
            .expect("the process answers in time")
    }

    /// Spawns a gen_server-like process, registered as `name` if given, that
    /// answers every `gen_server:call(_, Request)` with `{echo, Request}`.
    pub(crate) fn spawn_echo_server(&self, name: Option<&str>) -> Pid {
        let name = name.map(str::to_owned);
        let _guard = self.rt.enter();
        self.node.spawn(move |mut p| async move {
            if let Some(n) = &name {
                p.register(n).expect("echo server name is free");
            }
            loop {
                let m = p.recv().await;
                if let Some(c) = GenCall::parse(&m) {
                    p.reply(&c.from, term!({echo, (c.request)}));
                }
            }
        })
    }

    /// Spawns a process that registers `name` (if given), optionally traps
    /// exits, runs `setup` and then forwards every message to the test.
    pub(crate) fn probe<S>(&self, name: Option<&str>, trap_exit: bool, setup: S) -> Probe
    where
        S: FnOnce(&Process) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let name = name.map(str::to_owned);
        let _guard = self.rt.enter();
        let pid = self.node.spawn(move |mut p| async move {
            if let Some(n) = &name {
                p.register(n).expect("probe name is free");
            }
            p.trap_exit(trap_exit);
            setup(&p);
            let _ = ready_tx.send(());
            loop {
                let m = p.recv().await;
                if tx.send(m).is_err() {
                    return;
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("probe started");
        Probe { pid, rx }
    }
}

impl Drop for RustNode {
    fn drop(&mut self) {
        self.rt.block_on(self.node.stop());
    }
}

/// The Erlang text of a pid so a BEAM eval can use it: `list_to_pid` only
/// makes local pids, so remote ones go through `binary_to_term`.
pub(crate) fn pid_literal(pid: &Pid) -> String {
    let bytes = distro::term::encode_to_vec(&Term::Pid(pid.clone())).expect("pid encodes");
    let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("binary_to_term(<<{}>>)", list.join(","))
}
