//! The connection table: what `net_kernel` keeps in its `sys_dist` table
//! and decides in `accept_pending/is_pending/wait_pending`
//! (`lib/kernel/src/net_kernel.erl`), implemented as the
//! [`Host`](crate::dist::connection::Host) of the connection drivers, plus
//! the bookkeeping when a connection goes down.

use super::node::{Inner, split_name};
use super::state::{ConnState, State};
use crate::dist::control::Control;
use crate::term::{Atom, Term, atom, cmp_atoms};
use std::net::SocketAddr;

impl Inner {
    /// Closes the connection to `node`, if any.
    pub(crate) fn disconnect(&self, node: &Atom, reason: Term) -> bool {
        let removed = {
            let mut st = self.lock();
            st.conns.remove(node)
        };
        let Some(c) = removed else { return false };
        c.shut_down();
        for t in &c.tasks {
            t.abort();
        }
        let was_up = !matches!(c.state, ConnState::Pending { .. });
        self.after_down(node, c.published, c.id, was_up, &reason);
        true
    }

    /// `net_kernel:async_disconnect/1`: the connection to `node` is gone
    /// for this node at once (nodedown now, nothing more is delivered from
    /// it), but what was already sent to `node` is still written before the
    /// socket closes — as on BEAM, where the messages a process sent before
    /// asking `net_kernel` to disconnect are on the wire by the time it
    /// does. `global` relies on that: a `lost_connection` sent just before
    /// obeying a `remove_connection` must reach the node that asked.
    pub(crate) fn async_disconnect(&self, node: &Atom, reason: Term) -> bool {
        let removed = {
            let mut st = self.lock();
            st.conns.remove(node)
        };
        // Dropping the entry drops the only sender: the writer drains the
        // queue and ends; the driver then closes the socket.
        let Some(c) = removed else { return false };
        match &c.reader {
            Some(reader) => reader.abort(),
            None => c.tasks.iter().for_each(tokio::task::AbortHandle::abort),
        }
        let was_up = !matches!(c.state, ConnState::Pending { .. });
        self.after_down(node, c.published, c.id, was_up, &reason);
        true
    }

    pub(crate) fn after_down(
        &self,
        node: &Atom,
        published: bool,
        id: u64,
        was_up: bool,
        reason: &Term,
    ) {
        self.with(|st, fx| {
            st.node_down(&self.name, self.creation, node, fx);
            if was_up {
                st.notify_node_monitors(node, false, published, id, reason);
            }
        });
        if was_up {
            tracing::debug!(node = %node.name, reason = %crate::term::Pretty(reason), "nodedown");
        }
    }

    pub(crate) fn attempt_failed_inner(&self, peer: &Atom, attempt: u64) {
        let removed = {
            let mut st = self.lock();
            match st.conns.get(peer) {
                Some(c) if c.id == attempt && matches!(c.state, ConnState::Pending { .. }) => {
                    st.conns.remove(peer)
                }
                Some(c) if matches!(c.state, ConnState::UpPending { owner } if owner == attempt) => {
                    if let Some(c) = st.conns.get_mut(peer) {
                        c.state = ConnState::Up;
                    }
                    None
                }
                _ => None,
            }
        };
        if removed.is_some() {
            self.after_down(peer, false, attempt, false, &atom("noconnection"));
        }
    }
}

impl crate::dist::connection::Host for Inner {
    fn accept_pending(&self, peer: &str, attempt: u64) -> crate::dist::handshake::AcceptPending {
        use crate::dist::handshake::AcceptPending;
        let peer_atom = Atom::from(peer);
        if split_name(peer).is_none() || peer_atom == self.name {
            return AcceptPending::NotAllowed;
        }
        // The peer closed its old connection and is back before our reader
        // saw the close (erl_call and jinterface reconnect under the same
        // name at once, and take no `alive` status): that connection is
        // down now, as net_kernel would have it a moment later.
        let closed = {
            let st = self.lock();
            st.conns
                .get(&peer_atom)
                .filter(|c| matches!(c.state, ConnState::Up) && c.socket_closed())
                .map(|c| c.id)
        };
        if let Some(old) = closed {
            self.connection_down(peer, old, atom("connection_closed"));
        }
        tracing::debug!(peer, "accepting a connection");
        let mut aborts = Vec::new();
        let answer = {
            let mut st = self.lock();
            match st.conns.get_mut(&peer_atom) {
                None => {
                    let id = st.new_pending(&peer_atom);
                    // Adopt the accepted attempt's id as the owner.
                    if let Some(c) = st.conns.get_mut(&peer_atom) {
                        c.id = attempt;
                        c.state = ConnState::Pending { owner: attempt };
                    }
                    let _ = id;
                    AcceptPending::Ok
                }
                Some(c) => match c.state {
                    ConnState::Pending { .. } => {
                        if cmp_atoms(&self.name, &peer_atom) == std::cmp::Ordering::Greater {
                            AcceptPending::Nok
                        } else {
                            aborts.append(&mut c.tasks);
                            c.id = attempt;
                            c.state = ConnState::Pending { owner: attempt };
                            AcceptPending::OkSimultaneous
                        }
                    }
                    ConnState::Up => {
                        c.state = ConnState::UpPending { owner: attempt };
                        AcceptPending::UpPending
                    }
                    ConnState::UpPending { .. } => AcceptPending::AlreadyPending,
                },
            }
        };
        for a in aborts {
            a.abort();
        }
        answer
    }

    fn name_me(&self, host: &str, attempt: u64) -> Option<(String, u32)> {
        let mut st = self.lock();
        loop {
            // generate_node_name/2: integer_to_list(rand:uniform(1 bsl 64), 36).
            let name = format!("{}@{host}", base36(self.rng.next_u64()));
            let node = Atom::from(name.as_str());
            // As OTP: a name already in the table is drawn again.
            if node == self.name || st.conns.contains_key(&node) {
                continue;
            }
            st.new_pending(&node);
            if let Some(c) = st.conns.get_mut(&node) {
                c.id = attempt;
                c.state = ConnState::Pending { owner: attempt };
            }
            // create_creation/0: random, avoiding 0..=3.
            let creation = loop {
                let c = rand::random::<u32>();
                if c >= 4 {
                    break c;
                }
            };
            return Some((name, creation));
        }
    }

    fn is_pending(&self, peer: &str, attempt: u64) -> bool {
        let st = self.lock();
        matches!(st.conns.get(&Atom::from(peer)), Some(c) if matches!(c.state, ConnState::Pending { owner } if owner == attempt))
    }

    fn wait_pending(&self, peer: &str, attempt: u64) {
        let peer_atom = Atom::from(peer);
        let old = {
            let mut st = self.lock();
            match st.conns.get(&peer_atom) {
                Some(c) if matches!(c.state, ConnState::UpPending { owner } if owner == attempt) => {
                    st.conns.remove(&peer_atom)
                }
                _ => None,
            }
        };
        if let Some(c) = old {
            c.shut_down();
            for t in &c.tasks {
                t.abort();
            }
            self.after_down(
                &peer_atom,
                c.published,
                c.id,
                true,
                &atom("connection_closed"),
            );
            let mut st = self.lock();
            st.new_pending(&peer_atom);
            if let Some(c) = st.conns.get_mut(&peer_atom) {
                c.id = attempt;
                c.state = ConnState::Pending { owner: attempt };
            }
        }
    }

    fn connection_up(
        &self,
        attempt: u64,
        est: &crate::dist::handshake::Established,
        running: crate::dist::connection::Running,
    ) -> Option<crate::dist::queue::QueueRx> {
        let peer = Atom::from(est.peer.as_str());
        let rx = {
            let mut st = self.lock();
            let c = st.conns.get_mut(&peer)?;
            if !matches!(c.state, ConnState::Pending { owner } if owner == attempt) {
                return None;
            }
            c.state = ConnState::Up;
            c.id = attempt;
            c.flags = est.flags;
            c.published = est.peer_published;
            c.creation = est.peer_creation;
            c.tasks.push(running.writer);
            c.tasks.push(running.reader.clone());
            c.reader = Some(running.reader);
            c.socket = running.socket;
            let rx = c.rx.take();
            st.notify_node_monitors(&peer, true, est.peer_published, attempt, &atom("none"));
            rx
        };
        tracing::debug!(node = %est.peer, flags = ?est.flags, "nodeup");
        rx
    }

    fn attempt_failed(&self, peer: &str, attempt: u64, _nok: bool) {
        self.attempt_failed_inner(&Atom::from(peer), attempt);
    }

    fn connection_down(&self, peer: &str, id: u64, reason: Term) {
        let peer_atom = Atom::from(peer);
        let removed = {
            let mut st = self.lock();
            match st.conns.get(&peer_atom) {
                Some(c) if c.id == id => {
                    let pending_owner = match c.state {
                        ConnState::UpPending { owner } => Some(owner),
                        _ => None,
                    };
                    let c = st.conns.remove(&peer_atom);
                    if let Some(owner) = pending_owner {
                        st.new_pending(&peer_atom);
                        if let Some(n) = st.conns.get_mut(&peer_atom) {
                            n.id = owner;
                            n.state = ConnState::Pending { owner };
                        }
                    }
                    c
                }
                _ => None,
            }
        };
        if let Some(c) = removed {
            self.after_down(&peer_atom, c.published, id, true, &reason);
        }
    }

    fn deliver(&self, peer: &Atom, ctrl: Control) {
        let spawn =
            self.with(|st, fx| st.handle_control(&self.name, self.creation, peer, ctrl, fx));
        if let Some(req) = spawn {
            self.handle_spawn_request(peer, req);
        }
    }

    /// One lock of the table for the whole batch, released only around a
    /// spawn request (which runs outside it, before the messages after it).
    fn deliver_all(&self, peer: &Atom, ctrls: &mut Vec<Control>) {
        let mut rest = ctrls.drain(..);
        loop {
            let spawn = self.with(|st, fx| {
                rest.by_ref()
                    .find_map(|c| st.handle_control(&self.name, self.creation, peer, c, fx))
            });
            match spawn {
                Some(req) => self.handle_spawn_request(peer, req),
                None => return,
            }
        }
    }

    fn resolve(
        &self,
        node: &str,
    ) -> futures::future::BoxFuture<'static, std::io::Result<SocketAddr>> {
        let node = node.to_owned();
        let epmd_port = self.epmd_port;
        let family = self.proto_dist.family();
        Box::pin(async move {
            let (alive, host) = split_name(&node)
                .ok_or_else(|| std::io::Error::other(format!("bad node name {node}")))?;
            let ip = crate::dist::transport::resolve(host, family).await?;
            let port = crate::epmd::port_please(SocketAddr::new(ip, epmd_port), alive)
                .await
                .map_err(std::io::Error::other)?
                .ok_or_else(|| {
                    std::io::Error::other(format!("node {node} is not registered with EPMD"))
                })?
                .port;
            Ok(SocketAddr::new(ip, port))
        })
    }
}

impl State {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }
}

/// `integer_to_list(N, 36)`: digits and upper-case letters.
fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::base36;

    #[test]
    fn base36_is_integer_to_list_36() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "Z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u64::MAX), "3W5E11264SGSF");
    }
}
