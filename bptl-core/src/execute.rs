//! Executing one task: BPTL's `execute(task)` semantics.

use std::any::Any;
use std::sync::Arc;

use jiff::Timestamp;

use crate::error::UnitError;
use crate::mapping::{TaskMapping, TaskMappings};
use crate::registry::{LINK_HINT, Registry, UnitEntry};
use crate::store::TaskRecord;
use crate::task::{BaseTask, Extensions, RunningTask, TaskContext, TaskRef, TaskStatus};
use crate::timeline::Timeline;
use crate::value::Variables;

/// Why a task was not executed, or how its unit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// No mapping for the topic, or the mapped unit is not registered.
    #[error("{0}")]
    NoCallback(String),
    /// The task was already performed or completed.
    #[error("The task {task_id} has already been {status} and is not executed again.")]
    TaskPerformed {
        /// The task.
        task_id: String,
        /// Its status.
        status: TaskStatus,
    },
    /// The task is being executed right now.
    #[error("The task {task_id} is already in progress.")]
    TaskInProgress {
        /// The task.
        task_id: String,
    },
    /// The task's lock has expired: another worker may have it.
    #[error("The lock of task {task_id} expired at {expired_at}; it is not executed.")]
    TaskExpired {
        /// The task.
        task_id: String,
        /// When the lock expired.
        expired_at: Timestamp,
    },
    /// The topic's mapping is inactive.
    #[error("The mapping for topic '{topic}' is inactive; activate it to execute its tasks.")]
    MappingInactive {
        /// The topic.
        topic: String,
    },
    /// The topic's mapping is for another engine type.
    #[error(
        "The mapping for topic '{topic}' is for engine '{mapping_engine}', but the task comes from '{task_engine}'."
    )]
    WrongEngine {
        /// The topic.
        topic: String,
        /// The mapping's engine type.
        mapping_engine: String,
        /// The task's engine type.
        task_engine: String,
    },
    /// The unit ran and returned an error (status `failed`).
    #[error(transparent)]
    Unit(#[from] UnitError),
}

/// One execution of a task: its record (status, results, error), its timeline and the
/// extensions its unit sees.
///
/// The status lives in one place, [`TaskRun::record`], and changes only through the
/// [status machine](crate::status)'s methods on [`TaskRecord`]: `execute` calls
/// [`TaskRecord::start`], then [`TaskRecord::perform`] or [`TaskRecord::fail`], and puts each
/// transition on the timeline.
#[derive(Debug)]
pub struct TaskRun {
    /// The task.
    pub task: TaskRef,
    /// The task's record: status, result variables, error text and execution count.
    pub record: TaskRecord,
    /// The timeline.
    pub timeline: Timeline,
    /// Extensions handed to the unit through its task's context.
    pub extensions: Extensions,
}

impl TaskRun {
    /// A fresh run (status `initial`, the record made from the task as fetched).
    pub fn new(task: TaskRef) -> Self {
        let record = TaskRecord::from_task(&*task, "");
        Self {
            task,
            record,
            timeline: Timeline::new(),
            extensions: Extensions::default(),
        }
    }

    /// Use this timeline (e.g. one that writes through to a store).
    pub fn with_timeline(mut self, timeline: Timeline) -> Self {
        self.timeline = timeline;
        self
    }

    /// Use these extensions.
    pub fn with_extensions(mut self, extensions: Extensions) -> Self {
        self.extensions = extensions;
        self
    }

    /// Run from a stored record (its status, results and execution count).
    pub fn with_record(mut self, record: TaskRecord) -> Self {
        self.record = record;
        self
    }

    /// Start from a stored status (the record's, which the run's transitions change).
    pub fn with_status(mut self, status: TaskStatus) -> Self {
        self.record.status = status;
        self
    }

    /// The status, as [`TaskRun::record`] holds it.
    pub fn status(&self) -> TaskStatus {
        self.record.status
    }
}

/// Execute `run`'s task with the unit its topic is mapped to.
///
/// Follows BPTL: a topic without mapping or a callback missing from the registry is a
/// [`ExecuteError::NoCallback`]; a performed or completed task is [`ExecuteError::TaskPerformed`];
/// an expired lock (expiry ≤ now) is [`ExecuteError::TaskExpired`]; inactive mappings and
/// mappings for another engine are refused. Otherwise the status moves
/// `initial → in_progress → performed` (results kept) or `failed` (error text kept); a panic
/// or a timeout in the unit is a failure.
///
/// ```
/// use bptl_core::{execute, variables, InMemoryTask, Registry, TaskMapping, TaskMappings, TaskRun};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mappings = TaskMappings::new([TaskMapping::new("nothing", "my::unit").engine("memory")]).unwrap();
/// let mut run = TaskRun::new(InMemoryTask::new("nothing", variables! {}).into_ref());
/// let err = execute(&mut run, &Registry::new(), &mappings).await.unwrap_err();
/// assert!(err.to_string().starts_with("Callback 'my::unit' is not in the provided registry."));
/// # }
/// ```
pub async fn execute(
    run: &mut TaskRun,
    registry: &Registry,
    mappings: &TaskMappings,
) -> Result<Variables, ExecuteError> {
    let unit = start(run, registry, mappings)?;
    finish(run, &unit).await
}

/// The first half of [`execute`](fn@execute): resolve the unit, check the status and the lock,
/// and make the `initial → in_progress` transition, without running the unit. For a caller
/// that stores the started record before the unit runs; [`finish`] runs it.
pub fn start<'r>(
    run: &mut TaskRun,
    registry: &'r Registry,
    mappings: &TaskMappings,
) -> Result<ResolvedUnit<'r>, ExecuteError> {
    let task = &*run.task;
    let unit = resolve(task, mappings.get(task.topic_name()), registry)?;
    let status = run.record.status;
    if !status.can_start() {
        return Err(match status {
            TaskStatus::InProgress => ExecuteError::TaskInProgress {
                task_id: task.task_id().to_owned(),
            },
            status => ExecuteError::TaskPerformed {
                task_id: task.task_id().to_owned(),
                status,
            },
        });
    }
    if let Some(expired_at) = lock_expired(task) {
        return Err(ExecuteError::TaskExpired {
            task_id: task.task_id().to_owned(),
            expired_at,
        });
    }
    let started = run
        .record
        .start()
        .map_err(|_| ExecuteError::TaskInProgress {
            task_id: task.task_id().to_owned(),
        })?;
    started.record(&run.timeline, None);
    Ok(unit)
}

/// The second half of [`execute`](fn@execute): run the unit [`start`] resolved and make the
/// `in_progress → performed` (result kept) or `in_progress → failed` (error text kept)
/// transition.
pub async fn finish(run: &mut TaskRun, unit: &ResolvedUnit<'_>) -> Result<Variables, ExecuteError> {
    let context = TaskContext {
        mapping: Some(Arc::clone(&unit.mapping)),
        timeline: run.timeline.clone(),
        extensions: run.extensions.clone(),
    };
    let running: TaskRef = Arc::new(RunningTask::new(Arc::clone(&run.task), context));
    let outcome = unit.run(running).await;
    let transition = match &outcome {
        Ok(vars) => run.record.perform(vars.clone()),
        Err(error) => run.record.fail(error.chain()),
    };
    if let Ok(transition) = transition {
        transition.record(&run.timeline, None);
    }
    outcome.map_err(ExecuteError::Unit)
}

/// When the task's lock expired, if it has (expiry ≤ now): its unit must not start.
pub fn lock_expired(task: &dyn BaseTask) -> Option<Timestamp> {
    task.lock_expires_at().filter(|at| *at <= Timestamp::now())
}

/// A task's mapping and the unit it names, resolved once: what runs the unit.
#[derive(Debug, Clone)]
pub struct ResolvedUnit<'r> {
    /// The mapping the task runs under.
    pub mapping: Arc<TaskMapping>,
    /// The registered unit.
    pub entry: &'r UnitEntry,
}

/// Resolve `task`'s unit from its topic's `mapping` (`None`: the topic has none) in
/// `registry`, with BPTL's messages: no mapping or an unregistered callback is
/// [`ExecuteError::NoCallback`] (with "did you mean" or the link idiom); an inactive mapping or
/// one for another engine is refused.
pub fn resolve<'r>(
    task: &dyn BaseTask,
    mapping: Option<&Arc<TaskMapping>>,
    registry: &'r Registry,
) -> Result<ResolvedUnit<'r>, ExecuteError> {
    let topic = task.topic_name();
    let Some(mapping) = mapping else {
        return Err(ExecuteError::NoCallback(format!(
            "Could not find a topic/callback mapping for topic '{topic}'."
        )));
    };
    if !mapping.active {
        return Err(ExecuteError::MappingInactive {
            topic: topic.to_owned(),
        });
    }
    if mapping.engine != task.engine_type() {
        return Err(ExecuteError::WrongEngine {
            topic: topic.to_owned(),
            mapping_engine: mapping.engine.clone(),
            task_engine: task.engine_type().to_owned(),
        });
    }
    let Some(entry) = registry.get(&mapping.callback) else {
        let mut message = format!(
            "Callback '{}' is not in the provided registry.",
            mapping.callback
        );
        let similar = registry.similar(&mapping.callback);
        if !similar.is_empty() {
            message.push_str(&format!(" Did you mean '{}'?", similar.join("', '")));
        } else {
            message.push(' ');
            message.push_str(LINK_HINT);
        }
        return Err(ExecuteError::NoCallback(message));
    };
    Ok(ResolvedUnit {
        mapping: Arc::clone(mapping),
        entry,
    })
}

impl ResolvedUnit<'_> {
    /// Run the unit with `task` (the runtime's task object, context attached) and return its
    /// result: a panic or the mapping's timeout is a failure, never a dead worker. Dropping the
    /// future stops the unit: it never keeps running detached while another worker may run
    /// the same task.
    pub async fn run(&self, task: TaskRef) -> Result<Variables, UnitError> {
        // In the caller's span (the runtime's `task`): the unit's logs and spans belong to it.
        let mut handle = tokio::spawn(tracing::Instrument::in_current_span((self.entry.run)(task)));
        let _abort_on_drop = AbortOnDrop(handle.abort_handle());
        let joined = match self.mapping.timeout {
            Some(limit) => match tokio::time::timeout(limit, &mut handle).await {
                Ok(joined) => joined,
                Err(_) => Ok(Err(UnitError::Timeout(limit))),
            },
            None => (&mut handle).await,
        };
        match joined {
            Ok(result) => result,
            Err(join) if join.is_panic() => Err(UnitError::Panic(panic_message(join.into_panic()))),
            Err(join) => Err(UnitError::other(join)),
        }
    }
}

/// Aborts the unit's tokio task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The message of a panic payload.
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
