//! The `callbackUrl` POST over HTTP: the runtime's [`CallbackSender`] implemented with `reqwest`,
//! refusing every URL that `[callback] allow` does not list (see [`CallbackAllowlist`]).

mod allow;

use std::sync::Arc;
use std::time::Duration;

use bptl_core::runtime::CallbackSender;
use bptl_credentials::reqwest;

pub use allow::{AllowEntry, CallbackAllowlist, is_public};

/// Sends the `callbackUrl` POST with `reqwest`, to the URLs its allowlist matches only.
#[derive(Debug, Clone)]
pub struct HttpCallbackSender {
    client: reqwest::Client,
    allow: CallbackAllowlist,
}

impl HttpCallbackSender {
    /// A sender with its own HTTP client (no redirects: a callback goes where it says; host
    /// names connect to public addresses only, checked when connecting), posting to the URLs
    /// `allow` matches.
    pub fn new(allow: CallbackAllowlist) -> Result<Self, String> {
        bptl_credentials::client_builder()
            .user_agent(concat!("bptl/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly))
            .build()
            .map(|client| Self { client, allow })
            .map_err(|e| format!("cannot create the callback HTTP client: {e}"))
    }

    /// As a runtime [`CallbackSender`].
    pub fn shared(allow: CallbackAllowlist) -> Result<Arc<dyn CallbackSender>, String> {
        Ok(Arc::new(Self::new(allow)?))
    }
}

/// Resolves host names to their addresses, refusing names with a non-public one: a name that
/// passed the allowlist check cannot answer differently when the connection is made.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = allow::resolve_public(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[bptl_core::async_trait]
impl CallbackSender for HttpCallbackSender {
    async fn allowed(&self, url: &str) -> Result<(), String> {
        self.allow.check(url).await
    }

    async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<u16, String> {
        self.allow
            .matching(url)
            .map_err(|reason| format!("refused: {reason}"))?;
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
                    // The resolver's refusal is the innermost cause.
                    let mut cause: &dyn std::error::Error = &e;
                    while let Some(next) = cause.source() {
                        cause = next;
                    }
                    let cause = cause.to_string();
                    if cause.contains("reaches public addresses only") {
                        format!("refused: {cause}")
                    } else {
                        "cannot connect".to_owned()
                    }
                } else {
                    // reqwest's message names the URL; keep only the kind of failure.
                    e.without_url().to_string()
                }
            })
    }
}
