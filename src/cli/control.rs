//! `distro takeover` and `distro permit`: act on a running cluster as a
//! short-lived hidden node, the way an operator would from a remote shell
//! with `rpc:call(Node, application, takeover, [App, Type])` or
//! `rpc:call(Node, application, permit, [App, Bool])`.
//!
//! ```text
//! distro takeover APP -on NODE [-type permanent|transient|temporary] [-name|-sname N] [-setcookie C]
//! distro permit APP true|false -on NODE [-name|-sname N] [-setcookie C]
//! ```
//!
//! In a cluster on TLS distribution, add the node's TLS flags:
//! `-proto_dist inet_tls -ssl_dist_optfile FILE` (or `-ssl_dist_opt NAME
//! VALUE`, repeated).
//!
//! `application:takeover/2` runs *at* NODE: the application moves there
//! from wherever it runs. NODE may be a BEAM node or a distro node (which
//! serves both functions over rpc).

use super::args::{ArgsError, NodeName};
use crate::dist::transport::ProtoDist;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `application:takeover(App, Type)` at the target node.
    Takeover {
        /// The application.
        app: String,
        /// Its restart type at the target (`permanent` by default, as in
        /// the OTP guide's example).
        restart_type: String,
    },
    /// `application:permit(App, Bool)` at the target node.
    Permit {
        /// The application.
        app: String,
        /// Whether the target may run it.
        permitted: bool,
    },
}

/// `distro takeover ...` / `distro permit ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlArgs {
    /// The action.
    pub action: Action,
    /// The node to act at (`-on`).
    pub target: String,
    /// Our own (hidden) node name; derived from the target's host if absent.
    pub node_name: Option<NodeName>,
    /// `-setcookie`; else `~/.erlang.cookie`.
    pub cookie: Option<String>,
    /// `-proto_dist`.
    pub proto_dist: ProtoDist,
    /// `-ssl_dist_optfile FILE`.
    pub ssl_dist_optfile: Option<String>,
    /// `-ssl_dist_opt NAME VALUE` pairs, in order.
    pub ssl_dist_opt: Vec<String>,
}

fn value<'a>(
    it: &mut std::slice::Iter<'a, String>,
    flag: &str,
    what: &'static str,
) -> Result<&'a String, ArgsError> {
    it.next()
        .filter(|v| !v.starts_with('-'))
        .ok_or_else(|| ArgsError::MissingValue {
            flag: flag.into(),
            what,
        })
}

/// Parses the arguments after `takeover` or `permit`.
pub fn parse(command: &str, args: &[String]) -> Result<ControlArgs, ArgsError> {
    let mut it = args.iter();
    let app = value(&mut it, command, "an application name")?.clone();
    let mut permitted = None;
    if command == "permit" {
        let v = value(&mut it, "permit", "true or false")?;
        permitted = Some(match v.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ArgsError::BadValue {
                    flag: "permit".into(),
                    expected: "true or false",
                    got: v.clone(),
                });
            }
        });
    }
    let (mut target, mut restart_type, mut node_name, mut cookie) = (None, None, None, None);
    let (mut proto_dist, mut ssl_dist_optfile, mut ssl_dist_opt) =
        (ProtoDist::default(), None, Vec::new());
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-on" => target = Some(value(&mut it, "-on", "a node name")?.clone()),
            "-type" if command == "takeover" => {
                let v = value(&mut it, "-type", "permanent, transient or temporary")?;
                if !matches!(v.as_str(), "permanent" | "transient" | "temporary") {
                    return Err(ArgsError::BadValue {
                        flag: "-type".into(),
                        expected: "permanent, transient or temporary",
                        got: v.clone(),
                    });
                }
                restart_type = Some(v.clone());
            }
            "-name" | "-sname" => {
                let name = value(&mut it, flag, "a node name")?.clone();
                node_name = Some(NodeName {
                    name,
                    long: flag == "-name",
                });
            }
            "-setcookie" => cookie = Some(value(&mut it, "-setcookie", "a cookie")?.clone()),
            "-proto_dist" => {
                let v = value(&mut it, "-proto_dist", "a protocol")?;
                proto_dist = ProtoDist::parse(v)?;
            }
            "-ssl_dist_optfile" => {
                ssl_dist_optfile =
                    Some(value(&mut it, "-ssl_dist_optfile", "a file name")?.clone());
            }
            "-ssl_dist_opt" => {
                let name = value(&mut it, "-ssl_dist_opt", "a name and a value")?.clone();
                let v = value(&mut it, "-ssl_dist_opt", "a name and a value")?.clone();
                ssl_dist_opt.extend([name, v]);
            }
            other => return Err(ArgsError::UnknownFlag(other.to_owned())),
        }
    }
    let target = target.ok_or_else(|| ArgsError::MissingValue {
        flag: "-on".into(),
        what: "the node to act at",
    })?;
    let action = match permitted {
        Some(permitted) => Action::Permit { app, permitted },
        None => Action::Takeover {
            app,
            restart_type: restart_type.unwrap_or_else(|| "permanent".into()),
        },
    };
    Ok(ControlArgs {
        action,
        target,
        node_name,
        cookie,
        proto_dist,
        ssl_dist_optfile,
        ssl_dist_opt,
    })
}

/// Our node name: as given, or `distro_ctl_<pid>` on the target's host
/// with the target's kind of name (long if its host has a dot).
pub fn own_name(args: &ControlArgs) -> NodeName {
    if let Some(n) = &args.node_name {
        return n.clone();
    }
    let host = args.target.split_once('@').map_or("", |(_, h)| h);
    NodeName {
        name: format!("distro_ctl_{}@{host}", std::process::id()),
        long: host.contains('.'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(command: &str, args: &[&str]) -> Result<ControlArgs, ArgsError> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        parse(command, &args)
    }

    #[test]
    fn takeover_and_permit_command_lines() {
        let t = p("takeover", &["myapp", "-on", "cp2@127.0.0.1"]).unwrap();
        assert_eq!(
            t.action,
            Action::Takeover {
                app: "myapp".into(),
                restart_type: "permanent".into()
            }
        );
        assert_eq!(t.target, "cp2@127.0.0.1");
        assert!(own_name(&t).long && own_name(&t).name.ends_with("@127.0.0.1"));
        let t = p(
            "takeover",
            &[
                "myapp",
                "-type",
                "temporary",
                "-on",
                "cp2@cave",
                "-setcookie",
                "c",
            ],
        )
        .unwrap();
        assert_eq!(
            t.action,
            Action::Takeover {
                app: "myapp".into(),
                restart_type: "temporary".into()
            }
        );
        assert_eq!(t.cookie.as_deref(), Some("c"));
        assert!(!own_name(&t).long);
        let t = p(
            "permit",
            &["myapp", "false", "-on", "cp1@cave", "-sname", "ops"],
        )
        .unwrap();
        assert_eq!(
            t.action,
            Action::Permit {
                app: "myapp".into(),
                permitted: false
            }
        );
        assert_eq!(
            own_name(&t),
            NodeName {
                name: "ops".into(),
                long: false
            }
        );
        let t = p(
            "takeover",
            &[
                "myapp",
                "-on",
                "cp2@127.0.0.1",
                "-proto_dist",
                "inet_tls",
                "-ssl_dist_optfile",
                "/etc/ssl_dist.conf",
                "-ssl_dist_opt",
                "client_depth",
                "2",
            ],
        )
        .unwrap();
        assert_eq!(t.proto_dist, ProtoDist::InetTls);
        assert_eq!(t.ssl_dist_optfile.as_deref(), Some("/etc/ssl_dist.conf"));
        assert_eq!(t.ssl_dist_opt, ["client_depth", "2"]);
        assert!(p("takeover", &["myapp", "-on", "a@b", "-proto_dist", "tcp"]).is_err());
        assert!(p("takeover", &["myapp", "-on", "a@b", "-ssl_dist_opt", "x"]).is_err());
        assert!(p("takeover", &["myapp"]).is_err(), "no -on");
        assert!(p("permit", &["myapp", "maybe", "-on", "a@b"]).is_err());
        assert!(p("takeover", &["myapp", "-on", "a@b", "-type", "forever"]).is_err());
        assert!(p("takeover", &["myapp", "-on", "a@b", "-bogus"]).is_err());
    }
}
