//! The logic behind the macros, as plain functions over `proc_macro2` tokens (unit-tested),
//! by what they expand: [`function`] units, [`unit_struct`] units, the [`services`] of
//! `#[require_service]`, the [`docs`] a unit's doc comment becomes; here the `#[register]`
//! entry point and the registration both kinds of unit share.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Item};

mod docs;
mod function;
mod services;
#[cfg(test)]
mod tests;
mod unit_struct;

pub(crate) use services::misplaced_require_service;
use services::{ServiceSpec, services_tokens};

/// Whether an attribute's path ends in `name` (`register`, `bptl::register`, ...).
fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

const ITEM_HINT: &str = "#[register] applies to an `async fn(task: &dyn BaseTask)`, a plain `fn(task: &dyn BaseTask)` or a struct implementing `WorkUnit`";

/// Expand `#[register]`; on an error, emit the error together with the item (its
/// `#[require_service]` attributes removed), so that only the error itself is reported.
pub(crate) fn register_or_error(
    args: TokenStream,
    item: TokenStream,
    private: TokenStream,
) -> TokenStream {
    match register(args, item.clone(), private) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.into_compile_error();
            let item = match syn::parse2::<Item>(item.clone()) {
                Ok(mut parsed) => {
                    match &mut parsed {
                        Item::Fn(f) => f.attrs.retain(|a| !is_attr(a, "require_service")),
                        Item::Struct(s) => s.attrs.retain(|a| !is_attr(a, "require_service")),
                        _ => {}
                    }
                    quote!(#parsed)
                }
                Err(_) => item,
            };
            quote!(#error #item)
        }
    }
}

/// Expand `#[register]` on `item`, naming core items through `private` (the path of
/// `bptl_core::__private` as the calling crate sees it).
pub(crate) fn register(
    args: TokenStream,
    item: TokenStream,
    private: TokenStream,
) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new(
            args.span(),
            "#[register] takes no arguments",
        ));
    }
    let item: Item = syn::parse2(item).map_err(|e| syn::Error::new(e.span(), ITEM_HINT))?;
    match item {
        Item::Fn(f) => function::register_fn(f, &private),
        Item::Struct(s) => unit_struct::register_struct(s, &private),
        other => Err(syn::Error::new(other.span(), ITEM_HINT)),
    }
}

fn entry(
    name: &syn::Ident,
    doc: &str,
    (specs, attr_paths): &(Vec<ServiceSpec>, Vec<syn::Path>),
    kind: TokenStream,
    runner: TokenStream,
    private: &TokenStream,
) -> TokenStream {
    let services = services_tokens(specs, private);
    let name_str = name.to_string();
    let static_name = format_ident!("__BPTL_UNIT_{}", name_str.to_uppercase());
    quote_spanned! {Span::call_site()=>
        #[doc(hidden)]
        const _: () = {
            // The consumed `#[require_service]` attributes count as uses of their imports.
            #( #[allow(unused_imports)] use #attr_paths as _; )*
            #runner

            #[#private::linkme::distributed_slice(#private::UNITS)]
            #[linkme(crate = #private::linkme)]
            #[allow(non_upper_case_globals)]
            static #static_name: #private::UnitEntry = #private::UnitEntry {
                path: ::core::concat!(::core::module_path!(), "::", #name_str),
                name: #name_str,
                doc: #doc,
                required_services: #services,
                kind: #kind,
                run: __bptl_run,
                file: ::core::file!(),
                line: ::core::line!(),
            };
        };
    }
}
