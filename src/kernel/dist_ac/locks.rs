//! The lock port dist_ac needs from `global`: `global:set_lock/3` and
//! `global:del_lock/2`, client side — mirrors `set_lock/4`,
//! `set_lock_on_nodes/2`, `check_replies/3`, `random_sleep/1` and
//! `del_lock/2` of
//! [`lib/kernel/src/global.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/global.erl).
//!
//! The node's own [`crate::kernel::global::Global`] implements [`Locks`]
//! (the default). [`GlobalLocks`] is a standalone client for nodes without
//! it: it speaks to the `global_name_server` of every node with
//! `gen_server:multi_call` framing (`{'$gen_call', {Pid, {Ref, Node}},
//! {set_lock, Id}}`, infinity timeout), from the calling process (global
//! records that pid as the holder). Nodes without a `global_name_server`
//! or that go down are "bad nodes" and are ignored, as in OTP.

use crate::runtime::Process;
use crate::term;
use crate::term::{Atom, Term, TermExt};
use futures::future::BoxFuture;
use std::sync::Mutex;
use std::time::Duration;

/// `global:set_lock/3` and `global:del_lock/2`, called from the dist_ac process.
pub trait Locks: Send + Sync + 'static {
    /// Takes `id` on `nodes`; `retries: None` = infinity. `true` if taken.
    fn set_lock<'a>(
        &'a self,
        p: &'a mut Process,
        id: Term,
        nodes: Vec<Atom>,
        retries: Option<u32>,
    ) -> BoxFuture<'a, bool>;

    /// Releases `id` on `nodes` (only the caller's hold).
    fn del_lock<'a>(&'a self, p: &'a mut Process, id: Term, nodes: Vec<Atom>) -> BoxFuture<'a, ()>;
}

/// The client of OTP's lock service: gen_server calls to `global_name_server`.
#[derive(Debug)]
pub struct GlobalLocks {
    rng: Mutex<u64>,
}

impl GlobalLocks {
    /// `seed` drives the back-off between retries (`random_sleep/1`).
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(seed | 1),
        }
    }

    /// `random_sleep(Times)`: uniform up to 250 ms, doubling to 8 s.
    fn back_off(&self, times: u32) -> Duration {
        let tmax: u64 = if times > 5 {
            8000
        } else {
            ((1u64 << times) * 1000) / 8
        };
        let mut s = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        // xorshift64*
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        let r = s.wrapping_mul(0x2545_F491_4F6C_DD1D);
        Duration::from_millis(1 + r % tmax.max(1))
    }
}

/// `gen_server:multi_call(Nodes, global_name_server, Req)` with infinity
/// timeout: `[(Node, Reply)]` for the nodes that answered.
pub async fn multi_call(p: &mut Process, nodes: &[Atom], req: &Term) -> Vec<(Atom, Term)> {
    let me = p.pid().clone();
    let mut pending = Vec::new();
    for n in nodes {
        let mref = p.monitor(("global_name_server", n.name.as_str()));
        let r = Term::Reference(Box::new(mref.clone()));
        let tag = term!({(r.clone()), (Term::Atom(n.clone()))});
        let msg = term!({:"$gen_call", {(Term::Pid(me.clone())), (tag.clone())}, (req.clone())});
        p.send(("global_name_server", n.name.as_str()), msg);
        pending.push((n.clone(), mref, r, tag));
    }
    let mut replies = Vec::new();
    for (n, mref, r, tag) in pending {
        let m = p
            .receive(|m| match m.as_tuple() {
                Some([t, _]) => *t == tag,
                Some([d, x, ..]) => d.as_atom() == Some("DOWN") && *x == r,
                _ => false,
            })
            .await;
        if m.tuple_tag() != Some("DOWN") {
            p.demonitor(&mref, true);
            if let Some(v) = m.elem(1) {
                replies.push((n, v.clone()));
            }
        }
    }
    replies
}

impl Locks for GlobalLocks {
    fn set_lock<'a>(
        &'a self,
        p: &'a mut Process,
        id: Term,
        nodes: Vec<Atom>,
        retries: Option<u32>,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let mut left = retries;
            let mut times = 1;
            loop {
                if nodes.is_empty() {
                    return true;
                }
                let req = term!({set_lock, (id.clone())});
                let replies = multi_call(p, &nodes, &req).await;
                let granted: Vec<Atom> = replies
                    .iter()
                    .filter(|(_, v)| v.as_bool() == Some(true))
                    .map(|(n, _)| n.clone())
                    .collect();
                if granted.len() == replies.len() {
                    return true;
                }
                if replies.len() > 1 {
                    let del = term!({del_lock, (id.clone())});
                    multi_call(p, &granted, &del).await;
                }
                match left {
                    Some(0) => return false,
                    Some(n) => left = Some(n - 1),
                    None => {}
                }
                tokio::time::sleep(self.back_off(times)).await;
                times += 1;
            }
        })
    }

    fn del_lock<'a>(&'a self, p: &'a mut Process, id: Term, nodes: Vec<Atom>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let req = term!({del_lock, (id)});
            multi_call(p, &nodes, &req).await;
        })
    }
}

/// The node's own `global` as the lock port: the same client code
/// `global:set_lock/3` runs on BEAM, from the dist_ac process.
impl Locks for crate::kernel::global::Global {
    fn set_lock<'a>(
        &'a self,
        p: &'a mut Process,
        id: Term,
        nodes: Vec<Atom>,
        retries: Option<u32>,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Some([res, req]) = id.as_tuple() else {
                return false;
            };
            let lock = crate::kernel::global::LockId::new(res.clone(), req.clone());
            Self::set_lock(self, p, &lock, Some(&nodes), retries).await
        })
    }

    fn del_lock<'a>(&'a self, p: &'a mut Process, id: Term, nodes: Vec<Atom>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some([res, req]) = id.as_tuple() {
                let lock = crate::kernel::global::LockId::new(res.clone(), req.clone());
                Self::del_lock(self, p, &lock, Some(&nodes)).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_follows_random_sleep_bounds() {
        let l = GlobalLocks::new(7);
        for times in 1..10 {
            let d = l.back_off(times).as_millis() as u64;
            let tmax = if times > 5 {
                8000
            } else {
                ((1u64 << times) * 1000) / 8
            };
            assert!(d >= 1 && d <= tmax, "times {times}: {d} > {tmax}");
        }
    }
}
