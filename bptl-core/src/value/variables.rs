//! [`Variables`]: a task's variables by name, and the [`variables!`](crate::variables) macro.

use std::collections::BTreeMap;

use super::Value;

/// The variables of a task: names to [`Value`]s, ordered by name.
///
/// ```
/// use bptl_core::{variables, Value, Variables};
///
/// let vars: Variables = variables! { "amount": 21, "name": "Ada", "tags": serde_json::json!(["a"]) };
/// assert_eq!(vars.get("amount"), Some(&Value::Integer(21)));
/// assert_eq!(vars.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variables(BTreeMap<String, Value>);

impl Variables {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Set `name`, returning the previous value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.0.insert(name.into(), value.into())
    }

    /// Remove `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    /// Whether `name` is set (possibly to null).
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no variables.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The variables in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// The names in order.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// Add all of `other`, overwriting equal names.
    pub fn extend(&mut self, other: Variables) {
        self.0.extend(other.0);
    }

    /// The variables as a plain JSON object (kinds are lost; see [`Value::to_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// The underlying map.
    pub fn into_inner(self) -> BTreeMap<String, Value> {
        self.0
    }
}

impl From<BTreeMap<String, Value>> for Variables {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Self(map)
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Variables {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl IntoIterator for Variables {
    type Item = (String, Value);
    type IntoIter = std::collections::btree_map::IntoIter<String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Variables {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::collections::btree_map::Iter<'a, String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Build [`Variables`] from `"name": value` pairs; each value goes through `Into<Value>`.
///
/// ```
/// use bptl_core::{variables, Value};
/// let amount = 2.5;
/// let vars = variables! { "doubled": amount * 2.0, "ok": true };
/// assert_eq!(vars.get("doubled"), Some(&Value::Double(5.0)));
/// assert!(variables! {}.is_empty());
/// ```
#[macro_export]
macro_rules! variables {
    () => { $crate::Variables::new() };
    ($($name:literal : $value:expr),+ $(,)?) => {{
        let mut vars = $crate::Variables::new();
        $( vars.insert($name, $value); )+
        vars
    }};
}
