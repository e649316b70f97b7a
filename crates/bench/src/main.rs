//! cartback-bench: what the hub holds on this machine, each figure next to a baseline measured in
//! the same run on the same machine, so ratios mean something across machines.
//!
//! ```text
//! cargo run --release -p cartback-bench -- ingest  [--n 20000] [--conns 64] [--no-journal]
//!                                                  [--duration 20] [--store postgres://…]
//! cargo run --release -p cartback-bench -- timers  [--n 1000000]
//! cargo run --release -p cartback-bench -- send    [--n 5000] [--rate 100]
//! cargo run --release -p cartback-bench -- startup
//! cargo run --release -p cartback-bench -- simulate [--n 20000]
//! cargo run --release -p cartback-bench -- all
//! ```
//! Everything targets 127.0.0.1 and stops by itself.

/// The allocator the `cartback` binary uses, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;
mod ingest;
mod pg;
mod send;
mod simulate;
mod startup;
mod sustained;
mod timers;

use common::{arg, text_arg};
use ingest::ingest;
use send::send;
use startup::startup;
use timers::timers;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("all");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let opts = ingest::Opts {
            n: arg(&args, "--n", 20_000),
            conns: arg(&args, "--conns", 64),
            journal: !args.iter().any(|a| a == "--no-journal"),
            store: text_arg(&args, "--store"),
            pool: arg(&args, "--pool", 16),
            instances: arg(&args, "--instances", 1),
            duration: args
                .iter()
                .any(|a| a == "--duration")
                .then(|| arg(&args, "--duration", 20) as u64),
        };
        let run_ingest = || ingest(&opts);
        match what {
            "ingest" => run_ingest().await,
            "timers" => {
                timers(
                    arg(&args, "--n", 1_000_000),
                    opts.store.as_deref(),
                    arg(&args, "--instances", 1),
                )
                .await
            }
            "send" => {
                send(
                    arg(&args, "--n", 5_000),
                    arg(&args, "--rate", 100),
                    opts.store.as_deref(),
                )
                .await
            }
            "startup" => startup().await,
            "simulate" => simulate::simulate(arg(&args, "--n", 20_000)).await,
            "all" => {
                startup().await?;
                run_ingest().await?;
                timers(arg(&args, "--n", 1_000_000), None, 1).await?;
                send(arg(&args, "--n", 5_000), arg(&args, "--rate", 100), None).await
            }
            other => anyhow::bail!(
                "unknown benchmark {other:?}: use ingest, timers, send, startup, simulate or all"
            ),
        }
    })
}
