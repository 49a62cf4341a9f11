//! Helpers for the unit tests of processes on a [`Node::local`] node
//! (compiled only for tests).

use super::{Node, Process};
use crate::term::{Pid, Term};
use std::time::Duration;

/// How long a unit test waits for anything.
pub(crate) const T: Duration = Duration::from_secs(2);

/// Runs `body` in a fresh process and returns what it returns.
pub(crate) async fn in_process<R, F, Fut>(node: &Node, body: F) -> R
where
    R: Send + 'static,
    F: FnOnce(Process) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    tokio::time::timeout(T, node.run_in_process(body))
        .await
        .expect("timed out")
        .expect("process died")
}

/// The next term on a test channel, failing the test after [`T`].
pub(crate) async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Term>) -> Term {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("timed out")
        .expect("closed")
}

/// Waits until a local process is gone (its exit is propagated).
pub(crate) async fn wait_dead(node: &Node, pid: &Pid) {
    for _ in 0..200 {
        if !node.is_process_alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("process still alive");
}
