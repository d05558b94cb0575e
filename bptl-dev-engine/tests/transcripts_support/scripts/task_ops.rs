//! The task_ops script: complete, failure, bpmnError, extendLock, lock, unlock, retries,
//! incidents, history.

use serde_json::json;

use super::super::Script;
use super::{WORK, fetch, json_mapping_error, two_steps};

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
