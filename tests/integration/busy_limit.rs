//! Back-pressure of the library API against a real BEAM node (issue #13):
//! `Process::send_wait` waits while the connection's queue is over
//! `dist_buf_busy_limit`, as `erlang:send/2` suspends on BEAM;
//! `Process::send_nosuspend` hands the message back instead; nothing is
//! lost or reordered once the peer reads again.
//!
//! The BEAM node stops reading by being stopped (SIGSTOP, by PID) while a
//! Rust process streams to a process on it.

use distro::term;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use distro::runtime::Busy;
use distro::term::{atom, binary, int};

use crate::support::{BeamNode, BeamOpts, Epmd, RustNode, require_otp, unique_node};

const T: Duration = Duration::from_secs(30);
const MESSAGES: u64 = 5000;
const SIZE: usize = 4096;

#[test]
fn a_rust_sender_waits_while_a_stopped_beam_node_reads_nothing() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    // A busy limit of 64 KiB (erl's +zdbbl 64).
    let rust = RustNode::start_named(&epmd, &unique_node("busy_r"), |c| {
        c.dist_buf_busy_limit = 64 * 1024;
    });
    let b = BeamNode::start(&epmd, BeamOpts::new("busy_b").otp(otp)).unwrap();
    // A sink that checks the order of what it gets and counts it in a
    // public table (read below without variables: the eval loop keeps its
    // bindings from one eval to the next).
    let sink = "register(sink, spawn(fun() -> \
                    ets:new(sink_count, [named_table, public]), \
                    (fun Loop(Next) -> \
                        ets:insert(sink_count, {n, Next}), \
                        receive \
                            {Next, _Bin} -> Loop(Next + 1); \
                            Other -> exit({out_of_order, Next, Other}) \
                        end \
                    end)(0) end)), ok.";
    assert_eq!(b.eval(sink).unwrap(), "ok");
    let node = b.node_name().to_owned();
    assert_eq!(
        b.eval(&format!("net_adm:ping({}).", rust.atom())).unwrap(),
        "pong"
    );
    b.suspend().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let _guard = rust.rt.enter();
    rust.node.spawn({
        let (sent, node) = (sent.clone(), node.clone());
        move |p| async move {
            let bin = binary(vec![7u8; SIZE]);
            for i in 0..MESSAGES {
                let msg = term!({(int(i as i64)), (bin.clone())});
                p.send_wait(("sink", node.as_str()), msg).await;
                sent.store(i + 1, Ordering::Relaxed);
            }
        }
    });
    // The stream stalls: the same count one second apart.
    let mut last = u64::MAX;
    let stalled = loop {
        std::thread::sleep(Duration::from_secs(1));
        let n = sent.load(Ordering::Relaxed);
        assert!(n < MESSAGES, "never waited: the busy limit did not hold");
        if n == last {
            break n;
        }
        last = n;
    };
    eprintln!(
        "stalled after {stalled} of {MESSAGES} messages ({} KiB of {} KiB)",
        stalled * SIZE as u64 / 1024,
        MESSAGES * SIZE as u64 / 1024
    );
    // A send that must not wait gets its message back.
    let refused = rust.in_process(T, {
        let node = node.clone();
        move |p| async move { p.send_nosuspend(("sink", node.as_str()), atom("probe")) }
    });
    match refused {
        Err(Busy { node: n, msg }) => {
            assert_eq!(n.name, node);
            assert_eq!(msg, atom("probe"));
        }
        Ok(()) => panic!("a busy connection took a nosuspend send"),
    }
    b.resume().unwrap();
    crate::support::wait_until("the stream finishes", T, || {
        sent.load(Ordering::Relaxed) == MESSAGES
    })
    .unwrap();
    // Everything arrived, in order (the sink exits otherwise).
    b.eval_until(
        "ets:lookup_element(sink_count, n, 2).",
        &MESSAGES.to_string(),
        T,
    )
    .unwrap();
}
