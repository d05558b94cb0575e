//! `bptl_units::start_process` on a real engine, in the worker's own engine: a parent's task
//! starts a child of a tenant with renamed variables, a file and a business key, and a given
//! version of another child.

use std::time::Duration;

use bptl::prelude::*;
use bptl::{FileValue, TaskMapping, TaskMappings};
use serde_json::json;

use crate::support::*;

const UNIT: &str = "bptl_units::start_process";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_starts_a_tenants_child_and_a_given_version() {
    let Some(rig) = Rig::new() else { return };
    let parent = rig.unique("sp_parent");
    let topic = rig.unique("sp-start");
    let child = rig.unique("sp_child");
    let versioned = rig.unique("sp_versioned");
    rig.deploy(&process(&parent, &[Task::new(&topic)], None))
        .await;
    // The children wait at a task nobody serves, so their variables stay readable.
    let waiting = [Task::new(&rig.unique("sp-nobody"))];
    rig.deploy_tenant(&process(&child, &waiting, None), Some("tenant-a"))
        .await;
    let v1 = rig.deploy(&process(&versioned, &waiting, Some("v1"))).await;
    rig.deploy(&process(&versioned, &waiting, Some("v2"))).await;
    let worker = rig.spawn_worker(
        TaskMappings::new([TaskMapping::new(&topic, UNIT)]).unwrap(),
        config(),
        |b| b,
    );

    let with_tenant = rig
        .start(
            &parent,
            variables! {
                "subprocessDefinition": child.as_str(),
                "subprocessTenantId": "tenant-a",
                "subprocessBusinessKey": "case-17",
                "variablesMapping": json!({"order": "orderId", "doc": "document"}),
                "order": "A-17",
                "doc": Value::File(FileValue {
                    filename: "offer.txt".into(),
                    mime_type: Some("text/plain".into()),
                    encoding: Some("UTF-8".into()),
                    content: Some("offerte ü".as_bytes().to_vec()),
                }),
            },
        )
        .await;
    let with_version = rig
        .start(
            &parent,
            variables! {
                "subprocessDefinition": versioned.as_str(),
                "subprocessDefinitionVersion": 1,
                "variablesMapping": json!({}),
            },
        )
        .await;
    rig.wait_completed(
        &[with_tenant.clone(), with_version.clone()],
        Duration::from_secs(30),
    )
    .await;
    let child_id = started_child(&rig, &with_tenant).await;
    let instance = rig.get(&format!("/process-instance/{child_id}")).await;
    assert_eq!(instance["tenantId"], json!("tenant-a"), "{instance}");
    assert_eq!(instance["businessKey"], json!("case-17"), "{instance}");
    let vars = rig
        .get(&format!("/process-instance/{child_id}/variables"))
        .await;
    assert_eq!(vars["orderId"]["value"], json!("A-17"), "{vars}");
    assert_eq!(vars["document"]["type"], json!("File"), "{vars}");
    assert!(
        vars.get("order").is_none(),
        "only the mapped variables: {vars}"
    );
    let data = rig
        .get_bytes(&format!(
            "/process-instance/{child_id}/variables/document/data"
        ))
        .await;
    assert_eq!(data, "offerte ü".as_bytes());

    let versioned_id = started_child(&rig, &with_version).await;
    let instance = rig.get(&format!("/process-instance/{versioned_id}")).await;
    let v1_id = v1.deployed_process_definitions.keys().next().unwrap();
    assert_eq!(
        instance["definitionId"],
        json!(v1_id),
        "{instance} ({})",
        rig.name
    );
    let vars = rig
        .get(&format!("/process-instance/{versioned_id}/variables"))
        .await;
    assert_eq!(vars, json!({}), "an empty mapping sends nothing");

    rig.cancel(&child_id).await;
    rig.cancel(&versioned_id).await;
    worker.stop().await;
}

/// The `processInstanceId` the unit set on the (ended) parent.
async fn started_child(rig: &Rig, parent: &str) -> String {
    let history = rig.history_typed(parent).await;
    history["processInstanceId"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no processInstanceId on {parent}: {history:?}"))
        .to_owned()
}
