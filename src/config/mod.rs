//! sys.config files: loading (`file:consult/1` semantics, included files),
//! merging several `-config` files, `-App Par Val` overrides, and typed
//! accessors for the kernel parameters distro uses.
//!
//! Mirrors `otp:lib/kernel/src/application_controller.erl` (OTP 25:
//! `check_conf/0`, `conf_param_to_conf/1`, `check_conf_sys/4`,
//! `load_file/1`, `check_conf_data/1`, `merge_env/2`, `get_cmd_env/1`) so
//! that `distro -config cp1` reads the very files `erl -config cp1` reads:
//!
//! ```text
//!  -config a b -config c          -App Par Val ...
//!        │                              │
//!        ▼                              │
//!  load each file (a.config ...)        │
//!   sys.config: include strings,        │
//!   merged element by element           │
//!        │ merge_env, later file wins   │
//!        ▼                              ▼
//!     SysConfig ───────────────► apply overrides (last wins) ──► KernelParams
//! ```
//!
//! What this module does not do: application defaults from `.app` files
//! (built-in applications carry their defaults in Rust, e.g.
//! [`KernelParams::default`]), `-configfd`, or changing configuration at run
//! time.
//!
//! ```
//! use distro::config::{KernelParams, SysConfig};
//! use distro::term::int;
//!
//! let mut cfg = SysConfig::parse(
//!     "[{kernel, [{sync_nodes_timeout, 5000}, {net_ticktime, 10}]}, {myapp, [{k, v}]}].",
//! ).unwrap();
//! cfg.set("kernel", "net_ticktime", int(20));
//! let kernel = KernelParams::from_config(&cfg).unwrap();
//! assert_eq!(kernel.net_ticktime, 20);
//! assert_eq!(cfg.apps().collect::<Vec<_>>(), ["kernel", "myapp"]);
//! ```

mod kernel;
mod load;

#[cfg(test)]
mod kernel_test;
#[cfg(test)]
mod load_test;

pub(crate) use kernel::MAX_ZDBBL_KIB;
pub use kernel::{DistributedApp, KernelParams, NodeGroup, RestartTime, Timeout};

use crate::term::Term;
use crate::term::text::ParseError;
use std::path::{Path, PathBuf};

/// One `-App Par Val` from the command line: set parameter `par` of
/// application `app` to `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvOverride {
    /// The application (`kernel` in `-kernel net_ticktime 10`).
    pub app: String,
    /// The parameter name.
    pub par: String,
    /// The value, already parsed from Erlang text.
    pub value: Term,
}

/// Application environments as read from config files: applications in
/// order of first appearance, each with its parameters in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SysConfig {
    apps: Vec<(String, Vec<(String, Term)>)>,
}

impl SysConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads and merges the files of `-config F1 F2 ...` in order, as
    /// `application_controller:check_conf/0` does: each name gets `.config`
    /// appended unless it already ends with it; a file named `sys.config`
    /// may include other files; a later file overrides an earlier one
    /// parameter by parameter.
    pub fn load<P: AsRef<Path>>(files: &[P]) -> Result<Self, ConfigError> {
        let mut cfg = Self::new();
        for f in files {
            cfg.merge(load::load_config_file(f.as_ref())?);
        }
        Ok(cfg)
    }

    /// Parses the text of one config file (one list ended by `.`) that
    /// includes no other file, e.g. for tests or embedded defaults.
    pub fn parse(src: &str) -> Result<Self, ConfigError> {
        load::parse_config_text(src)
    }

    /// The value of parameter `par` of application `app`.
    pub fn get(&self, app: &str, par: &str) -> Option<&Term> {
        self.app_env(app)
            .iter()
            .find(|(p, _)| p == par)
            .map(|(_, v)| v)
    }

    /// All parameters of `app`, in order (empty if `app` has none).
    pub fn app_env(&self, app: &str) -> &[(String, Term)] {
        self.apps
            .iter()
            .find(|(a, _)| a == app)
            .map_or(&[], |(_, env)| env.as_slice())
    }

    /// Sets parameter `par` of `app`, replacing any earlier value.
    pub fn set(&mut self, app: &str, par: &str, value: Term) {
        let env = match self.apps.iter().position(|(a, _)| a == app) {
            Some(i) => &mut self.apps[i].1,
            None => {
                self.apps.push((app.to_string(), Vec::new()));
                let last = self.apps.len() - 1;
                &mut self.apps[last].1
            }
        };
        match env.iter_mut().find(|(p, _)| p == par) {
            Some(slot) => slot.1 = value,
            None => env.push((par.to_string(), value)),
        }
    }

    /// Removes parameter `par` of `app`, returning its value.
    pub fn unset(&mut self, app: &str, par: &str) -> Option<Term> {
        let (_, env) = self.apps.iter_mut().find(|(a, _)| a == app)?;
        let i = env.iter().position(|(p, _)| p == par)?;
        Some(env.remove(i).1)
    }

    /// The applications that have an environment, in order.
    pub fn apps(&self) -> impl Iterator<Item = &str> {
        self.apps.iter().map(|(a, _)| a.as_str())
    }

    /// Merges `other` into `self`; `other` wins parameter by parameter
    /// (`application_controller:merge_env/2`).
    pub fn merge(&mut self, other: Self) {
        for (app, env) in other.apps {
            if !self.apps.iter().any(|(a, _)| *a == app) {
                self.apps.push((app.clone(), Vec::new()));
            }
            for (par, value) in env {
                self.set(&app, &par, value);
            }
        }
    }

    /// Applies `-App Par Val` overrides in command-line order; a later one
    /// wins. (erl merges these over the config the same way, except that
    /// when one flag names the same parameter twice, as in
    /// `-kernel a 1 a 2`, which value wins depends on whether a config file
    /// also set it.)
    pub fn apply_overrides(&mut self, overrides: &[EnvOverride]) {
        for o in overrides {
            self.set(&o.app, &o.par, o.value.clone());
        }
    }
}

/// Why a configuration could not be loaded or is not valid. Each message is
/// one line naming the file; the wording follows OTP's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist (OTP: `configuration file not found`).
    #[error("error in config file {}: configuration file not found", .file.display())]
    NotFound {
        /// The file name, with `.config` appended.
        file: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("error reading config file {}: {source}", .file.display())]
    Io {
        /// The file name.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid UTF-8 and declares no `coding: latin-1`.
    #[error("error in config file {}: bad encoding", .file.display())]
    BadEncoding {
        /// The file name.
        file: PathBuf,
    },
    /// A lexical or syntax error; the [`ParseError`] names the file.
    #[error("error in config file {0}")]
    Parse(ParseError),
    /// The file holds something other than exactly one list.
    #[error("error in config file {}: configuration file must contain ONE list ended by <dot>", .file.display())]
    NotOneList {
        /// The file name.
        file: PathBuf,
    },
    /// The list is not `[{App, [{Par, Val}]}]` (OTP's `check_conf_data/1`
    /// messages, e.g. `duplicate parameter`).
    #[error("{}invalid config data: {message}", file_prefix(.file.as_deref()))]
    Invalid {
        /// The file the data came from, when known.
        file: Option<PathBuf>,
        /// What is wrong, in OTP's words plus a hint.
        message: String,
    },
    /// A parameter has a value of the wrong type or range, e.g.
    /// `kernel parameter sync_nodes_timeout: expected a positive integer
    /// (milliseconds) or infinity, got foo`.
    #[error("{app} parameter {par}: {reason}")]
    BadParam {
        /// The application (`kernel`).
        app: String,
        /// The parameter.
        par: String,
        /// What is wrong, with the value as Erlang text.
        reason: String,
    },
}

fn file_prefix(file: Option<&Path>) -> String {
    match file {
        Some(f) => format!("error in config file {}: ", f.display()),
        None => String::new(),
    }
}
