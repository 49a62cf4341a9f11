//! Tests for loading, including and merging config files. Cases marked
//! "erl:" reproduce what OTP 25 does with the same files, checked with
//! `erl -noshell -config F -eval 'io:format("~p~n", [application:get_all_env(kernel)]), halt().'`.

use super::load::{config_file_name, resolve_include};
use super::*;
use crate::term::{atom, charlist, int};
use std::fs;
use tempfile::TempDir;

fn dir() -> TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

/// The kernel parameters `a`..`d` as (name, integer) pairs, sorted.
fn kernel_abcd(cfg: &SysConfig) -> Vec<(String, i64)> {
    let mut v: Vec<_> = cfg
        .app_env("kernel")
        .iter()
        .filter(|(p, _)| ["a", "b", "c", "d"].contains(&p.as_str()))
        .map(|(p, v)| (p.clone(), crate::term::TermExt::as_i64(v).unwrap()))
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(p, v)| (p.to_string(), *v)).collect()
}

fn load_err(file: &Path) -> String {
    match SysConfig::load(&[file]) {
        Ok(c) => panic!("loaded {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn sysconfig_accessors() {
    let mut cfg = SysConfig::parse(
        "%% comment\n[{kernel, [{b, 2}, {a, 1}]},\n {myapp, [{key, \"str\"}]}].\n",
    )
    .unwrap();
    assert_eq!(cfg.apps().collect::<Vec<_>>(), ["kernel", "myapp"]);
    assert_eq!(cfg.get("kernel", "a"), Some(&int(1)));
    assert_eq!(cfg.get("myapp", "key"), Some(&charlist("str")));
    assert_eq!(cfg.get("myapp", "nope"), None);
    assert_eq!(cfg.get("nope", "a"), None);
    let names: Vec<_> = cfg
        .app_env("kernel")
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(names, ["b", "a"]);
    assert!(cfg.app_env("nope").is_empty());
    cfg.set("kernel", "a", int(10));
    cfg.set("kernel", "c", int(3));
    cfg.set("other", "x", atom("y"));
    assert_eq!(cfg.get("kernel", "a"), Some(&int(10)));
    let names: Vec<_> = cfg
        .app_env("kernel")
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(names, ["b", "a", "c"]);
    assert_eq!(cfg.apps().collect::<Vec<_>>(), ["kernel", "myapp", "other"]);
    assert_eq!(cfg.unset("kernel", "b"), Some(int(2)));
    assert_eq!(cfg.unset("kernel", "b"), None);
    assert_eq!(SysConfig::parse("[].").unwrap(), SysConfig::new());
}

#[test]
fn merge_and_overrides() {
    let mut a = SysConfig::parse("[{kernel,[{a,1},{b,1}]}].").unwrap();
    let b = SysConfig::parse("[{myapp,[{k,v}]}, {kernel,[{b,2},{c,2}]}].").unwrap();
    a.merge(b);
    assert_eq!(kernel_abcd(&a), pairs(&[("a", 1), ("b", 2), ("c", 2)]));
    assert_eq!(a.apps().collect::<Vec<_>>(), ["kernel", "myapp"]);
    let over = |app: &str, par: &str, v| EnvOverride {
        app: app.into(),
        par: par.into(),
        value: int(v),
    };
    // erl: -kernel a 5 -kernel a 6 gives a = 6.
    a.apply_overrides(&[
        over("kernel", "a", 5),
        over("kernel", "a", 6),
        over("new", "x", 1),
    ]);
    assert_eq!(a.get("kernel", "a"), Some(&int(6)));
    assert_eq!(a.get("new", "x"), Some(&int(1)));
}

#[test]
fn config_file_names() {
    // application_controller: filename:basename(F, ".config") ++ ".config".
    let cases: &[(&str, &str, bool)] = &[
        ("cp1", "cp1.config", false),
        ("cp1.config", "cp1.config", false),
        ("foo.conf", "foo.conf.config", false),
        ("dir/cp1", "dir/cp1.config", false),
        ("sys", "sys.config", true),
        ("sys.config", "sys.config", true),
        ("/etc/app/sys", "/etc/app/sys.config", true),
        ("rel/sys.config", "rel/sys.config", true),
        ("mysys", "mysys.config", false),
    ];
    for (name, file, is_sys) in cases {
        assert_eq!(
            config_file_name(Path::new(name)),
            (PathBuf::from(file), *is_sys),
            "{name}"
        );
    }
}

#[test]
fn load_appends_config_extension() {
    let d = dir();
    write(d.path(), "cp1.config", "[{kernel,[{a,1}]}].");
    // erl: -config cp1 and -config cp1.config read cp1.config.
    for name in ["cp1", "cp1.config"] {
        let cfg = SysConfig::load(&[d.path().join(name)]).unwrap();
        assert_eq!(cfg.get("kernel", "a"), Some(&int(1)), "{name}");
    }
    // erl: -config foo.conf reads foo.conf.config.
    write(d.path(), "foo.conf", "[{kernel,[{a,7}]}].");
    let e = load_err(&d.path().join("foo.conf"));
    assert!(
        e.ends_with("foo.conf.config: configuration file not found"),
        "{e}"
    );
    write(d.path(), "foo.conf.config", "[{kernel,[{a,8}]}].");
    let cfg = SysConfig::load(&[d.path().join("foo.conf")]).unwrap();
    assert_eq!(cfg.get("kernel", "a"), Some(&int(8)));
}

#[test]
fn several_files_merge_later_wins() {
    let d = dir();
    let m1 = write(d.path(), "m1.config", "[{kernel,[{a,1},{b,1}]}].");
    let m2 = write(d.path(), "m2.config", "[{kernel,[{b,2},{c,2}]}].");
    // erl: -config m1 -config m2 (or -config m1 m2) gives a=1, b=2, c=2.
    let cfg = SysConfig::load(&[m1.clone(), m2.clone()]).unwrap();
    assert_eq!(kernel_abcd(&cfg), pairs(&[("a", 1), ("b", 2), ("c", 2)]));
    let cfg = SysConfig::load(&[m2, m1]).unwrap();
    assert_eq!(kernel_abcd(&cfg), pairs(&[("a", 1), ("b", 1), ("c", 2)]));
    assert_eq!(SysConfig::load::<PathBuf>(&[]).unwrap(), SysConfig::new());
}

#[test]
fn sys_config_includes_merge_in_order() {
    let d = dir();
    let sys = write(
        d.path(),
        "sys.config",
        "[{kernel,[{a,1},{b,1}]}, \"sub/inc\", {kernel,[{c,1}]}].",
    );
    write(
        d.path(),
        "sub/inc.config",
        "[{kernel,[{b,2},{d,2}]}, {myapp,[{k,inc}]}].",
    );
    // erl: kernel a=1, b=2, c=1, d=2.
    let cfg = SysConfig::load(&[sys]).unwrap();
    assert_eq!(
        kernel_abcd(&cfg),
        pairs(&[("a", 1), ("b", 2), ("c", 1), ("d", 2)])
    );
    assert_eq!(cfg.get("myapp", "k"), Some(&atom("inc")));
}

#[test]
fn later_entries_override_includes_and_back() {
    let d = dir();
    write(d.path(), "inc.config", "[{kernel,[{a,9}]}].");
    // erl: [{kernel,[{a,1}]}, "inc2"] with inc2 setting a=9 gives a=9.
    let sys = write(d.path(), "x/sys.config", "[{kernel,[{a,1}]}, \"../inc\"].");
    assert_eq!(
        SysConfig::load(&[sys]).unwrap().get("kernel", "a"),
        Some(&int(9))
    );
    let sys = write(
        d.path(),
        "y/sys.config",
        "[\"../inc.config\", {kernel,[{a,1}]}].",
    );
    assert_eq!(
        SysConfig::load(&[sys]).unwrap().get("kernel", "a"),
        Some(&int(1))
    );
    // An absolute include.
    let abs = d.path().join("inc").display().to_string();
    let sys = write(d.path(), "z/sys.config", &format!("[{abs:?}]."));
    assert_eq!(
        SysConfig::load(&[sys]).unwrap().get("kernel", "a"),
        Some(&int(9))
    );
    // erl: duplicate applications in sys.config are merged.
    let sys = write(
        d.path(),
        "w/sys.config",
        "[{kernel,[{a,1}]},{kernel,[{b,1}]}].",
    );
    let cfg = SysConfig::load(&[sys]).unwrap();
    assert_eq!(kernel_abcd(&cfg), pairs(&[("a", 1), ("b", 1)]));
}

#[test]
fn relative_include_falls_back_to_current_directory() {
    let d = dir();
    write(d.path(), "here.config", "[].");
    assert_eq!(
        resolve_include(d.path(), "here"),
        d.path().join("here.config")
    );
    assert_eq!(
        resolve_include(d.path(), "there"),
        PathBuf::from("there.config")
    );
    assert_eq!(
        resolve_include(Path::new(""), "x.config"),
        PathBuf::from("x.config")
    );
    assert_eq!(
        resolve_include(d.path(), "/abs/x"),
        PathBuf::from("/abs/x.config")
    );
}

#[test]
fn include_errors() {
    let d = dir();
    // erl: "invalid config data: invalid application config: \"inc\"".
    let f = write(d.path(), "notsys.config", "[{kernel,[{a,1}]}, \"inc\"].");
    assert_eq!(
        load_err(&f),
        format!(
            "error in config file {}: invalid config data: invalid application config: \"inc\" \
             (only a file named sys.config can include other config files)",
            f.display()
        )
    );
    // erl fails too (with "invalid application config: \"lvl2\"" or a crash).
    let sys = write(d.path(), "n/sys.config", "[{kernel,[{a,1}]}, \"lvl1\"].");
    let lvl1 = write(d.path(), "n/lvl1.config", "[{kernel,[{b,1}]}, \"lvl2\"].");
    write(d.path(), "n/lvl2.config", "[].");
    assert_eq!(
        load_err(&sys),
        format!(
            "error in config file {}: invalid config data: invalid application config: \"lvl2\" \
             (an included config file cannot include other files)",
            lvl1.display()
        )
    );
    // erl: error in config file "./nope.config" (none): configuration file not found
    let sys = write(d.path(), "m/sys.config", "[{kernel,[{a,1}]}, \"nope\"].");
    assert_eq!(
        load_err(&sys),
        "error in config file nope.config: configuration file not found"
    );
    // Errors inside an included file name that file.
    let sys = write(d.path(), "e/sys.config", "[\"bad\"].");
    let bad = write(d.path(), "e/bad.config", "[{kernel,[{a,1},]}].");
    assert_eq!(
        load_err(&sys),
        format!(
            "error in config file {}:1:17: syntax error before: ']'",
            bad.display()
        )
    );
    // erl: duplicate applications inside an included file are an error.
    let sys = write(d.path(), "f/sys.config", "[\"dup\"].");
    let dup = write(d.path(), "f/dup.config", "[{kernel,[]},{kernel,[]}].");
    assert_eq!(
        load_err(&sys),
        format!(
            "error in config file {}: invalid config data: duplicate application config: kernel",
            dup.display()
        )
    );
}

#[test]
fn file_errors() {
    let d = dir();
    let f = |name: &str, text: &str| write(d.path(), name, text);
    let missing = d.path().join("nope");
    assert_eq!(
        load_err(&missing),
        format!(
            "error in config file {}.config: configuration file not found",
            missing.display()
        )
    );
    // (file, text, message after "error in config file <file>"), erl's
    // message in the comment.
    let cases: &[(&str, &str, &str)] = &[
        // erl: configuration file must contain ONE list ended by <dot>
        (
            "nl.config",
            "{kernel,[]}.",
            ": configuration file must contain ONE list ended by <dot>",
        ),
        (
            "tt.config",
            "[].\n[].",
            ": configuration file must contain ONE list ended by <dot>",
        ),
        (
            "at.config",
            "kernel.",
            ": configuration file must contain ONE list ended by <dot>",
        ),
        (
            "il.config",
            "[{kernel,[]}|x].",
            ": configuration file must contain ONE list ended by <dot>",
        ),
        // erl: (2): syntax error before: ']'
        (
            "sx.config",
            "[{kernel,\n  [{a,1},]}].",
            ":2:10: syntax error before: ']'",
        ),
        // erl: no ending <dot> found
        ("nd.config", "[]", ":1:3: no ending <dot> found"),
        ("em.config", "", ":1:1: no ending <dot> found"),
        (
            "cm.config",
            "%% only a comment\n",
            ":2:1: no ending <dot> found",
        ),
        (
            "se.config",
            "[{kernel,[{a,\"abc}]}].",
            ":1:14: unterminated string starting with \"abc}]}].\"",
        ),
        (
            "var.config",
            "[{kernel,[{a,X}]}].",
            ":1:14: bad term: variable X (a term cannot contain variables; write 'X' for an atom)",
        ),
        // erl: invalid config data: duplicate application config: kernel
        (
            "dup.config",
            "[{kernel,[{a,1}]},{kernel,[{b,1}]}].",
            ": invalid config data: duplicate application config: kernel",
        ),
        // erl: invalid config data: application: kernel; duplicate parameter: a
        (
            "dp.config",
            "[{kernel,[{a,1},{a,2}]}].",
            ": invalid config data: application: kernel; duplicate parameter: a",
        ),
        // erl: invalid config data: application: "k"; application name must be an atom
        (
            "ba.config",
            "[{\"k\",[]}].",
            ": invalid config data: application: \"k\"; application name must be an atom",
        ),
        (
            "bl.config",
            "[{kernel, foo}].",
            ": invalid config data: application: kernel; parameters must be a list",
        ),
        (
            "bb.config",
            "[{\"k\", foo}].",
            ": invalid config data: application: \"k\"; parameters must be a list",
        ),
        // erl: invalid config data: application: kernel; invalid parameter: foo
        (
            "bp.config",
            "[{kernel,[foo]}].",
            ": invalid config data: application: kernel; invalid parameter: foo",
        ),
        (
            "bn.config",
            "[{kernel,[{\"a\",1}]}].",
            ": invalid config data: application: kernel; invalid parameter name: \"a\"",
        ),
        (
            "bt.config",
            "[{kernel,[{a,1,2}]}].",
            ": invalid config data: application: kernel; invalid parameter: {a,1,2}",
        ),
        (
            "ia.config",
            "[foo].",
            ": invalid config data: invalid application config: foo",
        ),
        (
            "i3.config",
            "[{a,[],x}].",
            ": invalid config data: invalid application config: {a,[],x}",
        ),
        // erl: invalid config data: application: kernel; erroneous parameter: distributed
        (
            "bd.config",
            "[{kernel,[{distributed,[foo]}]}].",
            ": invalid config data: application: kernel; erroneous parameter: distributed \
             (foo is not {App, Nodes}, {App, Time, Nodes} or {App, infinity, Nodes})",
        ),
    ];
    for (name, text, want) in cases {
        let path = f(name, text);
        assert_eq!(
            load_err(&path),
            format!("error in config file {}{want}", path.display()),
            "{name}"
        );
    }
}

#[test]
fn parse_errors_without_file() {
    let e = SysConfig::parse("[{kernel,[{a,1}]},{kernel,[]}].").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config data: duplicate application config: kernel"
    );
    let e = SysConfig::parse("[a,].").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error in config file <config>:1:4: syntax error before: ']'"
    );
}

#[test]
fn encodings() {
    let d = dir();
    // erl: a UTF-8 "ñ" reads as [241].
    let p = write(d.path(), "u.config", "[{kernel,[{x,\"ñ\"}]}].");
    let cfg = SysConfig::load(&[p]).unwrap();
    assert_eq!(cfg.get("kernel", "x"), Some(&charlist("ñ")));
    let p = d.path().join("l1.config");
    fs::write(
        &p,
        b"%% -*- coding: latin-1 -*-\n[{kernel,[{x,\"\xf1\"}]}].",
    )
    .unwrap();
    let cfg = SysConfig::load(&[p]).unwrap();
    assert_eq!(cfg.get("kernel", "x"), Some(&charlist("ñ")));
    let p = d.path().join("bad.config");
    fs::write(&p, b"[{kernel,[{x,\"\xf1\"}]}].").unwrap();
    assert_eq!(
        load_err(&p),
        format!("error in config file {}: bad encoding", p.display())
    );
}

#[test]
fn unreadable_file() {
    let d = dir();
    fs::create_dir(d.path().join("isdir.config")).unwrap();
    let e = load_err(&d.path().join("isdir"));
    assert!(
        e.starts_with(&format!(
            "error reading config file {}: ",
            d.path().join("isdir.config").display()
        )),
        "{e}"
    );
}
