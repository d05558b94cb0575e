//! Reading the file model from TOML with serde while collecting every problem, not only the
//! first: a deserializer over the parsed table that names each value's key.
//!
//! Unknown keys of a struct are listed (with "did you mean") and hidden from it, so the model's
//! `deny_unknown_fields` guards other readers only. A value that fails is listed at its key and
//! left out on the next attempt (its field then takes its default), until the model reads: one
//! attempt per bad value. Values from `BPTL_*` variables are text, parsed as the field's type.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use toml::Value;

use super::ConfigError;
use bptl_core::suggest::{did_you_mean, did_you_mean_text};

/// Read `T` from `table`; `env` maps the paths of overridden values to their variables. Every
/// problem is added to `problems`; `None` when the model could not be read at all.
pub(super) fn read<T: DeserializeOwned>(
    table: &toml::Table,
    env: &BTreeMap<String, String>,
    problems: &mut Vec<ConfigError>,
) -> Option<T> {
    let root = Value::Table(table.clone());
    let mut skip = BTreeSet::new();
    let mut failed = Vec::new();
    let unknown = RefCell::new(Vec::new());
    loop {
        let ctx = Context {
            skip: &skip,
            env,
            unknown: &unknown,
        };
        let result = T::deserialize(Node::new(&root, String::new(), &ctx));
        match result {
            Ok(value) => {
                problems.extend(unknown.into_inner());
                problems.extend(failed);
                return Some(value);
            }
            Err(error) => {
                let (path, key) = error.at.unwrap_or_default();
                failed.push(ConfigError::new(key, error.message));
                if path.is_empty() || !skip.insert(path) {
                    problems.extend(unknown.into_inner());
                    problems.extend(failed);
                    return None;
                }
            }
        }
    }
}

struct Context<'a> {
    skip: &'a BTreeSet<String>,
    env: &'a BTreeMap<String, String>,
    unknown: &'a RefCell<Vec<ConfigError>>,
}

/// A problem while reading: the value's path and the key to show (the variable for an
/// override), once known.
#[derive(Debug)]
pub(super) struct Error {
    at: Option<(String, String)>,
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error {
            at: None,
            message: message.to_string(),
        }
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let kind = match unexpected {
            de::Unexpected::Bool(_) => "boolean".to_owned(),
            de::Unexpected::Signed(_) | de::Unexpected::Unsigned(_) => "integer".to_owned(),
            de::Unexpected::Float(_) => "float".to_owned(),
            de::Unexpected::Str(_) => "string".to_owned(),
            de::Unexpected::Map => "table".to_owned(),
            de::Unexpected::Seq => "array".to_owned(),
            other => other.to_string(),
        };
        Self::custom(format!("must be {expected}, not {kind}"))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        match unexpected {
            de::Unexpected::Signed(n) => Self::custom(format!("{n} is out of range")),
            de::Unexpected::Unsigned(n) => Self::custom(format!("{n} is out of range")),
            other => Self::custom(format!("{other} is not {expected}")),
        }
    }
}

/// One value of the file and its path (`engine.max_tasks`, `task_mappings[1].topic`).
struct Node<'a> {
    value: &'a Value,
    path: String,
    ctx: &'a Context<'a>,
}

impl<'a> Node<'a> {
    fn new(value: &'a Value, path: String, ctx: &'a Context<'a>) -> Self {
        Self { value, path, ctx }
    }

    /// The key problems name: the variable for an override, else the path.
    fn key(&self) -> String {
        self.ctx
            .env
            .get(&self.path)
            .cloned()
            .unwrap_or_else(|| self.path.clone())
    }

    fn locate(&self, mut error: Error) -> Error {
        if error.at.is_none() {
            error.at = Some((self.path.clone(), self.key()));
        }
        error
    }

    /// The text of an override, which is parsed as the type the field asks for.
    fn env_text(&self) -> Option<&'a str> {
        match self.value {
            Value::String(s) if self.ctx.env.contains_key(&self.path) => Some(s),
            _ => None,
        }
    }

    fn not(&self, expected: &str) -> Error {
        self.locate(de::Error::custom(format!(
            "must be {expected}, not {}",
            self.value.type_str()
        )))
    }

    fn integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(text) = self.env_text() {
            return match text.trim().parse::<i64>() {
                Ok(n) => visitor.visit_i64(n).map_err(|e| self.locate(e)),
                Err(_) => {
                    Err(self.locate(de::Error::custom(format!("'{text}' is not a whole number"))))
                }
            };
        }
        match self.value {
            Value::Integer(n) => visitor.visit_i64(*n).map_err(|e| self.locate(e)),
            _ => Err(self.not("a whole number")),
        }
    }

    fn entries(&self, table: &'a toml::Table, known: Option<&[&str]>) -> Entries<'a> {
        let mut items = Vec::new();
        for (key, value) in table {
            let path = join(&self.path, key);
            if let Some(known) = known
                && !known.contains(&key.as_str())
            {
                let hint = did_you_mean_text(&did_you_mean(key, known.iter().copied()))
                    .unwrap_or_else(|| format!("the keys here are: {}", known.join(", ")));
                let problem = ConfigError::new(path.clone(), format!("unknown key; {hint}"));
                let mut unknown = self.ctx.unknown.borrow_mut();
                if !unknown.contains(&problem) {
                    unknown.push(problem);
                }
                continue;
            }
            if !self.ctx.skip.contains(&path) {
                items.push((key.as_str(), Node::new(value, path, self.ctx)));
            }
        }
        Entries {
            items: items.into_iter(),
            next: None,
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

macro_rules! integers {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.integer(visitor)
        })*
    };
}

impl<'de, 'a> de::Deserializer<'de> for Node<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match self.value {
            Value::String(s) => visitor.visit_str(s),
            Value::Integer(n) => visitor.visit_i64(*n),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::Datetime(d) => visitor.visit_string(d.to_string()),
            Value::Array(items) => {
                let items: Vec<Node<'a>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Node::new(v, format!("{}[{i}]", self.path), self.ctx))
                    .filter(|n| !self.ctx.skip.contains(&n.path))
                    .collect();
                visitor.visit_seq(Items(items.into_iter()))
            }
            Value::Table(t) => visitor.visit_map(self.entries(t, None)),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = match (self.env_text(), self.value) {
            (Some(text), _) => match text.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(self.locate(de::Error::custom(format!(
                        "'{text}' is not a boolean: write true or false"
                    ))));
                }
            },
            (None, Value::Boolean(b)) => *b,
            _ => return Err(self.not("true or false")),
        };
        visitor.visit_bool(value).map_err(|e| self.locate(e))
    }

    integers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
              deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let number = match (self.env_text(), self.value) {
            (Some(text), _) => text.trim().parse::<f64>().ok(),
            (None, Value::Float(f)) => Some(*f),
            (None, Value::Integer(n)) => Some(*n as f64),
            _ => None,
        };
        match number {
            Some(f) => visitor.visit_f64(f).map_err(|e| self.locate(e)),
            None => Err(self.not("a number")),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Table(t) => {
                let entries = self.entries(t, Some(fields));
                visitor.visit_map(entries).map_err(|e| self.locate(e))
            }
            _ => Err(self.not("a table")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Table(_) => self.deserialize_any(visitor),
            _ => Err(self.not("a table")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(_) => self.deserialize_any(visitor),
            _ => Err(self.not("a list")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e| self.locate(e)),
            _ => Err(self.not("a string")),
        }
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct
        identifier ignored_any
    }
}

/// A table's entries (unknown and skipped keys left out).
struct Entries<'a> {
    items: std::vec::IntoIter<(&'a str, Node<'a>)>,
    next: Option<Node<'a>>,
}

impl<'de, 'a> de::MapAccess<'de> for Entries<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, node)) = self.items.next() else {
            return Ok(None);
        };
        self.next = Some(node);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let node = self
            .next
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value without a key"))?;
        let located = Node::new(node.value, node.path.clone(), node.ctx);
        seed.deserialize(node).map_err(|e| located.locate(e))
    }
}

/// An array's items (skipped ones left out).
struct Items<'a>(std::vec::IntoIter<Node<'a>>);

impl<'de, 'a> de::SeqAccess<'de> for Items<'a> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some(node) = self.0.next() else {
            return Ok(None);
        };
        let located = Node::new(node.value, node.path.clone(), node.ctx);
        seed.deserialize(node)
            .map(Some)
            .map_err(|e| located.locate(e))
    }
}

/// The field names of a struct model, as its `Deserialize` implementation declares them.
pub(super) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("fields")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Found(&[])
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}
