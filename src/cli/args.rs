//! The `erl`-compatible command line, parsed by hand (clap cannot do
//! single-dash long flags) into an [`ErlArgs`] that mirrors what
//! `init:get_argument/1` would return for the same `erl` command line.
//!
//! Grouping follows `init:parse_boot_args/1` (`otp:erts/preloaded/src/init.erl`):
//! a flag `-F` takes every following argument up to the next one starting
//! with `-`; `--` only ends the current flag's arguments; `-extra` makes
//! all the rest plain arguments; a bare word outside a flag is a plain
//! argument. On top of that, distro checks what erl leaves unchecked:
//!
//! - `-name`/`-sname`/`-setcookie`/`-config`/`-connect_all`/... get the
//!   number of arguments they need, or an error.
//! - Any other `-App Par Val [Par Val ...]` is an application parameter
//!   override (`application_controller:get_cmd_env/1`); `Par` must be an
//!   atom and `Val` a term, parsed with
//!   [`parse_term`]. An unknown flag with
//!   no argument or one argument is an error, as is an odd number of
//!   arguments.
//! - `-eval` and a few others distro cannot honour are errors; flags that
//!   only matter to a BEAM (`-pa dir`, `-boot`, `-mode`, `+P 100000`, and
//!   `-s`/`-run`, which a release start script passes) are accepted and
//!   reported in [`ErlArgs::warnings`].
//! - `-args_file` files and `ERL_AFLAGS`/`ERL_FLAGS`/`ERL_ZFLAGS` are
//!   expanded first, as erlexec does ([`super::args_file`]).
//! - `--app NAME`, `--help`, `--version` are distro's own options.
//!
//! A first argument that is a bare word is a subcommand: `distro epmd ...`.
//!
//! ```
//! use distro::cli::args::{parse, Command};
//! let args = ["-sname", "cp3", "-config", "cp3", "-kernel", "sync_nodes_timeout", "5000"];
//! let Command::Run(erl) = parse(args.map(String::from)).unwrap() else { panic!() };
//! assert_eq!(erl.node_name.unwrap().name, "cp3");
//! assert_eq!(erl.config_files, ["cp3"]);
//! assert_eq!(erl.env_overrides[0].par, "sync_nodes_timeout");
//! ```

use super::args_file::{self, ArgsFileError};
use crate::config::{ConfigError, EnvOverride, SysConfig};
use crate::dist::transport::{ProtoDist, UnsupportedProtoDist};
use crate::kernel::introspection::InitArguments;
use crate::term::text::{ParseError, parse_term};
use crate::term::{TermExt, boolean};
use std::net::IpAddr;

#[cfg(test)]
#[path = "args_test.rs"]
mod args_test;

/// `distro --help`.
pub const USAGE: &str = "\
Usage: distro [FLAGS] [-extra ARGS...]
       distro epmd [-daemon] [-port N] [-address IP,...] [-d] [-relaxed_command_check]
       distro epmd -names | -kill | -stop NAME
       distro takeover APP -on NODE [-type permanent|transient|temporary] [-name|-sname N] [-setcookie C] [TLS]
       distro permit APP true|false -on NODE [-name|-sname N] [-setcookie C] [TLS]
       (TLS: -proto_dist inet_tls -ssl_dist_optfile FILE | -ssl_dist_opt NAME VALUE)

Runs an Erlang distribution node that takes erl's flags and sys.config files.

Node:
  -sname NAME[@HOST]        short node name (host resolved if missing)
  -name NAME[@HOST]         long node name
  -setcookie COOKIE         our cookie
  -setcookie NODE COOKIE    the cookie to use towards NODE
  -nocookie                 no cookie
  -hidden                   connect as a hidden node
  -connect_all false        do not connect to the nodes our peers know (global)
  -start_epmd true|false    whether to start an EPMD if none runs
  -noshell, -noinput        accepted (distro has no shell)
  -detached                 run in the background, as erl: new session, output
                            to /dev/null; returns at once (after checking the
                            arguments, config files and cookie)
  -proto_dist inet_tcp|inet6_tcp|inet_tls|inet6_tls
                            distribution over IPv4 (default) or IPv6, in TLS
                            for the _tls ones

Configuration:
  -args_file FILE           read more arguments from FILE (# comments, quoting,
                            nesting); ERL_AFLAGS, ERL_FLAGS, ERL_ZFLAGS as erl
  -config FILE...           sys.config files (FILE or FILE.config); repeatable,
                            later files override earlier ones
  -APP PAR VAL [PAR VAL]... set application parameters; VAL is an Erlang term,
                            e.g. -kernel sync_nodes_timeout 5000 -myapp k '\"str\"'

TLS distribution (as inet_tls_dist):
  -proto_dist inet_tls      TLS for every distribution connection (inet6_tls: IPv6)
  -ssl_dist_optfile FILE    [{server, Opts}, {client, Opts}] (certfile, keyfile,
                            cacertfile, verify, fail_if_no_peer_cert, depth,
                            versions, ciphers, server_name_indication)
  -ssl_dist_opt NAME VAL... server_certfile F client_verify verify_peer ...
Distribution:
  +zdbbl KIB                busy limit of each connection's queue in KiB
                            (dist_buf_busy_limit; default 1024, as erl)

Distro:
  --app NAME[:TYPE]         start built-in application NAME (repeatable) as
                            application:start(NAME, TYPE); TYPE is temporary
                            (default), transient or permanent
  -h, --help                print this help
  --version                 print the version

Arguments:
  --                        ends the arguments of the flag before it
  -extra ARGS...            the rest are plain arguments

Ignored with a warning: -pa, -pz, -boot, -boot_var, -mode, -env, -heart,
-smp, -nostick, -shutdown_time, -s, -run (what release start scripts pass),
and emulator flags (+K true, +A 30, +sbwt none, ...).
Not supported: -eval (distro runs no Erlang code), -configfd, -remsh.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a node.
    Run(ErlArgs),
    /// `distro epmd ...`: run or query our EPMD.
    Epmd(EpmdArgs),
    /// `distro takeover ...` / `distro permit ...`: act on a running cluster.
    Control(super::control::ControlArgs),
    /// Print [`USAGE`].
    Help,
    /// Print the version.
    Version,
}

/// A node name from `-name` or `-sname`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName {
    /// `cp1` or `cp1@host`, as given; the host, when missing, is resolved
    /// later.
    pub name: String,
    /// `true` for `-name` (long names), `false` for `-sname`.
    pub long: bool,
}

/// The flags of `distro [FLAGS]`, as erl would see them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErlArgs {
    /// `-name` / `-sname`.
    pub node_name: Option<NodeName>,
    /// `-setcookie COOKIE`.
    pub cookie: Option<String>,
    /// `-setcookie NODE COOKIE`, in order.
    pub node_cookies: Vec<(String, String)>,
    /// `-nocookie`.
    pub nocookie: bool,
    /// `-config` files, in order (names as given, without `.config` added).
    pub config_files: Vec<String>,
    /// `-hidden`.
    pub hidden: bool,
    /// `-connect_all true|false` (used only when the kernel parameter
    /// `connect_all` is unset, as `global` does).
    pub connect_all: Option<bool>,
    /// `-start_epmd true|false`.
    pub start_epmd: Option<bool>,
    /// `-App Par Val` overrides, in command-line order.
    pub env_overrides: Vec<EnvOverride>,
    /// `-noshell`.
    pub noshell: bool,
    /// `-noinput`.
    pub noinput: bool,
    /// `-detached`.
    pub detached: bool,
    /// `--app NAME[:TYPE]`: built-in applications to start, in order, with
    /// their restart type (checked: `temporary`, `transient`, `permanent`).
    pub apps: Vec<String>,
    /// `-ssl_dist_optfile FILE`.
    pub ssl_dist_optfile: Option<String>,
    /// `-ssl_dist_opt Name Value ...`, every flag's arguments in order.
    pub ssl_dist_opt: Vec<String>,
    /// `init:get_plain_arguments/0`: bare words outside flags and
    /// everything after `-extra`.
    pub plain_args: Vec<String>,
    /// `+zdbbl KiB`: the distribution buffer busy limit (over the kernel
    /// parameter `dist_buf_busy_limit`).
    pub dist_buf_busy_limit: Option<u32>,
    /// Flags accepted but ignored, one message each.
    pub warnings: Vec<String>,
    /// `-proto_dist` (default `inet_tcp`).
    pub proto_dist: ProtoDist,
    /// Every `-Flag Args...` in order, as `init:get_arguments/0` lists them.
    pub arguments: Vec<(String, Vec<String>)>,
}

impl ErlArgs {
    /// `init:get_arguments/0` of a node started with these flags: `root`,
    /// `progname` and `home` first, as erlexec adds them, then every flag.
    pub fn init_arguments(&self) -> InitArguments {
        let exe = std::env::current_exe().ok();
        let root = exe
            .as_deref()
            .and_then(|e| e.parent()?.parent())
            .map_or_else(|| "/".to_owned(), |p| p.display().to_string());
        let mut arguments = vec![
            ("root".to_owned(), vec![root]),
            ("progname".to_owned(), vec!["distro".to_owned()]),
        ];
        if let Ok(home) = std::env::var("HOME") {
            arguments.push(("home".to_owned(), vec![home]));
        }
        arguments.extend(self.arguments.iter().cloned());
        InitArguments {
            arguments,
            plain: self.plain_args.clone(),
        }
    }

    /// The configuration these flags describe: the `-config` files merged
    /// in order, then the `-App Par Val` overrides, then `-connect_all`
    /// when the kernel parameter `connect_all` is unset (`global:init/1`
    /// stores the flag's value there the same way).
    pub fn sys_config(&self) -> Result<SysConfig, ConfigError> {
        let mut cfg = SysConfig::load(&self.config_files)?;
        cfg.apply_overrides(&self.env_overrides);
        if let Some(ca) = self.connect_all {
            if cfg.get("kernel", "connect_all").is_none() {
                cfg.set("kernel", "connect_all", boolean(ca));
            }
        }
        Ok(cfg)
    }
}

/// `distro epmd ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpmdArgs {
    /// `-daemon`: detach and run in the background.
    pub daemon: bool,
    /// `-port N` (otherwise `ERL_EPMD_PORT` or 4369).
    pub port: Option<u16>,
    /// `-address IP,...`: addresses to listen on (otherwise all).
    pub addresses: Vec<IpAddr>,
    /// `-d` / `-debug`, once per occurrence.
    pub debug: u8,
    /// `-relaxed_command_check`: accept `kill`/`stop` from any local client.
    pub relaxed_command_check: bool,
    /// What to do.
    pub action: EpmdAction,
}

/// The action of `distro epmd`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EpmdAction {
    /// Run the EPMD server.
    #[default]
    Serve,
    /// `-names`: list the nodes registered with a running EPMD.
    Names,
    /// `-kill`: stop a running EPMD.
    Kill,
    /// `-stop NAME`: unregister a node from a running EPMD.
    Stop(String),
}

/// A bad command line; `Display` is one line starting with `distro:`,
/// ready to print.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArgsError {
    /// A flag distro does not know.
    #[error("distro: unknown flag {0} (see distro --help)")]
    UnknownFlag(String),
    /// An unknown flag with one argument: neither a known flag nor
    /// `-App Par Val`.
    #[error(
        "distro: unknown flag {0} (see distro --help); an application parameter is set with {0} Par Val"
    )]
    UnknownFlagWithArg(String),
    /// An unknown `--option`.
    #[error("distro: unknown option {0} (see distro --help)")]
    UnknownOption(String),
    /// A first argument that is neither a flag nor a subcommand.
    #[error("distro: unknown command {0} (see distro --help)")]
    UnknownCommand(String),
    /// A flag without the argument it needs.
    #[error("distro: {flag} needs {what}")]
    MissingValue {
        /// The flag.
        flag: String,
        /// What it needs (`a node name`).
        what: &'static str,
    },
    /// A flag with more arguments than it takes.
    #[error("distro: {flag} takes {takes}, got: {}", .got.join(" "))]
    TooManyArgs {
        /// The flag.
        flag: String,
        /// How many it takes (`one argument`).
        takes: &'static str,
        /// The arguments given.
        got: Vec<String>,
    },
    /// A flag argument of the wrong form.
    #[error("distro: {flag}: expected {expected}, got {got}")]
    BadValue {
        /// The flag.
        flag: String,
        /// What it takes.
        expected: &'static str,
        /// The argument given.
        got: String,
    },
    /// `-App` followed by an odd number of arguments.
    #[error("distro: -{app} expects Par Val pairs, got {count} arguments: {}", .args.join(" "))]
    OddPairs {
        /// The application.
        app: String,
        /// How many arguments followed.
        count: usize,
        /// The arguments.
        args: Vec<String>,
    },
    /// `-App Par Val` where `Par` is not an atom.
    #[error("distro: -{app} {par}: a parameter name must be an atom")]
    BadParamName {
        /// The application.
        app: String,
        /// The text given as parameter name.
        par: String,
    },
    /// `-App Par Val` where `Val` is not an Erlang term.
    #[error("distro: -{app} {par}: cannot parse value {value:?}: {error}")]
    BadTerm {
        /// The application.
        app: String,
        /// The parameter.
        par: String,
        /// The text given.
        value: String,
        /// Why it does not parse.
        error: Box<ParseError>,
    },
    /// A flag distro does not support, with the reason.
    #[error("distro: {flag} is not supported: {why}")]
    NotSupported {
        /// The flag.
        flag: String,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// Two flags that exclude each other.
    #[error("distro: {0}")]
    Conflict(&'static str),
    /// A `-proto_dist` distro does not speak.
    #[error("distro: {0}")]
    ProtoDist(#[from] UnsupportedProtoDist),
    /// An `-args_file` that cannot be read.
    #[error("{0}")]
    ArgsFile(#[from] ArgsFileError),
}

/// Parses the arguments after the program name, expanding `-args_file`
/// files but ignoring erl's environment variables (see [`parse_with_env`]).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, ArgsError> {
    parse_with_env(args, &|_| None)
}

/// [`parse`] with `ERL_AFLAGS`, `ERL_FLAGS` and `ERL_ZFLAGS` taken from
/// `env` (see [`super::args_file`]); they do not apply to subcommands.
pub fn parse_with_env<I: IntoIterator<Item = String>>(
    args: I,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, ArgsError> {
    let args: Vec<String> = args.into_iter().collect();
    if let Some(first) = args.first() {
        if !is_flag(first) && !is_emulator_flag(first) {
            return match first.as_str() {
                "epmd" => parse_epmd(&args[1..]),
                "takeover" | "permit" => {
                    super::control::parse(first, &args[1..]).map(Command::Control)
                }
                _ => Err(ArgsError::UnknownCommand(first.clone())),
            };
        }
    }
    let args = args_file::expand(&args, env, &|p| std::fs::read_to_string(p))?;
    let mut erl = ErlArgs::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        match arg.as_str() {
            "--" => continue,
            "-extra" => {
                erl.plain_args.extend(args[i..].iter().cloned());
                break;
            }
            "-h" | "-help" | "--help" => return Ok(Command::Help),
            "--version" => return Ok(Command::Version),
            "--app" => match args.get(i) {
                Some(name) if !is_flag(name) && !name.is_empty() => {
                    erl.apps.push(check_app(name)?);
                    i += 1;
                }
                _ => return Err(missing("--app", "an application name")),
            },
            long if long.starts_with("--") => match long.strip_prefix("--app=") {
                Some(name) if !name.is_empty() => erl.apps.push(check_app(name)?),
                _ => return Err(ArgsError::UnknownOption(long.to_string())),
            },
            _ if is_flag(arg) || is_emulator_flag(arg) => {
                let n = args[i..]
                    .iter()
                    .take_while(|a| !is_flag(a) && !is_emulator_flag(a))
                    .count();
                let flag_args = &args[i..i + n];
                i += n;
                if arg == "+zdbbl" {
                    let v = one(arg, flag_args, "a size in KiB")?;
                    let kib = v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=crate::config::MAX_ZDBBL_KIB).contains(n))
                        .ok_or_else(|| ArgsError::BadValue {
                            flag: arg.to_string(),
                            expected: "a size in KiB (1..2097151)",
                            got: v.to_string(),
                        })?;
                    erl.dist_buf_busy_limit = Some(kib);
                } else if is_emulator_flag(arg) {
                    let all = std::iter::once(arg.as_str())
                        .chain(flag_args.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" ");
                    erl.warnings.push(format!(
                        "ignoring emulator flag {all} (distro is not a BEAM)"
                    ));
                } else {
                    flag(&mut erl, arg, flag_args)?;
                    erl.arguments
                        .push((arg[1..].to_owned(), flag_args.to_vec()));
                }
            }
            _ => erl.plain_args.push(arg.clone()),
        }
    }
    Ok(Command::Run(erl))
}

/// `init:parse_boot_args/1`: anything starting with `-` is a flag.
fn is_flag(arg: &str) -> bool {
    arg.starts_with('-')
}

/// `+P 100000` and friends, handled by erlexec before init sees them.
fn is_emulator_flag(arg: &str) -> bool {
    arg.len() > 1 && arg.starts_with('+')
}

/// `NAME` or `NAME:TYPE` with a restart type.
fn check_app(arg: &str) -> Result<String, ArgsError> {
    match arg.split_once(':') {
        Some((name, "temporary" | "transient" | "permanent")) if !name.is_empty() => {
            Ok(arg.to_owned())
        }
        None => Ok(arg.to_owned()),
        Some(_) => Err(ArgsError::BadValue {
            flag: "--app".into(),
            expected: "NAME or NAME:temporary|transient|permanent",
            got: arg.to_owned(),
        }),
    }
}

fn missing(flag: &str, what: &'static str) -> ArgsError {
    ArgsError::MissingValue {
        flag: flag.to_string(),
        what,
    }
}

/// Checks that `flag` got exactly one argument and returns it.
fn one<'a>(flag: &str, args: &'a [String], what: &'static str) -> Result<&'a str, ArgsError> {
    match args {
        [] => Err(missing(flag, what)),
        [v] => Ok(v),
        _ => Err(ArgsError::TooManyArgs {
            flag: flag.to_string(),
            takes: "one argument",
            got: args.to_vec(),
        }),
    }
}

fn none(flag: &str, args: &[String]) -> Result<bool, ArgsError> {
    if args.is_empty() {
        Ok(true)
    } else {
        Err(ArgsError::TooManyArgs {
            flag: flag.to_string(),
            takes: "no argument",
            got: args.to_vec(),
        })
    }
}

fn bool_arg(flag: &str, args: &[String]) -> Result<bool, ArgsError> {
    match one(flag, args, "true or false")? {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ArgsError::BadValue {
            flag: flag.to_string(),
            expected: "true or false",
            got: other.to_string(),
        }),
    }
}

/// Flags meaningful only to a BEAM: accepted, ignored, reported.
const IGNORED: &[&str] = &[
    "pa",
    "pz",
    "path",
    "boot",
    "boot_var",
    "mode",
    "env",
    "heart",
    "smp",
    "nostick",
    "shutdown_time",
    "code_path_cache",
    "code_path_choice",
    "init_debug",
    "emu_args",
    "emu_type",
    "emu_flavor",
    "async_shell_start",
    "nouser",
    "user",
    "shell",
    "stdlib",
];

fn flag(erl: &mut ErlArgs, arg: &str, args: &[String]) -> Result<(), ArgsError> {
    let name = &arg[1..];
    match name {
        "name" | "sname" => {
            let long = name == "name";
            let node = one(arg, args, "a node name")?;
            if node.is_empty() || node.starts_with('@') {
                return Err(ArgsError::BadValue {
                    flag: arg.to_string(),
                    expected: "a node name",
                    got: node.to_string(),
                });
            }
            // erl_distribution:start_link/0: -sname before -name, the
            // first of several with a warning.
            match &erl.node_name {
                Some(n) if n.long == long => erl.warnings.push(format!(
                    "Multiple -{name} given to erl, using the first, {:?}",
                    n.name
                )),
                Some(n) if !n.long => {}
                _ => {
                    erl.node_name = Some(NodeName {
                        name: node.to_string(),
                        long,
                    })
                }
            }
        }
        "setcookie" => match args {
            [] => return Err(missing(arg, "a cookie")),
            [cookie] => {
                if erl.cookie.is_some() {
                    return Err(ArgsError::Conflict("-setcookie COOKIE given twice"));
                }
                erl.cookie = Some(cookie.clone());
            }
            [node, cookie] => erl.node_cookies.push((node.clone(), cookie.clone())),
            _ => {
                return Err(ArgsError::TooManyArgs {
                    flag: arg.to_string(),
                    takes: "COOKIE or NODE COOKIE",
                    got: args.to_vec(),
                });
            }
        },
        "nocookie" => erl.nocookie = none(arg, args)?,
        "config" => {
            if args.is_empty() {
                return Err(missing(arg, "a file name"));
            }
            erl.config_files.extend(args.iter().cloned());
        }
        "hidden" => erl.hidden = none(arg, args)?,
        "noshell" => erl.noshell = none(arg, args)?,
        "noinput" => erl.noinput = none(arg, args)?,
        "detached" => erl.detached = none(arg, args)?,
        "connect_all" => erl.connect_all = Some(bool_arg(arg, args)?),
        "start_epmd" => erl.start_epmd = Some(bool_arg(arg, args)?),
        "proto_dist" => erl.proto_dist = ProtoDist::parse(one(arg, args, "a protocol")?)?,
        // A release start script starts its boot code with -s (mix: `-s
        // elixir start_cli`): nothing distro can run, nothing to refuse.
        "s" | "run" => {
            let mut msg = format!("ignoring {arg}");
            for a in args {
                msg.push(' ');
                msg.push_str(a);
            }
            msg.push_str(" (distro runs no Erlang code)");
            erl.warnings.push(msg);
        }
        "ssl_dist_optfile" => {
            let file = one(arg, args, "a file name")?;
            if erl.ssl_dist_optfile.is_some() {
                return Err(ArgsError::Conflict("-ssl_dist_optfile given twice"));
            }
            erl.ssl_dist_optfile = Some(file.to_string());
        }
        "ssl_dist_opt" => {
            if args.is_empty() || args.len() % 2 == 1 {
                return Err(ArgsError::BadValue {
                    flag: arg.to_string(),
                    expected: "Name Value pairs (e.g. server_certfile cert.pem)",
                    got: args.join(" "),
                });
            }
            erl.ssl_dist_opt.extend(args.iter().cloned());
        }
        "eval" => {
            return Err(ArgsError::NotSupported {
                flag: arg.to_string(),
                why: "distro runs no Erlang code (start a built-in application with --app NAME)",
            });
        }
        "args_file" => return Err(missing(arg, "a file name")),
        "configfd" | "remsh" => {
            return Err(ArgsError::NotSupported {
                flag: arg.to_string(),
                why: "not implemented by distro",
            });
        }
        _ if IGNORED.contains(&name) => {
            let mut msg = format!("ignoring {arg}");
            for a in args {
                msg.push(' ');
                msg.push_str(a);
            }
            msg.push_str(" (meaningful only to a BEAM)");
            erl.warnings.push(msg);
        }
        _ => app_env(erl, arg, args)?,
    }
    Ok(())
}

/// `-App Par Val [Par Val ...]` (`application_controller:conv/1`).
fn app_env(erl: &mut ErlArgs, arg: &str, args: &[String]) -> Result<(), ArgsError> {
    let app = &arg[1..];
    match args.len() {
        0 => return Err(ArgsError::UnknownFlag(arg.to_string())),
        1 => return Err(ArgsError::UnknownFlagWithArg(arg.to_string())),
        n if n % 2 == 1 => {
            return Err(ArgsError::OddPairs {
                app: app.to_string(),
                count: n,
                args: args.to_vec(),
            });
        }
        _ => {}
    }
    for pair in args.chunks_exact(2) {
        let (par_text, value_text) = (&pair[0], &pair[1]);
        let par = match parse_term(par_text) {
            Ok(t) => t.as_atom().map(str::to_string),
            Err(_) => None,
        };
        let Some(par) = par else {
            return Err(ArgsError::BadParamName {
                app: app.to_string(),
                par: par_text.clone(),
            });
        };
        let value = parse_term(value_text).map_err(|error| ArgsError::BadTerm {
            app: app.to_string(),
            par: par.clone(),
            value: value_text.clone(),
            error: Box::new(error),
        })?;
        erl.env_overrides.push(EnvOverride {
            app: app.to_string(),
            par,
            value,
        });
    }
    Ok(())
}

/// `distro epmd ...`, with the flags of OTP's `epmd` program.
fn parse_epmd(args: &[String]) -> Result<Command, ArgsError> {
    let mut epmd = EpmdArgs::default();
    let mut it = args.iter();
    let set_action = |epmd: &mut EpmdArgs, action: EpmdAction| {
        if epmd.action != EpmdAction::Serve {
            return Err(ArgsError::Conflict(
                "epmd: only one of -names, -kill, -stop may be given",
            ));
        }
        epmd.action = action;
        Ok(())
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "-help" | "--help" => return Ok(Command::Help),
            "-daemon" => epmd.daemon = true,
            "-d" | "-debug" => epmd.debug = epmd.debug.saturating_add(1),
            "-relaxed_command_check" => epmd.relaxed_command_check = true,
            "-port" => {
                let v = it.next().ok_or_else(|| missing("-port", "a port number"))?;
                epmd.port = Some(v.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    ArgsError::BadValue {
                        flag: "-port".into(),
                        expected: "a port number (1..65535)",
                        got: v.clone(),
                    }
                })?);
            }
            "-address" => {
                let v = it
                    .next()
                    .ok_or_else(|| missing("-address", "a list of IP addresses"))?;
                for a in v.split(',') {
                    let ip = a.trim().parse().map_err(|_| ArgsError::BadValue {
                        flag: "-address".into(),
                        expected: "IP addresses separated by commas",
                        got: v.clone(),
                    })?;
                    epmd.addresses.push(ip);
                }
            }
            "-names" => set_action(&mut epmd, EpmdAction::Names)?,
            "-kill" => set_action(&mut epmd, EpmdAction::Kill)?,
            "-stop" => {
                let name = it.next().ok_or_else(|| missing("-stop", "a node name"))?;
                set_action(&mut epmd, EpmdAction::Stop(name.clone()))?;
            }
            other if is_flag(other) => return Err(ArgsError::UnknownFlag(format!("epmd {other}"))),
            other => return Err(ArgsError::UnknownCommand(format!("epmd {other}"))),
        }
    }
    Ok(Command::Epmd(epmd))
}
