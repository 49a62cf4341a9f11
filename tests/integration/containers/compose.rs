//! README's commands on the real `docker-compose.yml`: `docker compose up`
//! (here `up -d --wait`, under a project name of this test run, so its
//! network and containers are its own) brings the seed cluster up with the
//! app at one, and `docker compose exec two … Distro.DistroCal.add(4, 5)`
//! prints 9; once with `-sname` host names (the default) and once with
//! `NAMING=name`. The images are used as built (`distro:latest` with its
//! own binary); `docker compose down` removes everything at the end.

use super::*;
use crate::support::process;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A compose project started by this test; `down` when dropped.
struct Project {
    name: String,
    env: Vec<(&'static str, String)>,
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
            .args(["compose", "--project-name", &self.name])
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `docker compose -p NAME ARGS`; its stdout, or a panic with
    /// everything it printed.
    fn run(&self, args: &[&str]) -> String {
        let what = format!("docker compose {}", args.join(" "));
        let out = process::run(&what, self.command(args), LONG).expect("docker compose");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{what}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = process::run(
            "docker compose down",
            self.command(&["down", "--volumes", "--timeout", "1"]),
            LONG,
        );
    }
}

fn seed_cluster(release: u32, naming: &str) {
    let project = Project {
        name: format!(
            "distro-test-{}-{naming}-{:06x}",
            std::process::id(),
            rand::random::<u32>() & 0xff_ffff
        ),
        env: vec![
            ("NAMING", naming.to_owned()),
            ("TWO_OTP", release.to_string()),
            ("THREE_OTP", release.to_string()),
        ],
    };
    let t0 = Instant::now();
    project.run(&["up", "--detach", "--wait"]);
    let up = t0.elapsed();
    // The app at one (it may still be waiting for sync_nodes_timeout).
    let deadline = Instant::now() + LONG;
    loop {
        let logs = project.run(&["logs", "one"]);
        if logs.contains("Distro application in :normal mode") {
            break;
        }
        assert!(Instant::now() < deadline, "no app at one:\n{logs}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let running_app = t0.elapsed();
    let (call, two) = match naming {
        "name" => ("call@two.distro.test", "two@two.distro.test"),
        _ => ("call", "two@two"),
    };
    let flag = if naming == "name" {
        "--name"
    } else {
        "--sname"
    };
    let exec = |code: &str| {
        project
            .run(&[
                "exec",
                "-T",
                "two",
                "elixir",
                flag,
                call,
                "--hidden",
                "--cookie",
                "distro",
                "--rpc-eval",
                two,
                code,
            ])
            .trim()
            .to_owned()
    };
    assert_eq!(exec("IO.inspect Distro.DistroCal.add(4, 5)"), "9");
    let at = exec("IO.inspect node(:global.whereis_name(Distro.DistroCal))");
    let one = if naming == "name" {
        ":\"one@one.distro.test\""
    } else {
        ":one@one"
    };
    assert_eq!(at, one, "Distro.DistroCal runs at one");
    eprintln!(
        "[containers OTP {release}] docker compose up (NAMING={naming}): healthy after {}, \
         app at one after {}",
        secs(up),
        secs(running_app)
    );
}

/// `docker compose up` then README's exec, with -sname and with -name.
#[test]
fn compose_up_runs_the_seed_cluster() {
    let Some(otp) = setup() else { return };
    let version = process::run(
        "docker compose version",
        {
            let mut c = Command::new("docker");
            c.args(["compose", "version"]);
            c
        },
        LONG,
    );
    if !matches!(&version, Ok(o) if o.status.success()) {
        assert!(
            !crate::support::otp::in_ci(),
            "Docker Compose v2 is required under CI: {version:?}"
        );
        eprintln!("skipping: no `docker compose` (scripts/provision.sh installs it)");
        return;
    }
    in_parallel(&["sname", "name"], |naming| {
        seed_cluster(otp.number(), naming)
    });
}
