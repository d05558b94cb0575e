//! The `callbackUrl` POST over HTTP: the runtime's [`CallbackSender`] implemented with `reqwest`.

use std::sync::Arc;
use std::time::Duration;

use bptl_core::runtime::CallbackSender;

/// Sends the `callbackUrl` POST with `reqwest`.
#[derive(Debug, Clone)]
pub struct HttpCallbackSender {
    client: bptl_credentials::reqwest::Client,
}

impl HttpCallbackSender {
    /// A sender with its own HTTP client (no redirects: a callback goes where it says).
    pub fn new() -> Result<Self, String> {
        bptl_credentials::reqwest::Client::builder()
            .user_agent(concat!("bptl/", env!("CARGO_PKG_VERSION")))
            .redirect(bptl_credentials::reqwest::redirect::Policy::none())
            .build()
            .map(|client| Self { client })
            .map_err(|e| format!("cannot create the callback HTTP client: {e}"))
    }

    /// As a runtime [`CallbackSender`].
    pub fn shared() -> Result<Arc<dyn CallbackSender>, String> {
        Ok(Arc::new(Self::new()?))
    }
}

#[bptl_core::async_trait]
impl CallbackSender for HttpCallbackSender {
    async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<u16, String> {
        self.client
            .post(url)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| {
                if e.is_timeout() {
                    format!(
                        "no answer within {}",
                        bptl_core::duration::format_duration(timeout)
                    )
                } else if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    // reqwest's message names the URL; keep only the kind of failure.
                    e.without_url().to_string()
                }
            })
    }
}
