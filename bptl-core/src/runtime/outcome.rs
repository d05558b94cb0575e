//! Stage 5, decide the outcome: what the engine should hear about a unit's result. A pure
//! function of the result, the retry policy, the task's retries and whether the task was
//! cancelled meanwhile: no engine, no store, no clock.

use std::time::Duration;

use crate::engine::{EngineError, FailureReport};
use crate::error::{BpmnError, UnitError};
use crate::execute::ExecuteError;
use crate::mapping::RetryPolicy;
use crate::value::Variables;

/// What the engine should hear about a task.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Complete it with these variables.
    Complete(Variables),
    /// Report a failure.
    Fail(FailureReport),
    /// Report a BPMN error.
    BpmnError(BpmnError),
    /// Tell the engine nothing: the task was cancelled while its unit ran.
    Cancelled,
}

/// Decide what the engine hears about `result`, the unit's result (or why it could not run).
///
/// * cancelled meanwhile (the engine answered 404 while the unit ran): nothing;
/// * success: complete with the unit's variables;
/// * a BPMN error: report it;
/// * anything else: a failure, see [`failure_report`].
pub(crate) fn decide(
    result: Result<Variables, ExecuteError>,
    policy: &RetryPolicy,
    current_retries: Option<i32>,
    cancelled: bool,
) -> Outcome {
    match result {
        _ if cancelled => Outcome::Cancelled,
        Ok(vars) => Outcome::Complete(vars),
        Err(ExecuteError::Unit(UnitError::BpmnError(bpmn))) => Outcome::BpmnError(bpmn),
        Err(err) => Outcome::Fail(failure_report(&err, policy, current_retries)),
    }
}

/// The failure reported instead of a completion the engine refused (400 or another error it
/// will not change its mind about): better than leaving the task to expire and run again.
pub(crate) fn refused_completion(
    e: &EngineError,
    details: String,
    policy: &RetryPolicy,
    current_retries: Option<i32>,
) -> FailureReport {
    let (retries, retry_timeout) = policy.after_failure(current_retries);
    FailureReport {
        error_message: one_line(&format!("The engine refused the completion: {}", e.message)),
        error_details: Some(details),
        retries,
        retry_timeout,
    }
}

/// What the engine hears when a task fails.
///
/// * a unit's own [`Failure`](crate::Failure) retries/retry timeout override the policy;
/// * a missing or invalid variable gets **0 retries** (an immediate incident): retrying cannot
///   make a variable appear, the operator fixes the process data and sets retries again;
/// * everything else (failures, panics, timeouts, other errors, a missing mapping or unit)
///   follows the mapping's retry policy, counted down from the task's current retries.
pub(crate) fn failure_report(
    err: &ExecuteError,
    policy: &RetryPolicy,
    current_retries: Option<i32>,
) -> FailureReport {
    let (retries, retry_timeout) = policy.after_failure(current_retries);
    match err {
        ExecuteError::Unit(unit @ UnitError::Failure(f)) => FailureReport {
            error_message: one_line(&f.message),
            error_details: Some(f.details.clone().unwrap_or_else(|| unit.chain())),
            retries: f.retries.unwrap_or(retries).max(0),
            retry_timeout: f.retry_timeout.unwrap_or(retry_timeout),
        },
        ExecuteError::Unit(
            unit @ (UnitError::MissingVariable { .. } | UnitError::InvalidVariable { .. }),
        ) => FailureReport {
            error_message: one_line(&unit.to_string()),
            error_details: Some(unit.chain()),
            retries: 0,
            retry_timeout: Duration::ZERO,
        },
        ExecuteError::Unit(unit) => FailureReport {
            error_message: one_line(&unit.to_string()),
            error_details: Some(unit.chain()),
            retries,
            retry_timeout,
        },
        other => FailureReport {
            error_message: one_line(&other.to_string()),
            error_details: Some(other.to_string()),
            retries,
            retry_timeout,
        },
    }
}

/// The first non-empty line, at most 500 characters (engines show it in incidents).
pub(crate) fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("the work unit failed without a message");
    if line.chars().count() > 500 {
        let mut cut: String = line.chars().take(499).collect();
        cut.push('…');
        cut
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::EngineErrorKind;
    use crate::error::Failure;
    use crate::variables;

    #[test]
    fn failure_reports_follow_the_decisions() {
        let policy = RetryPolicy {
            retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let own = ExecuteError::Unit(Failure::new("down\nmore").retries(7).into());
        let r = failure_report(&own, &policy, Some(2));
        assert_eq!((r.error_message.as_str(), r.retries), ("down", 7));
        assert_eq!(r.retry_timeout, Duration::from_secs(10));
        let panic = ExecuteError::Unit(UnitError::Panic("boom".into()));
        let r = failure_report(&panic, &policy, Some(1));
        assert_eq!(r.retries, 0);
        assert_eq!(r.error_message, "the work unit panicked: boom");
        let r = failure_report(&panic, &policy, None);
        assert_eq!(r.retries, 2);
        let missing = ExecuteError::Unit(UnitError::missing_variable("amount"));
        assert_eq!(failure_report(&missing, &policy, None).retries, 0);
        let negative = ExecuteError::Unit(Failure::new("x").retries(-3).into());
        assert_eq!(failure_report(&negative, &policy, None).retries, 0);
        let no_callback = ExecuteError::NoCallback("Could not find a mapping.".into());
        assert_eq!(failure_report(&no_callback, &policy, None).retries, 2);
    }

    #[test]
    fn the_outcome_follows_the_result() {
        let policy = RetryPolicy::default();
        let ok = || Ok(variables! { "x": 1 });
        assert!(matches!(decide(ok(), &policy, None, false), Outcome::Complete(v) if v.len() == 1));
        assert!(matches!(
            decide(ok(), &policy, None, true),
            Outcome::Cancelled
        ));
        let bpmn = Err(ExecuteError::Unit(BpmnError::new("E1", "no").into()));
        assert!(
            matches!(decide(bpmn, &policy, None, false), Outcome::BpmnError(b) if b.code == "E1")
        );
        let failed = Err(ExecuteError::Unit(Failure::new("down").retries(4).into()));
        assert!(matches!(decide(failed, &policy, None, false), Outcome::Fail(r) if r.retries == 4));
        let no_unit = Err(ExecuteError::NoCallback("Could not find a mapping.".into()));
        match decide(no_unit, &policy, None, false) {
            Outcome::Fail(r) => assert_eq!(r.error_message, "Could not find a mapping."),
            other => panic!("{other:?}"),
        }
        let refused = EngineError::new(EngineErrorKind::BadRequest, "bad variables");
        let r = refused_completion(&refused, "details".into(), &policy, Some(1));
        assert_eq!(
            r.error_message,
            "The engine refused the completion: bad variables"
        );
        assert_eq!(r.error_details.as_deref(), Some("details"));
    }

    #[test]
    fn one_line_keeps_the_first_line() {
        assert_eq!(one_line("\n  first \nsecond"), "first");
        assert_eq!(one_line(""), "the work unit failed without a message");
        assert_eq!(one_line(&"x".repeat(600)).chars().count(), 500);
    }
}
