//! What the test kit says when a test is set up wrongly or does not get where it should.

use std::fmt;
use std::time::Duration;

/// Why the test kit could not run a unit or a process, with what to do about it.
///
/// [`UnitTest::run`](crate::testing::UnitTest::run) and the [`TestEngine`](crate::testing::TestEngine)
/// assertions panic with this message; [`UnitTest::try_run`](crate::testing::UnitTest::try_run)
/// and the `TestEngine` methods return it.
///
/// ```
/// use bptl::testing::TestKitError;
/// let e = TestKitError::UnknownUnit {
///     unit: "my_units::CreateZak".into(),
///     registered: vec!["my_units::CreateZaak".into()],
///     similar: vec!["my_units::CreateZaak".into()],
/// };
/// assert!(e.to_string().starts_with(
///     "unit 'my_units::CreateZak' is not in the registry; did you mean 'my_units::CreateZaak'? registered: my_units::CreateZaak"
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestKitError {
    /// The unit (or a mapping's unit) is not registered.
    UnknownUnit {
        /// The unit path asked for.
        unit: String,
        /// Every registered unit path.
        registered: Vec<String>,
        /// Registered paths that look like it.
        similar: Vec<String>,
    },
    /// The global registry is unusable (e.g. two units with one path).
    Registry(String),
    /// The services or applications given to the test are invalid, as the worker's
    /// configuration check would say.
    Services(Vec<String>),
    /// A task mapping does not fit its unit (the problems `worker check` lists).
    Mapping(Vec<String>),
    /// The variables cannot be sent the way an engine sends them.
    Variables(String),
    /// The worker could not be built or the engine refused a request.
    Engine(String),
    /// The engine heard nothing from the worker in time.
    NotHeard {
        /// How long the kit waited.
        waited: Duration,
    },
    /// A process instance has an incident, so it will not end by itself.
    Incident {
        /// The process instance.
        instance: String,
        /// The activity with the incident.
        activity: String,
        /// The incident message (the failure's message).
        message: String,
    },
    /// Process instances were still running when the wait ended.
    NotEnded {
        /// The instances still running.
        instances: Vec<String>,
        /// The open external tasks of those instances, as `topic (activity)`.
        open_tasks: Vec<String>,
        /// How long the kit waited.
        waited: Duration,
    },
    /// No process instance with this id is known to the engine.
    UnknownInstance(String),
}

impl fmt::Display for TestKitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestKitError::UnknownUnit {
                unit,
                registered,
                similar,
            } => {
                write!(f, "unit '{unit}' is not in the registry; ")?;
                if !similar.is_empty() {
                    write!(f, "did you mean '{}'? ", similar.join("', '"))?;
                }
                if registered.is_empty() {
                    write!(f, "the registry is empty. ")?;
                } else {
                    write!(f, "registered: {}. ", registered.join(", "))?;
                }
                write!(f, "{}", bptl_core::LINK_HINT)
            }
            TestKitError::Registry(message) => {
                write!(f, "the unit registry is unusable: {message}")
            }
            TestKitError::Services(problems) => write!(
                f,
                "the services or applications of the test are invalid: {}",
                problems.join("; ")
            ),
            TestKitError::Mapping(problems) => write!(
                f,
                "the task mapping does not fit its unit (as `worker check` would say): {}",
                problems.join("; ")
            ),
            TestKitError::Variables(message) => {
                write!(
                    f,
                    "the variables cannot be sent as an engine sends them: {message}"
                )
            }
            TestKitError::Engine(message) => write!(f, "{message}"),
            TestKitError::NotHeard { waited } => write!(
                f,
                "the engine heard nothing from the worker within {}: the unit is still running \
                 (give the mapping a .timeout(..) to turn this into a failure, or a longer \
                 .wait_at_most(..))",
                bptl_core::duration::format_duration(*waited)
            ),
            TestKitError::Incident {
                instance,
                activity,
                message,
            } => write!(
                f,
                "process instance {instance} has an incident at '{activity}': {message}"
            ),
            TestKitError::NotEnded {
                instances,
                open_tasks,
                waited,
            } => {
                write!(
                    f,
                    "process instance(s) {} still running after {}",
                    instances.join(", "),
                    bptl_core::duration::format_duration(*waited)
                )?;
                if open_tasks.is_empty() {
                    Ok(())
                } else {
                    write!(
                        f,
                        "; open external tasks: {} (is a mapping for each topic given?)",
                        open_tasks.join(", ")
                    )
                }
            }
            TestKitError::UnknownInstance(id) => {
                write!(f, "the engine knows no process instance '{id}'")
            }
        }
    }
}

impl std::error::Error for TestKitError {}
