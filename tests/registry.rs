//! The registry: explicit registries, duplicates, documentation fallbacks, lookups and the
//! listing.

use bptl::prelude::*;
use bptl::{Registry, RegistryError, TaskRef, UnitEntry, UnitFuture, UnitKind};

#[register]
async fn undocumented(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

fn run_nothing(_task: TaskRef) -> UnitFuture {
    Box::pin(async { Ok(Variables::new()) })
}

fn entry(path: &'static str, file: &'static str, line: u32) -> UnitEntry {
    UnitEntry {
        path,
        name: "x",
        doc: "",
        required_services: &[],
        kind: UnitKind::AsyncFn,
        run: run_nothing,
        file,
        line,
    }
}

#[test]
fn duplicate_paths_name_both_locations() {
    let err = Registry::from_entries([entry("a::x", "src/a.rs", 3), entry("a::x", "src/b.rs", 7)])
        .unwrap_err();
    let RegistryError::Duplicate {
        path,
        first,
        second,
    } = &err
    else {
        panic!("expected a duplicate error, got {err:?}");
    };
    assert_eq!(path, "a::x");
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("src/a.rs:3", "src/b.rs:7")
    );
    assert_eq!(
        err.to_string(),
        "two work units are registered as 'a::x': one at src/a.rs:3, one at src/b.rs:7; rename one of them"
    );
}

#[test]
fn missing_docstring_is_marked() {
    let registry = Registry::global().expect("registry");
    let unit = registry.get("registry::undocumented").expect("registered");
    assert_eq!(unit.doc, "");
    assert_eq!(unit.documentation(), "- docstring missing -");
    assert!(
        registry
            .listing()
            .contains("registry::undocumented\n    - docstring missing -")
    );
}

#[test]
fn explicit_registries_and_lookups() {
    let mut registry = Registry::new();
    assert!(registry.is_empty());
    registry.register(entry("m::b", "f.rs", 1)).expect("first");
    registry.register(entry("m::a", "f.rs", 2)).expect("second");
    assert!(registry.register(entry("m::a", "g.rs", 9)).is_err());
    assert_eq!(registry.len(), 2);
    assert_eq!(
        registry.iter().map(|u| u.path).collect::<Vec<_>>(),
        ["m::a", "m::b"]
    );
    assert!(registry.get("m::c").is_none());
    // "did you mean" candidates share the short name
    assert_eq!(
        Registry::global()
            .expect("global")
            .similar("bptl_dummy::double"),
        ["bptl_dummy::Double"]
    );
}

#[test]
fn an_empty_registry_explains_how_to_link_units() {
    let listing = Registry::new().listing();
    assert!(listing.contains("The registry is empty"), "{listing}");
    assert!(listing.contains("use my_units as _;"), "{listing}");
}
