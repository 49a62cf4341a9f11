//! dist_ac on hostile input: whatever bytes a peer sends, decoded as a term,
//! must either be rejected by `DacMsg::from_term` or round-trip through
//! `to_term`; and a booted `DistAc` fed a sequence of such messages (and
//! node events chosen by the input) never panics.
//!
//! ```text
//! cargo fuzz run --sanitizer none dist_ac -- -max_total_time=60
//! ```

#![no_main]

use distro::kernel::dist_ac::{
    Config, DacMsg, DistAc, DistEntry, Input, NodeSpec, NodesSpec, Peer, RestartTime,
};
use distro::term::{Atom, Limits, atom, decode_prefix_with};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let cfg = Config {
        distributed: vec![DistEntry {
            app: Atom::from("myapp"),
            restart_time: RestartTime::Ms(10),
            nodes: NodesSpec(vec![
                NodeSpec::One(Atom::from("a@h")),
                NodeSpec::Any(vec![Atom::from("b@h"), Atom::from("c@h")]),
            ]),
        }],
        permissions: vec![],
        // The input's first bit also runs the partition-healing paths.
        heal_partitions: data.first().is_some_and(|b| b & 1 == 1),
    };
    let mut d = DistAc::new(Atom::from("b@h"), atom("pid"), cfg);
    d.handle(t0, Input::NodeUp(Atom::from("a@h")));
    d.handle(t0, Input::Go);
    d.handle(t0, Input::LockResult(true));
    d.handle(t0, Input::Whereis(None));
    d.handle(t0, Input::Unlocked);
    let mut rest = data;
    let mut now = t0;
    while let Some((&op, tail)) = rest.split_first() {
        now += Duration::from_millis(u64::from(op % 16));
        match op % 8 {
            0 => d.handle(now, Input::NodeDown(Atom::from("a@h"))),
            1 => d.handle(now, Input::NodeUp(Atom::from("a@h"))),
            2 => d.handle(now, Input::LockResult(op & 0x80 != 0)),
            3 => d.handle(now, Input::Unlocked),
            4 => d.handle_timeout(now),
            // The healing answers, in any order and at any time.
            5 => d.handle(
                now,
                Input::RunsAt {
                    node: Atom::from("a@h"),
                    app: Atom::from("myapp"),
                    peer: match op >> 6 {
                        0 => Peer::Distro,
                        1 => Peer::Beam { knows_us: true },
                        _ => Peer::Beam { knows_us: false },
                    },
                    asked: u64::from(op >> 5 & 1),
                },
            ),
            6 => d.handle(
                now,
                Input::Stopped {
                    node: Atom::from(if op & 0x80 != 0 { "a@h" } else { "b@h" }),
                    app: Atom::from("myapp"),
                },
            ),
            7 => d.handle(
                now,
                Input::TookOver {
                    node: Atom::from("a@h"),
                    app: Atom::from("myapp"),
                    ok: op & 0x80 != 0,
                },
            ),
            _ => {}
        }
        rest = tail;
        let Ok((term, used)) = decode_prefix_with(rest, true, &Limits::default()) else {
            continue;
        };
        rest = &rest[used.max(1).min(rest.len())..];
        if let Some(m) = DacMsg::from_term(&term) {
            assert_eq!(DacMsg::from_term(&m.to_term()), Some(m.clone()));
            d.handle(now, Input::Dac(m));
        }
        while d.poll_output().is_some() {}
    }
});
