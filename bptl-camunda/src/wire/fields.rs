//! How some fields travel: `null` for an empty collection or `false`, dates in Camunda's
//! format (`yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm`, read with [`DateValue::parse`], written with
//! [`DateValue::to_camunda_string`]).

use std::collections::BTreeMap;

use bptl_core::DateValue;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Reads `null` as the type's default (Camunda sends `null` for empty collections).
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Writes an empty map as `null`, as Camunda does.
pub(crate) fn empty_as_null<S, V>(
    map: &BTreeMap<String, V>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    V: Serialize,
{
    if map.is_empty() {
        serializer.serialize_none()
    } else {
        map.serialize(serializer)
    }
}

/// An optional date in Camunda's format (`null` when absent).
pub(crate) mod optional_date {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        date: &Option<DateValue>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => serializer.serialize_str(&date.to_camunda_string()),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateValue>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => DateValue::parse(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}
