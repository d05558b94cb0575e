//! The crypto-provider trap, closed: `bptl-credentials`' `tls` feature compiles rustls into
//! `reqwest` (this file's dev-dependencies enable it) while `bptl-camunda`'s own `tls` feature
//! is off, as in `cargo test -p bptl-credentials -p bptl-units`. The engine client must still
//! install the provider before it builds its `reqwest` client instead of panicking. One test
//! in its own test binary: a fresh process where nothing installed a provider before.

use bptl::camunda::CamundaClient;
use bptl::dev_engine::DevEngine;

#[tokio::test]
async fn an_engine_client_built_first_in_a_fresh_process_installs_the_provider_and_calls() {
    let engine = DevEngine::start().await.expect("dev engine");
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "nothing may have installed a provider before the client is built"
    );
    let client = CamundaClient::new(engine.url()).expect("client");
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    let version = client.version().await.expect("GET /version over real HTTP");
    assert!(!version.is_empty(), "the dev engine names its version");
}
