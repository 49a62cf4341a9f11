//! The process runtime: pids, refs, mailboxes, links, monitors, registered
//! names and routing between local processes and connections.
