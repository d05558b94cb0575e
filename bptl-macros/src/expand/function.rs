//! `#[register]` on a function: its task argument (`&dyn BaseTask`, `TaskRef`,
//! `Arc<dyn BaseTask>`), sync or async, and the runner that calls it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Type};

use super::docs::doc_of;
use super::entry;
use super::services::take_services;

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

pub(super) fn register_fn(mut f: ItemFn, private: &TokenStream) -> syn::Result<TokenStream> {
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
