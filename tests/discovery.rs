//! Cross-crate discovery: units from bptl-dummy, from another workspace crate that depends on
//! the facade only, from one that names bptl-core under another name, and from this test file
//! all land in the global registry.

use bptl::prelude::*;
use bptl::{Registry, UnitKind};

// The facade names bptl_dummy (feature `dummy`, on in the facade's dev-dependency on itself);
// the test-units crates are linked by naming them.
bptl::link_units!(bptl_test_units, bptl_test_units_renamed);

/// A unit defined right here.
#[register]
async fn local_unit(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(variables! {})
}

#[test]
fn units_from_three_crates_are_found() {
    let registry = Registry::global().expect("no duplicate paths");
    let paths: Vec<&str> = registry.iter().map(|u| u.path).collect();
    for expected in [
        "bptl_dummy::Double",
        "bptl_dummy::bpmn_error",
        "bptl_dummy::dummy",
        "bptl_dummy::echo",
        "bptl_dummy::fail",
        "bptl_dummy::fetch_json",
        "bptl_dummy::sleep",
        "bptl_test_units::greet",
        "discovery::local_unit",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted, "iteration is sorted by path");
}

#[test]
fn entries_carry_name_kind_docs_services_and_location() {
    let registry = Registry::global().expect("registry");
    let greet = registry.get("bptl_test_units::greet").expect("greet");
    assert_eq!(greet.name, "greet");
    assert_eq!(greet.kind, UnitKind::AsyncFn);
    assert!(
        greet
            .documentation()
            .starts_with("Greet someone.\n\n**Required process variables**")
    );
    assert_eq!(greet.required_services.len(), 2);
    assert_eq!(greet.required_services[0].service_type, "zrc");
    assert_eq!(greet.required_services[0].alias, Some("zrc"));
    assert_eq!(greet.required_services[1].service_type, "drc");
    assert_eq!(greet.required_services[1].alias, None);
    assert!(greet.file.ends_with("lib.rs"), "{}", greet.file);

    let double = registry.get("bptl_dummy::Double").expect("Double");
    assert_eq!(double.kind, UnitKind::Struct);
    assert_eq!(
        registry.get("bptl_dummy::dummy").map(|u| u.kind),
        Some(UnitKind::BlockingFn)
    );
}

#[test]
fn listing_shows_paths_indented_docs_and_services() {
    let listing = Registry::global().expect("registry").listing();
    assert!(
        listing.contains(
            "bptl_test_units::greet\n    Greet someone.\n\n    **Required process variables**"
        ),
        "{listing}"
    );
    assert!(listing.contains("    Required services:\n    * zrc (alias 'zrc'): The Zaken API to use\n    * drc: The Documenten API to use"), "{listing}");
    assert!(
        listing.contains("discovery::local_unit\n    A unit defined right here."),
        "{listing}"
    );
}

#[tokio::test]
async fn units_of_a_crate_naming_bptl_core_otherwise_register_and_run() {
    let registry = Registry::global().expect("registry");
    let which = registry
        .get("bptl_test_units_renamed::which_crate")
        .expect("which_crate");
    assert_eq!(which.kind, UnitKind::BlockingFn);
    let count = registry
        .get("bptl_test_units_renamed::CountLetters")
        .expect("CountLetters");
    assert_eq!(count.kind, UnitKind::Struct);
    assert_eq!(count.required_services[0].service_type, "*");
    assert!(
        count
            .documentation()
            .starts_with("Count the letters of `word`.")
    );

    let task = bptl::InMemoryTask::new("count", variables! { "word": "zaak-7" });
    let out = (count.run)(task.into_ref()).await.expect("runs");
    assert_eq!(out.get("letters"), Some(&Value::from(4)));
}
