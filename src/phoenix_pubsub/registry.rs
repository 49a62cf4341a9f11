//! The subscriptions of one PubSub on this node — what Phoenix.PubSub
//! keeps in its `Registry` (`keys: :duplicate`, one entry `{Pid, Metadata}`
//! per `subscribe/3`), as plain data.
//!
//! A process may subscribe to a topic several times (it then receives
//! each broadcast as often); `unsubscribe` drops all its entries for the
//! topic, as `Registry.unregister/2` does.

use crate::term::{Pid, Term};
use std::collections::HashMap;

/// Topic → subscribers, and the reverse index.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    topics: HashMap<Vec<u8>, Vec<(Pid, Term)>>,
    by_pid: HashMap<Pid, Vec<Vec<u8>>>,
}

impl Subscriptions {
    /// Adds an entry; `true` if `pid` had no subscription before (it must
    /// now be monitored, so that its entries go when it exits).
    pub(crate) fn subscribe(&mut self, pid: &Pid, topic: &[u8], metadata: Term) -> bool {
        self.topics
            .entry(topic.to_vec())
            .or_default()
            .push((pid.clone(), metadata));
        let topics = self.by_pid.entry(pid.clone()).or_default();
        topics.push(topic.to_vec());
        topics.len() == 1
    }

    /// Removes every entry of `pid` for `topic`; `true` if `pid` has no
    /// subscription left (its monitor can go).
    pub(crate) fn unsubscribe(&mut self, pid: &Pid, topic: &[u8]) -> bool {
        if let Some(entries) = self.topics.get_mut(topic) {
            entries.retain(|(p, _)| p != pid);
            if entries.is_empty() {
                self.topics.remove(topic);
            }
        }
        let Some(topics) = self.by_pid.get_mut(pid) else {
            return false;
        };
        topics.retain(|t| t != topic);
        if topics.is_empty() {
            self.by_pid.remove(pid);
            return true;
        }
        false
    }

    /// Removes every entry of `pid` (it exited).
    pub(crate) fn remove_pid(&mut self, pid: &Pid) {
        for topic in self.by_pid.remove(pid).unwrap_or_default() {
            if let Some(entries) = self.topics.get_mut(&topic) {
                entries.retain(|(p, _)| p != pid);
                if entries.is_empty() {
                    self.topics.remove(&topic);
                }
            }
        }
    }

    /// The entries of `topic` (`Registry.lookup/2`).
    pub(crate) fn entries(&self, topic: &[u8]) -> Vec<(Pid, Term)> {
        self.topics.get(topic).cloned().unwrap_or_default()
    }

    /// The topics `pid` is subscribed to, once each.
    pub(crate) fn topics_of(&self, pid: &Pid) -> Vec<Vec<u8>> {
        let mut v = self.by_pid.get(pid).cloned().unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }
}

/// `Phoenix.PubSub.dispatch/3`, the default dispatcher: every subscriber
/// but `from` gets the message (once per entry).
pub(crate) fn default_recipients(entries: &[(Pid, Term)], from: Option<&Pid>) -> Vec<Pid> {
    entries
        .iter()
        .filter(|(p, _)| Some(p) != from)
        .map(|(p, _)| p.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::atom;

    fn pid(id: u32) -> Pid {
        Pid::new("r@h", id, 0, 1)
    }

    #[test]
    fn duplicates_unsubscribe_and_exit() {
        let mut s = Subscriptions::default();
        assert!(s.subscribe(&pid(1), b"a", atom("nil")));
        assert!(!s.subscribe(&pid(1), b"a", atom("nil")));
        assert!(!s.subscribe(&pid(1), b"b", atom("x")));
        assert!(s.subscribe(&pid(2), b"a", atom("nil")));
        assert_eq!(s.entries(b"a").len(), 3);
        assert_eq!(
            default_recipients(&s.entries(b"a"), Some(&pid(2))),
            vec![pid(1), pid(1)]
        );
        assert_eq!(s.topics_of(&pid(1)), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(!s.unsubscribe(&pid(1), b"a"));
        assert_eq!(s.entries(b"a").len(), 1);
        assert!(s.unsubscribe(&pid(1), b"b"));
        assert!(s.entries(b"b").is_empty());
        s.remove_pid(&pid(2));
        assert!(s.entries(b"a").is_empty());
        assert!(s.topics.is_empty() && s.by_pid.is_empty());
    }
}
