//! Tests for the typed kernel parameters. The node names follow
//! `failover_comp` in `otp:lib/kernel/test/application_SUITE.erl`.

use super::*;
use crate::term::text::parse_term;
use std::time::Duration;

fn kernel(params: &str) -> Result<KernelParams, ConfigError> {
    let cfg = SysConfig::parse(&format!("[{{kernel, [{params}]}}].")).unwrap();
    KernelParams::from_config(&cfg)
}

fn ok(params: &str) -> KernelParams {
    kernel(params).unwrap_or_else(|e| panic!("{params}: {e}"))
}

fn err(params: &str) -> String {
    match kernel(params) {
        Ok(k) => panic!("{params}: accepted as {k:?}"),
        Err(e) => e.to_string(),
    }
}

fn nodes(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn defaults() {
    let k = ok("");
    assert_eq!(k, KernelParams::default());
    assert!(k.distributed.is_empty());
    assert!(!k.start_dist_ac);
    assert_eq!(k.sync_nodes_timeout, None);
    assert_eq!(k.net_ticktime, 60);
    assert_eq!(k.net_tickintensity, 4);
    assert_eq!(k.net_setuptime, Duration::from_secs(7));
    assert_eq!(
        (k.inet_dist_listen_min, k.inet_dist_listen_max),
        (None, None)
    );
    assert!(k.connect_all);
    assert!(k.prevent_overlapping_partitions);
    assert!(!k.start_pg);
}

#[test]
fn distributed_forms() {
    let k = ok("{distributed, [{app1, [cp1@h, {cp2@h, cp3@h}]},
                               {app2, 5000, [cp2@h]},
                               {app3, infinity, []}]}");
    assert!(k.start_dist_ac);
    let [a1, a2, a3] = k.distributed.as_slice() else {
        panic!("{:?}", k.distributed)
    };
    assert_eq!(a1.app, "app1");
    assert_eq!(a1.restart_time, RestartTime::Millis(0));
    assert_eq!(
        a1.nodes,
        [
            NodeGroup::Node("cp1@h".into()),
            NodeGroup::Group(nodes(&["cp2@h", "cp3@h"]))
        ]
    );
    assert_eq!(a1.raw_nodes, parse_term("[cp1@h, {cp2@h, cp3@h}]").unwrap());
    assert_eq!(
        a1.all_nodes().collect::<Vec<_>>(),
        ["cp1@h", "cp2@h", "cp3@h"]
    );
    assert_eq!(a2.restart_time, RestartTime::Millis(5000));
    assert_eq!(a2.nodes, [NodeGroup::Node("cp2@h".into())]);
    assert_eq!(a3.restart_time, RestartTime::Infinity);
    assert!(a3.nodes.is_empty());
    assert_eq!(a3.raw_nodes, crate::term::nil());
}

#[test]
fn start_dist_ac() {
    // kernel:start_dist_ac/0: set distributed, even to [], starts dist_ac.
    assert!(ok("{distributed, []}").start_dist_ac);
    assert!(ok("{start_dist_ac, true}").start_dist_ac);
    assert!(!ok("{distributed, []}, {start_dist_ac, false}").start_dist_ac);
}

#[test]
fn sync_nodes() {
    let k = ok(
        "{sync_nodes_mandatory, [cp2@h]}, {sync_nodes_optional, [cp3@h, cp4@h]},
                {sync_nodes_timeout, 5000}",
    );
    assert_eq!(k.sync_nodes_mandatory, nodes(&["cp2@h"]));
    assert_eq!(k.sync_nodes_optional, nodes(&["cp3@h", "cp4@h"]));
    assert_eq!(k.sync_nodes_timeout, Some(Timeout::Millis(5000)));
    assert_eq!(
        ok("{sync_nodes_timeout, infinity}").sync_nodes_timeout,
        Some(Timeout::Infinity)
    );
    assert_eq!(
        ok("{sync_nodes_timeout, 10000000000}").sync_nodes_timeout,
        Some(Timeout::Millis(10_000_000_000))
    );
    assert!(
        ok("{sync_nodes_optional, []}")
            .sync_nodes_optional
            .is_empty()
    );
}

#[test]
fn net_timing() {
    // net_kernel:make_init_opts/1 clamps; connecttime/0 caps at 120 s.
    assert_eq!(ok("{net_ticktime, 10}").net_ticktime, 10);
    assert_eq!(ok("{net_ticktime, 0}").net_ticktime, 1);
    assert_eq!(ok("{net_ticktime, -5}").net_ticktime, 1);
    assert_eq!(ok("{net_tickintensity, 2}").net_tickintensity, 4);
    assert_eq!(ok("{net_tickintensity, 10}").net_tickintensity, 10);
    assert_eq!(ok("{net_tickintensity, 5000}").net_tickintensity, 1000);
    let setup = |v: &str| ok(&format!("{{net_setuptime, {v}}}")).net_setuptime;
    assert_eq!(setup("10"), Duration::from_secs(10));
    assert_eq!(setup("0.5"), Duration::from_millis(500));
    assert_eq!(setup("200"), Duration::from_secs(120));
    assert_eq!(setup("120.0"), Duration::from_secs(120));
    assert_eq!(setup("0"), Duration::from_secs(7));
    assert_eq!(setup("-1"), Duration::from_secs(7));
}

#[test]
fn listen_ports() {
    // inet_tcp_dist:get_port_range/0.
    let k = ok("{inet_dist_listen_min, 9100}");
    assert_eq!(
        (k.inet_dist_listen_min, k.inet_dist_listen_max),
        (Some(9100), Some(9100))
    );
    let k = ok("{inet_dist_listen_min, 9100}, {inet_dist_listen_max, 9105}");
    assert_eq!(
        (k.inet_dist_listen_min, k.inet_dist_listen_max),
        (Some(9100), Some(9105))
    );
    let k = ok("{inet_dist_listen_max, 9105}");
    assert_eq!(
        (k.inet_dist_listen_min, k.inet_dist_listen_max),
        (None, None)
    );
}

#[test]
fn start_pg() {
    assert!(ok("{start_pg, true}").start_pg);
    assert!(!ok("{start_pg, false}").start_pg);
}

#[test]
fn distribution_buffers() {
    let k = ok("");
    assert_eq!(
        (k.dist_buf_busy_limit, k.dist_max_message_size),
        (None, None)
    );
    let k = ok("{dist_buf_busy_limit, 256}, {dist_max_message_size, 8388608}");
    assert_eq!(k.dist_buf_busy_limit, Some(256));
    assert_eq!(k.dist_max_message_size, Some(8 << 20));
    assert_eq!(
        ok("{dist_buf_busy_limit, 2097151}").dist_buf_busy_limit,
        Some(2_097_151)
    );
    for bad in ["0", "2097152", "-1", "big", "1.5"] {
        let e = err(&format!("{{dist_buf_busy_limit, {bad}}}"));
        assert!(e.contains("expected an integer 1..2097151 (KiB)"), "{e}");
    }
    let e = err("{dist_max_message_size, 0}");
    assert!(e.contains("expected a positive integer (bytes)"), "{e}");
}

#[test]
fn global_flags() {
    let k = ok("{connect_all, false}, {prevent_overlapping_partitions, false}");
    assert!(!k.connect_all);
    assert!(!k.prevent_overlapping_partitions);
}

#[test]
fn errors() {
    let cases: &[(&str, &str)] = &[
        (
            "{sync_nodes_timeout, foo}",
            "kernel parameter sync_nodes_timeout: expected a positive integer (milliseconds) or infinity, got foo",
        ),
        // kernel_config: a timeout of 0 is {badopt, ...} too.
        (
            "{sync_nodes_timeout, 0}",
            "kernel parameter sync_nodes_timeout: expected a positive integer (milliseconds) or infinity, got 0",
        ),
        (
            "{sync_nodes_timeout, \"5000\"}",
            "kernel parameter sync_nodes_timeout: expected a positive integer (milliseconds) or infinity, got \"5000\"",
        ),
        (
            "{start_pg, yes}",
            "kernel parameter start_pg: expected true or false, got yes",
        ),
        (
            "{sync_nodes_mandatory, cp2@h}",
            "kernel parameter sync_nodes_mandatory: expected a list of node names (atoms), got cp2@h",
        ),
        (
            "{sync_nodes_optional, [\"cp2@h\"]}",
            "kernel parameter sync_nodes_optional: expected a list of node names (atoms), got [\"cp2@h\"]",
        ),
        (
            "{inet_dist_use_interface, \"127.0.0.1\"}",
            "kernel parameter inet_dist_use_interface: expected an IP address tuple, got \"127.0.0.1\"",
        ),
        (
            "{inet_dist_listen_options, backlog}",
            "kernel parameter inet_dist_listen_options: expected a list of gen_tcp listen options, got backlog",
        ),
        (
            "{inet_dist_listen_min, 70000}",
            "kernel parameter inet_dist_listen_min: expected a port number (0..65535), got 70000",
        ),
        (
            "{inet_dist_listen_min, 9100}, {inet_dist_listen_max, 70000}",
            "kernel parameter inet_dist_listen_max: expected a port number (0..65535), got 70000",
        ),
        (
            "{inet_dist_listen_min, 9100}, {inet_dist_listen_max, 9000}",
            "kernel parameter inet_dist_listen_max: expected a port not below inet_dist_listen_min (9100), got 9000",
        ),
        (
            "{connect_all, yes}",
            "kernel parameter connect_all: expected true or false, got yes",
        ),
        (
            "{prevent_overlapping_partitions, 1}",
            "kernel parameter prevent_overlapping_partitions: expected true or false, got 1",
        ),
        (
            "{start_dist_ac, perhaps}",
            "kernel parameter start_dist_ac: expected true or false, got perhaps",
        ),
    ];
    for (params, want) in cases {
        assert_eq!(err(params), *want, "{params}");
    }
}

#[test]
fn distributed_errors() {
    // These pass check_conf_data only through -kernel overrides, so test
    // them on a SysConfig built with set().
    let dist_err = |v: &str| {
        let mut cfg = SysConfig::new();
        cfg.set("kernel", "distributed", parse_term(v).unwrap());
        KernelParams::from_config(&cfg).unwrap_err().to_string()
    };
    let cases: &[(&str, &str)] = &[
        (
            "foo",
            "expected a list of {App, Nodes} or {App, Time, Nodes}, got foo",
        ),
        (
            "[{app1}]",
            "{app1} is not {App, Nodes}, {App, Time, Nodes} or {App, infinity, Nodes}",
        ),
        (
            "[{\"app1\", [n]}]",
            "{\"app1\",[n]} is not {App, Nodes}, {App, Time, Nodes} or {App, infinity, Nodes}",
        ),
        (
            "[{app1, soon, [n]}]",
            "{app1,soon,[n]} is not {App, Nodes}, {App, Time, Nodes} or {App, infinity, Nodes}",
        ),
        (
            "[{app1, -1, [n]}]",
            "app1: restart time -1 is not a non-negative integer",
        ),
        ("[{app1, n}]", "app1: nodes n is not a list"),
        (
            "[{app1, [\"n\"]}]",
            "app1: \"n\" is neither a node name nor a tuple of node names",
        ),
        (
            "[{app1, [{a, 1}]}]",
            "app1: {a,1} is neither a node name nor a tuple of node names",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(
            dist_err(v),
            format!("kernel parameter distributed: {want}"),
            "{v}"
        );
    }
}

#[test]
fn wrong_types_erl_ignores_are_warnings() {
    // net_kernel:make_init_opts/1, connecttime/0, inet_tcp_dist:get_port_range/0.
    let k = ok("{net_ticktime, 60.0}, {net_tickintensity, four}, {net_setuptime, soon}");
    assert_eq!(
        (k.net_ticktime, k.net_tickintensity, k.net_setuptime),
        (60, 4, Duration::from_secs(7))
    );
    assert_eq!(
        k.warnings,
        [
            "kernel parameter net_ticktime: expected an integer (seconds), got 6.0e1; using 60, as erl does",
            "kernel parameter net_tickintensity: expected an integer, got four; using 4, as erl does",
            "kernel parameter net_setuptime: expected a number of seconds, got soon; using 7, as erl does",
        ]
    );
    let k = ok("{net_ticktime, \"60\"}");
    assert_eq!((k.net_ticktime, k.warnings.len()), (60, 1));
    let k = ok("{inet_dist_listen_min, \"9100\"}, {inet_dist_listen_max, 9200}");
    assert_eq!((k.inet_dist_listen_min, k.warnings.len()), (None, 1));
    let k = ok("{inet_dist_listen_min, 9100}, {inet_dist_listen_max, high}");
    assert_eq!(
        (
            k.inet_dist_listen_min,
            k.inet_dist_listen_max,
            k.warnings.len()
        ),
        (Some(9100), Some(9100), 1)
    );
}

#[test]
fn listen_interface_and_options() {
    let k = ok("{inet_dist_use_interface, {0,0,0,0,0,0,0,1}}, \
                {inet_dist_listen_options, [{backlog, 5}, {ipv6_v6only, true}, {nodelay, true}]}");
    assert_eq!(k.inet_dist_use_interface, Some("::1".parse().unwrap()));
    assert_eq!(k.inet_dist_listen_options.backlog, 5);
    assert_eq!(k.inet_dist_listen_options.ipv6_v6only, Some(true));
    assert_eq!(
        k.warnings,
        [
            "kernel parameter inet_dist_listen_options: ignoring {nodelay,true} (distro applies backlog, reuseaddr, ipv6_v6only and ip)"
        ]
    );
    let k = ok("{inet_dist_use_interface, {127,0,0,1}}");
    assert_eq!(
        k.inet_dist_use_interface,
        Some("127.0.0.1".parse().unwrap())
    );
}
