//! Reading config files the way `application_controller` does in OTP 25
//! (`otp:lib/kernel/src/application_controller.erl`):
//!
//! - `conf_param_to_conf/1`: `-config Name` reads
//!   `dirname(Name)/basename(Name, ".config") ++ ".config"`, so `cp1` and
//!   `cp1.config` name the same file and `cp1.conf` names `cp1.conf.config`.
//! - Only a file whose base name is `sys` is searched for includes
//!   (`BFName =:= "sys"`); in any other file a string is an invalid entry.
//! - `check_conf_sys/4`: in `sys.config`, a string names another config
//!   file (same `.config` rule); a relative name is tried against the
//!   directory of `sys.config` first, then against the current directory.
//!   Included files are not searched for further includes. Elements are
//!   merged in order, a later one overriding an earlier one parameter by
//!   parameter; the first failing include is the error.
//! - `load_file/1` + `scan_file/1`: the file holds exactly one list ended
//!   by a dot; UTF-8 unless a `coding: latin-1` comment says otherwise
//!   (`epp:read_encoding_from_binary/1`).
//! - `check_conf_data/1`: entries are `{App, [{Par, Val}]}` with atoms,
//!   no parameter twice, no application twice (except in `sys.config`,
//!   whose entries are merged one by one), and kernel's `distributed` well
//!   formed.

use super::kernel::parse_distributed;
use super::{ConfigError, SysConfig};
use crate::term::text::{ParseError, ParseErrorKind, parse_terms, to_text};
use crate::term::{Term, TermExt};
use std::path::{Path, PathBuf};

/// Loads one `-config` file, following includes if it is a `sys.config`.
pub(super) fn load_config_file(name: &Path) -> Result<SysConfig, ConfigError> {
    let (file, is_sys) = config_file_name(name);
    let entries = read_entries(&file)?;
    if !is_sys {
        return check_entries(entries, Some(&file));
    }
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut cfg = SysConfig::new();
    for entry in entries {
        match include_name(&entry) {
            Some(inc) => {
                let inc_file = resolve_include(&dir, &inc);
                let entries = read_entries(&inc_file)?;
                if let Some(nested) = entries.iter().find_map(include_name) {
                    return Err(ConfigError::Invalid {
                        file: Some(inc_file),
                        message: format!(
                            "invalid application config: {nested:?} (an included config file \
                             cannot include other files)"
                        ),
                    });
                }
                cfg.merge(check_entries(entries, Some(&inc_file))?);
            }
            None => cfg.merge(check_entries(vec![entry], Some(&file))?),
        }
    }
    Ok(cfg)
}

/// Parses config text that includes no file; errors name it `<config>`.
pub(super) fn parse_config_text(src: &str) -> Result<SysConfig, ConfigError> {
    let entries = entries_of(src, Path::new("<config>"))?;
    check_entries(entries, None)
}

/// `Name` → `dirname(Name)/basename(Name, ".config").config`, and whether
/// that base name is `sys`.
pub(super) fn config_file_name(name: &Path) -> (PathBuf, bool) {
    let base = name
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = match base.strip_suffix(".config") {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => base,
    };
    let file = name.with_file_name(format!("{stem}.config"));
    (file, stem == "sys")
}

/// An include entry of `sys.config`: any string (OTP: `is_list(File)`).
fn include_name(entry: &Term) -> Option<String> {
    match entry {
        Term::ByteList(_) | Term::List(_) => entry.as_text(),
        _ => None,
    }
}

/// A relative include is looked up next to `sys.config` first, then in
/// the current directory (OTP's "legacy mode").
pub(super) fn resolve_include(sys_dir: &Path, name: &str) -> PathBuf {
    let (file, _) = config_file_name(Path::new(name));
    if file.is_relative() && !sys_dir.as_os_str().is_empty() {
        let beside = sys_dir.join(&file);
        if beside.exists() {
            return beside;
        }
    }
    file
}

/// Reads `file` and returns the elements of its one list.
fn read_entries(file: &Path) -> Result<Vec<Term>, ConfigError> {
    let bytes = std::fs::read(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound {
            file: file.to_path_buf(),
        },
        _ => ConfigError::Io {
            file: file.to_path_buf(),
            source: e,
        },
    })?;
    let text = decode(bytes).ok_or_else(|| ConfigError::BadEncoding {
        file: file.to_path_buf(),
    })?;
    entries_of(&text, file)
}

fn entries_of(text: &str, file: &Path) -> Result<Vec<Term>, ConfigError> {
    let not_one_list = || ConfigError::NotOneList {
        file: file.to_path_buf(),
    };
    let with_file = |e: ParseError| ConfigError::Parse(e.with_file(file.display().to_string()));
    let mut terms = parse_terms(text).map_err(with_file)?;
    if terms.is_empty() {
        // As erl_scan:tokens/3 in load_file/1: nothing before the end.
        let at_end = ParseError::at(text, text.len(), ParseErrorKind::NoEndingDot);
        return Err(with_file(at_end));
    }
    if terms.len() != 1 {
        return Err(not_one_list());
    }
    let list = terms.pop().ok_or_else(not_one_list)?;
    match list.as_list() {
        Some(elems) => Ok(elems.into_owned()),
        None => Err(not_one_list()),
    }
}

/// UTF-8, or Latin-1 when the first two lines carry a `coding: latin-1`
/// comment (`epp:read_encoding_from_binary/1`).
fn decode(bytes: Vec<u8>) -> Option<String> {
    if declares_latin1(&bytes) {
        return Some(bytes.iter().map(|&b| char::from(b)).collect());
    }
    String::from_utf8(bytes).ok()
}

fn declares_latin1(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'\n')
        .take(2)
        .filter_map(|line| {
            let line = String::from_utf8_lossy(line).to_ascii_lowercase();
            let comment = &line[line.find('%')?..];
            let after = &comment[comment.find("coding")? + "coding".len()..];
            let after = after.trim_start().strip_prefix([':', '='])?.trim_start();
            let word: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(word)
        })
        .any(|w| matches!(w.as_str(), "latin-1" | "latin1" | "iso-8859-1"))
}

/// `check_conf_data/1` on the entries of one file, giving the
/// configuration they make.
fn check_entries(entries: Vec<Term>, file: Option<&Path>) -> Result<SysConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        file: file.map(Path::to_path_buf),
        message,
    };
    let mut cfg = SysConfig::new();
    for entry in entries {
        let (app, env) = check_app(&entry).map_err(invalid)?;
        if cfg.apps().any(|a| a == app) {
            return Err(invalid(format!("duplicate application config: {app}")));
        }
        cfg.apps.push((app, env));
    }
    Ok(cfg)
}

/// One `{App, [{Par, Val}]}` entry, checked as `check_conf_data/1` and
/// `check_para/2` do.
fn check_app(entry: &Term) -> Result<(String, Vec<(String, Term)>), String> {
    let parts = match entry.as_tuple() {
        Some([app, params]) => Some((app, params)),
        _ => None,
    };
    let Some((app, params)) = parts else {
        let mut msg = format!("invalid application config: {}", show(entry));
        if include_name(entry).is_some() {
            msg.push_str(" (only a file named sys.config can include other config files)");
        }
        return Err(msg);
    };
    let list = params.as_list();
    let Some(app) = app.as_atom() else {
        return Err(match list {
            Some(_) => format!(
                "application: {}; application name must be an atom",
                show(app)
            ),
            None => format!("application: {}; parameters must be a list", show(app)),
        });
    };
    let Some(list) = list else {
        return Err(format!("application: {app}; parameters must be a list"));
    };
    let mut env: Vec<(String, Term)> = Vec::with_capacity(list.len());
    for p in list.iter() {
        let (par, value) = match p.as_tuple() {
            Some([par, value]) => match par.as_atom() {
                Some(par) => (par, value),
                None => {
                    return Err(format!(
                        "application: {app}; invalid parameter name: {}",
                        show(par)
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "application: {app}; invalid parameter: {}",
                    show(p)
                ));
            }
        };
        if env.iter().any(|(q, _)| q == par) {
            return Err(format!("application: {app}; duplicate parameter: {par}"));
        }
        if app == "kernel" && par == "distributed" {
            if let Err(e) = parse_distributed(value) {
                return Err(format!(
                    "application: kernel; erroneous parameter: distributed ({e})"
                ));
            }
        }
        env.push((par.to_string(), value.clone()));
    }
    Ok((app.to_string(), env))
}

/// A term as Erlang text for messages.
pub(super) fn show(t: &Term) -> String {
    to_text(t).unwrap_or_else(|| format!("{t:?}"))
}
