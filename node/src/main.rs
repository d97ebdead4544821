//! The `shardis` binary: load the config, start logging, serve until SIGINT/SIGTERM/SHUTDOWN.

use clap::Parser;
use shardis::config::{Cli, Config};
use shardis::node::Node;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shardis: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // A bare level applies to Shardis; openraft's own chatter starts at warn unless asked for.
    let directive = if config.log_level.contains('=') || config.log_level.contains(',') {
        config.log_level.clone()
    } else {
        format!("{0},openraft=warn", config.log_level)
    };
    let filter = EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    // As redis's `jemalloc-bg-thread yes`: freed memory goes back to the system on a background
    // thread, also while the server is idle (without it jemalloc purges only when it is called,
    // so a node that went quiet after a burst kept the burst's pages).
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "cannot enable the allocator's background purging");
    }
    let runtime = match shardis::server::build_runtime(config.threads) {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let node = match Node::start(config).await {
            Ok(node) => node,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the node");
                return std::process::ExitCode::FAILURE;
            }
        };
        match node.run(wait_for_signal()).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::FAILURE,
        }
    });
    // Every task of the node has ended or been given up on by now; the runtime only has
    // leftovers to drop (the transport library's own connection tasks), and a blocking call
    // stuck in the kernel must not keep the process from exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Completes on SIGTERM or SIGINT.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("signal received, shutting down");
}
