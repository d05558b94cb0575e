//! The variables script: every variable type, in and out.

use serde_json::json;

use super::super::Script;
use super::{WORK, fetch, one_task};

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
