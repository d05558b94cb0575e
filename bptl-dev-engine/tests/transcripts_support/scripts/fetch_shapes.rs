//! The fetch_shapes script: fetchAndLock request shapes and the answer's shape.

use serde_json::json;

use super::super::Script;
use super::{WORK, fetch, one_task};

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
