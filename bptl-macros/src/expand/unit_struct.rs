//! `#[register]` on a struct implementing `WorkUnit`: the runner that builds and performs it.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStruct;
use syn::spanned::Spanned;

use super::docs::doc_of;
use super::entry;
use super::services::take_services;

pub(super) fn register_struct(
    mut s: ItemStruct,
    private: &TokenStream,
) -> syn::Result<TokenStream> {
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
