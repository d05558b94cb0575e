//! The scripted exchanges, grouped by theme. Each script deploys its own processes with keys
//! and topics made unique by the run token (`{{run}}`), so scripts are independent of each
//! other and of earlier runs against the same engine.
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use serde_json::json;

use super::Script;

/// Every script.
pub fn all() -> Vec<Script> {
    vec![fetch_shapes(), task_ops(), variables(), errors()]
}

const WORK: &str = "/external-task/fetchAndLock";

/// A body the engine's JSON mapper (Jackson) refuses. Both Operaton and Camunda answer 400,
/// either `text/plain` with Jackson's message or `InvalidRequestException` with an empty
/// message, and which of the two changes from one start of the engine to the next; the dev
/// engine answers `InvalidRequestException` with a message that says what is wrong.
fn json_mapping_error(step: Option<&mut super::Step>) {
    if let Some(step) = step {
        step.varies_between_starts(&["/contentType", "/text", "/body"], "json-mapping-errors");
    }
}

/// A process `key`: start → one external task on `topic` (priority, one extension property) → end.
pub fn one_task(key: &str, topic: &str, priority: i64) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_{key}" targetNamespace="http://bptl.test/transcripts">
  <bpmn:process id="{key}" name="Transcript {key}" isExecutable="true" camunda:versionTag="v1" camunda:historyTimeToLive="P1D">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="{topic}" camunda:taskPriority="{priority}">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="unit" value="double" />
        </camunda:properties>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// A process `key`: start → `first` (an error boundary catching `REJECT` into `rejected`, and
/// a catch-all boundary to an end event) → `second` → end.
pub fn two_steps(key: &str, first: &str, second: &str, rejected: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_{key}" targetNamespace="http://bptl.test/transcripts">
  <bpmn:error id="err_reject" name="Reject" errorCode="REJECT" />
  <bpmn:process id="{key}" isExecutable="true" camunda:historyTimeToLive="P1D">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
    <bpmn:serviceTask id="first" camunda:type="external" camunda:topic="{first}" />
    <bpmn:boundaryEvent id="caught" attachedToRef="first">
      <bpmn:errorEventDefinition errorRef="err_reject" camunda:errorCodeVariable="caughtCode" camunda:errorMessageVariable="caughtMessage" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="caught" targetRef="rejected" />
    <bpmn:serviceTask id="rejected" camunda:type="external" camunda:topic="{rejected}" />
    <bpmn:sequenceFlow id="f4" sourceRef="rejected" targetRef="endRejected" />
    <bpmn:endEvent id="endRejected" />
    <bpmn:boundaryEvent id="anyError" attachedToRef="first">
      <bpmn:errorEventDefinition />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="anyError" targetRef="endFailed" />
    <bpmn:endEvent id="endFailed" />
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second" />
    <bpmn:serviceTask id="second" camunda:type="external" camunda:topic="{second}" />
    <bpmn:sequenceFlow id="f6" sourceRef="second" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

fn fetch(worker: &str, max: i64, topics: serde_json::Value) -> serde_json::Value {
    json!({"workerId": worker, "maxTasks": max, "topics": topics})
}

/// fetchAndLock: every request shape and the answer's shape.
pub fn fetch_shapes() -> Script {
    let mut s = Script::new(
        "fetch_shapes",
        "fetchAndLock request shapes: filters, variables, priority, sorting, long polling; task queries",
    );
    let a = "tx_fetch_{{run}}";
    let b = "tx_fetch_prio_{{run}}";
    s.deploy(
        "deploy process A (priority 5)",
        a,
        "fetch_a.bpmn",
        one_task(a, a, 5),
    )
    .capture("deploymentA", "/id");
    s.deploy(
        "deploy process B (priority 20)",
        b,
        "fetch_b.bpmn",
        one_task(b, b, 20),
    );
    s.start(
        "start A with business key bk-1",
        a,
        json!({"businessKey": "bk-1", "variables": {
            "amount": {"value": 1, "type": "Integer"},
            "label": {"value": "one", "type": "String"}}}),
        "pi1",
    );
    s.wait("let creation times differ", 20);
    s.start(
        "start A with business key bk-2",
        a,
        json!({"businessKey": "bk-2", "variables": {
            "amount": {"value": 2, "type": "Integer"},
            "label": {"value": "two", "type": "String"}}}),
        "pi2",
    );
    s.wait("let creation times differ", 20);
    s.start(
        "start A without business key",
        a,
        json!({"variables": {"amount": {"value": 3, "type": "Integer"}}}),
        "pi3",
    );
    s.start(
        "start B",
        b,
        json!({"variables": {"amount": {"value": 4, "type": "Integer"}}}),
        "pi4",
    );
    s.post(
        "maxTasks 0 answers an empty list",
        WORK,
        fetch("w1", 0, json!([{"topicName": a, "lockDuration": 10000}])),
    );
    s.post(
        "no topics answers an empty list",
        WORK,
        fetch("w1", 5, json!([])),
    );
    s.post(
        "a topic without tasks answers an empty list",
        WORK,
        fetch(
            "w1",
            5,
            json!([{"topicName": "tx_nothing_{{run}}", "lockDuration": 10000}]),
        ),
    );
    s.post(
        "business key filter and a variable list",
        WORK,
        fetch(
            "w1",
            5,
            json!([{"topicName": a, "lockDuration": 60000, "businessKey": "bk-2", "variables": ["amount"]}]),
        ),
    )
    .capture("t2", "/0/id");
    s.post(
        "processVariables filter with extension properties",
        WORK,
        fetch(
            "w1",
            5,
            json!([{"topicName": a, "lockDuration": 60000, "processVariables": {"label": "one"},
                    "includeExtensionProperties": true}]),
        ),
    )
    .capture("t1", "/0/id");
    s.post(
        "usePriority over two topics: the higher priority first, an empty variable list",
        WORK,
        json!({"workerId": "w2", "maxTasks": 1, "usePriority": true, "topics": [
            {"topicName": a, "lockDuration": 60000, "variables": []},
            {"topicName": b, "lockDuration": 60000, "variables": []}]}),
    )
    .capture("t4", "/0/id");
    s.post(
        "a definition key that does not match",
        WORK,
        fetch(
            "w1",
            5,
            json!([{"topicName": a, "lockDuration": 60000, "processDefinitionKey": "tx_other_{{run}}"}]),
        ),
    );
    s.post(
        "processDefinitionKeyIn with localVariables",
        WORK,
        fetch(
            "w1",
            5,
            json!([{"topicName": a, "lockDuration": 60000, "processDefinitionKeyIn": [a], "localVariables": true}]),
        ),
    )
    .capture("t3", "/0/id");
    s.post(
        "everything is locked now",
        WORK,
        fetch("w1", 5, json!([{"topicName": a, "lockDuration": 60000}, {"topicName": b, "lockDuration": 60000}])),
    );
    s.post(
        "long polling without tasks answers an empty list at the timeout",
        WORK,
        json!({"workerId": "w1", "maxTasks": 1, "asyncResponseTimeout": 300,
               "topics": [{"topicName": a, "lockDuration": 60000}]}),
    );
    s.get(
        "count of the locked tasks of topic A",
        "/external-task/count?topicName=tx_fetch_{{run}}&locked=true",
    );
    s.post("unlock t1", "/external-task/{{t1}}/unlock", json!({}));
    s.post("unlock t2", "/external-task/{{t2}}/unlock", json!({}));
    s.post("unlock t3", "/external-task/{{t3}}/unlock", json!({}));
    s.get(
        "count of the unlocked tasks of topic A",
        "/external-task/count?topicName=tx_fetch_{{run}}&notLocked=true",
    );
    s.post(
        "sorting by createTime descending",
        WORK,
        json!({"workerId": "w3", "maxTasks": 3,
               "sorting": [{"sortBy": "createTime", "sortOrder": "desc"}],
               "topics": [{"topicName": a, "lockDuration": 60000, "variables": ["label"]}]}),
    );
    s.post("unlock t1 again", "/external-task/{{t1}}/unlock", json!({}));
    s.post("unlock t2 again", "/external-task/{{t2}}/unlock", json!({}));
    s.post(
        "sorting by createTime ascending, maxTasks 1",
        WORK,
        json!({"workerId": "w3", "maxTasks": 1,
               "sorting": [{"sortBy": "createTime", "sortOrder": "asc"}],
               "topics": [{"topicName": a, "lockDuration": 60000, "variables": ["label"]}]}),
    );
    s.post(
        "processDefinitionId filter and deserializeValues",
        WORK,
        fetch(
            "w3",
            5,
            json!([{"topicName": a, "lockDuration": 60000, "processDefinitionKey": a,
                    "deserializeValues": true, "withoutTenantId": true}]),
        ),
    );
    s.get("one task by id", "/external-task/{{t4}}");
    s.get(
        "tasks of one instance",
        "/external-task?processInstanceId={{pi1}}",
    );
    s.get(
        "tasks of a worker on topic B",
        "/external-task?workerId=w2&topicName=tx_fetch_prio_{{run}}",
    );
    s.get(
        "count of the tasks of topic A",
        "/external-task/count?topicName=tx_fetch_{{run}}",
    );
    s.get(
        "definition A by key",
        "/process-definition/key/tx_fetch_{{run}}",
    );
    s.get(
        "definitions of key A, latest version",
        "/process-definition?key=tx_fetch_{{run}}&latestVersion=true",
    );
    s.get(
        "count of the definitions of key A",
        "/process-definition/count?key=tx_fetch_{{run}}",
    );
    s.get("deployment A", "/deployment/{{deploymentA}}");
    s.get("instance 1", "/process-instance/{{pi1}}");
    s.get(
        "running instances with business key bk-1",
        "/process-instance?processDefinitionKey=tx_fetch_{{run}}&businessKey=bk-1",
    );
    s.get(
        "historic unfinished instance 1",
        "/history/process-instance?processInstanceId={{pi1}}&unfinished=true",
    );
    s.get(
        "one historic variable of instance 1 by name",
        "/history/variable-instance?processInstanceId={{pi1}}&variableName=label",
    );
    s
}

/// complete, failure, bpmnError, extendLock, lock, unlock, retries, incidents, history.
pub fn task_ops() -> Script {
    let mut s = Script::new(
        "task_ops",
        "complete / failure / bpmnError / extendLock / lock / unlock / retries and what they do to the process",
    );
    let key = "tx_ops_{{run}}";
    let first = "tx_ops_first_{{run}}";
    let second = "tx_ops_second_{{run}}";
    let rejected = "tx_ops_rejected_{{run}}";
    s.deploy(
        "deploy",
        key,
        "ops.bpmn",
        two_steps(key, first, second, rejected),
    );
    s.start(
        "start instance 1",
        key,
        json!({"businessKey": "ops-1"}),
        "pi1",
    );
    s.post(
        "fetch the first task",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": first, "lockDuration": 60000}]),
        ),
    )
    .capture("t1", "/0/id");
    s.post(
        "extendLock by the holder",
        "/external-task/{{t1}}/extendLock",
        json!({"workerId": "w1", "newDuration": 120000}),
    );
    s.post(
        "extendLock by another worker",
        "/external-task/{{t1}}/extendLock",
        json!({"workerId": "w2", "newDuration": 120000}),
    );
    s.post(
        "lock by another worker while locked",
        "/external-task/{{t1}}/lock",
        json!({"workerId": "w2", "lockDuration": 60000}),
    );
    s.post(
        "lock by the holder again",
        "/external-task/{{t1}}/lock",
        json!({"workerId": "w1", "lockDuration": 60000}),
    );
    s.post("unlock", "/external-task/{{t1}}/unlock", json!({}));
    s.get("the unlocked task", "/external-task/{{t1}}");
    s.post(
        "lock by w2 after unlock",
        "/external-task/{{t1}}/lock",
        json!({"workerId": "w2", "lockDuration": 60000}),
    );
    s.post(
        "complete by the old holder",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w1"}),
    );
    s.post(
        "complete by the new holder with variables",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w2",
               "variables": {"result": {"value": "done", "type": "String"}},
               "localVariables": {"scratch": {"value": 1, "type": "Integer"}}}),
    );
    s.post(
        "complete again",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w2"}),
    );
    s.post(
        "fetch the second task",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    )
    .capture("t2", "/0/id");
    s.post(
        "failure with retries left and no timeout",
        "/external-task/{{t2}}/failure",
        json!({"workerId": "w1", "errorMessage": "boom", "errorDetails": "stack trace",
               "retries": 2, "retryTimeout": 0}),
    );
    s.get("the failed task", "/external-task/{{t2}}");
    s.get("its error details", "/external-task/{{t2}}/errorDetails");
    s.post(
        "fetch it again: errorMessage, errorDetails and retries come along",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    );
    s.post(
        "failure with a retry timeout",
        "/external-task/{{t2}}/failure",
        json!({"workerId": "w1", "errorMessage": "later", "retries": 1, "retryTimeout": 60000}),
    );
    s.post(
        "not fetchable during the retry timeout",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    );
    s.post(
        "unlock ends the retry timeout",
        "/external-task/{{t2}}/unlock",
        json!({}),
    );
    s.post(
        "fetchable again",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    );
    s.post(
        "failure with no retries left creates an incident",
        "/external-task/{{t2}}/failure",
        json!({"workerId": "w1", "errorMessage": "gave up", "retries": 0, "retryTimeout": 0}),
    );
    s.get("the incident", "/incident?processInstanceId={{pi1}}")
        .capture("inc1", "/0/id");
    s.post(
        "not fetchable without retries",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    );
    s.get(
        "count with noRetriesLeft",
        "/external-task/count?processInstanceId={{pi1}}&noRetriesLeft=true",
    );
    s.put(
        "set retries resolves the incident",
        "/external-task/{{t2}}/retries",
        json!({"retries": 1}),
    );
    s.get(
        "no incident any more",
        "/incident?processInstanceId={{pi1}}",
    );
    s.post(
        "fetchable again after retries were set",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    );
    s.post(
        "an uncaught BPMN error ends the instance",
        "/external-task/{{t2}}/bpmnError",
        json!({"workerId": "w1", "errorCode": "UNKNOWN", "errorMessage": "nobody catches this"}),
    );
    s.get("the instance is gone", "/process-instance/{{pi1}}");
    s.get(
        "the history of instance 1",
        "/history/process-instance/{{pi1}}",
    );
    s.get(
        "the historic variables of instance 1: complete's local variables too?",
        "/history/variable-instance?processInstanceId={{pi1}}&sortBy=variableName&sortOrder=asc",
    );
    s.start(
        "start instance 2",
        key,
        json!({"variables": {"input": {"value": "x", "type": "String"}}}),
        "pi2",
    );
    s.post(
        "fetch instance 2's first task",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": first, "lockDuration": 60000}]),
        ),
    )
    .capture("t3", "/0/id");
    s.post(
        "a BPMN error by another worker",
        "/external-task/{{t3}}/bpmnError",
        json!({"workerId": "w2", "errorCode": "REJECT"}),
    );
    s.post(
        "a BPMN error caught by the boundary event, with variables",
        "/external-task/{{t3}}/bpmnError",
        json!({"workerId": "w1", "errorCode": "REJECT", "errorMessage": "not like this",
               "variables": {"why": {"value": "policy", "type": "String"}}}),
    );
    s.post(
        "the boundary's path has a task with the error variables",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": rejected, "lockDuration": 60000}]),
        ),
    )
    .capture("t4", "/0/id");
    s.post(
        "failure by another worker",
        "/external-task/{{t4}}/failure",
        json!({"workerId": "w2", "errorMessage": "x", "retries": 1, "retryTimeout": 0}),
    );
    s.delete("cancel instance 2", "/process-instance/{{pi2}}");
    s.post(
        "complete a task of a cancelled instance",
        "/external-task/{{t4}}/complete",
        json!({"workerId": "w1"}),
    );
    s.post(
        "extendLock of a task of a cancelled instance",
        "/external-task/{{t4}}/extendLock",
        json!({"workerId": "w1", "newDuration": 1000}),
    );
    s.get(
        "the history of instance 2",
        "/history/process-instance/{{pi2}}",
    );
    s.get(
        "the historic variables of instance 2",
        "/history/variable-instance?processInstanceId={{pi2}}&sortBy=variableName&sortOrder=asc",
    );
    s.start("start instance 3", key, json!({}), "pi3");
    s.post(
        "fetch with a 1 ms lock",
        WORK,
        fetch("w1", 1, json!([{"topicName": first, "lockDuration": 1}])),
    )
    .capture("t5", "/0/id");
    s.wait("let the lock expire", 50);
    s.post(
        "extendLock of an expired lock",
        "/external-task/{{t5}}/extendLock",
        json!({"workerId": "w1", "newDuration": 60000}),
    );
    s.post(
        "complete by the holder of the expired lock still works",
        "/external-task/{{t5}}/complete",
        json!({"workerId": "w1"}),
    );
    s.post(
        "fetch instance 3's second task with a 1 ms lock",
        WORK,
        fetch("w1", 1, json!([{"topicName": second, "lockDuration": 1}])),
    )
    .capture("t6", "/0/id");
    s.wait("let the lock expire", 50);
    s.post(
        "another worker fetches the expired task",
        WORK,
        fetch(
            "w2",
            1,
            json!([{"topicName": second, "lockDuration": 60000}]),
        ),
    );
    s.post(
        "the first holder cannot complete any more",
        "/external-task/{{t6}}/complete",
        json!({"workerId": "w1"}),
    );
    s.post(
        "the new holder completes",
        "/external-task/{{t6}}/complete",
        json!({"workerId": "w2"}),
    );
    s.get("instance 3 completed", "/history/process-instance/{{pi3}}");
    s.start("start instance 4", key, json!({}), "pi4");
    s.post(
        "fetch instance 4's first task with a 1 ms lock",
        WORK,
        fetch("w1", 1, json!([{"topicName": first, "lockDuration": 1}])),
    )
    .capture("t7", "/0/id");
    s.wait("let the lock expire", 50);
    s.post(
        "another worker locks the task whose lock expired",
        "/external-task/{{t7}}/lock",
        json!({"workerId": "w2", "lockDuration": 60000}),
    );
    s.post("unlock it", "/external-task/{{t7}}/unlock", json!({}));
    s.post(
        "unlock a task that is not locked",
        "/external-task/{{t7}}/unlock",
        json!({}),
    );
    s.post(
        "complete a task that is not locked",
        "/external-task/{{t7}}/complete",
        json!({"workerId": "w1"}),
    );
    s.post(
        "lock it for w1",
        "/external-task/{{t7}}/lock",
        json!({"workerId": "w1", "lockDuration": 60000}),
    );
    s.post(
        "failure without retries",
        "/external-task/{{t7}}/failure",
        json!({"workerId": "w1", "errorMessage": "no retries given"}),
    );
    s.get(
        "the task after a failure without retries",
        "/external-task/{{t7}}",
    );
    s.get("its incident", "/incident?processInstanceId={{pi4}}");
    s.put(
        "set retries to 0 on a task that has none left",
        "/external-task/{{t7}}/retries",
        json!({"retries": 0}),
    );
    s.put(
        "set retries to a string",
        "/external-task/{{t7}}/retries",
        json!({"retries": "three"}),
    );
    json_mapping_error(s.steps.last_mut());
    s.get(
        "tasks without retries of the topic",
        "/external-task?topicName=tx_ops_first_{{run}}&noRetriesLeft=true",
    );
    s.put(
        "give it retries again",
        "/external-task/{{t7}}/retries",
        json!({"retries": 2}),
    );
    s.post(
        "fetch it again",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": first, "lockDuration": 60000}]),
        ),
    );
    s.post(
        "failure with local variables",
        "/external-task/{{t7}}/failure",
        json!({"workerId": "w1", "errorMessage": "again", "retries": 1, "retryTimeout": 0,
               "localVariables": {"attempt": {"value": 2, "type": "Integer"}},
               "variables": {"seen": {"value": true, "type": "Boolean"}}}),
    );
    s.post(
        "fetch with localVariables: only the task's local variables",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": first, "lockDuration": 60000, "localVariables": true}]),
        ),
    )
    .capture("ex7", "/0/executionId");
    s.get(
        "the local variables of the task's execution",
        "/execution/{{ex7}}/localVariables",
    );
    s.get(
        "one local variable of the task's execution",
        "/execution/{{ex7}}/localVariables/attempt",
    );
    s.get(
        "a variable that is not local to the execution",
        "/execution/{{ex7}}/localVariables/seen",
    );
    s.get(
        "the data of a local variable of an unknown execution",
        "/execution/00000000-0000-0000-0000-000000000000/localVariables/attempt/data",
    );
    s.post(
        "unlock for the next fetch",
        "/external-task/{{t7}}/unlock",
        json!({}),
    );
    s.post(
        "fetch with a variable list naming a missing variable, and a numeric processVariables filter",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": first, "lockDuration": 60000, "variables": ["seen", "missing", "attempt"],
                    "processVariables": {"seen": true}}]),
        ),
    );
    s.get(
        "error details of an unknown task",
        "/external-task/00000000-0000-0000-0000-000000000000/errorDetails",
    );
    s
}

/// Every variable type, in and out.
pub fn variables() -> Script {
    let mut s = Script::new(
        "variables",
        "every variable type on start, fetch, complete and in the history",
    );
    let key = "tx_vars_{{run}}";
    s.deploy("deploy", key, "vars.bpmn", one_task(key, key, 0));
    s.start(
        "start with the basic types",
        key,
        json!({"variables": {
            "aString": {"value": "text", "type": "String"},
            "aBoolean": {"value": true, "type": "Boolean"},
            "aShort": {"value": 7, "type": "Short"},
            "anInteger": {"value": 42, "type": "Integer"},
            "aLong": {"value": 1_099_511_627_776_i64, "type": "Long"},
            "aDouble": {"value": 3.25, "type": "Double"},
            "aDate": {"value": "2015-10-06T16:34:42.000+0200", "type": "Date"},
            "someBytes": {"value": "aGVsbG8=", "type": "Bytes"},
            "aNull": {"value": null, "type": "Null"},
            "lowerCaseType": {"value": 5, "type": "integer"},
            "untyped": {"value": 9},
            "untypedText": {"value": "free"},
            "doubleFromInteger": {"value": 5, "type": "Double"},
            "longFromSmall": {"value": 5, "type": "Long"},
            "stringNull": {"value": null, "type": "String"},
            "transientOne": {"value": "gone", "type": "String", "valueInfo": {"transient": true}}
        }}),
        "pi1",
    );
    s.start(
        "start with the serialised types",
        key,
        json!({"variables": {
            "aJson": {"value": "{\"a\":1,\"b\":[true,null]}", "type": "Json"},
            "anXml": {"value": "<order id=\"1\"/>", "type": "Xml"},
            "anObject": {"value": "{\"k\":\"v\"}", "type": "Object",
                         "valueInfo": {"objectTypeName": "java.util.HashMap",
                                       "serializationDataFormat": "application/json"}},
            "aFile": {"value": "aGVsbG8gZmlsZQ==", "type": "File",
                      "valueInfo": {"filename": "hello.txt", "mimeType": "text/plain", "encoding": "UTF-8"}}
        }}),
        "pi2",
    );
    s.post(
        "fetch the basic types",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": key, "lockDuration": 60000, "processVariables": {"aString": "text"}}]),
        ),
    )
    .capture("t1", "/0/id");
    s.post(
        "fetch the serialised types",
        WORK,
        fetch("w1", 1, json!([{"topicName": key, "lockDuration": 60000}])),
    )
    .capture("t2", "/0/id");
    s.post(
        "unlock the serialised task",
        "/external-task/{{t2}}/unlock",
        json!({}),
    );
    s.post(
        "fetch the serialised types deserialised",
        WORK,
        fetch(
            "w1",
            1,
            json!([{"topicName": key, "lockDuration": 60000, "deserializeValues": true}]),
        ),
    );
    s.get(
        "the instance's variables",
        "/process-instance/{{pi2}}/variables",
    );
    s.get(
        "the instance's variables, not deserialised",
        "/process-instance/{{pi2}}/variables?deserializeValues=false",
    );
    s.get(
        "one variable",
        "/process-instance/{{pi2}}/variables/anObject?deserializeValue=false",
    );
    s.get(
        "one variable, deserialised by default",
        "/process-instance/{{pi2}}/variables/anObject",
    );
    s.get(
        "a Json variable, deserialised by default",
        "/process-instance/{{pi2}}/variables/aJson",
    );
    s.get(
        "the file's content",
        "/process-instance/{{pi2}}/variables/aFile/data",
    );
    s.get(
        "the variables of the basic instance",
        "/process-instance/{{pi1}}/variables",
    );
    s.post(
        "complete with every type",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w1", "variables": {
            "outString": {"value": "ok", "type": "String"},
            "outBoolean": {"value": false, "type": "Boolean"},
            "outShort": {"value": -3, "type": "Short"},
            "outInteger": {"value": -2147483648_i64, "type": "Integer"},
            "outLong": {"value": -9_007_199_254_740_993_i64, "type": "Long"},
            "outDouble": {"value": 0.1, "type": "Double"},
            "outDate": {"value": "2024-02-29T23:59:59.999-0130", "type": "Date"},
            "outBytes": {"value": "AAEC/w==", "type": "Bytes"},
            "outNull": {"value": null, "type": "Null"},
            "outJson": {"value": "[1,2,{\"x\":\"y\"}]", "type": "Json"},
            "outXml": {"value": "<r/>", "type": "Xml"},
            "anInteger": {"value": 43, "type": "Integer"}
        }}),
    );
    s.get(
        "the historic variables",
        "/history/variable-instance?processInstanceId={{pi1}}&sortBy=variableName&sortOrder=asc",
    )
    .capture("histBytes", "/12/id");
    s.get(
        "the content of a historic Bytes variable",
        "/history/variable-instance/{{histBytes}}/data",
    );
    s.get(
        "the historic variables, not deserialised",
        "/history/variable-instance?processInstanceId={{pi1}}&sortBy=variableName&sortOrder=asc&deserializeValues=false",
    );
    s.post(
        "complete the serialised instance with a typed null and a string number",
        "/external-task/{{t2}}/complete",
        json!({"workerId": "w1", "variables": {
            "nullInteger": {"value": null, "type": "Integer"},
            "numberAsString": {"value": "12", "type": "Integer"},
            "boolAsString": {"value": "true", "type": "Boolean"}
        }}),
    );
    s.get(
        "the historic variables of the serialised instance",
        "/history/variable-instance?processInstanceId={{pi2}}&sortBy=variableName&sortOrder=asc",
    )
    .capture("histFile", "/0/id");
    s.get(
        "the content of a historic File variable",
        "/history/variable-instance/{{histFile}}/data",
    );
    s
}

/// Camunda's error answers.
pub fn errors() -> Script {
    let mut s = Script::new(
        "errors",
        "error answers: unknown ids, missing fields, bad values, bad type names, bad dates",
    );
    let key = "tx_err_{{run}}";
    s.deploy("deploy", key, "err.bpmn", one_task(key, key, 0));
    s.start("start", key, json!({}), "pi1");
    s.post(
        "fetch",
        WORK,
        fetch("w1", 1, json!([{"topicName": key, "lockDuration": 60000}])),
    )
    .capture("t1", "/0/id");
    // fetchAndLock
    s.post(
        "fetchAndLock without workerId",
        WORK,
        json!({"maxTasks": 1, "topics": [{"topicName": key, "lockDuration": 1000}]}),
    );
    s.post(
        "fetchAndLock without maxTasks",
        WORK,
        json!({"workerId": "w1", "topics": [{"topicName": key, "lockDuration": 1000}]}),
    );
    s.post(
        "fetchAndLock without topicName",
        WORK,
        fetch("w1", 1, json!([{"lockDuration": 1000}])),
    );
    s.post(
        "fetchAndLock without lockDuration",
        WORK,
        fetch("w1", 1, json!([{"topicName": key}])),
    );
    s.post(
        "fetchAndLock with lockDuration 0",
        WORK,
        fetch("w1", 1, json!([{"topicName": key, "lockDuration": 0}])),
    );
    s.post(
        "fetchAndLock with an asyncResponseTimeout over 30 minutes",
        WORK,
        json!({"workerId": "w1", "maxTasks": 1, "asyncResponseTimeout": 1_800_001,
               "topics": [{"topicName": key, "lockDuration": 1000}]}),
    );
    s.post(
        "fetchAndLock sorting by an unknown field",
        WORK,
        json!({"workerId": "w1", "maxTasks": 1, "sorting": [{"sortBy": "priority", "sortOrder": "asc"}],
               "topics": [{"topicName": key, "lockDuration": 1000}]}),
    );
    s.post(
        "fetchAndLock sorting in an unknown order",
        WORK,
        json!({"workerId": "w1", "maxTasks": 1, "sorting": [{"sortBy": "createTime", "sortOrder": "up"}],
               "topics": [{"topicName": key, "lockDuration": 1000}]}),
    );
    s.post_raw("fetchAndLock with malformed JSON", WORK, "{\"workerId\": ");
    json_mapping_error(s.steps.last_mut());
    s.post(
        "fetchAndLock with a string maxTasks",
        WORK,
        json!({"workerId": "w1", "maxTasks": "many", "topics": []}),
    );
    json_mapping_error(s.steps.last_mut());
    // unknown ids
    let unknown = "00000000-0000-0000-0000-000000000000";
    for (label, op, body) in [
        (
            "complete an unknown task",
            "complete",
            json!({"workerId": "w1"}),
        ),
        (
            "failure of an unknown task",
            "failure",
            json!({"workerId": "w1", "errorMessage": "x", "retries": 0, "retryTimeout": 0}),
        ),
        (
            "bpmnError of an unknown task",
            "bpmnError",
            json!({"workerId": "w1", "errorCode": "E"}),
        ),
        (
            "extendLock of an unknown task",
            "extendLock",
            json!({"workerId": "w1", "newDuration": 1000}),
        ),
        (
            "lock an unknown task",
            "lock",
            json!({"workerId": "w1", "lockDuration": 1000}),
        ),
        ("unlock an unknown task", "unlock", json!({})),
    ] {
        s.post(label, &format!("/external-task/{unknown}/{op}"), body);
    }
    s.put(
        "set retries of an unknown task",
        &format!("/external-task/{unknown}/retries"),
        json!({"retries": 1}),
    );
    s.get("get an unknown task", &format!("/external-task/{unknown}"));
    s.post(
        "start an unknown process",
        "/process-definition/key/tx_unknown_{{run}}/start",
        json!({}),
    );
    s.get(
        "get an unknown instance",
        &format!("/process-instance/{unknown}"),
    );
    // missing and bad fields of task operations
    s.post(
        "complete without workerId",
        "/external-task/{{t1}}/complete",
        json!({}),
    );
    s.post(
        "failure without workerId",
        "/external-task/{{t1}}/failure",
        json!({"errorMessage": "x", "retries": 1, "retryTimeout": 0}),
    );
    s.post(
        "failure with negative retries",
        "/external-task/{{t1}}/failure",
        json!({"workerId": "w1", "errorMessage": "x", "retries": -1, "retryTimeout": 0}),
    );
    s.post(
        "failure with a negative retry timeout",
        "/external-task/{{t1}}/failure",
        json!({"workerId": "w1", "errorMessage": "x", "retries": 1, "retryTimeout": -5}),
    );
    s.post(
        "bpmnError without errorCode",
        "/external-task/{{t1}}/bpmnError",
        json!({"workerId": "w1"}),
    );
    s.post(
        "bpmnError without workerId",
        "/external-task/{{t1}}/bpmnError",
        json!({"errorCode": "E"}),
    );
    s.post(
        "extendLock without workerId",
        "/external-task/{{t1}}/extendLock",
        json!({"newDuration": 1000}),
    );
    s.post(
        "extendLock with newDuration 0",
        "/external-task/{{t1}}/extendLock",
        json!({"workerId": "w1", "newDuration": 0}),
    );
    s.post(
        "extendLock without newDuration",
        "/external-task/{{t1}}/extendLock",
        json!({"workerId": "w1"}),
    );
    s.post(
        "lock without workerId",
        "/external-task/{{t1}}/lock",
        json!({"lockDuration": 1000}),
    );
    s.post(
        "lock with lockDuration 0",
        "/external-task/{{t1}}/lock",
        json!({"workerId": "w1", "lockDuration": 0}),
    );
    s.put(
        "set negative retries",
        "/external-task/{{t1}}/retries",
        json!({"retries": -1}),
    );
    s.put(
        "set retries to null",
        "/external-task/{{t1}}/retries",
        json!({"retries": null}),
    );
    s.put(
        "set retries without a body field",
        "/external-task/{{t1}}/retries",
        json!({}),
    );
    // bad variables
    let bad: &[(&str, serde_json::Value)] = &[
        (
            "an upper-case type name",
            json!({"value": 1, "type": "INTEGER"}),
        ),
        (
            "an unknown type name",
            json!({"value": 1, "type": "Decimal"}),
        ),
        (
            "a text as Integer",
            json!({"value": "abc", "type": "Integer"}),
        ),
        (
            "an Integer out of range",
            json!({"value": 2_147_483_648_i64, "type": "Integer"}),
        ),
        (
            "a Short out of range",
            json!({"value": 40000, "type": "Short"}),
        ),
        (
            "a fraction as Integer",
            json!({"value": 1.5, "type": "Integer"}),
        ),
        ("a text as Double", json!({"value": "pi", "type": "Double"})),
        (
            "a text as Boolean",
            json!({"value": "yes", "type": "Boolean"}),
        ),
        (
            "an RFC 3339 date",
            json!({"value": "2015-10-06T16:34:42+02:00", "type": "Date"}),
        ),
        (
            "a date without milliseconds",
            json!({"value": "2015-10-06T16:34:42+0200", "type": "Date"}),
        ),
        (
            "a date with a Z",
            json!({"value": "2015-10-06T16:34:42.000Z", "type": "Date"}),
        ),
        (
            "the 30th of February",
            json!({"value": "2015-02-30T16:34:42.000+0200", "type": "Date"}),
        ),
        (
            "month 13",
            json!({"value": "2015-13-06T16:34:42.000+0200", "type": "Date"}),
        ),
        (
            "a date that is no date",
            json!({"value": "tomorrow", "type": "Date"}),
        ),
        (
            "a number as Date",
            json!({"value": 1_444_142_082_000_i64, "type": "Date"}),
        ),
        (
            "Bytes that are not base64",
            json!({"value": "not base64!", "type": "Bytes"}),
        ),
        (
            "a File without valueInfo",
            json!({"value": "aGVsbG8=", "type": "File"}),
        ),
        (
            "a File without filename",
            json!({"value": "aGVsbG8=", "type": "File", "valueInfo": {"mimeType": "text/plain"}}),
        ),
        (
            "an Object without objectTypeName",
            json!({"value": "{}", "type": "Object",
            "valueInfo": {"serializationDataFormat": "application/json"}}),
        ),
        (
            "a Json that is not a string",
            json!({"value": {"a": 1}, "type": "Json"}),
        ),
        (
            "a Json string that is not JSON",
            json!({"value": "{not json", "type": "Json"}),
        ),
        ("a variable that is not an object", json!(42)),
    ];
    for (what, var) in bad {
        s.post(
            &format!("start with {what}"),
            "/process-definition/key/tx_err_{{run}}/start",
            json!({"variables": {"bad": var}}),
        );
        if !var.is_object() {
            json_mapping_error(s.steps.last_mut());
        }
    }
    for (what, var) in [
        (
            "an upper-case type name",
            json!({"value": 1, "type": "INTEGER"}),
        ),
        (
            "a text as Integer",
            json!({"value": "abc", "type": "Integer"}),
        ),
        (
            "an RFC 3339 date",
            json!({"value": "2015-10-06T16:34:42+02:00", "type": "Date"}),
        ),
        ("a variable that is not an object", json!("plain")),
        (
            "an unknown type name",
            json!({"value": 1, "type": "Decimal"}),
        ),
        (
            "an Object without objectTypeName",
            json!({"value": "{}", "type": "Object",
            "valueInfo": {"serializationDataFormat": "application/json"}}),
        ),
        (
            "a File without valueInfo",
            json!({"value": "aGVsbG8=", "type": "File"}),
        ),
    ] {
        s.post(
            &format!("complete with {what}"),
            "/external-task/{{t1}}/complete",
            json!({"workerId": "w1", "variables": {"bad": var}}),
        );
        if !var.is_object() {
            json_mapping_error(s.steps.last_mut());
        }
    }
    s.post(
        "complete with variables that are not a map",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w1", "variables": [1, 2]}),
    );
    json_mapping_error(s.steps.last_mut());
    s.post(
        "failure with a bad variable",
        "/external-task/{{t1}}/failure",
        json!({"workerId": "w1", "errorMessage": "x", "retries": 1, "retryTimeout": 0,
               "variables": {"bad": {"value": "abc", "type": "Long"}}}),
    );
    s.post(
        "bpmnError with a bad variable",
        "/external-task/{{t1}}/bpmnError",
        json!({"workerId": "w1", "errorCode": "E",
               "variables": {"bad": {"value": "abc", "type": "Short"}}}),
    );
    s.post(
        "complete with a bad local variable",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w1", "localVariables": {"bad": {"value": "x", "type": "Double"}}}),
    );
    s.get("the task survived all of it", "/external-task/{{t1}}");
    s.get(
        "error details of a task that never failed",
        "/external-task/{{t1}}/errorDetails",
    );
    s.get(
        "an unknown variable of an instance",
        "/process-instance/{{pi1}}/variables/nothing",
    );
    s.get(
        "an unknown process definition key",
        "/process-definition/key/tx_unknown_{{run}}",
    );
    s.delete(
        "delete an unknown instance",
        &format!("/process-instance/{unknown}"),
    );
    s.get(
        "the variables of an unknown instance",
        &format!("/process-instance/{unknown}/variables"),
    );
    s.get(
        "an unknown history instance",
        &format!("/history/process-instance/{unknown}"),
    );
    s.start(
        "dates are parsed leniently: month 13 and the 30th of February",
        key,
        json!({"variables": {
            "month13": {"value": "2015-13-06T16:34:42.000+0200", "type": "Date"},
            "feb30": {"value": "2015-02-30T16:34:42.000+0200", "type": "Date"},
            "hour25": {"value": "2015-10-06T25:00:00.000+0000", "type": "Date"},
            "farOffset": {"value": "2015-10-06T16:34:42.123+1130", "type": "Date"}
        }}),
        "lenient",
    );
    s.get(
        "the dates as stored",
        "/process-instance/{{lenient}}/variables",
    );
    for (i, (what, date)) in [
        (
            "trailing text after a date",
            "2015-10-06T16:34:42.000+0200 and more",
        ),
        ("one-digit fields", "2015-1-6T1:2:3.4+0200"),
        ("an offset with a colon", "2015-10-06T16:34:42.000+02:00"),
        ("a GMT offset", "2015-10-06T16:34:42.000GMT+02:00"),
    ]
    .into_iter()
    .enumerate()
    {
        s.start(
            &format!("a date with {what}"),
            key,
            json!({"variables": {"d": {"value": date, "type": "Date"}}}),
            &format!("probe{i}"),
        );
        s.get(
            &format!("the date with {what} as stored"),
            &format!("/process-instance/{{{{probe{i}}}}}/variables/d"),
        );
    }
    s.post(
        "complete it properly",
        "/external-task/{{t1}}/complete",
        json!({"workerId": "w1"}),
    );
    s
}
