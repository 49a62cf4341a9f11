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

/// A list of pids as pg keeps it, updated in place: `Add ++ List` and
/// `List -- Remove` (each removed pid takes out its first occurrence).
/// Stored oldest first (the Erlang list reversed), so that a join appends
/// instead of copying the whole list.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Members(Vec<Pid>);

impl Members {
    /// From an Erlang-ordered list (newest first).
    pub(crate) fn from_erlang(pids: &[Pid]) -> Self {
        Self(pids.iter().rev().cloned().collect())
    }

    /// The Erlang-ordered list.
    pub(crate) fn to_erlang(&self) -> Vec<Pid> {
        self.0.iter().rev().cloned().collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Add ++ List`.
    pub(crate) fn prepend(&mut self, add: &[Pid]) {
        self.0.extend(add.iter().rev().cloned());
    }

    /// `List -- Remove`.
    pub(crate) fn subtract(&mut self, remove: &[Pid]) {
        match remove {
            [] => {}
            [one] => {
                // The first occurrence in Erlang order is the last stored.
                if let Some(i) = self.0.iter().rposition(|p| p == one) {
                    self.0.remove(i);
                }
            }
            _ => {
                let mut left: HashMap<&Pid, usize> = HashMap::new();
                for p in remove {
                    *left.entry(p).or_default() += 1;
                }
                let mut drop = vec![false; self.0.len()];
                for (i, p) in self.0.iter().enumerate().rev() {
                    if let Some(n) = left.get_mut(p).filter(|n| **n > 0) {
                        *n -= 1;
                        drop[i] = true;
                    }
                }
                let mut i = 0;
                self.0.retain(|_| {
                    i += 1;
                    !drop[i - 1]
                });
            }
        }
    }
}

/// One row: every member, and the members on this node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    pub(crate) all: Members,
    pub(crate) local: Members,
}

/// The rows of a scope, by group.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: BTreeMap<GroupKey, Row>,
}

/// `List -- Remove` on Erlang-ordered lists.
pub(crate) fn subtract(list: &[Pid], remove: &[Pid]) -> Vec<Pid> {
    let mut m = Members::from_erlang(list);
    m.subtract(remove);
    m.to_erlang()
}

impl Table {
    /// `get_members/2`: every member of `group` (empty if none).
    pub fn members(&self, group: &Term) -> Vec<Pid> {
        self.row(group)
            .map(|r| r.all.to_erlang())
            .unwrap_or_default()
    }

    /// `get_local_members/2`: the members of `group` on this node.
    pub fn local_members(&self, group: &Term) -> Vec<Pid> {
        self.row(group)
            .map(|r| r.local.to_erlang())
            .unwrap_or_default()
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
            .map(|(k, r)| (k.0.clone(), r.all.to_erlang()))
            .collect()
    }

    /// Every group with members on this node, with those members (what a
    /// scope sends its peers in `sync` / `local_data`).
    pub(crate) fn local(&self) -> Vec<(Term, Vec<Pid>)> {
        self.rows
            .iter()
            .filter(|(_, r)| !r.local.is_empty())
            .map(|(k, r)| (k.0.clone(), r.local.to_erlang()))
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
        row.all.prepend(add);
        if local {
            row.local.prepend(add);
        }
    }

    /// `All -- Remove` (and `Local -- Remove` when the pids are local); a
    /// group left without members disappears.
    pub(crate) fn remove(&mut self, group: &Term, remove: &[Pid], local: bool) {
        let key = GroupKey(group.clone());
        let Some(row) = self.rows.get_mut(&key) else {
            return;
        };
        row.all.subtract(remove);
        if local {
            row.local.subtract(remove);
        }
        if row.all.is_empty() {
            self.rows.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: u32) -> Pid {
        Pid::new("n@h", id, 0, 1)
    }

    /// Erlang: `[a,b,a,c] -- [a]` is `[b,a,c]`; `-- [a,a,c]` is `[b]`;
    /// `[x,y] ++ [a]` is `[x,y,a]`.
    #[test]
    fn members_follow_erlang_list_operators() {
        let (a, b, c, x, y) = (p(1), p(2), p(3), p(4), p(5));
        let list = vec![a.clone(), b.clone(), a.clone(), c.clone()];
        assert_eq!(
            subtract(&list, std::slice::from_ref(&a)),
            vec![b.clone(), a.clone(), c.clone()]
        );
        assert_eq!(
            subtract(&list, &[a.clone(), a.clone(), c.clone()]),
            vec![b.clone()]
        );
        assert_eq!(
            subtract(&list, &[y.clone(), c.clone(), b.clone()]),
            vec![a.clone(), a.clone()]
        );
        let mut m = Members::from_erlang(std::slice::from_ref(&a));
        m.prepend(&[x.clone(), y.clone()]);
        assert_eq!(m.to_erlang(), vec![x.clone(), y.clone(), a.clone()]);
        m.subtract(&[a.clone(), x.clone()]);
        assert_eq!(m.to_erlang(), vec![y]);
        let mut t = Table::default();
        t.add(&Term::Pid(a.clone()), std::slice::from_ref(&b), true);
        t.add(&Term::Pid(a.clone()), std::slice::from_ref(&c), false);
        assert_eq!(t.members(&Term::Pid(a.clone())), vec![c.clone(), b.clone()]);
        assert_eq!(t.local_members(&Term::Pid(a.clone())), vec![b.clone()]);
        t.remove(&Term::Pid(a.clone()), &[b, c], true);
        assert!(t.is_empty());
    }
}
