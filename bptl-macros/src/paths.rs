//! Where the expansions find `bptl_core::__private`: through `bptl-core` or the facade `bptl`,
//! under whatever name the calling crate's `Cargo.toml` gives them (unit-tested).

use proc_macro_crate::FoundCrate;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// How the calling crate's `Cargo.toml` names one of bptl's crates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dependency {
    /// Among its dependencies (possibly renamed), or the crate itself.
    Found(FoundCrate),
    /// Not among its dependencies.
    Absent,
    /// The manifest could not be read (no `CARGO_MANIFEST_DIR`, not a Cargo build, ...).
    Unknown,
}

impl Dependency {
    /// Look `package` up in the calling crate's manifest.
    pub(crate) fn of(package: &str) -> Self {
        match proc_macro_crate::crate_name(package) {
            Ok(found) => Self::Found(found),
            Err(proc_macro_crate::Error::CrateNotFound { .. }) => Self::Absent,
            Err(_) => Self::Unknown,
        }
    }
}

/// What `#[register]` says when the calling crate depends on neither `bptl-core` nor `bptl`.
pub(crate) const NO_BPTL_DEPENDENCY: &str = "#[register] needs `bptl-core` or `bptl` among this crate's \
    dependencies in Cargo.toml (a units crate needs only `bptl-core`: \
    `bptl-core = \"0.1\"`, then `use bptl_core::prelude::*;`)";

/// The path of `bptl_core::__private` for a crate that names `bptl-core` as `core` and `bptl`
/// as `facade`. `bptl-core` wins when both are there: it is what a units crate depends on,
/// while the facade often is a dev-dependency only (for the test kit).
pub(crate) fn private_path(
    core: &Dependency,
    facade: &Dependency,
) -> Result<TokenStream, &'static str> {
    let through = |found: &FoundCrate, own: &str| {
        let name = match found {
            // `extern crate self as bptl_core;` / `as bptl;` make the crate's own name work.
            FoundCrate::Itself => own,
            FoundCrate::Name(name) => name.as_str(),
        };
        let name = Ident::new(name, Span::call_site());
        quote!(::#name::__private)
    };
    match (core, facade) {
        (Dependency::Found(core), _) => Ok(through(core, "bptl_core")),
        (_, Dependency::Found(facade)) => Ok(through(facade, "bptl")),
        (Dependency::Absent, Dependency::Absent) => Err(NO_BPTL_DEPENDENCY),
        // Without a readable manifest, guess the crate the items live in.
        _ => Ok(quote!(::bptl_core::__private)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(core: Dependency, facade: Dependency) -> String {
        private_path(&core, &facade)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| e.to_owned())
    }

    fn named(name: &str) -> Dependency {
        Dependency::Found(FoundCrate::Name(name.to_owned()))
    }

    #[test]
    fn a_units_crate_on_bptl_core_names_it() {
        let expected = ":: bptl_core :: __private";
        assert_eq!(path(named("bptl_core"), Dependency::Absent), expected);
        // The facade as a dev-dependency (the test kit) does not change that.
        assert_eq!(path(named("bptl_core"), named("bptl")), expected);
        assert_eq!(
            path(Dependency::Found(FoundCrate::Itself), Dependency::Absent),
            expected
        );
    }

    #[test]
    fn a_crate_on_the_facade_names_it() {
        let expected = ":: bptl :: __private";
        assert_eq!(path(Dependency::Absent, named("bptl")), expected);
        assert_eq!(
            path(Dependency::Absent, Dependency::Found(FoundCrate::Itself)),
            expected
        );
    }

    #[test]
    fn renamed_dependencies_are_named_as_renamed() {
        assert_eq!(
            path(named("units_core"), Dependency::Absent),
            ":: units_core :: __private"
        );
        assert_eq!(
            path(Dependency::Absent, named("worker_kit")),
            ":: worker_kit :: __private"
        );
    }

    #[test]
    fn without_either_the_error_says_what_to_add() {
        let message = path(Dependency::Absent, Dependency::Absent);
        assert!(message.contains("needs `bptl-core` or `bptl`"), "{message}");
        assert!(message.contains("bptl-core = \"0.1\""), "{message}");
        assert_eq!(
            path(Dependency::Unknown, Dependency::Absent),
            ":: bptl_core :: __private"
        );
    }
}
