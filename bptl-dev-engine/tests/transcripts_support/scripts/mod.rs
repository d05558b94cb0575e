//! The scripted exchanges, grouped by theme. Each script deploys its own processes with keys
//! and topics made unique by the run token (`{{run}}`), so scripts are independent of each
//! other and of earlier runs against the same engine.
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use serde_json::json;

use super::Script;

mod errors;
mod fetch_shapes;
mod task_ops;
mod variables;

pub use errors::errors;
pub use fetch_shapes::fetch_shapes;
pub use task_ops::task_ops;
pub use variables::variables;

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
