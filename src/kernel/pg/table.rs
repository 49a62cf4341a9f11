//! The table of a pg scope: what `pg.erl` keeps in its `protected,
//! named_table` ETS table `Scope`, one row `{Group, AllPids, LocalPids}`
//! per group that has members (OTP 25, 27 and 29 alike).
//!
//! Only the scope process writes it; `get_members` and friends read it
//! directly, as they read ETS in OTP. Pid lists keep duplicates (a process
//! may join a group several times) and are updated with Erlang's list
//! operators: `Add ++ All` and `All -- Remove` (each removed pid takes out
//! its first occurrence only).

use crate::term::{Pid, Term};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// A group name as a map key: groups are any terms, equal when `=:=`
/// (ETS `set` semantics: `1` and `1.0` are different groups).
#[derive(Debug, Clone)]
pub(crate) struct GroupKey(pub(crate) Term);

impl PartialEq for GroupKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GroupKey {}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GroupKey {
    fn cmp(&self, other: &Self) -> Ordering {
        crate::term::cmp_map_keys(&self.0, &other.0)
    }
}

/// One row: every member, and the members on this node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    pub(crate) all: Vec<Pid>,
    pub(crate) local: Vec<Pid>,
}

/// The rows of a scope, by group.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: BTreeMap<GroupKey, Row>,
}

/// `List -- Remove`: drops, for each pid of `remove`, its first occurrence
/// in `list`, keeping the order of the rest.
pub(crate) fn subtract(list: &[Pid], remove: &[Pid]) -> Vec<Pid> {
    if remove.is_empty() {
        return list.to_vec();
    }
    let mut left: HashMap<&Pid, usize> = HashMap::new();
    for p in remove {
        *left.entry(p).or_default() += 1;
    }
    list.iter()
        .filter(|p| match left.get_mut(p) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// `Add ++ List`.
pub(crate) fn prepend(add: &[Pid], list: &[Pid]) -> Vec<Pid> {
    let mut v = Vec::with_capacity(add.len() + list.len());
    v.extend_from_slice(add);
    v.extend_from_slice(list);
    v
}

impl Table {
    /// `get_members/2`: every member of `group` (empty if none).
    pub fn members(&self, group: &Term) -> Vec<Pid> {
        self.row(group).map(|r| r.all.clone()).unwrap_or_default()
    }

    /// `get_local_members/2`: the members of `group` on this node.
    pub fn local_members(&self, group: &Term) -> Vec<Pid> {
        self.row(group).map(|r| r.local.clone()).unwrap_or_default()
    }

    /// `which_groups/1`: every group with members, in Erlang term order.
    pub fn groups(&self) -> Vec<Term> {
        self.rows.keys().map(|k| k.0.clone()).collect()
    }

    /// `which_local_groups/1`: the groups with members on this node.
    pub fn local_groups(&self) -> Vec<Term> {
        self.rows
            .iter()
            .filter(|(_, r)| !r.local.is_empty())
            .map(|(k, _)| k.0.clone())
            .collect()
    }

    /// Every group with all its members (the map `monitor_scope/1` returns).
    pub fn all(&self) -> Vec<(Term, Vec<Pid>)> {
        self.rows
            .iter()
            .map(|(k, r)| (k.0.clone(), r.all.clone()))
            .collect()
    }

    /// Every group with members on this node, with those members (what a
    /// scope sends its peers in `sync` / `local_data`).
    pub(crate) fn local(&self) -> Vec<(Term, Vec<Pid>)> {
        self.rows
            .iter()
            .filter(|(_, r)| !r.local.is_empty())
            .map(|(k, r)| (k.0.clone(), r.local.clone()))
            .collect()
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no group has members.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn row(&self, group: &Term) -> Option<&Row> {
        self.rows.get(&GroupKey(group.clone()))
    }

    /// `Add ++ All` (and `Add ++ Local` when the pids are local).
    pub(crate) fn add(&mut self, group: &Term, add: &[Pid], local: bool) {
        if add.is_empty() {
            return;
        }
        let row = self.rows.entry(GroupKey(group.clone())).or_default();
        row.all = prepend(add, &row.all);
        if local {
            row.local = prepend(add, &row.local);
        }
    }

    /// `All -- Remove` (and `Local -- Remove` when the pids are local); a
    /// group left without members disappears.
    pub(crate) fn remove(&mut self, group: &Term, remove: &[Pid], local: bool) {
        let key = GroupKey(group.clone());
        let Some(row) = self.rows.get_mut(&key) else {
            return;
        };
        row.all = subtract(&row.all, remove);
        if local {
            row.local = subtract(&row.local, remove);
        }
        if row.all.is_empty() {
            self.rows.remove(&key);
        }
    }
}
