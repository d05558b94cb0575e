//! `#[require_service(type, description, alias = "...")]`: its arguments, taken from a
//! registered unit's attributes, the `RequiredService` list they become, and the error for
//! one placed where no `#[register]` consumes it.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Item, LitStr, Token};

use super::is_attr;

/// One `#[require_service(type, description, alias = "...")]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSpec {
    /// The API type.
    pub service_type: String,
    /// The description.
    pub description: String,
    /// The optional alias.
    pub alias: Option<String>,
}

impl Parse for ServiceSpec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let usage =
            "expected `#[require_service(\"service type\", \"description\", alias = \"alias\")]`";
        if input.is_empty() {
            return Err(input.error(usage));
        }
        let service_type: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("{usage}: the service type comes first, as a string"),
            )
        })?;
        input
            .parse::<Token![,]>()
            .map_err(|e| syn::Error::new(e.span(), usage))?;
        let description: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("{usage}: the description comes second, as a string"),
            )
        })?;
        let mut alias = None;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "alias" {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown argument `{key}`: the only named argument is `alias = \"...\"`"
                    ),
                ));
            }
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse()?;
            if value.value().trim().is_empty() {
                return Err(syn::Error::new(value.span(), "the alias must not be empty"));
            }
            alias = Some(value.value());
            input.parse::<Option<Token![,]>>()?;
        }
        if !input.is_empty() {
            return Err(input.error(usage));
        }
        if service_type.value().trim().is_empty() {
            return Err(syn::Error::new(
                service_type.span(),
                "the service type must not be empty",
            ));
        }
        Ok(Self {
            service_type: service_type.value(),
            description: description.value(),
            alias,
        })
    }
}

/// Remove the `#[require_service]` attributes from `attrs`, parsing them in order.
pub(crate) fn take_services(
    attrs: &mut Vec<Attribute>,
) -> syn::Result<(Vec<ServiceSpec>, Vec<syn::Path>)> {
    let mut specs = Vec::new();
    let mut paths = Vec::new();
    let mut error: Option<syn::Error> = None;
    attrs.retain(|attr| {
        if !is_attr(attr, "require_service") {
            return true;
        }
        paths.push(attr.path().clone());
        match attr.parse_args::<ServiceSpec>() {
            Ok(spec) => specs.push(spec),
            Err(e) => match &mut error {
                Some(existing) => existing.combine(e),
                None => error = Some(e),
            },
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok((specs, paths)),
    }
}

pub(super) fn services_tokens(specs: &[ServiceSpec], private: &TokenStream) -> TokenStream {
    let items = specs.iter().map(|s| {
        let (ty, desc) = (&s.service_type, &s.description);
        let alias = match &s.alias {
            Some(a) => quote!(::core::option::Option::Some(#a)),
            None => quote!(::core::option::Option::None),
        };
        quote! { #private::RequiredService { service_type: #ty, description: #desc, alias: #alias } }
    });
    quote! { &[#(#items),*] }
}

/// `#[require_service]` that was not consumed by a `#[register]` above it: always an error,
/// telling where it belongs.
pub(crate) fn misplaced_require_service(args: TokenStream, item: TokenStream) -> syn::Error {
    let register_below = syn::parse2::<Item>(item)
        .ok()
        .map(|item| {
            let attrs: &[Attribute] = match &item {
                Item::Fn(f) => &f.attrs,
                Item::Struct(s) => &s.attrs,
                _ => &[],
            };
            attrs.iter().any(|a| is_attr(a, "register"))
        })
        .unwrap_or(false);
    let span = if args.is_empty() {
        Span::call_site()
    } else {
        args.span()
    };
    if register_below {
        syn::Error::new(
            span,
            "#[require_service] must be placed below #[register], not above it",
        )
    } else {
        syn::Error::new(
            span,
            "#[require_service] only works on a unit registered with #[register]: put #[register] above it",
        )
    }
}
