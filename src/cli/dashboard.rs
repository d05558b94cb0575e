//! `dashboard`: the web dashboard on the configured store, without a worker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::records::load_store;
use super::{EXIT_OK, EXIT_USAGE};

pub(super) async fn dashboard(path: PathBuf, addr: Option<SocketAddr>) -> u8 {
    let (config, store) = match load_store(&path).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let addr = addr.or(config.dashboard.addr).unwrap_or_else(|| {
        crate::dashboard::DEFAULT_ADDR
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9200)))
    });
    let served = match crate::dashboard::Dashboard::new(Arc::clone(&store), &config.dashboard) {
        Ok(d) => d.with_config(&config).serve(addr).await,
        Err(e) => Err(e),
    };
    let running = match served {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            store.close().await;
            return EXIT_USAGE;
        }
    };
    println!("dashboard at http://{}/", running.addr);
    wait_for_signal().await;
    running.task.abort();
    store.close().await;
    EXIT_OK
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
