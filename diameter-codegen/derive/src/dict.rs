//! `dictionary!("path")`: generate from a dictionary file at compile time.

use proc_macro2::TokenStream;
use quote::quote;

pub fn expand(lit: &syn::LitStr) -> syn::Result<TokenStream> {
    let rel = lit.value();
    let base = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&base).join(&rel);
    let config = diameter_codegen::Config::new();
    let generated = config
        .generate_tokens(std::slice::from_ref(&path))
        .map_err(|e| syn::Error::new(lit.span(), e.to_string()))?;
    let abs = path.to_string_lossy().into_owned();
    Ok(quote! {
        const _: &str = include_str!(#abs);
        #generated
    })
}
