//! Stage 4, run the unit: resolve the topic's unit once and run it with the runtime's task
//! object. The claim already checked what `execute` checks for a task from elsewhere (its
//! status, its lock).

use std::sync::Arc;
use std::time::Instant;

use super::metrics;
use super::process::TaskCtx;
use crate::engine::Engine;
use crate::execute::{ExecuteError, resolve};
use crate::value::Variables;

impl<E: Engine> TaskCtx<'_, E> {
    /// The unit's result, or why it could not run (no mapping, unknown unit, ...).
    pub(super) async fn run_unit(&self) -> Result<Variables, ExecuteError> {
        let unit = resolve(&**self.task, self.mapping, &self.shared.registry)?;
        let started = Instant::now();
        let result = unit.run(Arc::clone(self.task)).await;
        ::metrics::histogram!(metrics::UNIT_DURATION, "topic" => self.topic.to_owned())
            .record(started.elapsed().as_secs_f64());
        Ok(result?)
    }
}
