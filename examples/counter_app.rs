//! A supervised counter application, registered as `{global, counter}`:
//! `cargo run --example counter_app -- counter@127.0.0.1 secret`, then from
//! a BEAM node `gen_server:call({global, counter}, {add, 2})`.
use distro::prelude::*;
use futures::future::BoxFuture;

struct Counter(i64);
impl GenServer for Counter {
    async fn handle_call(&mut self, req: Term, _: GenFrom, _: &mut Process) -> CallReply {
        self.0 += term_match!(req, {add, (n: i64)} => n, _ => 0);
        CallReply::Reply(term!((self.0)))
    }
}

pub(crate) struct CounterApp;
impl Application for CounterApp {
    fn spec(&self) -> AppSpec {
        AppSpec::new("counter", "a supervised global counter", "1.0")
    }
    fn start(
        &self,
        ctx: AppContext,
        _: StartType,
        _: Term,
    ) -> BoxFuture<'static, Result<Started, Term>> {
        Box::pin(async move {
            let mfa = supervisor::Mfa::new("counter", "start_link", vec![]);
            let child = ChildSpec::gen_server(
                term!(counter),
                mfa,
                Some(ctx.global_name("counter")),
                |_| Counter(0),
            );
            let sup = SupSpec::new("counter_sup").child(child);
            let pid = supervisor::start_link_to(&ctx.node, ctx.master().unwrap(), None, sup).await;
            Ok(Started::from(pid.map_err(|e| e.to_term())?))
        })
    }
}

#[allow(dead_code)] // the integration test includes this file for CounterApp
#[tokio::main]
async fn main() -> Result<(), distro::BootError> {
    let [name, cookie] = [1, 2].map(|i| std::env::args().nth(i).expect("usage: NAME COOKIE"));
    Node::builder(&name)
        .cookie(&cookie)
        .app(CounterApp)
        .start()
        .await?
        .wait()
        .await;
    Ok(())
}
