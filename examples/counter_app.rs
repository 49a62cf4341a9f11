//! A supervised counter application, `{global, counter}` to BEAM nodes (README).
use distro::prelude::*;

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
    async fn start(&self, ctx: AppContext, _: StartType, _: Term) -> StartResult {
        let child = ChildSpec::server(term!(counter), ctx.global_name("counter"), |_| Counter(0));
        ctx.start_supervisor(SupSpec::new("counter_sup").child(child))
            .await
    }
}

#[tokio::main] // cargo run --example counter_app -- counter@127.0.0.1 COOKIE
async fn main() -> Result<(), distro::BootError> {
    let [name, cookie] = [1, 2].map(|i| std::env::args().nth(i).expect("usage: NAME COOKIE"));
    let node = Node::builder(&name).cookie(&cookie);
    node.app(CounterApp).run().await
}
