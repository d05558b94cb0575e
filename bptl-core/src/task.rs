//! Tasks: what a work unit receives.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use jiff::Timestamp;

use crate::error::UnitError;
use crate::mapping::TaskMapping;
use crate::timeline::Timeline;
use crate::value::{Value, Variables};

pub use crate::status::TaskStatus;
pub use check::{
    check_variable, check_variable_allow_empty, check_variable_as, optional_variable_as,
};

pub use memory::InMemoryTask;

mod check;
mod memory;

/// Declares [`BaseTask`] and, from the same list of methods, [`RunningTask`]'s implementation
/// of it: every method forwards to the wrapped task except `context` (the running task's own)
/// and `get_variables` (parsed once per task, then shared). A method added to the trait is
/// forwarded with it: it cannot silently fall back to its default for a running task.
macro_rules! base_task {
    (
        $(#[$meta:meta])*
        pub trait BaseTask: Send + Sync + 'static {
            $( $(#[$mmeta:meta])* fn $name:ident(&$self:ident $(, $arg:ident: $aty:ty)*) -> $ret:ty $($default:block)? $(;)? )*
        }
    ) => {
        $(#[$meta])*
        pub trait BaseTask: Send + Sync + 'static {
            $( base_task!(@declare $(#[$mmeta])* fn $name($self $(, $arg: $aty)*) -> $ret $(, $default)?); )*
        }

        impl BaseTask for RunningTask {
            $( base_task!(@forward $name($($arg: $aty),*) -> $ret); )*
        }
    };
    (@declare $(#[$m:meta])* fn $name:ident($self:ident $(, $arg:ident: $aty:ty)*) -> $ret:ty) => {
        $(#[$m])* fn $name(&$self $(, $arg: $aty)*) -> $ret;
    };
    (@declare $(#[$m:meta])* fn $name:ident($self:ident $(, $arg:ident: $aty:ty)*) -> $ret:ty, $default:block) => {
        $(#[$m])* fn $name(&$self $(, $arg: $aty)*) -> $ret $default
    };
    (@forward context() -> $ret:ty) => {
        fn context(&self) -> $ret {
            Some(&self.context)
        }
    };
    (@forward get_variables() -> $ret:ty) => {
        fn get_variables(&self) -> $ret {
            self.variables()
        }
    };
    (@forward variable($arg:ident: $aty:ty) -> $ret:ty) => {
        fn variable(&self, $arg: $aty) -> $ret {
            match self.variables.get() {
                Some(vars) => vars.get($arg).cloned().map(Ok),
                None => self.inner.variable($arg),
            }
        }
    };
    (@forward $name:ident($($arg:ident: $aty:ty),*) -> $ret:ty) => {
        fn $name(&self $(, $arg: $aty)*) -> $ret {
            self.inner.$name($($arg),*)
        }
    };
}

base_task! {
/// A task to execute, as any task source (an engine, a schedule, a test) provides it.
///
/// Engine integrations implement it (e.g. `bptl_camunda::ExternalTask`); [`InMemoryTask`]
/// serves tests and sources without an engine. Reach the engine-specific type with
/// [`downcast_ref`](trait.BaseTask.html#method.downcast_ref).
pub trait BaseTask: Send + Sync + 'static {
    /// The task's id in its source (Camunda: the external task id).
    fn task_id(&self) -> &str;

    /// The topic the task was published under.
    fn topic_name(&self) -> &str;

    /// The task's variables, deserialized into engine-independent [`Value`]s.
    ///
    /// An error names the variable that could not be read.
    fn get_variables(&self) -> Result<Variables, UnitError>;

    /// One variable, deserialized (`None` when the task has no variable `name`), for the
    /// runtime's own look-ups (e.g. `callbackUrl`). Sources override it to read that variable
    /// alone; the default reads them all (an error in any is the error). A running task
    /// answers from its parsed variables once a unit read them.
    fn variable(&self, name: &str) -> Option<Result<Value, UnitError>> {
        match self.get_variables() {
            Ok(mut vars) => vars.remove(name).map(Ok),
            Err(e) => Some(Err(e)),
        }
    }

    /// The engine type this task came from (`"camunda"`, `"memory"`, ...).
    fn engine_type(&self) -> &str;

    /// The task as [`Any`], for downcasting to the engine-specific type.
    fn as_any(&self) -> &dyn Any;

    /// The process instance the task belongs to, if any.
    fn process_instance_id(&self) -> Option<&str> {
        None
    }

    /// The business key of the process instance, if any.
    fn business_key(&self) -> Option<&str> {
        None
    }

    /// When the lock on the task expires, if it is locked.
    fn lock_expires_at(&self) -> Option<Timestamp> {
        None
    }

    /// The worker id holding the lock, if any.
    fn worker_id(&self) -> Option<&str> {
        None
    }

    /// The retries the engine has left for this task (`None` before the first failure).
    fn retries(&self) -> Option<i32> {
        None
    }

    /// The task's priority.
    fn priority(&self) -> i64 {
        0
    }

    /// The variables exactly as the source delivered them (e.g. Camunda's typed JSON), for
    /// task records. Defaults to the deserialized variables as plain JSON.
    fn raw_variables(&self) -> serde_json::Value {
        self.get_variables()
            .map(|v| v.to_json())
            .unwrap_or(serde_json::Value::Null)
    }

    /// What the runtime attaches while the task runs: its mapping, timeline and extensions.
    /// `None` for a bare task.
    fn context(&self) -> Option<&TaskContext> {
        None
    }
}
}

impl dyn BaseTask {
    /// The task as its concrete type, e.g. `task.downcast_ref::<ExternalTask>()`.
    pub fn downcast_ref<T: BaseTask>(&self) -> Option<&T> {
        self.as_any().downcast_ref::<T>()
    }

    /// The task's timeline, when it runs under the runtime.
    pub fn timeline(&self) -> Option<&Timeline> {
        self.context().map(|c| &c.timeline)
    }

    /// The mapping the task is executed under, when it runs under the runtime.
    pub fn mapping(&self) -> Option<&TaskMapping> {
        self.context().and_then(|c| c.mapping.as_deref())
    }
}

impl fmt::Debug for dyn BaseTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("engine", &self.engine_type())
            .field("id", &self.task_id())
            .field("topic", &self.topic_name())
            .field("process_instance_id", &self.process_instance_id())
            .finish_non_exhaustive()
    }
}

/// A shared handle to a task.
pub type TaskRef = Arc<dyn BaseTask>;

/// Type-keyed extensions the runtime and plug-ins attach to a running task (e.g. the
/// credential store of `bptl-credentials`).
#[derive(Clone, Default)]
pub struct Extensions(BTreeMap<std::any::TypeId, Arc<dyn Any + Send + Sync>>);

impl Extensions {
    /// Attach a value, replacing any value of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        self.0.insert(std::any::TypeId::of::<T>(), value);
    }

    /// The value of type `T`, if attached.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0
            .get(&std::any::TypeId::of::<T>())
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({} attached)", self.0.len())
    }
}

/// What the runtime attaches to a task while it runs.
#[derive(Debug, Clone, Default)]
pub struct TaskContext {
    /// The mapping the task runs under.
    pub mapping: Option<Arc<TaskMapping>>,
    /// The task's timeline.
    pub timeline: Timeline,
    /// Plug-in state (credentials, HTTP clients, ...).
    pub extensions: Extensions,
}

/// A task together with its [`TaskContext`]: the runtime's task object, which units receive.
///
/// Every [`BaseTask`] method reaches the inner task (the forwarding is generated from the
/// trait's own method list), so downcasting reaches the engine type; only
/// [`context`](BaseTask::context) is the running task's, and the variables are parsed from the
/// source's JSON once, then shared by the unit and the runtime.
pub struct RunningTask {
    inner: TaskRef,
    context: TaskContext,
    variables: OnceLock<Variables>,
}

impl RunningTask {
    /// Wrap `inner` with `context`.
    pub fn new(inner: TaskRef, context: TaskContext) -> Self {
        Self {
            inner,
            context,
            variables: OnceLock::new(),
        }
    }

    /// The wrapped task.
    pub fn inner(&self) -> &TaskRef {
        &self.inner
    }

    /// The variables, parsed on first use (an error is not kept: the next call tries again
    /// and names the same variable).
    fn variables(&self) -> Result<Variables, UnitError> {
        if let Some(vars) = self.variables.get() {
            return Ok(vars.clone());
        }
        let vars = self.inner.get_variables()?;
        Ok(self.variables.get_or_init(|| vars).clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::variables;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Overrides every defaulted method with a value no default gives.
    struct Everything {
        parsed: AtomicUsize,
    }

    impl BaseTask for Everything {
        fn task_id(&self) -> &str {
            "id-1"
        }
        fn topic_name(&self) -> &str {
            "topic-1"
        }
        fn get_variables(&self) -> Result<Variables, UnitError> {
            self.parsed.fetch_add(1, Ordering::SeqCst);
            Ok(variables! { "n": 1 })
        }
        fn engine_type(&self) -> &str {
            "everything"
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn process_instance_id(&self) -> Option<&str> {
            Some("pi-1")
        }
        fn business_key(&self) -> Option<&str> {
            Some("bk-1")
        }
        fn lock_expires_at(&self) -> Option<Timestamp> {
            Some(Timestamp::UNIX_EPOCH)
        }
        fn worker_id(&self) -> Option<&str> {
            Some("w-1")
        }
        fn retries(&self) -> Option<i32> {
            Some(7)
        }
        fn priority(&self) -> i64 {
            42
        }
        fn raw_variables(&self) -> serde_json::Value {
            serde_json::json!({ "raw": true })
        }
        fn variable(&self, name: &str) -> Option<Result<Value, UnitError>> {
            Some(Ok(Value::String(format!("only {name}"))))
        }
    }

    #[test]
    fn a_running_task_reaches_every_method_of_the_real_task() {
        let inner = Arc::new(Everything {
            parsed: AtomicUsize::new(0),
        });
        let running = RunningTask::new(inner.clone(), TaskContext::default());
        let task: &dyn BaseTask = &running;
        assert_eq!(task.task_id(), "id-1");
        assert_eq!(task.topic_name(), "topic-1");
        assert_eq!(task.engine_type(), "everything");
        assert_eq!(task.process_instance_id(), Some("pi-1"));
        assert_eq!(task.business_key(), Some("bk-1"));
        assert_eq!(task.lock_expires_at(), Some(Timestamp::UNIX_EPOCH));
        assert_eq!(task.worker_id(), Some("w-1"));
        assert_eq!(task.retries(), Some(7));
        assert_eq!(task.priority(), 42);
        assert_eq!(task.raw_variables(), serde_json::json!({ "raw": true }));
        assert!(task.downcast_ref::<Everything>().is_some());
        assert!(task.context().is_some());
        assert!(inner.context().is_none());
        assert_eq!(
            task.variable("n").unwrap().unwrap(),
            Value::String("only n".into()),
            "read alone by the inner task before the variables are parsed"
        );
        for _ in 0..3 {
            assert_eq!(task.get_variables().unwrap().len(), 1);
        }
        assert_eq!(
            task.variable("n").unwrap().unwrap(),
            Value::Integer(1),
            "from the parsed variables once parsed"
        );
        assert!(task.variable("absent").is_none());
        assert_eq!(
            inner.parsed.load(Ordering::SeqCst),
            1,
            "parsed once, then shared"
        );
    }
}
