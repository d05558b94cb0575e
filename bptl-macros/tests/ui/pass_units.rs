use bptl_core::prelude::*;
use bptl_macros::{register, require_service};

/// Async.
#[register]
#[require_service("zrc", "Zaken", alias = "zrc")]
#[require_service("drc", "Documenten")]
async fn async_unit(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let _ = task.get_variables()?;
    Ok(variables! {})
}

#[register]
fn blocking_unit(_task: TaskRef) -> Result<(), UnitError> {
    Ok(())
}

#[register]
async fn returns_nothing(_task: std::sync::Arc<dyn BaseTask>) {}

#[register]
struct ClassUnit {
    task: TaskRef,
}

#[async_trait]
impl WorkUnit for ClassUnit {
    fn new(task: TaskRef) -> Self {
        Self { task }
    }
    async fn perform(&self) -> Result<Variables, UnitError> {
        Ok(self.task.get_variables()?)
    }
}

fn main() {}
