//! The log of the in-process Rust nodes, as lines a test can assert on.
//!
//! Every [`super::RustNode`] of the test process logs through one `tracing`
//! subscriber, installed by [`init`]: it prints what `RUST_LOG` selects (to
//! the test's captured output, as before) and also keeps every event of
//! level `WARN` or `ERROR` as a line `LEVEL message`. Tests run in parallel
//! in this process, so a test picks its own node's lines by the node name
//! they contain (OTP's messages name the node, e.g. `'global' at node
//! 'r@127.0.0.1' …`).

use std::fmt::Write as _;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, fmt};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs the subscriber (once per process; later calls do nothing).
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let printed = fmt::layer()
            .with_test_writer()
            .with_filter(EnvFilter::from_default_env());
        let _ = tracing_subscriber::registry()
            .with(printed)
            .with(Capture.with_filter(LevelFilter::WARN))
            .try_init();
    });
}

/// Every captured line containing all of `needles`, in logging order.
pub(crate) fn lines_with(needles: &[&str]) -> Vec<String> {
    lines()
        .into_iter()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .collect()
}

/// Waits up to `timeout` until a captured line contains all of `needles`
/// and returns it.
pub(crate) fn wait_for(needles: &[&str], timeout: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(l) = lines_with(needles).into_iter().next() {
            return Ok(l);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("no Rust node logged a line with {needles:?} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lines() -> Vec<String> {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The layer that keeps events as lines.
struct Capture;

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Text(&mut line));
        LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// Appends the message, then the other fields as ` name=value`.
struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}
