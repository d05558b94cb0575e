//! Camunda's typed variables as the dev engine stores them.
//!
//! Every value travels as `{"value": ..., "type": "...", "valueInfo": {...}}`. The engine
//! validates a value against its type the way Camunda's REST layer does, stores it
//! normalised, and answers with the same type it was given.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod date;
mod parse;
mod render;

pub(crate) use date::parse_camunda_date;
pub(crate) use parse::{VariableContext, parse_variables};
pub(crate) use render::variables_to_json;

/// A variable as stored by the dev engine.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredVariable {
    /// The capitalised type name (`String`, `Integer`, ...).
    pub type_name: &'static str,
    /// The value as it appears in responses (`null` for `File`).
    pub value: Value,
    /// The `valueInfo` object.
    pub value_info: Map<String, Value>,
    /// Raw content of `File` (and `Bytes`) variables.
    pub data: Option<Vec<u8>>,
}

impl StoredVariable {
    /// Whether the stored value equals a plain JSON value (the `processVariables` filter).
    pub(crate) fn value_equals(&self, other: &Value) -> bool {
        match (&self.value, other) {
            (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            (a, b) => a == b,
        }
    }
}

/// A set of variables by name, ordered by name.
pub(crate) type Variables = BTreeMap<String, StoredVariable>;
