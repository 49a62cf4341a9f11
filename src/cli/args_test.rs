//! Table-driven tests for the command line. Grouping cases marked "erl:"
//! were checked with `erl ... -eval 'io:format("~p~n", [init:get_plain_arguments()])'`.

use super::*;
use crate::term;
use crate::term::{atom, charlist, int, list};

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

/// The parse of `args`, without the `init:get_arguments/0` record (which
/// [`arguments_as_init_lists_them`] checks).
fn run(args: Vec<String>) -> ErlArgs {
    match parse(args.clone()) {
        Ok(Command::Run(mut erl)) => {
            erl.arguments.clear();
            erl
        }
        other => panic!("{args:?}: {other:?}"),
    }
}

fn sname(n: &str) -> Option<NodeName> {
    Some(NodeName {
        name: n.into(),
        long: false,
    })
}

fn over(app: &str, par: &str, value: Term) -> EnvOverride {
    EnvOverride {
        app: app.into(),
        par: par.into(),
        value,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

use crate::term::Term;

#[test]
fn valid_command_lines() {
    let d = ErlArgs::default;
    let cases: Vec<(&str, ErlArgs)> = vec![
        ("", d()),
        (
            "-sname cp3",
            ErlArgs {
                node_name: sname("cp3"),
                ..d()
            },
        ),
        (
            "-sname cp3@host",
            ErlArgs {
                node_name: sname("cp3@host"),
                ..d()
            },
        ),
        (
            "-name cp1@127.0.0.1",
            ErlArgs {
                node_name: Some(NodeName {
                    name: "cp1@127.0.0.1".into(),
                    long: true,
                }),
                ..d()
            },
        ),
        (
            "-setcookie secret",
            ErlArgs {
                cookie: Some("secret".into()),
                ..d()
            },
        ),
        (
            "-setcookie cp2@h c2 -setcookie mine",
            ErlArgs {
                cookie: Some("mine".into()),
                node_cookies: vec![("cp2@h".into(), "c2".into())],
                ..d()
            },
        ),
        (
            "-nocookie",
            ErlArgs {
                nocookie: true,
                ..d()
            },
        ),
        (
            "-config cp3",
            ErlArgs {
                config_files: strings(&["cp3"]),
                ..d()
            },
        ),
        // erl: -config a b is two files, like -config a -config b.
        (
            "-config a b -config c.config",
            ErlArgs {
                config_files: strings(&["a", "b", "c.config"]),
                ..d()
            },
        ),
        (
            "-hidden",
            ErlArgs {
                hidden: true,
                ..d()
            },
        ),
        (
            "-connect_all false",
            ErlArgs {
                connect_all: Some(false),
                ..d()
            },
        ),
        (
            "-connect_all true",
            ErlArgs {
                connect_all: Some(true),
                ..d()
            },
        ),
        (
            "-start_epmd false",
            ErlArgs {
                start_epmd: Some(false),
                ..d()
            },
        ),
        (
            "-proto_dist inet_tls -ssl_dist_optfile /etc/ssl_dist.conf",
            ErlArgs {
                proto_dist: ProtoDist::InetTls,
                ssl_dist_optfile: Some("/etc/ssl_dist.conf".into()),
                ..d()
            },
        ),
        (
            "-proto_dist inet_tcp",
            ErlArgs {
                proto_dist: ProtoDist::InetTcp,
                ..d()
            },
        ),
        // Every -ssl_dist_opt's pairs, in order (inet_tls_dist appends them).
        (
            "-ssl_dist_opt server_certfile a.pem server_verify verify_peer -ssl_dist_opt client_depth 2",
            ErlArgs {
                ssl_dist_opt: strings(&[
                    "server_certfile",
                    "a.pem",
                    "server_verify",
                    "verify_peer",
                    "client_depth",
                    "2",
                ]),
                ..d()
            },
        ),
        (
            "-noshell -noinput -detached",
            ErlArgs {
                noshell: true,
                noinput: true,
                detached: true,
                ..d()
            },
        ),
        (
            "-kernel sync_nodes_timeout 5000",
            ErlArgs {
                env_overrides: vec![over("kernel", "sync_nodes_timeout", int(5000))],
                ..d()
            },
        ),
        (
            "-kernel net_ticktime 10 net_setuptime 2.5 -myapp mode fast",
            ErlArgs {
                env_overrides: vec![
                    over("kernel", "net_ticktime", int(10)),
                    over(
                        "kernel",
                        "net_setuptime",
                        Term::Float(crate::term::Float { value: 2.5 }),
                    ),
                    over("myapp", "mode", atom("fast")),
                ],
                ..d()
            },
        ),
        (
            "-kernel distributed [{myapp,5000,[cp1@h,{cp2@h,cp3@h}]}]",
            ErlArgs {
                env_overrides: vec![over(
                    "kernel",
                    "distributed",
                    list(vec![term!({myapp, 5000, [:"cp1@h", {:"cp2@h", :"cp3@h"}]})]),
                )],
                ..d()
            },
        ),
        // A final dot in the value is accepted.
        (
            "-kernel x 1.",
            ErlArgs {
                env_overrides: vec![over("kernel", "x", int(1))],
                ..d()
            },
        ),
        (
            "-myapp 'Key' v",
            ErlArgs {
                env_overrides: vec![over("myapp", "Key", atom("v"))],
                ..d()
            },
        ),
        (
            "--app myapp --app=distro",
            ErlArgs {
                apps: strings(&["myapp", "distro"]),
                ..d()
            },
        ),
        (
            "--app distro:permanent --app=myapp:transient",
            ErlArgs {
                apps: strings(&["distro:permanent", "myapp:transient"]),
                ..d()
            },
        ),
        // erl: "--" ends the flag's arguments; later bare words are plain.
        (
            "-config a -- plain1 -hidden",
            ErlArgs {
                config_files: strings(&["a"]),
                plain_args: strings(&["plain1"]),
                hidden: true,
                ..d()
            },
        ),
        (
            "-- x y",
            ErlArgs {
                plain_args: strings(&["x", "y"]),
                ..d()
            },
        ),
        // erl: everything after -extra is plain, flags included.
        (
            "-hidden -extra -foo bar -sname x",
            ErlArgs {
                hidden: true,
                plain_args: strings(&["-foo", "bar", "-sname", "x"]),
                ..d()
            },
        ),
        ("-extra", d()),
        // erl_distribution: -sname wins over -name; of several, the first.
        (
            "-name a@h -sname b",
            ErlArgs {
                node_name: sname("b"),
                ..d()
            },
        ),
        (
            "-sname b -name a@h",
            ErlArgs {
                node_name: sname("b"),
                ..d()
            },
        ),
        (
            "-sname b -sname c",
            ErlArgs {
                node_name: sname("b"),
                warnings: strings(&["Multiple -sname given to erl, using the first, \"b\""]),
                ..d()
            },
        ),
        (
            "-pa ebin deps/ebin -sname a",
            ErlArgs {
                node_name: sname("a"),
                warnings: strings(&["ignoring -pa ebin deps/ebin (meaningful only to a BEAM)"]),
                ..d()
            },
        ),
        (
            "-env VAR VAL -mode interactive",
            ErlArgs {
                warnings: strings(&[
                    "ignoring -env VAR VAL (meaningful only to a BEAM)",
                    "ignoring -mode interactive (meaningful only to a BEAM)",
                ]),
                ..d()
            },
        ),
        // What a release start script passes (mix: -s elixir start_cli).
        (
            "-s elixir start_cli -run m f -proto_dist inet6_tcp",
            ErlArgs {
                warnings: strings(&[
                    "ignoring -s elixir start_cli (distro runs no Erlang code)",
                    "ignoring -run m f (distro runs no Erlang code)",
                ]),
                proto_dist: ProtoDist::Inet6Tcp,
                ..d()
            },
        ),
        (
            "+zdbbl 256 -sname a",
            ErlArgs {
                node_name: sname("a"),
                dist_buf_busy_limit: Some(256),
                ..d()
            },
        ),
        (
            "+P 100000 +K true -sname a",
            ErlArgs {
                node_name: sname("a"),
                warnings: strings(&[
                    "ignoring emulator flag +P 100000 (distro is not a BEAM)",
                    "ignoring emulator flag +K true (distro is not a BEAM)",
                ]),
                ..d()
            },
        ),
    ];
    for (line, want) in cases {
        assert_eq!(run(argv(line)), want, "{line}");
    }
}

#[test]
fn values_with_spaces_and_quotes() {
    // What the shell passes for: -myapp key '"str"' -myapp b '<<"x y">>'
    let erl = run(strings(&[
        "-myapp",
        "key",
        "\"str\"",
        "b",
        "<<\"x y\">>",
        "m",
        "#{a => [1, 2]}",
    ]));
    assert_eq!(
        erl.env_overrides,
        vec![
            over("myapp", "key", charlist("str")),
            over("myapp", "b", crate::term::binary(b"x y".to_vec())),
            over(
                "myapp",
                "m",
                // [1, 2] is the byte list BEAM would send.
                crate::term::map(vec![(
                    atom("a"),
                    crate::term::ByteList { bytes: vec![1, 2] }.into()
                )])
            ),
        ]
    );
}

#[test]
fn help_version_and_epmd() {
    for line in ["-h", "--help", "-help", "-sname a --help"] {
        assert_eq!(parse(argv(line)), Ok(Command::Help), "{line}");
    }
    assert_eq!(parse(argv("--version")), Ok(Command::Version));
    let cases: Vec<(&str, EpmdArgs)> = vec![
        ("epmd", EpmdArgs::default()),
        (
            "epmd -daemon",
            EpmdArgs {
                daemon: true,
                ..Default::default()
            },
        ),
        (
            "epmd -port 4370 -d -d",
            EpmdArgs {
                port: Some(4370),
                debug: 2,
                ..Default::default()
            },
        ),
        (
            "epmd -address 127.0.0.1,::1 -relaxed_command_check",
            EpmdArgs {
                addresses: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
                relaxed_command_check: true,
                ..Default::default()
            },
        ),
        (
            "epmd -names",
            EpmdArgs {
                action: EpmdAction::Names,
                ..Default::default()
            },
        ),
        (
            "epmd -kill",
            EpmdArgs {
                action: EpmdAction::Kill,
                ..Default::default()
            },
        ),
        (
            "epmd -stop cp1",
            EpmdArgs {
                action: EpmdAction::Stop("cp1".into()),
                ..Default::default()
            },
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse(argv(line)), Ok(Command::Epmd(want)), "{line}");
    }
    assert_eq!(parse(argv("epmd -help")), Ok(Command::Help));
}

#[test]
fn invalid_command_lines() {
    let cases: &[(&str, &str)] = &[
        ("-foo", "distro: unknown flag -foo (see distro --help)"),
        (
            "-snmae cp3",
            "distro: unknown flag -snmae (see distro --help); an application parameter is set with -snmae Par Val",
        ),
        ("-", "distro: unknown flag - (see distro --help)"),
        ("--foo", "distro: unknown option --foo (see distro --help)"),
        ("--app", "distro: --app needs an application name"),
        ("--app -sname", "distro: --app needs an application name"),
        (
            "--app distro:forever",
            "distro: --app: expected NAME or NAME:temporary|transient|permanent, got distro:forever",
        ),
        (
            "--app=",
            "distro: unknown option --app= (see distro --help)",
        ),
        (
            "foo -sname a",
            "distro: unknown command foo (see distro --help)",
        ),
        ("-sname", "distro: -sname needs a node name"),
        ("-sname -hidden", "distro: -sname needs a node name"),
        ("-name a b", "distro: -name takes one argument, got: a b"),
        (
            "-sname @host",
            "distro: -sname: expected a node name, got @host",
        ),
        ("-setcookie", "distro: -setcookie needs a cookie"),
        (
            "-setcookie a b c",
            "distro: -setcookie takes COOKIE or NODE COOKIE, got: a b c",
        ),
        (
            "-setcookie a -setcookie b",
            "distro: -setcookie COOKIE given twice",
        ),
        ("-config", "distro: -config needs a file name"),
        ("+zdbbl", "distro: +zdbbl needs a size in KiB"),
        (
            "+zdbbl 0",
            "distro: +zdbbl: expected a size in KiB (1..2097151), got 0",
        ),
        (
            "+zdbbl 2097152",
            "distro: +zdbbl: expected a size in KiB (1..2097151), got 2097152",
        ),
        ("-hidden yes", "distro: -hidden takes no argument, got: yes"),
        (
            "-noshell foo",
            "distro: -noshell takes no argument, got: foo",
        ),
        ("-connect_all", "distro: -connect_all needs true or false"),
        (
            "-connect_all no",
            "distro: -connect_all: expected true or false, got no",
        ),
        (
            "-start_epmd maybe",
            "distro: -start_epmd: expected true or false, got maybe",
        ),
        (
            "-kernel",
            "distro: unknown flag -kernel (see distro --help)",
        ),
        (
            "-kernel net_ticktime",
            "distro: unknown flag -kernel (see distro --help); an application parameter is set with -kernel Par Val",
        ),
        (
            "-kernel a 1 b",
            "distro: -kernel expects Par Val pairs, got 3 arguments: a 1 b",
        ),
        (
            "-kernel \"a\" 1",
            "distro: -kernel \"a\": a parameter name must be an atom",
        ),
        (
            "-kernel Par 1",
            "distro: -kernel Par: a parameter name must be an atom",
        ),
        (
            "-kernel 1 1",
            "distro: -kernel 1: a parameter name must be an atom",
        ),
        (
            "-kernel x 5000x",
            "distro: -kernel x: cannot parse value \"5000x\": 1:1: illegal integer",
        ),
        (
            "-kernel x a.b",
            "distro: -kernel x: cannot parse value \"a.b\": 1:2: syntax error before: '.'",
        ),
        (
            "-myapp key str]",
            "distro: -myapp key: cannot parse value \"str]\": 1:4: syntax error before: ']'",
        ),
        (
            "-myapp key X",
            "distro: -myapp key: cannot parse value \"X\": 1:1: bad term: variable X (a term cannot contain variables; write 'X' for an atom)",
        ),
        (
            "-myapp key [a,",
            "distro: -myapp key: cannot parse value \"[a,\": 1:4: unexpected end of input",
        ),
        (
            "-eval halt().",
            "distro: -eval is not supported: distro runs no Erlang code (start a built-in application with --app NAME)",
        ),
        (
            "-args_file /nonexistent/vm.args",
            "distro: failed to read arguments file \"/nonexistent/vm.args\": No such file or directory (os error 2)",
        ),
        ("-args_file", "distro: -args_file needs a file name"),
        (
            "-proto_dist inet6_sctp",
            "distro: -proto_dist inet6_sctp is not supported (distro speaks inet_tcp, inet6_tcp, inet_tls and inet6_tls)",
        ),
        ("-proto_dist", "distro: -proto_dist needs a protocol"),
        (
            "-configfd 3",
            "distro: -configfd is not supported: not implemented by distro",
        ),
        (
            "-proto_dist gen_tcp",
            "distro: -proto_dist gen_tcp is not supported (distro speaks inet_tcp, inet6_tcp, inet_tls and inet6_tls)",
        ),
        (
            "-ssl_dist_optfile",
            "distro: -ssl_dist_optfile needs a file name",
        ),
        (
            "-ssl_dist_optfile a -ssl_dist_optfile b",
            "distro: -ssl_dist_optfile given twice",
        ),
        (
            "-ssl_dist_opt server_certfile",
            "distro: -ssl_dist_opt: expected Name Value pairs (e.g. server_certfile cert.pem), got server_certfile",
        ),
        ("epmd -port", "distro: -port needs a port number"),
        (
            "epmd -port 0",
            "distro: -port: expected a port number (1..65535), got 0",
        ),
        (
            "epmd -port 70000",
            "distro: -port: expected a port number (1..65535), got 70000",
        ),
        (
            "epmd -address 1.2.3",
            "distro: -address: expected IP addresses separated by commas, got 1.2.3",
        ),
        ("epmd -stop", "distro: -stop needs a node name"),
        (
            "epmd -names -kill",
            "distro: epmd: only one of -names, -kill, -stop may be given",
        ),
        (
            "epmd -foo",
            "distro: unknown flag epmd -foo (see distro --help)",
        ),
        (
            "epmd foo",
            "distro: unknown command epmd foo (see distro --help)",
        ),
    ];
    for (line, want) in cases {
        match parse(argv(line)) {
            Ok(c) => panic!("{line}: accepted as {c:?}"),
            Err(e) => assert_eq!(e.to_string(), *want, "{line}"),
        }
    }
}

#[test]
fn sys_config_merges_files_overrides_and_connect_all() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.config");
    let b = d.path().join("b.config");
    std::fs::write(
        &a,
        "[{kernel,[{net_ticktime,10},{sync_nodes_timeout,1000}]}].",
    )
    .unwrap();
    std::fs::write(&b, "[{kernel,[{net_ticktime,20}]}].").unwrap();
    let line = format!(
        "-config {} {} -kernel sync_nodes_timeout infinity -connect_all false",
        d.path().join("a").display(),
        b.display()
    );
    let cfg = run(argv(&line)).sys_config().unwrap();
    assert_eq!(cfg.get("kernel", "net_ticktime"), Some(&int(20)));
    assert_eq!(
        cfg.get("kernel", "sync_nodes_timeout"),
        Some(&atom("infinity"))
    );
    assert_eq!(cfg.get("kernel", "connect_all"), Some(&atom("false")));
    // The kernel parameter wins over -connect_all (global:init/1).
    let line = format!(
        "-config {} -kernel connect_all true -connect_all false",
        a.display()
    );
    let cfg = run(argv(&line)).sys_config().unwrap();
    assert_eq!(cfg.get("kernel", "connect_all"), Some(&atom("true")));
    let e = run(argv("-config /nonexistent/x"))
        .sys_config()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "error in config file /nonexistent/x.config: configuration file not found"
    );
}

#[test]
fn usage_mentions_every_flag() {
    for flag in [
        "-sname",
        "-name",
        "-setcookie",
        "-nocookie",
        "-hidden",
        "-connect_all",
        "-start_epmd",
        "-proto_dist",
        "-ssl_dist_optfile",
        "-ssl_dist_opt",
        "-noshell",
        "-config",
        "-APP",
        "--app",
        "--help",
        "--version",
        "-extra",
        "--",
        "-args_file",
        "-proto_dist",
        "epmd",
        "-daemon",
        "-port",
        "+zdbbl",
    ] {
        assert!(USAGE.contains(flag), "{flag}");
    }
}

#[test]
fn arguments_as_init_lists_them() {
    let Ok(Command::Run(erl)) = parse(argv(
        "+K true -sname a -kernel k 1 -boot start -noshell -- plain -extra x",
    )) else {
        panic!()
    };
    assert_eq!(
        erl.arguments,
        vec![
            ("sname".to_owned(), strings(&["a"])),
            ("kernel".to_owned(), strings(&["k", "1"])),
            ("boot".to_owned(), strings(&["start"])),
            ("noshell".to_owned(), vec![]),
        ]
    );
    let init = erl.init_arguments();
    let flags: Vec<&str> = init.arguments.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(&flags[..2], ["root", "progname"]);
    assert_eq!(init.plain, strings(&["plain", "x"]));
}

#[test]
fn args_files_are_read_where_they_stand() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("inner.args");
    std::fs::write(&inner, "-setcookie 'two words' # comment\n+A 30\n").unwrap();
    let vm = dir.path().join("vm.args");
    std::fs::write(
        &vm,
        format!(
            "## a release's vm.args\n-name rel@127.0.0.1\n-args_file {}\n-kernel net_ticktime 20\n",
            inner.display()
        ),
    )
    .unwrap();
    let erl = run(strings(&["-args_file", vm.to_str().unwrap(), "-hidden"]));
    assert_eq!(erl.node_name.unwrap().name, "rel@127.0.0.1");
    assert_eq!(erl.cookie.as_deref(), Some("two words"));
    assert!(erl.hidden);
    assert_eq!(
        erl.env_overrides,
        vec![over("kernel", "net_ticktime", int(20))]
    );
    assert_eq!(
        erl.warnings,
        strings(&["ignoring emulator flag +A 30 (distro is not a BEAM)"])
    );
}
