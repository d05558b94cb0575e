//! Task mappings against their units' required services: BPTL's messages and more.

use bptl_core::{
    Registry, RequiredService, TaskMapping, TaskMappings, TaskRef, UnitEntry, UnitFuture, UnitKind,
    Variables,
};
use bptl_credentials::{
    CredentialStore, MappingProblem, Problem, Service, validate_all, validate_mapping,
};

fn run(_: TaskRef) -> UnitFuture {
    Box::pin(async { Ok(Variables::new()) })
}

fn unit(path: &'static str, required: &'static [RequiredService]) -> UnitEntry {
    UnitEntry {
        path,
        name: path,
        doc: "",
        required_services: required,
        kind: UnitKind::AsyncFn,
        run,
        file: file!(),
        line: line!(),
    }
}

const fn req(service_type: &'static str, alias: Option<&'static str>) -> RequiredService {
    RequiredService {
        service_type,
        description: "test",
        alias,
    }
}

static ZRC_DRC: [RequiredService; 2] = [req("zrc", Some("zrc")), req("drc", Some("drc"))];
static ZRC_AND_ANY_ZTC: [RequiredService; 2] = [req("zrc", Some("zrc")), req("ztc", None)];
static ANY_API: [RequiredService; 1] = [req("*", Some("api"))];
static TWO_ZRC: [RequiredService; 2] = [req("zrc", Some("zrc")), req("zrc", None)];

fn store() -> CredentialStore {
    let s = |name: &str, ty: &str| {
        Service::new(name, &format!("https://{name}.example/api/"), ty).expect("service")
    };
    CredentialStore::new(
        [
            s("zaken", "zrc"),
            s("zaken2", "zrc"),
            s("documenten", "drc"),
            s("catalogi", "ztc"),
            s("weather", "weather"),
        ],
        [],
    )
    .expect("store")
}

fn messages(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.problem.to_string()).collect()
}

#[test]
fn a_correct_mapping_has_no_problems() {
    let store = store();
    let mapping = TaskMapping::new("t", "u")
        .service("zrc", "zaken")
        .service("drc", "documenten");
    assert!(validate_mapping(&mapping, &unit("u", &ZRC_DRC), &store).is_empty());
    let mapping = TaskMapping::new("t", "u")
        .service("zrc", "zaken")
        .service("catalogus", "catalogi");
    assert!(validate_mapping(&mapping, &unit("u", &ZRC_AND_ANY_ZTC), &store).is_empty());
}

#[test]
fn missing_alias_and_wrong_type() {
    let store = store();
    let mapping = TaskMapping::new("create-zaak", "u").service("drc", "zaken");
    let problems = validate_mapping(&mapping, &unit("u", &ZRC_DRC), &store);
    assert_eq!(
        messages(&problems),
        [
            "Missing service alias 'zrc'",
            "The service for alias 'drc' must be a 'drc' service."
        ]
    );
    assert_eq!(problems[0].topic, "create-zaak");
    assert_eq!(
        problems[0].to_string(),
        "topic 'create-zaak': Missing service alias 'zrc'"
    );
    assert_eq!(
        problems[1].problem,
        MappingProblem::WrongServiceType {
            alias: "drc".into(),
            required: "drc".into(),
            service: "zaken".into(),
            actual: "zrc".into()
        }
    );
}

#[test]
fn unaliased_requirements_need_an_unpinned_service_of_the_type() {
    let store = store();
    // The only zrc service is pinned by the aliased requirement.
    let mapping = TaskMapping::new("t", "u").service("zrc", "zaken");
    assert_eq!(
        messages(&validate_mapping(&mapping, &unit("u", &TWO_ZRC), &store)),
        ["Missing a service of type 'zrc' which is required for this task."]
    );
    let mapping = mapping.service("other", "zaken2");
    assert!(validate_mapping(&mapping, &unit("u", &TWO_ZRC), &store).is_empty());

    let mapping = TaskMapping::new("t", "u").service("zrc", "zaken");
    assert_eq!(
        messages(&validate_mapping(
            &mapping,
            &unit("u", &ZRC_AND_ANY_ZTC),
            &store
        )),
        ["Missing a service of type 'ztc' which is required for this task."]
    );
}

#[test]
fn star_means_any_type() {
    let store = store();
    let mapping = TaskMapping::new("t", "u").service("api", "weather");
    assert!(validate_mapping(&mapping, &unit("u", &ANY_API), &store).is_empty());
    let mapping = TaskMapping::new("t", "u").service("other", "weather");
    assert_eq!(
        messages(&validate_mapping(&mapping, &unit("u", &ANY_API), &store)),
        ["Missing service alias 'api'"]
    );
}

#[test]
fn unknown_and_duplicate_services() {
    let store = store();
    let mapping = TaskMapping::new("t", "u")
        .service("zrc", "zakken")
        .service("drc", "documenten")
        .service("docs", "documenten");
    let problems = validate_mapping(&mapping, &unit("u", &ZRC_DRC), &store);
    assert_eq!(
        messages(&problems),
        [
            "The service 'zakken' for alias 'zrc' is not configured: add [services.zakken] or name a configured service.",
            "The service 'documenten' is used under several aliases ('docs', 'drc'): each service may appear once per task mapping.",
        ]
    );
    assert_eq!(
        MappingProblem::DuplicateAlias {
            alias: "zrc".into()
        }
        .to_string(),
        "The service alias 'zrc' is given twice: each alias may appear once per task mapping."
    );
}

#[test]
fn validate_all_names_each_topic() {
    let store = store();
    let registry = Registry::from_entries([unit("units::a", &ZRC_DRC), unit("units::b", &ANY_API)])
        .expect("registry");
    let mappings = TaskMappings::new([
        TaskMapping::new("good", "units::a")
            .service("zrc", "zaken")
            .service("drc", "documenten"),
        TaskMapping::new("no-api", "units::b"),
        TaskMapping::new("no-unit", "units::missing"),
        TaskMapping::new("wrong", "units::a")
            .service("zrc", "catalogi")
            .service("drc", "documenten")
            .active(false),
    ])
    .expect("mappings");
    let problems: Vec<String> = validate_all(&mappings, &registry, &store)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "topic 'no-api': Missing service alias 'api'",
            "topic 'no-unit': Callback 'units::missing' is not in the provided registry.",
            "topic 'wrong': The service for alias 'zrc' must be a 'zrc' service.",
        ]
    );
}
