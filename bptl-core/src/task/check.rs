//! Reading a unit's variables: present, not empty, of the expected type; errors that name the
//! variable, what was expected and what was found.

use crate::error::UnitError;
use crate::value::{Value, Variables};

/// Return the value of `name`, or [`UnitError::MissingVariable`]
/// ("The variable {name} is missing or empty.") when it is absent or empty.
///
/// Empty means null, `""`, `[]` and `{}`; booleans and numbers (0 included) are values.
///
/// ```
/// use bptl_core::{check_variable, variables};
/// let vars = variables! { "count": 0, "name": "" };
/// assert!(check_variable(&vars, "count").is_ok());
/// assert_eq!(
///     check_variable(&vars, "name").unwrap_err().to_string(),
///     "The variable name is missing or empty."
/// );
/// ```
pub fn check_variable<'a>(vars: &'a Variables, name: &str) -> Result<&'a Value, UnitError> {
    match vars.get(name) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(UnitError::missing_variable(name)),
    }
}

/// Like [`check_variable`] but accepts empty values; only an absent variable is an error.
pub fn check_variable_allow_empty<'a>(
    vars: &'a Variables,
    name: &str,
) -> Result<&'a Value, UnitError> {
    vars.get(name)
        .ok_or_else(|| UnitError::missing_variable(name))
}

/// Extract `name` as a `T` (anything serde can deserialize): the variable must be present and
/// not empty, and convertible.
///
/// The error names the variable, the expected type and what was found.
///
/// ```
/// use bptl_core::{check_variable_as, variables};
/// let vars = variables! { "amount": 21, "name": "x" };
/// let amount: f64 = check_variable_as(&vars, "amount").unwrap();
/// assert_eq!(amount, 21.0);
/// let err = check_variable_as::<i64>(&vars, "name").unwrap_err();
/// assert_eq!(err.to_string(), "The variable name must be an integer (i64), but it is a String (\"x\").");
/// ```
pub fn check_variable_as<T: serde::de::DeserializeOwned>(
    vars: &Variables,
    name: &str,
) -> Result<T, UnitError> {
    let value = check_variable(vars, name)?;
    value_as(name, value)
}

/// Extract an optional variable as a `T`: `Ok(None)` when absent or empty.
pub fn optional_variable_as<T: serde::de::DeserializeOwned>(
    vars: &Variables,
    name: &str,
) -> Result<Option<T>, UnitError> {
    match vars.get(name) {
        Some(value) if !value.is_empty() => value_as(name, value).map(Some),
        _ => Ok(None),
    }
}

fn value_as<T: serde::de::DeserializeOwned>(name: &str, value: &Value) -> Result<T, UnitError> {
    serde_json::from_value::<T>(value.to_json()).map_err(|_| UnitError::InvalidVariable {
        name: name.to_owned(),
        expected: expected_description::<T>(),
        found: value.describe(),
    })
}

fn expected_description<T>() -> String {
    let full = std::any::type_name::<T>();
    let kind = match full {
        "f64" | "f32" => "a number",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "bool" => "a boolean",
        "alloc::string::String" => "a string",
        _ if full.starts_with("alloc::vec::Vec") => "a list",
        _ if full.starts_with("std::collections::hash::map::HashMap")
            || full.starts_with("alloc::collections::btree::map::BTreeMap") =>
        {
            "a map"
        }
        _ => "a value of type",
    };
    let short = full.rsplit("::").next().unwrap_or(full);
    let short = if full.starts_with("alloc::string::String") {
        "String"
    } else {
        short
    };
    format!("{kind} ({short})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables;

    #[test]
    fn check_variable_rules() {
        let vars = variables! {
            "null": Value::Null, "empty": "", "list": serde_json::json!([]), "map": serde_json::json!({}),
            "zero": 0, "fzero": 0.0, "no": false, "text": "x"
        };
        for name in ["null", "empty", "list", "map", "absent"] {
            let err = check_variable(&vars, name).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("The variable {name} is missing or empty.")
            );
        }
        for name in ["zero", "fzero", "no", "text"] {
            assert!(check_variable(&vars, name).is_ok(), "{name}");
        }
        assert!(check_variable_allow_empty(&vars, "empty").is_ok());
        assert!(check_variable_allow_empty(&vars, "null").is_ok());
        assert!(check_variable_allow_empty(&vars, "absent").is_err());
    }

    #[test]
    fn typed_extraction_errors_name_everything() {
        let vars = variables! { "amount": "lots", "n": 3 };
        let err = check_variable_as::<f64>(&vars, "amount").unwrap_err();
        assert_eq!(
            err.to_string(),
            "The variable amount must be a number (f64), but it is a String (\"lots\")."
        );
        assert_eq!(check_variable_as::<u8>(&vars, "n").ok(), Some(3));
        assert_eq!(
            optional_variable_as::<i64>(&vars, "absent").ok(),
            Some(None)
        );
        let err = check_variable_as::<String>(&vars, "n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "The variable n must be a string (String), but it is an Integer (3)."
        );
    }
}
