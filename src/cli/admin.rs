//! The admin listener: Prometheus metrics at `/metrics`.

use std::net::SocketAddr;

/// Install a Prometheus recorder for the `metrics` crate and serve it at `http://addr/metrics`.
pub async fn serve_metrics(addr: SocketAddr) -> Result<(), String> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| "a metrics recorder is already installed".to_owned())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("metrics.addr: cannot listen on {addr}: {e}"))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the metrics endpoint stopped: {e}");
        }
    });
    tracing::info!("serving metrics at http://{addr}/metrics");
    Ok(())
}
