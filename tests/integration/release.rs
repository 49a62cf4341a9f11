//! A real release, as users ship them: a Mix project built with `mix
//! release` (ERTS included) by the Elixir of the release under test, whose
//! `erts-*/bin/erl` is then replaced by a script that runs `distro`. Its own
//! `bin/` script starts it with everything a release start script passes
//! (`-boot`, `-boot_var`, `-mode`, `-s elixir start_cli`, `-config`,
//! `-args_file vm.args`, `-extra --no-halt`), and the node it boots must be
//! configured by that release's `vm.args` (a nested `-args_file`, comments,
//! quoting, emulator flags) and `sys.config`.

use crate::support::elixir::elixir_command;
use crate::support::{
    BeamNode, BeamOpts, DistroNode, DistroOpts, Epmd, Otp, SharedDir, process, require_elixir,
    require_otp, unique_name,
};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

const MIX_EXS: &str = r#"
defmodule Distrorel.MixProject do
  use Mix.Project

  def project do
    [app: :distrorel, version: "0.1.0", deps: [],
     releases: [distrorel: [include_erts: true, cookie: "release_cookie"]]]
  end

  def application, do: [extra_applications: [:logger]]
end
"#;

const CONFIG_EXS: &str = r#"
import Config
config :kernel, net_ticktime: 20
config :distrorel, from_sys_config: :yes
"#;

/// `MIX_ENV=prod mix release` of a fresh copy of the test project in `dir`;
/// returns the release's root as the test (host) sees it.
fn mix_release(otp: &Otp, dir: &SharedDir) -> anyhow::Result<PathBuf> {
    let host = dir.host_path().join("distrorel");
    let node = dir.node_path().join("distrorel");
    std::fs::create_dir_all(host.join("config"))?;
    std::fs::create_dir_all(host.join("lib"))?;
    std::fs::create_dir_all(host.join(".home/.mix"))?;
    std::fs::create_dir_all(host.join(".tmp"))?;
    std::fs::write(host.join("mix.exs"), MIX_EXS)?;
    std::fs::write(host.join("config/config.exs"), CONFIG_EXS)?;
    let mut cmd = elixir_command(otp, Some(&node), "mix");
    cmd.args(["release", "--quiet"])
        .env("MIX_ENV", "prod")
        .env("HOME", node.join(".home"))
        .env("MIX_HOME", node.join(".home/.mix"))
        .env("TMPDIR", node.join(".tmp"));
    let out = process::run("mix release", cmd, Duration::from_secs(300))?;
    if !out.status.success() {
        bail!(
            "mix release with {} exited with {}:\n{}\n{}",
            otp.describe(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(host.join("_build/prod/rel/distrorel"))
}

/// Replaces the release's `erts-*/bin/erl` by a script running `distro`.
fn put_distro_in_place_of_erl(root: &Path) -> anyhow::Result<()> {
    let erts = std::fs::read_dir(root)?
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("erts-"))
        .context("the release has no erts-* directory")?;
    let erl = erts.path().join("bin/erl");
    std::fs::remove_file(&erl).with_context(|| format!("removing {}", erl.display()))?;
    crate::support::write_script(&erl, &format!("exec '{}' \"$@\"", DistroNode::BIN))?;
    Ok(())
}

#[test]
fn a_mix_release_boots_distro_with_its_vm_args_and_sys_config() {
    let Some(otp) = require_otp() else { return };
    if require_elixir(&otp).is_none() {
        return;
    }
    let dir = otp.shared_dir().unwrap();
    let root = mix_release(&otp, &dir).unwrap();
    put_distro_in_place_of_erl(&root).unwrap();
    let vsn_dir = root.join("releases/0.1.0");
    std::fs::write(
        vsn_dir.join("more.args"),
        "# nested args file\n-kernel net_setuptime 9   # seconds\n+sbwt none\n",
    )
    .unwrap();
    let name = format!("{}@127.0.0.1", unique_name("rel"));
    std::fs::write(
        vsn_dir.join("vm.args"),
        format!(
            "## The release's vm.args\n\
             -name {name}\n\
             +K true\n+A 30\n\
             -heart\n\
             -env ERL_MAX_PORTS 4096\n\
             -distrorel greeting '\"from vm.args\"'\n\
             -args_file {}\n",
            vsn_dir.join("more.args").display()
        ),
    )
    .unwrap();

    let epmd = Epmd::start().unwrap();
    let mut d = DistroNode::start(
        &epmd,
        DistroOpts::new()
            .label("release")
            .program(root.join("bin/distrorel"))
            .args(["start"])
            // The node name comes from vm.args.
            .env("RELEASE_DISTRIBUTION", "none")
            .env("RELEASE_TMP", dir.host_path().join("reltmp")),
    )
    .unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    // Everything only a BEAM needs is ignored in one warning line.
    let warning = d.wait_for_log("ignoring", T).unwrap();
    for flag in [
        "-s elixir start_cli",
        "-boot",
        "-mode embedded",
        "+K true",
        "+sbwt none",
        "-heart",
    ] {
        assert!(warning.contains(flag), "{flag} in {warning}");
    }
    assert_eq!(
        d.log()
            .lines()
            .iter()
            .filter(|l| l.text.contains("ignoring"))
            .count(),
        1,
        "one warning line"
    );

    let b = BeamNode::start(
        &epmd,
        BeamOpts::new("relb").otp(otp).cookie("release_cookie"),
    )
    .unwrap();
    assert_eq!(b.eval(&format!("net_adm:ping('{name}').")).unwrap(), "pong");
    let call = |m: &str, f: &str, a: &str| {
        b.eval(&format!("rpc:call('{name}', {m}, {f}, {a})."))
            .unwrap()
    };
    assert_eq!(call("erlang", "system_info", "[machine]"), "\"distro\"");
    // sys.config, vm.args and the nested args file all configured it.
    assert_eq!(call("net_kernel", "get_net_ticktime", "[]"), "20");
    assert_eq!(
        call("application", "get_env", "[kernel, net_setuptime]"),
        "{ok,9}"
    );
    assert_eq!(
        call("application", "get_env", "[distrorel, greeting]"),
        "{ok,\"from vm.args\"}"
    );
    assert_eq!(
        call("application", "get_env", "[distrorel, from_sys_config]"),
        "{ok,yes}"
    );
    // init:get_arguments/0 holds what the start script passed.
    let args = call("init", "get_arguments", "[]");
    for flag in [
        "{mode,[\"embedded\"]}",
        "{boot,[",
        "{boot_var,[\"RELEASE_LIB\"",
    ] {
        assert!(args.contains(flag), "{flag} in {args}");
    }
    assert_eq!(call("init", "get_plain_arguments", "[]"), "[\"--no-halt\"]");
    assert_eq!(call("init", "stop", "[]"), "ok");
    let status = d.wait_exit(T).expect("the release stops on init:stop()");
    assert!(status.success(), "{status}");
}
