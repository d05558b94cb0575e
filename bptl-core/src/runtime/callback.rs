//! Stage 8, callback: the `callbackUrl` notification sent after a successful completion.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tracing::{debug, warn};

use super::metrics;
use super::process::TaskCtx;
use crate::duration::format_duration;
use crate::engine::Engine;
use crate::timeline::EventKind;

/// Sends the `callbackUrl` POST. Core has no HTTP client: the facade crate `bptl` implements
/// this with `reqwest` (`bptl::config::HttpCallbackSender`); tests may implement it however
/// they like.
///
/// The runtime calls it after the engine accepted a completion, when the process variable
/// `callbackUrl` is a non-empty string, with the body
/// `{"taskId", "topic", "processInstanceId", "status": "completed"}`, if
/// [`allowed`](CallbackSender::allowed) accepts the URL. Its outcome (or the refusal) is logged
/// and put on the task's timeline; it never un-completes the task.
#[async_trait]
pub trait CallbackSender: Send + Sync + 'static {
    /// Whether `url` may be called; `Err` says why not (without secrets: no query, no user
    /// info). The runtime asks before [`post_json`](CallbackSender::post_json); the default
    /// allows every URL.
    async fn allowed(&self, url: &str) -> Result<(), String> {
        let _ = url;
        Ok(())
    }

    /// POST `body` as JSON to `url`, giving up after `timeout`. Returns the response's HTTP
    /// status, or a message when no response arrived (connection refused, timeout, ...).
    async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<u16, String>;
}

impl<E: Engine> TaskCtx<'_, E> {
    /// POST to the process variable `callbackUrl`, if set.
    pub(super) async fn callback(&self) {
        // Only this variable is read (a unit that read none leaves the rest unparsed).
        let url = self
            .task
            .variable("callbackUrl")
            .and_then(Result::ok)
            .and_then(|v| v.as_str().map(|u| u.trim().to_owned()))
            .filter(|u| !u.is_empty());
        let Some(url) = url else { return };
        let shown = redact_url(&url);
        let Some(sender) = &self.shared.callback else {
            metrics::callback("no_sender");
            warn!("callbackUrl {shown} is set but this worker has no callback sender: not called");
            self.timeline.record(
                EventKind::Callback,
                format!("callbackUrl {shown} not called: this worker has no callback sender"),
                json!({ "url": shown }),
            );
            return;
        };
        if let Err(reason) = sender.allowed(&url).await {
            metrics::callback("refused");
            warn!("callbackUrl {shown} refused: {reason}");
            self.timeline.record(
                EventKind::Callback,
                format!(
                    "callbackUrl {shown} refused: {reason} (not called; the task stays completed)"
                ),
                json!({ "url": shown, "refused": reason }),
            );
            return;
        }
        let body = json!({
            "taskId": self.task.task_id(),
            "topic": self.topic,
            "processInstanceId": self.task.process_instance_id(),
            "status": "completed",
        });
        let limit = self.shared.config.callback_timeout;
        let outcome = tokio::time::timeout(
            limit + Duration::from_secs(1),
            sender.post_json(&url, &body, limit),
        )
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}", format_duration(limit))));
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                metrics::callback("ok");
                debug!("callback {shown} answered {status}");
                self.timeline.record(
                    EventKind::Callback,
                    format!("POST {shown} → {status}"),
                    json!({ "url": shown, "status": status }),
                );
            }
            Ok(status) => {
                metrics::callback("http_error");
                warn!("callback {shown} answered {status}");
                self.timeline.record(
                    EventKind::Callback,
                    format!("POST {shown} → {status} (not a success; the task stays completed)"),
                    json!({ "url": shown, "status": status }),
                );
            }
            Err(message) => {
                metrics::callback("failed");
                warn!("callback {shown} failed: {message}");
                self.timeline.record(
                    EventKind::Callback,
                    format!("POST {shown} failed: {message} (the task stays completed)"),
                    json!({ "url": shown, "error": message }),
                );
            }
        }
    }
}

/// A URL without its user info, query and fragment (they may carry credentials or tokens).
fn redact_url(url: &str) -> String {
    let (base, cut) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], true),
        None => (url, false),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority_end..]),
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if cut { format!("{base}?…") } else { base }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redaction() {
        assert_eq!(redact_url("http://h/p?token=s"), "http://h/p?…");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
        assert_eq!(
            redact_url("https://hook:s3cret@h:8443/p?x=1"),
            "https://***@h:8443/p?…"
        );
        assert_eq!(redact_url("https://user@h"), "https://***@h");
    }
}
