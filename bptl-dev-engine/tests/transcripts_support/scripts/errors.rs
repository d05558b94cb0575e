//! The errors script: Camunda's error answers.

use serde_json::json;

use super::super::Script;
use super::{WORK, fetch, json_mapping_error, one_task};

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
