//! The EPMD server's state machine, without any I/O: which names are
//! registered on which connection, which creation each gets, and what to
//! answer to each request.
//!
//! Mirrors `erts/epmd/src/epmd_srv.c` (`do_request`, `node_reg2`,
//! `node_unreg_sock`). The tokio driver in [`super::server`] feeds it one
//! decoded request per connection ([`Epmd::handle_request`]) and tells it
//! when a registration connection closes ([`Epmd::handle_closed`]); it
//! answers with an [`Outcome`] saying what to write and whether to keep,
//! close or stop. Time comes in as an argument (Unix seconds), so tests
//! choose it.
//!
//! Behaviour copied from the OTP 25 epmd, as observed on the wire:
//!
//! * A new name gets the current Unix time in seconds, plus one, as its
//!   creation (seen: registrations at t = …862.08 s and …862.78 s both got
//!   …863, one at …863.48 s got …864). A name registered again after its
//!   node went away gets the previous creation plus one: epmd remembers up
//!   to 1000 unregistered names (oldest forgotten first) exactly for this.
//! * A name already registered is refused: result 1, creation 99.
//! * `NAMES` lists the newest registration first.
//! * `ALIVE2`, `DUMP`, `KILL` and `STOP` are served only to local peers
//!   (127.0.0.0/8 or the server's own address); others are disconnected.
//! * `KILL` answers `NO` while nodes are registered, unless
//!   `-relaxed_command_check`; otherwise `OK` and the server exits.
//! * `STOP` is ignored (the connection is closed without reply) unless
//!   `-relaxed_command_check`.

use super::proto::{self, Alive2Req, Alive2Resp, DumpLine, MAX_NAME_CHARS, MAX_SYM_BYTES, Request};
use erl_dist::epmd::NodeEntry;
use std::collections::VecDeque;

/// How many unregistered names epmd remembers (`MAX_UNREG_COUNT`).
pub const MAX_REMEMBERED: usize = 1000;

/// Creations below this are never handed out: 0 means "local" to the
/// runtime, 1..=3 are the old 2-bit creations (`net_kernel:wrap_creation/1`
/// avoids the same range).
const MIN_CREATION: u32 = 4;

/// Identifies one accepted TCP connection.
pub type ConnId = u64;

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The connection it came on.
    pub conn: ConnId,
    /// The socket's file descriptor, shown by `DUMP` like epmd does.
    pub fd: i64,
    /// Whether the peer is on this host (127.0.0.0/8 or our own address).
    pub local: bool,
}

/// What the driver must do after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Write the bytes, then close the connection.
    Reply(Vec<u8>),
    /// Write the bytes and keep the connection open: it now holds a
    /// registration, which ends when the peer closes it or sends anything.
    ReplyAndKeep(Vec<u8>),
    /// Close the connection without replying (garbage, refused command).
    Close,
    /// Write the bytes, close the connection, and also close the
    /// registration connection `stop` (a `STOP_REQ` that succeeded).
    ReplyAndDrop {
        /// The reply.
        reply: Vec<u8>,
        /// The registration connection to close.
        stop: ConnId,
    },
    /// Write the bytes, then shut the whole server down (`KILL_REQ`).
    ReplyAndExit(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Registered {
    conn: ConnId,
    fd: i64,
    req: Alive2Req,
    creation: u32,
}

#[derive(Debug, Clone)]
struct Remembered {
    name: String,
    port: u16,
    fd: i64,
    creation: u32,
}

/// The EPMD state machine.
#[derive(Debug, Clone)]
pub struct Epmd {
    port: u16,
    relaxed: bool,
    /// Newest first.
    registered: VecDeque<Registered>,
    /// Oldest first; bounded by `max_remembered`.
    remembered: VecDeque<Remembered>,
    max_remembered: usize,
}

impl Epmd {
    /// A server listening on `port` (reported in `NAMES` and `DUMP`
    /// replies). `relaxed_command_check` is epmd's `-relaxed_command_check`.
    pub fn new(port: u16, relaxed_command_check: bool) -> Self {
        Self {
            port,
            relaxed: relaxed_command_check,
            registered: VecDeque::new(),
            remembered: VecDeque::new(),
            max_remembered: MAX_REMEMBERED,
        }
    }

    /// Changes how many unregistered names are remembered (epmd uses 5 in
    /// debug mode); for tests.
    pub fn with_max_remembered(mut self, max: usize) -> Self {
        self.max_remembered = max;
        self
    }

    /// Handles one request; `now_secs` is the current Unix time in seconds.
    pub fn handle_request(&mut self, now_secs: u64, peer: Peer, request: Request) -> Outcome {
        let needs_local = matches!(
            request,
            Request::Alive2(_) | Request::Dump | Request::Kill | Request::Stop { .. }
        );
        if needs_local && !peer.local {
            tracing::warn!(request = request.kind(), "refused from a non-local peer");
            return Outcome::Close;
        }
        match request {
            Request::Alive2(req) => {
                let highest = req.highest_version;
                let creation = self.register(now_secs, peer, req);
                Outcome::ReplyAndKeep(Alive2Resp::for_version(highest, creation).encode())
            }
            Request::PortPlease2 { name } => {
                Outcome::Reply(proto::encode_port2_resp(self.lookup(&name).as_ref()))
            }
            Request::Names => Outcome::Reply(proto::encode_names_resp(
                self.port,
                self.registered
                    .iter()
                    .map(|r| (r.req.name.as_str(), r.req.port)),
            )),
            Request::Dump => {
                let active = self.registered.iter().map(|r| DumpLine {
                    name: &r.req.name,
                    port: r.req.port,
                    fd: r.fd,
                    active: true,
                });
                let old = self.remembered.iter().map(|r| DumpLine {
                    name: &r.name,
                    port: r.port,
                    fd: r.fd,
                    active: false,
                });
                Outcome::Reply(proto::encode_dump_resp(self.port, active.chain(old)))
            }
            Request::Kill => {
                if self.relaxed || self.registered.is_empty() {
                    tracing::info!("KILL_REQ accepted, stopping");
                    Outcome::ReplyAndExit(proto::KILL_OK.to_vec())
                } else {
                    tracing::info!("KILL_REQ refused: nodes are registered");
                    Outcome::Reply(proto::KILL_REFUSED.to_vec())
                }
            }
            Request::Stop { name } => {
                if !self.relaxed {
                    tracing::warn!("STOP_REQ refused: no relaxed command check");
                    return Outcome::Close;
                }
                match self.unregister_by(|r| r.req.name == name) {
                    Some(conn) => Outcome::ReplyAndDrop {
                        reply: proto::STOP_STOPPED.to_vec(),
                        stop: conn,
                    },
                    None => Outcome::Reply(proto::STOP_NOEXIST.to_vec()),
                }
            }
        }
    }

    /// A registration connection closed (or sent unexpected bytes, which
    /// epmd treats the same way): its node is unregistered. Returns the name
    /// that was unregistered, if any.
    pub fn handle_closed(&mut self, conn: ConnId) -> Option<String> {
        let index = self.registered.iter().position(|r| r.conn == conn)?;
        let name = self.registered[index].req.name.clone();
        self.unregister_by(|r| r.conn == conn);
        Some(name)
    }

    /// The entry registered under `name`.
    pub fn lookup(&self, name: &str) -> Option<NodeEntry> {
        self.registered
            .iter()
            .find(|r| r.req.name == name)
            .map(|r| r.req.to_entry())
    }

    /// Registered names, ports and creations, newest first.
    pub fn names(&self) -> impl Iterator<Item = (&str, u16, u32)> {
        self.registered
            .iter()
            .map(|r| (r.req.name.as_str(), r.req.port, r.creation))
    }

    /// Whether no node is registered.
    pub fn is_empty(&self) -> bool {
        self.registered.is_empty()
    }

    /// `node_reg2`: the creation, or `None` for a refusal.
    fn register(&mut self, now_secs: u64, peer: Peer, req: Alive2Req) -> Option<u32> {
        if req.name.len() > MAX_SYM_BYTES || req.name.chars().count() > MAX_NAME_CHARS {
            tracing::warn!(len = req.name.len(), "ALIVE2_REQ refused: name too long");
            return None;
        }
        if req.extra.len() > MAX_SYM_BYTES {
            tracing::warn!(len = req.extra.len(), "ALIVE2_REQ refused: extra too long");
            return None;
        }
        if self.registered.iter().any(|r| r.req.name == req.name) {
            tracing::warn!(name = %req.name, "ALIVE2_REQ refused: name already registered");
            return None;
        }
        if self.registered.iter().any(|r| r.conn == peer.conn) {
            // Unreachable through the driver (one request per connection),
            // but one connection must never hold two names.
            return None;
        }
        let creation = match self.remembered.iter().position(|r| r.name == req.name) {
            Some(i) => {
                let old = self.remembered.remove(i).map_or(0, |r| r.creation);
                next_creation(old)
            }
            // The clock (Unix seconds, truncated to 32 bits) plus one.
            None => next_creation(now_secs as u32),
        };
        tracing::info!(name = %req.name, port = req.port, creation, "registered");
        self.registered.push_front(Registered {
            conn: peer.conn,
            fd: peer.fd,
            req,
            creation,
        });
        Some(creation)
    }

    fn unregister_by(&mut self, pred: impl Fn(&Registered) -> bool) -> Option<ConnId> {
        let index = self.registered.iter().position(pred)?;
        let gone = self.registered.remove(index)?;
        tracing::info!(name = %gone.req.name, creation = gone.creation, "unregistered");
        if self.max_remembered > 0 {
            if self.remembered.len() >= self.max_remembered {
                self.remembered.pop_front();
            }
            self.remembered.push_back(Remembered {
                name: gone.req.name,
                port: gone.req.port,
                fd: gone.fd,
                creation: gone.creation,
            });
        }
        Some(gone.conn)
    }
}

fn next_creation(old: u32) -> u32 {
    valid_creation(old.wrapping_add(1))
}

fn valid_creation(c: u32) -> u32 {
    if c < MIN_CREATION { MIN_CREATION } else { c }
}

#[cfg(test)]
#[path = "registry_test.rs"]
mod registry_test;
