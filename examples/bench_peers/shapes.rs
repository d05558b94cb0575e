//! The workload of the benchmarks (`examples/bench.rs` and `examples/bench_peers`): the
//! process, and the variables each instance starts with (the task shapes).

use serde_json::{Value, json};

/// The process of every benchmark: start → external task (topic `bench`) → end.
pub(crate) const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="bench">
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Noop" camunda:type="external" camunda:topic="bench"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Noop" />
    <bpmn:sequenceFlow id="F2" sourceRef="Noop" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>"#;

/// The start variables of a shape.
pub(crate) fn start_variables(shape: &str) -> Result<Value, String> {
    match shape {
        "none" => Ok(json!({})),
        "realistic" => {
            let notes = "Customer asked for delivery before the holidays; call ahead. ".repeat(22);
            let address = json!({"street": "Keizersgracht", "number": 123, "postcode": "1015 CJ",
                "city": "Amsterdam", "country": "NL", "floor": 3, "instructions": "ring twice"});
            let lines: Vec<Value> = (1..=4)
                .map(|i| json!({"sku": format!("SKU-{i:05}"), "quantity": i, "price": 9.95 * f64::from(i)}))
                .collect();
            Ok(json!({
                "customerName": {"value": "Johanna van der Berg-Smit", "type": "String"},
                "orderId": {"value": "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b", "type": "String"},
                "amount": {"value": 1234.56, "type": "Double"},
                "quantity": {"value": 42, "type": "Integer"},
                "customerNumber": {"value": 9_007_199_254_740_i64, "type": "Long"},
                "approved": {"value": true, "type": "Boolean"},
                "dueDate": {"value": "2026-12-24T17:00:00.000+0100", "type": "Date"},
                "notes": {"value": notes.trim_end(), "type": "String"},
                "address": {"value": address.to_string(), "type": "Json"},
                "lines": {"value": Value::Array(lines).to_string(), "type": "Json"},
            }))
        }
        other => Err(format!("unknown shape {other}: use none or realistic")),
    }
}
