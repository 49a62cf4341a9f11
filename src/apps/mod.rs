//! Built-in applications, written only against the public API
//! ([`crate::kernel::application_controller`], [`crate::runtime`],
//! [`crate::kernel::rex`]), as examples for users.
//!
//! * [`distro`]: the seed's Elixir demo (`Distro.DistroCal`).
//! * [`myapp`]: the OTP guide's distributed application example (and the
//!   test application of the golden traces).

use crate::term;
pub mod distro;
pub mod myapp;

#[cfg(test)]
mod apps_test;

use crate::behaviours::gen_server::{NameRegistry, StartError};
use crate::kernel::application_controller::ApplicationController;
use crate::kernel::rex::{Class, Exception};
use crate::runtime::Node;
use crate::term::{Atom, Pid, Term, atom, list, uint};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// Makes the built-in applications available to `ac` (`MYAPP_START_PHASES=1`
/// gives `myapp` a `{start_phases, [{go, []}]}` key, as the traces' harness).
pub fn add_builtin(ac: &ApplicationController) {
    ac.add(Arc::new(distro::Distro));
    let phases = std::env::var("MYAPP_START_PHASES").is_ok_and(|v| v == "1");
    ac.add(Arc::new(myapp::MyApp::new(phases)));
}

/// The `Reason` of `{error, Reason}` for a failed start (what
/// `Mod:start/2` returns to the application master).
fn start_error(e: StartError) -> Term {
    match e {
        StartError::Init(r) => r,
        other => other.to_term(),
    }
}

/// `Module:call({global, Name}, Request)` as the rpc function of a module
/// (`gen_server:call/2` or Elixir's `GenServer.call/2`, named by
/// `caller_module`), from a short-lived process: the reply, or the exit
/// `{Reason, {Module, call, [{global, Name}, Request | Timeout]}}`.
async fn call_global(
    node: &Node,
    global: &dyn NameRegistry,
    name: &str,
    req: Term,
    caller_module: &'static str,
) -> Result<Term, Exception> {
    let timeout = Duration::from_secs(5);
    let server = term!({global, (atom(name))});
    // gen_server:call/2 names [Server, Request]; GenServer.call/2 adds the
    // default timeout.
    let mut args = vec![server, req.clone()];
    if caller_module != "gen_server" {
        args.push(uint(5000));
    }
    let exit = |reason: Term| Exception {
        class: Class::Exit,
        reason: term!({(reason), {(atom(caller_module)), call, (list(args.clone()))}}),
    };
    let Some(pid) = global.whereis_name(&atom(name)) else {
        return Err(exit(atom("noproc")));
    };
    match node.client().call(pid, req, timeout).await {
        Ok(v) => Ok(v),
        Err(e) => Err(exit(e.reason)),
    }
}

/// `{global, Name}` for a server that must win its name even while an
/// older instance still holds it (at a takeover the old node stops its
/// instance only after the new one started): registering is the wrapped
/// registry's `re_register_name` (`global:re_register_name/2`); the rest
/// goes to it unchanged.
pub(crate) struct ReRegister(pub(crate) Arc<dyn NameRegistry>);

impl NameRegistry for ReRegister {
    fn module(&self) -> Atom {
        self.0.module()
    }

    fn register_name(&self, name: Term, pid: Pid) -> BoxFuture<'static, bool> {
        self.0.re_register_name(name, pid)
    }

    fn re_register_name(&self, name: Term, pid: Pid) -> BoxFuture<'static, bool> {
        self.0.re_register_name(name, pid)
    }

    fn unregister_name(&self, name: Term) -> BoxFuture<'static, ()> {
        self.0.unregister_name(name)
    }

    fn whereis_name(&self, name: &Term) -> Option<Pid> {
        self.0.whereis_name(name)
    }
}
