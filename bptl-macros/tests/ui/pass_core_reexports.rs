// A units crate that names bptl-core only: the macros come from its prelude.
use bptl_core::prelude::*;

/// A function unit.
#[register]
#[require_service("zrc", "Zaken", alias = "zrc")]
async fn function_unit(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(task.get_variables()?)
}

/// A struct unit.
#[bptl_core::register]
struct StructUnit {
    task: TaskRef,
}

#[async_trait]
impl WorkUnit for StructUnit {
    fn new(task: TaskRef) -> Self {
        Self { task }
    }
    async fn perform(&self) -> Result<Variables, UnitError> {
        Ok(self.task.get_variables()?)
    }
}

fn main() {
    let registry = bptl_core::Registry::global().expect("a registry");
    let function = registry.iter().find(|u| u.name == "function_unit").expect("function_unit");
    assert_eq!(function.kind, bptl_core::UnitKind::AsyncFn);
    assert_eq!(function.required_services[0].alias, Some("zrc"));
    let unit = registry.iter().find(|u| u.name == "StructUnit").expect("StructUnit");
    assert_eq!(unit.kind, bptl_core::UnitKind::Struct);
}
