//! The connection queue's byte count, busy state and wake-ups.

use super::*;
use crate::dist::frame::{FrameWriter, encode_control};
use crate::term;
use crate::term::{Atom, Pid, atom, binary, int, list, map};
use std::time::Duration;

fn pid(n: u32) -> Pid {
    Pid {
        node: Atom::from("peer@127.0.0.1"),
        id: n,
        serial: 0,
        creation: 7,
    }
}

fn send(msg: Term) -> Control {
    Control::Send {
        from: Some(pid(1)),
        to: pid(2),
        msg,
    }
}

/// The bytes `encode_control` writes for `c`.
fn encoded_len(c: &Control) -> usize {
    let mut out = Vec::new();
    encode_control(c, DFlags::OURS, &mut FrameWriter::default(), &mut out).expect("encodes");
    out.len()
}

#[test]
fn weight_is_close_to_the_encoded_size() {
    let cases = [
        send(atom("ok")),
        send(binary(vec![7; 1 << 20])),
        send(binary(vec![7; 100])),
        send(term!({:"$gen_call", 1, (list(vec![int(300); 1000]))})),
        send(map((0..100).map(|i| (int(i), atom("v"))).collect())),
        send(crate::term::charlist("hello world")),
        Control::Link {
            from: pid(1),
            to: pid(2),
        },
    ];
    for c in &cases {
        let (w, real) = (weight(c), encoded_len(c));
        // Never below the real size by more than the fragment headers of a
        // large message, never more than 2.5 times it plus the headers.
        assert!(w + real / 1000 + 16 >= real, "{w} vs {real}: {c:?}");
        assert!(w <= real * 5 / 2 + 32, "{w} vs {real}: {c:?}");
    }
}

#[test]
fn busy_from_the_limit_until_released_below_it() {
    let (tx, rx) = channel(1000);
    let one = send(binary(vec![0; 400]));
    let w = weight(&one);
    tx.send(one.clone());
    tx.send(one.clone());
    assert!(!tx.is_busy(), "{} < 1000", tx.queued());
    tx.send(one);
    assert!(tx.is_busy());
    assert_eq!(tx.queued(), 3 * w);
    rx.release(w);
    assert!(!tx.is_busy());
    assert_eq!(rx.queued(), 2 * w);
}

#[tokio::test]
async fn a_waiting_sender_wakes_when_the_writer_drains_the_queue() {
    let (tx, mut rx) = channel(100);
    tx.send(send(binary(vec![0; 200])));
    assert!(tx.is_busy());
    let wait = tx.busy_wait();
    let waiter = tokio::spawn(async move { wait.until_not_busy().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished(), "busy: the sender waits");
    let q = rx.recv().await.expect("queued");
    rx.release(q.charged);
    tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .expect("no panic");
    assert_eq!(tx.queued(), 0);
}

#[tokio::test]
async fn a_waiting_sender_wakes_when_the_connection_goes() {
    let (tx, _rx) = channel(10);
    tx.send(send(atom("a_message_over_ten_bytes")));
    let wait = tx.busy_wait();
    let waiter = tokio::spawn(async move { wait.until_not_busy().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    drop(tx);
    tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .expect("no panic");
}

#[test]
fn a_send_after_the_writer_is_gone_charges_nothing() {
    let (tx, rx) = channel(10);
    drop(rx);
    tx.send(send(atom("lost")));
    assert_eq!(tx.queued(), 0);
    assert!(!tx.is_busy());
}

#[test]
fn weight_of_a_deep_term_does_not_recurse() {
    let mut t = atom("leaf");
    for _ in 0..200_000 {
        t = term!({ (t) });
    }
    let c = send(t);
    assert!(weight(&c) > 200_000);
    // Dropping it recurses (eetf's Drop); take it apart by hand.
    let Control::Send { msg, .. } = c else {
        unreachable!()
    };
    let mut stack = vec![msg];
    while let Some(t) = stack.pop() {
        if let Term::Tuple(x) = t {
            stack.extend(x.elements);
        }
    }
}
