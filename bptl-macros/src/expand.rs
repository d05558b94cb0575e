//! The logic behind the macros, as plain functions over `proc_macro2` tokens (unit-tested).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, Item, ItemFn, ItemStruct, Lit, LitStr, Meta, Token, Type};

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

/// Whether an attribute's path ends in `name` (`register`, `bptl::register`, ...).
fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == name)
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

/// The doc comment of `attrs`, dedented; empty when there is none.
pub(crate) fn doc_of(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| is_attr(a, "doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(lit) => match &lit.lit {
                    Lit::Str(s) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .flat_map(|chunk| chunk.split('\n').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    dedent(&lines)
}

/// Remove the common leading whitespace of the non-blank lines, and blank lines at both ends.
pub(crate) fn dedent(lines: &[String]) -> String {
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let body: Vec<&str> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                &l[indent..]
            }
        })
        .map(str::trim_end)
        .collect();
    let start = body
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    body[start..end].join("\n")
}

/// How the task argument of a function unit is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskArg {
    /// `&dyn BaseTask`
    Borrowed,
    /// `TaskRef` / `Arc<dyn BaseTask>`
    Shared,
}

fn is_dyn_base_task(ty: &Type) -> bool {
    match ty {
        Type::TraitObject(obj) => obj.bounds.iter().any(|b| match b {
            syn::TypeParamBound::Trait(t) => t
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "BaseTask"),
            _ => false,
        }),
        Type::Paren(p) => is_dyn_base_task(&p.elem),
        Type::Group(g) => is_dyn_base_task(&g.elem),
        _ => false,
    }
}

/// Classify a function unit's argument type.
pub(crate) fn task_arg(ty: &Type) -> Option<TaskArg> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() && is_dyn_base_task(&r.elem) => {
            Some(TaskArg::Borrowed)
        }
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            if last.ident == "TaskRef" && last.arguments.is_none() {
                return Some(TaskArg::Shared);
            }
            if last.ident == "Arc"
                && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
                && is_dyn_base_task(inner)
            {
                return Some(TaskArg::Shared);
            }
            None
        }
        Type::Group(g) => task_arg(&g.elem),
        _ => None,
    }
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
        Item::Fn(f) => register_fn(f, &private),
        Item::Struct(s) => register_struct(s, &private),
        other => Err(syn::Error::new(other.span(), ITEM_HINT)),
    }
}

fn services_tokens(specs: &[ServiceSpec], private: &TokenStream) -> TokenStream {
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

fn register_fn(mut f: ItemFn, private: &TokenStream) -> syn::Result<TokenStream> {
    let specs = take_services(&mut f.attrs)?;
    let doc = doc_of(&f.attrs);
    let sig = &f.sig;
    let result_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a work unit function cannot be generic: it is called with the task only",
        ));
    }
    let arg_hint = "a work unit function takes exactly one argument, the task: `task: &dyn BaseTask` (or `task: TaskRef`)";
    if sig.inputs.len() != 1 {
        let span = match sig.inputs.iter().nth(1) {
            Some(extra) => extra.span(),
            None => sig.paren_token.span.join(),
        };
        return Err(syn::Error::new(
            span,
            format!("{arg_hint}; this one takes {}", sig.inputs.len()),
        ));
    }
    let arg = match sig.inputs.first() {
        Some(FnArg::Typed(pat)) => match task_arg(&pat.ty) {
            Some(arg) => arg,
            None => {
                return Err(syn::Error::new(
                    pat.ty.span(),
                    "the argument of a work unit must be the task: `&dyn BaseTask` or `TaskRef`",
                ));
            }
        },
        Some(receiver) => {
            return Err(syn::Error::new(
                receiver.span(),
                "a work unit function cannot take `self`: register a free function, or a struct implementing `WorkUnit`",
            ));
        }
        None => return Err(syn::Error::new(sig.span(), arg_hint)),
    };
    let name = &sig.ident;
    let call_arg = match arg {
        TaskArg::Borrowed => quote!(&*task),
        TaskArg::Shared => quote!(task),
    };
    // Check the declared return type where the user wrote it, for a precise error span.
    let return_check = match &sig.output {
        syn::ReturnType::Type(_, ty) if !matches!(**ty, Type::ImplTrait(_)) => quote! {
            const _: fn() = #private::assert_unit_result::<#ty>;
        },
        _ => TokenStream::new(),
    };
    let wrap_async = quote_spanned!(result_span=> #private::async_unit(future));
    let wrap_blocking =
        quote_spanned!(result_span=> #private::IntoUnitResult::into_unit_result(result));
    let (kind, runner) = if sig.asyncness.is_some() {
        (
            quote!(#private::UnitKind::AsyncFn),
            quote! {
                #return_check
                fn __bptl_run(task: #private::TaskRef) -> #private::UnitFuture {
                    let future = async move { #name(#call_arg).await };
                    #wrap_async
                }
            },
        )
    } else {
        (
            quote!(#private::UnitKind::BlockingFn),
            quote! {
                #return_check
                fn __bptl_call(task: #private::TaskRef) -> #private::UnitResult {
                    let result = #name(#call_arg);
                    #wrap_blocking
                }
                fn __bptl_run(task: #private::TaskRef) -> #private::UnitFuture {
                    #private::run_blocking(task, __bptl_call)
                }
            },
        )
    };
    let registration = entry(name, &doc, &specs, kind, runner, private);
    Ok(quote! {
        #f
        #registration
    })
}

fn register_struct(mut s: ItemStruct, private: &TokenStream) -> syn::Result<TokenStream> {
    let specs = take_services(&mut s.attrs)?;
    let doc = doc_of(&s.attrs);
    if !s.generics.params.is_empty() {
        return Err(syn::Error::new(
            s.generics.span(),
            "a registered work unit struct cannot be generic",
        ));
    }
    let name = &s.ident;
    let runner = quote! {
        fn __bptl_run(task: #private::TaskRef) -> #private::UnitFuture {
            #private::run_work_unit::<#name>(task)
        }
    };
    let registration = entry(
        name,
        &doc,
        &specs,
        quote!(#private::UnitKind::Struct),
        runner,
        private,
    );
    Ok(quote! {
        #s
        #registration
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn private() -> TokenStream {
        quote!(::bptl_core::__private)
    }

    fn expand(item: TokenStream) -> syn::Result<String> {
        register(TokenStream::new(), item, private()).map(|t| t.to_string())
    }

    #[test]
    fn dedents_and_trims() {
        let lines: Vec<String> = [
            "",
            " Double an amount.",
            "",
            " * `amount`: a number",
            "   nested",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            dedent(&lines),
            "Double an amount.\n\n* `amount`: a number\n  nested"
        );
        assert_eq!(dedent(&[]), "");
    }

    #[test]
    fn parses_service_specs() {
        let spec: ServiceSpec =
            syn::parse2(quote!("zrc", "The Zaken API", alias = "zaken")).unwrap();
        assert_eq!(
            spec,
            ServiceSpec {
                service_type: "zrc".into(),
                description: "The Zaken API".into(),
                alias: Some("zaken".into())
            }
        );
        let spec: ServiceSpec = syn::parse2(quote!("drc", "docs")).unwrap();
        assert_eq!(spec.alias, None);
        assert!(syn::parse2::<ServiceSpec>(quote!("drc")).is_err());
        assert!(syn::parse2::<ServiceSpec>(quote!("drc", "d", name = "x")).is_err());
        assert!(syn::parse2::<ServiceSpec>(quote!(zrc, "d")).is_err());
    }

    #[test]
    fn classifies_task_arguments() {
        let t = |tokens: TokenStream| task_arg(&syn::parse2::<Type>(tokens).unwrap());
        assert_eq!(t(quote!(&dyn BaseTask)), Some(TaskArg::Borrowed));
        assert_eq!(t(quote!(&dyn bptl::BaseTask)), Some(TaskArg::Borrowed));
        assert_eq!(t(quote!(TaskRef)), Some(TaskArg::Shared));
        assert_eq!(
            t(quote!(std::sync::Arc<dyn BaseTask>)),
            Some(TaskArg::Shared)
        );
        assert_eq!(t(quote!(&mut dyn BaseTask)), None);
        assert_eq!(t(quote!(String)), None);
        assert_eq!(t(quote!(&str)), None);
    }

    #[test]
    fn expands_async_fn_with_services_and_docs() {
        let out = expand(quote! {
            /// Double it.
            #[require_service("zrc", "Zaken", alias = "zrc")]
            async fn double(task: &dyn BaseTask) -> Result<Variables, UnitError> { todo!() }
        })
        .unwrap();
        assert!(out.contains("UnitKind :: AsyncFn"), "{out}");
        assert!(out.contains("\"Double it.\""), "{out}");
        assert!(out.contains("service_type : \"zrc\""), "{out}");
        assert!(
            !out.contains("# [require_service"),
            "attribute must be consumed: {out}"
        );
        assert!(out.contains("double (& * task) . await"), "{out}");
        assert!(out.contains("use require_service as _"), "{out}");
    }

    #[test]
    fn expands_blocking_fn_and_struct() {
        let out = expand(quote!(
            fn dummy(task: TaskRef) {}
        ))
        .unwrap();
        assert!(out.contains("UnitKind :: BlockingFn"), "{out}");
        assert!(out.contains("run_blocking"), "{out}");
        let out = expand(quote!(
            struct Double {
                task: TaskRef,
            }
        ))
        .unwrap();
        assert!(out.contains("run_work_unit :: < Double >"), "{out}");
        assert!(out.contains("UnitKind :: Struct"), "{out}");
    }

    #[test]
    fn refuses_bad_items_with_clear_messages() {
        let err = |item: TokenStream| expand(item).unwrap_err().to_string();
        assert!(
            err(quote!(
                fn f() {}
            ))
            .contains("takes exactly one argument")
        );
        assert!(
            err(quote!(
                fn f(a: &dyn BaseTask, b: u8) {}
            ))
            .contains("this one takes 2")
        );
        assert!(
            err(quote!(
                fn f(a: String) {}
            ))
            .contains("must be the task")
        );
        assert!(
            err(quote!(
                fn f<T>(a: TaskRef) {}
            ))
            .contains("cannot be generic")
        );
        assert!(
            err(quote!(
                enum E {
                    A,
                }
            ))
            .contains("#[register] applies to")
        );
        assert!(
            err(quote!(
                const X: u8 = 1;
            ))
            .contains("#[register] applies to")
        );
        let args = register(
            quote!(name = "x"),
            quote!(
                fn f(t: TaskRef) {}
            ),
            private(),
        )
        .unwrap_err();
        assert!(args.to_string().contains("takes no arguments"));
    }

    #[test]
    fn errors_keep_the_item_without_service_attributes() {
        let out = register_or_error(
            TokenStream::new(),
            quote!(
                #[require_service("zrc", "Z")]
                fn f() {}
            ),
            private(),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("fn f ()"), "the item stays: {out}");
        assert!(!out.contains("require_service"), "{out}");
    }

    #[test]
    fn require_service_alone_or_above_register_is_an_error() {
        let above = misplaced_require_service(
            quote!("zrc", "Z"),
            quote!(
                #[register]
                fn f(t: TaskRef) {}
            ),
        );
        assert!(
            above
                .to_string()
                .contains("must be placed below #[register]")
        );
        let alone = misplaced_require_service(
            quote!("zrc", "Z"),
            quote!(
                fn f(t: TaskRef) {}
            ),
        );
        assert!(alone.to_string().contains("put #[register] above it"));
    }
}
