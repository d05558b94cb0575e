//! Two units with one path in one binary: `Registry::global()` fails at start and names both
//! source locations. (A struct and a function may share a name: they live in different
//! namespaces, but their unit paths collide.)

#![allow(non_snake_case)]

use bptl::prelude::*;
use bptl::{Registry, RegistryError};

/// One.
#[register]
async fn Clash(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

/// Two.
#[register]
struct Clash {
    _task: TaskRef,
}

#[async_trait]
impl WorkUnit for Clash {
    fn new(task: TaskRef) -> Self {
        Self { _task: task }
    }
    async fn perform(&self) -> Result<Variables, UnitError> {
        Ok(Variables::new())
    }
}

#[test]
fn global_registry_refuses_duplicates() {
    let err = Registry::global().unwrap_err();
    let RegistryError::Duplicate {
        path,
        first,
        second,
    } = err
    else {
        panic!("expected a duplicate");
    };
    assert_eq!(path, "registry_duplicate::Clash");
    assert!(first.starts_with("tests/registry_duplicate.rs:"), "{first}");
    assert!(
        second.starts_with("tests/registry_duplicate.rs:"),
        "{second}"
    );
    assert_ne!(first, second);
}
