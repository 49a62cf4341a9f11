//! Supervisor flags and child specifications as data, with their Erlang
//! forms: `check_flags/1`, `check_childspec/2`, `child_to_spec/1` and the
//! `#child{}` record of `supervisor.erl`, so that a child spec map sent by
//! a BEAM node is checked exactly as OTP checks it (same error terms).

use crate::term;
use crate::term::{Atom, Term, TermExt, atom, boolean, list, map, uint};
use std::time::Duration;

/// `restart`: when a terminated child is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (not `normal`, `shutdown`, `{shutdown, _}`).
    Transient,
    /// Never.
    Temporary,
}

/// `shutdown`: how a child is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `brutal_kill`: `exit(Child, kill)`.
    BrutalKill,
    /// `exit(Child, shutdown)`, then `kill` after this long.
    Timeout(Duration),
    /// `exit(Child, shutdown)` and wait as long as it takes.
    Infinity,
}

/// `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildType {
    /// `worker`.
    Worker,
    /// `supervisor`.
    Supervisor,
}

/// `modules`: `[Module]` or `dynamic`.
#[derive(Debug, Clone, PartialEq)]
pub enum Modules {
    /// The callback modules.
    List(Vec<Atom>),
    /// `dynamic` (gen_event).
    Dynamic,
}

/// `strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Restart only the child that terminated.
    OneForOne,
    /// Restart all children.
    OneForAll,
    /// Restart the child and those started after it.
    RestForOne,
    /// One child spec, children added with `start_child(Sup, ExtraArgs)`.
    SimpleOneForOne,
}

/// `auto_shutdown` (OTP 24+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoShutdown {
    /// `never`.
    Never,
    /// `any_significant`.
    AnySignificant,
    /// `all_significant`.
    AllSignificant,
}

/// The supervisor flags; the default is OTP's `#{strategy => one_for_one,
/// intensity => 1, period => 5, auto_shutdown => never}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupFlags {
    /// `strategy`.
    pub strategy: Strategy,
    /// `intensity`: restarts allowed within `period`.
    pub intensity: u32,
    /// `period`, in seconds (at least 1).
    pub period: u32,
    /// `auto_shutdown`.
    pub auto_shutdown: AutoShutdown,
}

impl Default for SupFlags {
    fn default() -> Self {
        Self {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: 5,
            auto_shutdown: AutoShutdown::Never,
        }
    }
}

/// `{M, F, A}` of a child (`A` is `undefined` for a running temporary
/// child, whose arguments OTP does not keep).
#[derive(Debug, Clone, PartialEq)]
pub struct Mfa {
    /// Module.
    pub module: Atom,
    /// Function.
    pub function: Atom,
    /// Arguments, `None` for `undefined`.
    pub args: Option<Vec<Term>>,
}

impl Mfa {
    /// `{Module, Function, Args}`.
    pub fn new(module: &str, function: &str, args: Vec<Term>) -> Self {
        Self {
            module: Atom::from(module),
            function: Atom::from(function),
            args: Some(args),
        }
    }

    /// The `{M, F, A}` term.
    pub fn to_term(&self) -> Term {
        term!({(Term::Atom(self.module.clone())), (Term::Atom(self.function.clone())), (match &self.args {
            Some(a) => list(a.clone()),
            None => atom("undefined"),
        })})
    }
}

impl Restart {
    /// The atom.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Temporary => "temporary",
        }
    }
}

impl Shutdown {
    /// `brutal_kill`, milliseconds or `infinity`.
    pub fn to_term(self) -> Term {
        match self {
            Self::BrutalKill => atom("brutal_kill"),
            Self::Timeout(d) => uint(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            Self::Infinity => atom("infinity"),
        }
    }
}

impl ChildType {
    /// The atom.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Supervisor => "supervisor",
        }
    }
}

impl Modules {
    /// `[Module]` or `dynamic`.
    pub fn to_term(&self) -> Term {
        match self {
            Self::List(v) => list(v.iter().cloned().map(Term::Atom).collect()),
            Self::Dynamic => atom("dynamic"),
        }
    }
}

impl Strategy {
    /// The atom.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneForOne => "one_for_one",
            Self::OneForAll => "one_for_all",
            Self::RestForOne => "rest_for_one",
            Self::SimpleOneForOne => "simple_one_for_one",
        }
    }
}

impl AutoShutdown {
    /// The atom.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::AnySignificant => "any_significant",
            Self::AllSignificant => "all_significant",
        }
    }
}

/// A child's description, without its start function (the part the core
/// and the wire see).
#[derive(Debug, Clone, PartialEq)]
pub struct ChildData {
    /// `id`.
    pub id: Term,
    /// `start`.
    pub mfa: Mfa,
    /// `restart`.
    pub restart: Restart,
    /// `significant`.
    pub significant: bool,
    /// `shutdown`.
    pub shutdown: Shutdown,
    /// `type`.
    pub child_type: ChildType,
    /// `modules`.
    pub modules: Modules,
}

impl ChildData {
    /// A worker with OTP's defaults: `permanent`, `shutdown => 5000`,
    /// `modules => [M]`.
    pub fn worker(id: Term, mfa: Mfa) -> Self {
        let modules = Modules::List(vec![mfa.module.clone()]);
        Self {
            id,
            mfa,
            restart: Restart::Permanent,
            significant: false,
            shutdown: Shutdown::Timeout(Duration::from_millis(5000)),
            child_type: ChildType::Worker,
            modules,
        }
    }

    /// `child_to_spec/1`: the child spec map `get_childspec` returns.
    pub fn to_spec_map(&self) -> Term {
        map(vec![
            (atom("id"), self.id.clone()),
            (atom("start"), self.mfa.to_term()),
            (atom("restart"), atom(self.restart.as_str())),
            (atom("significant"), boolean(self.significant)),
            (atom("shutdown"), self.shutdown.to_term()),
            (atom("type"), atom(self.child_type.as_str())),
            (atom("modules"), self.modules.to_term()),
        ])
    }

    /// `extract_child/1`: the offender list of supervisor reports.
    pub fn offender(&self, pid: Term) -> Term {
        list(vec![
            term!({pid, (pid)}),
            term!({id, (self.id.clone())}),
            term!({mfargs, (self.mfa.to_term())}),
            term!({restart_type, (atom(self.restart.as_str()))}),
            term!({significant, (boolean(self.significant))}),
            term!({shutdown, (self.shutdown.to_term())}),
            term!({child_type, (atom(self.child_type.as_str()))}),
        ])
    }

    /// The `#child{}` record with `pid`, as OTP's state and some errors
    /// show it.
    pub fn record(&self, pid: Term) -> Term {
        term!({child, (pid), (self.id.clone()), (self.mfa.to_term()), (atom(self.restart.as_str())), (boolean(self.significant)), (self.shutdown.to_term()), (atom(self.child_type.as_str())), (self.modules.to_term())})
    }

    /// `check_childspec/2`: a child spec map or 6-tuple from a peer, with
    /// OTP's error terms.
    pub fn from_term(spec: &Term, auto: AutoShutdown) -> Result<Self, Term> {
        let get = |m: &crate::term::Map, k: &str| m.map.get(&atom(k)).cloned();
        match spec {
            Term::Map(m) => {
                let restart = get(m, "restart").unwrap_or_else(|| atom("permanent"));
                let ty = get(m, "type").unwrap_or_else(|| atom("worker"));
                let id = get(m, "id").ok_or_else(|| atom("missing_id"))?;
                let func = get(m, "start").ok_or_else(|| atom("missing_start"))?;
                let mfa = parse_mfa(&func).ok_or_else(|| err2("invalid_mfa", &func))?;
                let restart = match restart.as_atom() {
                    Some("permanent") => Restart::Permanent,
                    Some("transient") => Restart::Transient,
                    Some("temporary") => Restart::Temporary,
                    _ => return Err(err2("invalid_restart_type", &restart)),
                };
                let significant = get(m, "significant").unwrap_or_else(|| atom("false"));
                let significant = match significant.as_bool() {
                    Some(true) if auto == AutoShutdown::Never => {
                        return Err(bad_combination(
                            ("auto_shutdown", atom("never")),
                            ("significant", atom("true")),
                        ));
                    }
                    Some(true) if restart == Restart::Permanent => {
                        return Err(bad_combination(
                            ("restart", atom("permanent")),
                            ("significant", atom("true")),
                        ));
                    }
                    Some(b) => b,
                    None => return Err(err2("invalid_significant", &significant)),
                };
                let child_type = match ty.as_atom() {
                    Some("worker") => ChildType::Worker,
                    Some("supervisor") => ChildType::Supervisor,
                    _ => return Err(err2("invalid_child_type", &ty)),
                };
                let shutdown = match get(m, "shutdown") {
                    Some(s) => parse_shutdown(&s).ok_or_else(|| err2("invalid_shutdown", &s))?,
                    None if child_type == ChildType::Worker => {
                        Shutdown::Timeout(Duration::from_millis(5000))
                    }
                    None => Shutdown::Infinity,
                };
                let modules = match get(m, "modules") {
                    None => Modules::List(vec![mfa.module.clone()]),
                    Some(ms) => parse_modules(&ms)?,
                };
                Ok(Self {
                    id,
                    mfa,
                    restart,
                    significant,
                    shutdown,
                    child_type,
                    modules,
                })
            }
            Term::Tuple(t) if t.elements.len() == 6 => {
                let e = &t.elements;
                let m = map(vec![
                    (atom("id"), e[0].clone()),
                    (atom("start"), e[1].clone()),
                    (atom("restart"), e[2].clone()),
                    (atom("significant"), atom("false")),
                    (atom("shutdown"), e[3].clone()),
                    (atom("type"), e[4].clone()),
                    (atom("modules"), e[5].clone()),
                ]);
                Self::from_term(&m, auto)
            }
            other => Err(err2("invalid_child_spec", other)),
        }
    }
}

fn err2(tag: &str, t: &Term) -> Term {
    term!({(atom(tag)), (t.clone())})
}

fn bad_combination(a: (&str, Term), b: (&str, Term)) -> Term {
    term!({bad_combination, [{(atom(a.0)), (a.1)}, {(atom(b.0)), (b.1)}]})
}

/// `validFunc/1`: `{M, F, A}` with atoms and a list.
fn parse_mfa(t: &Term) -> Option<Mfa> {
    match t.as_tuple()? {
        [Term::Atom(m), Term::Atom(f), a] => Some(Mfa {
            module: m.clone(),
            function: f.clone(),
            args: Some(a.as_list()?.into_owned()),
        }),
        _ => None,
    }
}

/// `validShutdown/1`.
fn parse_shutdown(t: &Term) -> Option<Shutdown> {
    match t.as_atom() {
        Some("brutal_kill") => Some(Shutdown::BrutalKill),
        Some("infinity") => Some(Shutdown::Infinity),
        _ => {
            let ms = u64::try_from(t.as_i64()?).ok()?;
            Some(Shutdown::Timeout(Duration::from_millis(ms)))
        }
    }
}

/// `validMods/1`.
fn parse_modules(t: &Term) -> Result<Modules, Term> {
    if t.as_atom() == Some("dynamic") {
        return Ok(Modules::Dynamic);
    }
    let l = t.as_list().ok_or_else(|| err2("invalid_modules", t))?;
    l.iter()
        .map(|m| match m {
            Term::Atom(a) => Ok(a.clone()),
            other => Err(err2("invalid_module", other)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Modules::List)
}
