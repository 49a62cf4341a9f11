//! The built-in applications as supervision trees on a node without
//! distribution: the calculator comes back after a kill, the module
//! function is served from load time, and more kills than the intensity
//! end the application as its restart type says.

use super::distro::{Distro, SERVER, SUPERVISOR};
use crate::kernel::application_controller::{AcConfig, HaltFn, RestartType};
use crate::kernel::{Applications, AppsConfig, Kernel};
use crate::runtime::Node;
use crate::term::{Pid, Term, TermExt, atom, int, list};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Halts = Arc<Mutex<Vec<String>>>;

async fn boot(name: &str) -> (Node, Kernel, Applications, Halts) {
    let node = Node::local(name);
    let kernel = crate::kernel::start(&node);
    let halts: Halts = Arc::default();
    let h = halts.clone();
    let halt: HaltFn = Arc::new(move |_, line| h.lock().unwrap().push(line));
    let apps = crate::kernel::start_applications(
        &node,
        &kernel,
        AppsConfig {
            dist: Default::default(),
            start_dist_ac: Some(false),
            sync: None,
            env: AcConfig::default(),
            halt,
            locks: None,
        },
    )
    .await
    .unwrap();
    apps.ac.add(Arc::new(Distro));
    (node, kernel, apps, halts)
}

async fn cal(kernel: &Kernel) -> Pid {
    for _ in 0..400 {
        if let Some(p) = kernel.global.whereis_name(&atom(SERVER)) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{SERVER} is not registered");
}

/// Kills the calculator and waits until a new one holds the global name.
async fn kill_cal(node: &Node, kernel: &Kernel) -> Option<Pid> {
    let old = cal(kernel).await;
    node.exit(&old, atom("kill"));
    for _ in 0..400 {
        match kernel.global.whereis_name(&atom(SERVER)) {
            Some(p) if p != old => return Some(p),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    None
}

async fn add(node: &Node, kernel: &Kernel) -> Result<Term, crate::kernel::rex::Exception> {
    let args = list(vec![int(4), int(5)]);
    kernel
        .rpc
        .apply(node, &atom(SERVER), &atom("add"), &args)
        .await
}

#[tokio::test]
async fn the_calculator_is_restarted_and_served_from_load_time() {
    let (node, kernel, apps, halts) = boot("apps1@h").await;
    // Not loaded: the module is not here.
    assert_eq!(add(&node, &kernel).await.unwrap_err().reason, atom("undef"));
    apps.ac.load("distro").await.unwrap();
    // Loaded, not running: the module answers by calling the global name.
    let e = add(&node, &kernel).await.unwrap_err();
    assert_eq!(e.reason.elem(0), Some(&atom("noproc")));
    apps.ac
        .start_app("distro", RestartType::Temporary)
        .await
        .unwrap();
    assert_eq!(add(&node, &kernel).await, Ok(int(9)));
    let sup = node.whereis(SUPERVISOR).expect("Distro.Supervisor");
    kill_cal(&node, &kernel).await.expect("restarted");
    assert_eq!(add(&node, &kernel).await, Ok(int(9)));
    assert_eq!(node.whereis(SUPERVISOR), Some(sup));
    assert!(apps.ac.is_running("distro"));
    assert!(halts.lock().unwrap().is_empty());
}

async fn four_kills(rt: RestartType, name: &str) -> (Applications, Halts) {
    let (node, kernel, apps, halts) = boot(name).await;
    apps.ac.start_app("distro", rt).await.unwrap();
    // Elixir's default intensity: 3 restarts in 5 s; the fourth kill is one
    // too many.
    for _ in 0..3 {
        kill_cal(&node, &kernel).await.expect("restarted");
    }
    let sup = node.whereis(SUPERVISOR).unwrap();
    let old = cal(&kernel).await;
    node.exit(&old, atom("kill"));
    crate::runtime::testkit::wait_dead(&node, &sup).await;
    for _ in 0..400 {
        if !apps.ac.is_running("distro") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (apps, halts)
}

#[tokio::test]
async fn too_many_kills_end_a_temporary_app_quietly() {
    let (apps, halts) = four_kills(RestartType::Temporary, "apps2@h").await;
    assert!(!apps.ac.is_running("distro"));
    assert!(halts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn too_many_kills_stop_the_node_of_a_permanent_app() {
    let (_apps, halts) = four_kills(RestartType::Permanent, "apps3@h").await;
    for _ in 0..400 {
        if !halts.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        *halts.lock().unwrap(),
        [
            "Kernel pid terminated (application_controller) ({application_terminated,distro,shutdown})"
        ]
    );
}

/// `AppContext::global_name`'s registry registers with
/// `global:re_register_name/2` through the one `NameRegistry` route: it
/// takes a name over from a live holder, where `register_name` says `no`.
#[tokio::test]
async fn the_global_name_of_an_app_takes_the_name_over_from_its_holder() {
    use crate::behaviours::gen_server::{NameRegistry, ServerName};
    let node = Node::local("apps4@h");
    let kernel = crate::kernel::start(&node);
    let idle = || {
        node.spawn(|mut p: crate::runtime::Process| async move {
            let _ = p.recv().await;
        })
    };
    let (old, new) = (idle(), idle());
    let name = atom("apps4_server");
    let global: Arc<dyn NameRegistry> = Arc::new(kernel.global.clone());
    assert!(global.register_name(name.clone(), old.clone()).await);
    assert!(!global.register_name(name.clone(), new.clone()).await);
    let reg = super::ReRegister(global.clone());
    assert_eq!(
        ServerName::via(super::ReRegister(global.clone()), name.clone()).to_term(),
        crate::term!({global, apps4_server})
    );
    assert!(reg.register_name(name.clone(), new.clone()).await);
    assert_eq!(reg.whereis_name(&name), Some(new.clone()));
    assert_eq!(kernel.global.whereis_name(&name), Some(new));
    reg.unregister_name(name.clone()).await;
    assert_eq!(kernel.global.whereis_name(&name), None);
}
