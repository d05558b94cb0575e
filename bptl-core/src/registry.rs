//! The unit registry: every `#[register]`ed unit of every crate linked into the binary.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::OnceLock;

use crate::task::TaskRef;
use crate::unit::UnitFuture;

/// How to make a units crate part of the binary, quoted by every error about missing units.
pub const LINK_HINT: &str = "Units are found in crates linked into the binary: a crate that the binary never names is \
     not linked. Name it once, e.g. `use my_units as _;` or `bptl::link_units!(my_units);` in main.rs.";

/// A service a unit needs, declared with `#[require_service(type, description, alias = "...")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredService {
    /// The API type, e.g. `zrc`.
    pub service_type: &'static str,
    /// What the unit uses it for.
    pub description: &'static str,
    /// The alias the unit looks the service up by; `None` means "some service of this type".
    pub alias: Option<&'static str>,
}

/// How a unit is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// An `async fn(&dyn BaseTask)`.
    AsyncFn,
    /// A plain (blocking) `fn(&dyn BaseTask)`, run off the async worker threads.
    BlockingFn,
    /// A struct implementing [`WorkUnit`](crate::WorkUnit).
    Struct,
}

/// One registered unit. `#[register]` generates these; tests may build them by hand.
#[derive(Clone, Copy)]
pub struct UnitEntry {
    /// The unit's full path, e.g. `bptl_dummy::Double`: what task mappings name.
    pub path: &'static str,
    /// The short name, e.g. `Double`.
    pub name: &'static str,
    /// The documentation (the doc comment, dedented; empty when absent).
    pub doc: &'static str,
    /// The services it needs.
    pub required_services: &'static [RequiredService],
    /// How it is written.
    pub kind: UnitKind,
    /// Runs the unit for a task.
    pub run: fn(TaskRef) -> UnitFuture,
    /// The source file it was registered in.
    pub file: &'static str,
    /// The source line.
    pub line: u32,
}

impl UnitEntry {
    /// The documentation, or `- docstring missing -` when there is none.
    pub fn documentation(&self) -> &'static str {
        if self.doc.trim().is_empty() {
            "- docstring missing -"
        } else {
            self.doc
        }
    }

    /// Where the unit was registered, `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

impl fmt::Debug for UnitEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnitEntry")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("required_services", &self.required_services)
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

/// A problem with the registry.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two units share one path.
    #[error(
        "two work units are registered as '{path}': one at {first}, one at {second}; rename one of them"
    )]
    Duplicate {
        /// The shared path.
        path: String,
        /// Where the first was registered.
        first: String,
        /// Where the second was registered.
        second: String,
    },
}

/// A set of units, looked up by path and listed sorted by path.
///
/// ```
/// use bptl_core::Registry;
/// # fn main() -> Result<(), bptl_core::RegistryError> {
/// let registry = Registry::global()?; // every #[register]ed unit linked into this binary
/// for unit in registry.iter() {
///     println!("{}", unit.path);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registry {
    units: BTreeMap<&'static str, UnitEntry>,
}

impl Registry {
    /// An empty registry (for tests: add units with [`Registry::register`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry of every `#[register]`ed unit linked into the binary, collected once.
    ///
    /// Fails when two units share a path, naming both source locations.
    pub fn global() -> Result<&'static Registry, RegistryError> {
        static GLOBAL: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Registry::from_entries(crate::__private::UNITS.iter().copied()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A registry of these entries; fails on a duplicate path.
    pub fn from_entries(
        entries: impl IntoIterator<Item = UnitEntry>,
    ) -> Result<Registry, RegistryError> {
        let mut registry = Registry::new();
        for entry in entries {
            registry.register(entry)?;
        }
        Ok(registry)
    }

    /// Add a unit; fails when its path is taken.
    pub fn register(&mut self, entry: UnitEntry) -> Result<(), RegistryError> {
        if let Some(existing) = self.units.get(entry.path) {
            let (a, b) = (existing.location(), entry.location());
            let (first, second) = if a <= b { (a, b) } else { (b, a) };
            return Err(RegistryError::Duplicate {
                path: entry.path.to_owned(),
                first,
                second,
            });
        }
        self.units.insert(entry.path, entry);
        Ok(())
    }

    /// The unit registered under `path`.
    pub fn get(&self, path: &str) -> Option<&UnitEntry> {
        self.units.get(path)
    }

    /// Registered paths that `path` may be a typo of, for "did you mean" hints (the rule of
    /// [`did_you_mean`](crate::suggest::did_you_mean): a few edits away, or the same unit name
    /// in another module).
    pub fn similar(&self, path: &str) -> Vec<&'static str> {
        crate::suggest::did_you_mean(path, self.units.keys().copied())
    }

    /// All units, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = &UnitEntry> {
        self.units.values()
    }

    /// The number of units.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether there are no units.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Print the registry as BPTL's `show_task_registry` does: each path, its indented
    /// documentation and its required services.
    pub fn write_listing(&self, out: &mut impl Write) -> io::Result<()> {
        if self.is_empty() {
            writeln!(
                out,
                "The registry is empty: no work units are linked into this binary."
            )?;
            writeln!(out, "{LINK_HINT}")?;
            return Ok(());
        }
        for (i, unit) in self.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{}", unit.path)?;
            for line in unit.documentation().lines() {
                if line.trim().is_empty() {
                    writeln!(out)?;
                } else {
                    writeln!(out, "    {line}")?;
                }
            }
            if !unit.required_services.is_empty() {
                writeln!(out)?;
                writeln!(out, "    Required services:")?;
                for s in unit.required_services {
                    match s.alias {
                        Some(alias) => writeln!(
                            out,
                            "    * {} (alias '{alias}'): {}",
                            s.service_type, s.description
                        )?,
                        None => writeln!(out, "    * {}: {}", s.service_type, s.description)?,
                    }
                }
            }
        }
        Ok(())
    }

    /// The listing of [`Registry::write_listing`] as a string.
    pub fn listing(&self) -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_listing(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Name crates whose units must be linked into this binary.
///
/// A crate the binary never mentions is not linked, and its `#[register]`ed units are missing
/// from [`Registry::global`]. `link_units!(my_units, other_units);` mentions them.
#[macro_export]
macro_rules! link_units {
    ($($krate:ident),+ $(,)?) => { $( #[allow(unused_imports)] use $krate as _; )+ };
}
