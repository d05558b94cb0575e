//! The typed JSON form of stored variables, as Camunda answers them (plain, deserialised,
//! historic).

use bptl_camunda::wire::TypedValueBody;
use serde_json::{Map, Value, json};

use super::{StoredVariable, Variables};

impl StoredVariable {
    /// The typed JSON form `{"type", "value", "valueInfo"}`.
    pub(crate) fn to_json(&self) -> Value {
        self.typed(self.value.clone(), self.value_info.clone())
    }

    /// As a variable query answers it: deserialised (with generic type names) or not.
    pub(crate) fn to_json_as(&self, deserialize: bool) -> Value {
        if deserialize {
            self.to_json_deserialized(true)
        } else {
            self.to_json()
        }
    }

    /// This variable's type with a value and `valueInfo`, in the client's wire model.
    fn typed(&self, value: Value, info: Map<String, Value>) -> Value {
        TypedValueBody::new(self.type_name, value)
            .with_info(info)
            .into_json()
    }

    /// The typed JSON form as Camunda answers it when asked for deserialised values
    /// (`deserializeValues=true`, the default of the variable and history queries):
    ///
    /// * an `Object` in `application/json` comes as the JSON itself; with
    ///   `generic_type_names` (runtime queries) its `objectTypeName` is the one Jackson
    ///   gives the deserialised value (`java.util.HashMap<java.lang.Object,java.lang.Object>`),
    ///   history keeps the stored name;
    /// * `Json` and `Xml` come as what Jackson makes of Spin's node objects: the node's bean
    ///   properties (`{"array": false, ..., "nodeType": "OBJECT", ...}`) and
    ///   `{"dataFormatName": "application/xml"}`, not the document. That is what Operaton 1.0
    ///   and Camunda 7.24 answer (see tests/fixtures/transcripts/*/variables.json); a client
    ///   that wants the document must ask with `deserializeValues=false`.
    pub(crate) fn to_json_deserialized(&self, generic_type_names: bool) -> Value {
        let text = self.value.as_str();
        let value = match (self.type_name, text) {
            ("Json", Some(text)) => match serde_json::from_str::<Value>(text) {
                Ok(node) => spin_json_bean(&node),
                Err(_) => return self.to_json(),
            },
            ("Xml", Some(_)) => json!({"dataFormatName": "application/xml"}),
            ("Object", Some(text))
                if self
                    .value_info
                    .get("serializationDataFormat")
                    .and_then(Value::as_str)
                    == Some("application/json") =>
            {
                let Ok(parsed) = serde_json::from_str::<Value>(text) else {
                    return self.to_json();
                };
                let mut info = self.value_info.clone();
                if generic_type_names
                    && let Some(name) = info.get("objectTypeName").and_then(Value::as_str)
                {
                    let generic = generic_type_name(name);
                    info.insert("objectTypeName".into(), Value::String(generic));
                }
                return self.typed(parsed, info);
            }
            _ => return self.to_json(),
        };
        self.typed(value, self.value_info.clone())
    }

    /// The typed JSON form of a historic variable: as [`Self::to_json`] or
    /// [`Self::to_json_deserialized`], except that `Bytes` have no value (Operaton 1.0 and
    /// Camunda 7.24 answer `null` for them in `GET /history/variable-instance`, deserialised
    /// or not).
    pub(crate) fn to_history_json(&self, deserialize: bool) -> Value {
        if self.type_name == "Bytes" {
            return self.typed(Value::Null, self.value_info.clone());
        }
        if deserialize {
            self.to_json_deserialized(false)
        } else {
            self.to_json()
        }
    }
}

/// What Jackson serialises of a Spin JSON node: its bean properties.
fn spin_json_bean(node: &Value) -> Value {
    let node_type = match node {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    };
    json!({
        "array": node.is_array(),
        "boolean": node.is_boolean(),
        "dataFormatName": "application/json",
        "nodeType": node_type,
        "null": node.is_null(),
        "number": node.is_number(),
        "object": node.is_object(),
        "string": node.is_string(),
        "value": !(node.is_array() || node.is_object()),
    })
}

/// The type name Jackson gives a deserialised raw collection (`java.util.HashMap` →
/// `java.util.HashMap<java.lang.Object,java.lang.Object>`); other names are kept.
fn generic_type_name(name: &str) -> String {
    const MAPS: &[&str] = &[
        "java.util.HashMap",
        "java.util.LinkedHashMap",
        "java.util.TreeMap",
        "java.util.Map",
    ];
    const LISTS: &[&str] = &[
        "java.util.ArrayList",
        "java.util.LinkedList",
        "java.util.List",
        "java.util.HashSet",
        "java.util.LinkedHashSet",
        "java.util.Set",
    ];
    if MAPS.contains(&name) {
        format!("{name}<java.lang.Object,java.lang.Object>")
    } else if LISTS.contains(&name) {
        format!("{name}<java.lang.Object>")
    } else {
        name.to_string()
    }
}

/// Renders a set of variables as a JSON map name → typed value.
pub(crate) fn variables_to_json(vars: &Variables, deserialize: bool) -> Value {
    let map = vars
        .iter()
        .map(|(name, var)| (name.clone(), var.to_json_as(deserialize)))
        .collect::<Map<String, Value>>();
    Value::Object(map)
}
