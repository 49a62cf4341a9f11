//! The lock port dist_ac needs from `global`: `global:set_lock/3` and
//! `global:del_lock/2` (client side of `lib/kernel/src/global.erl`).
//!
//! The node's own [`crate::kernel::global::Global`] implements [`Locks`]
//! with the one lock client of the crate (`Global::set_lock`); the port is
//! a trait so that dist_ac's simulation can run without global.

use crate::runtime::Process;
use crate::term::{Atom, Term, TermExt};
use futures::future::BoxFuture;

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
