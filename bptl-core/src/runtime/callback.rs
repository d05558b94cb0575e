//! The `callbackUrl` notification sent after a successful completion.

use std::time::Duration;

use async_trait::async_trait;

/// Sends the `callbackUrl` POST. Core has no HTTP client: the facade crate `bptl` implements
/// this with `reqwest` (`bptl::config::HttpCallbackSender`); tests may implement it however
/// they like.
///
/// The runtime calls it after the engine accepted a completion, when the process variable
/// `callbackUrl` is a non-empty string, with the body
/// `{"taskId", "topic", "processInstanceId", "status": "completed"}`. Its outcome is logged
/// and put on the task's timeline; it never un-completes the task.
#[async_trait]
pub trait CallbackSender: Send + Sync + 'static {
    /// POST `body` as JSON to `url`, giving up after `timeout`. Returns the response's HTTP
    /// status, or a message when no response arrived (connection refused, timeout, ...).
    async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<u16, String>;
}
