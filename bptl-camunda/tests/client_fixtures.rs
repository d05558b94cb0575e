//! The REST reference's examples, read and written by the client types (no engine needed).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bptl_camunda::{ExternalTask, FetchAndLock, FetchSorting, FetchTopic, SortOrder};
use bptl_core::{BaseTask, DateValue, Value, variables};
use serde_json::json;

fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_reference_fetch_and_lock_response_reads_into_external_tasks() {
    let tasks: Vec<ExternalTask> =
        serde_json::from_value(fixture("client_fetch_and_lock_response.json")).unwrap();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task.id, "anExternalTaskId");
    assert_eq!(task.topic_name, "createOrder");
    assert_eq!(task.worker_id.as_deref(), Some("aWorkerId"));
    assert_eq!(task.activity_id.as_deref(), Some("anActivityId"));
    assert_eq!(
        task.activity_instance_id.as_deref(),
        Some("anActivityInstanceId")
    );
    assert_eq!(task.execution_id.as_deref(), Some("anExecutionId"));
    assert_eq!(task.error_message.as_deref(), Some("anErrorMessage"));
    assert_eq!(task.error_details.as_deref(), Some("anErrorDetails"));
    assert_eq!(
        task.process_definition_id.as_deref(),
        Some("aProcessDefinitionId")
    );
    assert_eq!(
        task.process_definition_key.as_deref(),
        Some("aProcessDefinitionKey")
    );
    assert_eq!(
        task.process_instance_id.as_deref(),
        Some("aProcessInstanceId")
    );
    assert_eq!(task.tenant_id, None);
    assert_eq!(task.business_key, None);
    assert_eq!(task.retries, Some(3));
    assert_eq!(task.priority, 4);
    assert!(!task.suspended);
    let expiry = DateValue::parse("2015-10-06T16:34:42.000+0200").unwrap();
    assert_eq!(task.lock_expiration_time, Some(expiry));
    assert_eq!(task.create_time, Some(expiry));
    assert_eq!(
        task.lock_expiration_time
            .map(|d| d.to_camunda_string())
            .as_deref(),
        Some("2015-10-06T16:34:42.000+0200")
    );

    // Through the engine-independent BaseTask view.
    let base: &dyn BaseTask = task;
    assert_eq!(base.engine_type(), "camunda");
    assert_eq!(base.task_id(), "anExternalTaskId");
    assert_eq!(base.topic_name(), "createOrder");
    assert_eq!(base.worker_id(), Some("aWorkerId"));
    assert_eq!(base.retries(), Some(3));
    assert_eq!(base.priority(), 4);
    assert_eq!(base.business_key(), None);
    assert_eq!(base.process_instance_id(), Some("aProcessInstanceId"));
    assert_eq!(base.lock_expires_at(), Some(expiry.timestamp));
    assert_eq!(
        base.get_variables().unwrap(),
        variables! { "orderId": "1234" }
    );
    assert_eq!(
        base.raw_variables(),
        json!({"orderId": {"type": "String", "value": "1234", "valueInfo": {}}})
    );
    assert!(base.downcast_ref::<ExternalTask>().is_some());
    // 2015 is long gone.
    assert!(task.is_expired());
}

#[test]
fn the_reference_fetch_and_lock_request_is_written_exactly() {
    let request = FetchAndLock::new("aWorkerId", 2).use_priority(true).topic(
        FetchTopic::new("createOrder", Duration::from_millis(10_000)).variables(["orderId"]),
    );
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        fixture("client_fetch_and_lock_request.json")
    );
}

#[test]
fn every_fetch_and_lock_field_is_written() {
    let mut topic = FetchTopic::new("t", Duration::from_secs(1))
        .variables(["a", "b"])
        .local_variables(true)
        .business_key("bk")
        .process_definition_key("k")
        .process_definition_key_in(["k1", "k2"])
        .tenant_id_in(["t1"])
        .process_variable("region", json!("north"))
        .include_extension_properties(true);
    topic.process_definition_id = Some("d".into());
    topic.process_definition_id_in = Some(vec!["d1".into()]);
    topic.process_definition_version_tag = Some("v1".into());
    topic.without_tenant_id = true;
    topic.deserialize_values = true;
    let request = FetchAndLock::new("w", 5)
        .use_priority(true)
        .long_poll(Duration::from_secs(20))
        .sort(FetchSorting::create_time(SortOrder::Desc))
        .topic(topic);
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({
            "workerId": "w", "maxTasks": 5, "usePriority": true, "asyncResponseTimeout": 20000,
            "sorting": [{"sortBy": "createTime", "sortOrder": "desc"}],
            "topics": [{
                "topicName": "t", "lockDuration": 1000, "variables": ["a", "b"],
                "localVariables": true, "businessKey": "bk", "processDefinitionId": "d",
                "processDefinitionIdIn": ["d1"], "processDefinitionKey": "k",
                "processDefinitionKeyIn": ["k1", "k2"], "processDefinitionVersionTag": "v1",
                "withoutTenantId": true, "tenantIdIn": ["t1"],
                "processVariables": {"region": "north"}, "deserializeValues": true,
                "includeExtensionProperties": true
            }]
        })
    );
}

#[test]
fn get_external_task_answers_without_variables_read_too() {
    let task = ExternalTask::from_json(json!({
        "activityId": "a", "activityInstanceId": "a:1", "errorMessage": null, "executionId": "e",
        "id": "t1", "lockExpirationTime": null, "processDefinitionId": "d",
        "processDefinitionKey": "k", "processDefinitionVersionTag": null,
        "processInstanceId": "p", "retries": null, "suspended": true, "topicName": "x",
        "workerId": null, "tenantId": null, "priority": 0, "businessKey": "bk",
        "extensionProperties": {"unit": "echo"}
    }))
    .unwrap();
    assert!(task.suspended);
    assert_eq!(task.lock_expiration_time, None);
    assert!(!task.is_expired(), "an unlocked task is not expired");
    assert_eq!(
        task.extension_properties.get("unit").map(String::as_str),
        Some("echo")
    );
    assert!(task.variables.is_empty());
    assert_eq!(task.get_variables().unwrap().len(), 0);
}

#[test]
fn a_bad_variable_is_reported_by_get_variables_with_its_name() {
    let task = ExternalTask::from_json(json!({
        "id": "t1", "topicName": "x",
        "variables": {"amount": {"type": "Integer", "value": "abc", "valueInfo": {}}}
    }))
    .unwrap();
    let err = BaseTask::get_variables(&task).unwrap_err();
    assert_eq!(
        err.to_string(),
        "variable 'amount' has type Integer but its value is a string (\"abc\")"
    );
    // The raw form stays available for task records.
    assert_eq!(task.raw_variables()["amount"]["value"], "abc");
    assert!(matches!(
        task.variables().unwrap_err().name.as_str(),
        "amount"
    ));
    let _ = Value::Null;
}
