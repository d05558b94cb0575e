//! Procedural macros of bptl: `#[register]` and `#[require_service]`.
//!
//! A thin shim: the logic lives in plain functions (the `expand` module) with unit tests.
//! Generated code names `bptl_core` items through its hidden `__private` module, found as
//! `bptl_core::__private` or `bptl::__private`, whichever the calling crate depends on (under
//! the name its `Cargo.toml` gives it; `bptl-core` when both): a unit crate never needs
//! `linkme` itself.
//!
//! Use them through `bptl-core` or the facade (`use bptl_core::prelude::*;`,
//! `use bptl::prelude::*;`), which re-export them:
//!
//! ```ignore
//! /// Double an amount.
//! #[register]
//! #[require_service("zrc", "The Zaken API to use", alias = "zrc")]
//! async fn double(task: &dyn BaseTask) -> Result<Variables, UnitError> { /* ... */ }
//! ```

use proc_macro::TokenStream;
use quote::quote;

mod expand;
mod paths;

use paths::Dependency;

/// Register a work unit: an `async fn(task: &dyn BaseTask)`, a plain (blocking)
/// `fn(task: &dyn BaseTask)`, or a struct implementing `WorkUnit`.
///
/// The unit is known by its path (`module_path!()` + name, e.g. `my_units::double`), its
/// name and its doc comment. Stack `#[require_service(...)]` below it to declare services.
#[proc_macro_attribute]
pub fn register(args: TokenStream, item: TokenStream) -> TokenStream {
    match paths::private_path(&Dependency::of("bptl-core"), &Dependency::of("bptl")) {
        Ok(private) => expand::register_or_error(args.into(), item.into(), private).into(),
        Err(message) => {
            let error =
                syn::Error::new(proc_macro2::Span::call_site(), message).into_compile_error();
            let item: proc_macro2::TokenStream = item.into();
            quote!(#error #item).into()
        }
    }
}

/// Declare a service a unit needs: `#[require_service("zrc", "The Zaken API to use",
/// alias = "zrc")]`. Stackable; must be placed below `#[register]`.
///
/// The type `"*"` means a service of any type.
#[proc_macro_attribute]
pub fn require_service(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.into();
    let error = expand::misplaced_require_service(args.into(), item2.clone()).into_compile_error();
    quote!(#error #item2).into()
}
