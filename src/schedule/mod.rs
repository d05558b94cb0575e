//! Schedules: tasks created by the clock instead of fetched from an engine (feature
//! `schedule`, `[[schedules]]` in the worker's configuration; README, "Schedules").
//!
//! A [`Schedule`] names a cron expression, a time zone, a topic and variables. The
//! [`ScheduleEngine`] is an [`Engine`](bptl_core::Engine) of type `schedule`: its fetch waits
//! for the next due tick of the schedules whose topic the worker maps (`engine = "schedule"`),
//! and hands out one task per tick, so a tick runs through the same mappings, registry, store,
//! timeline, retry policy and metrics as an engine's task.
//!
//! **Exactly once per tick**: a tick's task id is `NAME@TIME` (the tick's instant in RFC 3339,
//! UTC), and the engine hands it out only after [`TaskStore::insert_new`] stored its record:
//! of several workers sharing a store (PostgreSQL), and of a worker and its restarted self,
//! exactly one takes a tick. A failed tick is handed out again after the retry policy's wait,
//! by the worker that took it; a completion or a BPMN error ends the tick.
//!
//! ```
//! use bptl::schedule::{CatchUp, Schedule};
//! use bptl::variables;
//!
//! let nightly = Schedule::new("nightly-report", "0 2 * * *", "report")
//!     .unwrap()
//!     .time_zone("Europe/Amsterdam")
//!     .unwrap()
//!     .variables(variables! { "format": "pdf" })
//!     .catch_up(CatchUp::One);
//! let after = "2026-12-02T14:00:00Z".parse().unwrap();
//! assert_eq!(nightly.next_after(after).unwrap().to_string(), "2026-12-03T01:00:00Z");
//! assert_eq!(
//!     Schedule::new("x", "0 25 * * *", "t").unwrap_err(),
//!     "'0 25 * * *' is not a cron expression (minute hour day-of-month month day-of-week): Component error: Number out of bounds."
//! );
//! ```
//!
//! [`TaskStore::insert_new`]: bptl_core::TaskStore::insert_new

mod cron;
mod engine;
#[cfg(feature = "cli")]
mod run;
mod task;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use bptl_core::Variables;

pub use engine::{ENGINE_TYPE, ScheduleEngine};
#[cfg(feature = "cli")]
pub use run::Schedules;
pub use task::ScheduleTask;

/// What a schedule does about ticks that passed while no worker ran (`catch_up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// `"one"` (the default): at start, when ticks passed since the last tick recorded in the
    /// store, the latest of them runs once.
    #[default]
    One,
    /// `"none"`: ticks that passed are skipped; the next tick runs.
    None,
}

impl CatchUp {
    /// The configuration's spelling: `one`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::One => "one",
            CatchUp::None => "none",
        }
    }
}

impl std::str::FromStr for CatchUp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "one" => Ok(CatchUp::One),
            "none" => Ok(CatchUp::None),
            other => Err(format!(
                "'{other}' is not a catch-up mode: use \"one\" (run the latest missed tick once) or \"none\" (skip missed ticks)"
            )),
        }
    }
}

/// One schedule: a cron expression in a time zone, creating tasks on a topic.
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    expression: String,
    cron: cron::CronExpr,
    zone: TimeZone,
    topic: String,
    variables: Variables,
    active: bool,
    catch_up: CatchUp,
}

impl Schedule {
    /// Schedule `name` ticking at `cron` (5 fields, or 6 with seconds first) in the local time
    /// zone, creating tasks on `topic` without variables; active, catching up one tick. The
    /// error says what is wrong with the expression.
    pub fn new(
        name: impl Into<String>,
        cron: &str,
        topic: impl Into<String>,
    ) -> Result<Self, String> {
        Ok(Self {
            name: name.into(),
            expression: cron.to_owned(),
            cron: cron::CronExpr::parse(cron)?,
            zone: TimeZone::system(),
            topic: topic.into(),
            variables: Variables::new(),
            active: true,
            catch_up: CatchUp::default(),
        })
    }

    /// Tick in the IANA time zone `name` (`"Europe/Amsterdam"`, `"UTC"`).
    pub fn time_zone(mut self, name: &str) -> Result<Self, String> {
        self.zone = TimeZone::get(name).map_err(|e| {
            format!("'{name}' is not a time zone: use an IANA name such as \"Europe/Amsterdam\" or \"UTC\" ({e})")
        })?;
        Ok(self)
    }

    /// The variables every tick's task gets.
    pub fn variables(mut self, variables: Variables) -> Self {
        self.variables = variables;
        self
    }

    /// Set whether the schedule ticks.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Set what happens to ticks missed while no worker ran.
    pub fn catch_up(mut self, catch_up: CatchUp) -> Self {
        self.catch_up = catch_up;
        self
    }

    /// The name (unique among the schedules; the tasks' business key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cron expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The topic its tasks are created on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether it ticks.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.cron.next_after(after, &self.zone)
    }

    /// The last tick at or before `at`.
    pub fn last_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        self.cron.last_at_or_before(at, &self.zone)
    }

    /// The task id of the tick at `tick`: `NAME@TIME`.
    pub fn task_id(&self, tick: Timestamp) -> String {
        format!("{}@{tick}", self.name)
    }

    /// The tick time of one of this schedule's task ids (`None`: not one of its ids).
    pub fn tick_of(&self, task_id: &str) -> Option<Timestamp> {
        let time = task_id
            .strip_prefix(self.name.as_str())?
            .strip_prefix('@')?;
        time.parse().ok()
    }
}
