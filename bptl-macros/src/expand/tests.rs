//! The expansions, as token strings and errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use super::docs::*;
use super::function::*;
use super::services::*;
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
    let spec: ServiceSpec = syn::parse2(quote!("zrc", "The Zaken API", alias = "zaken")).unwrap();
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
