//! Derives for Diameter types, used by generated code and by hand-written types alike.
//!
//! - `#[derive(Message)]` on a struct: a command (`#[diameter(command = 272, request,
//!   proxiable, application = 4, name = "Credit-Control-Request")]`) or the generic
//!   answer-message (`#[diameter(answer_message, name = "Answer-Message")]`).
//! - `#[derive(Grouped)]` on a struct: the data of a Grouped AVP.
//! - `#[derive(Enumerated)]` on an enum with unit variants `#[diameter(value = N)]` and one
//!   `#[diameter(unknown)] Unrecognized(i32)` variant, or on a newtype `struct X(pub u32);`.
//!
//! Fields: `#[diameter(avp = CODE, vendor = ID, must, protected, min = N, max = N,
//! name = "AVP-Name", first)]`; `T` is exactly one, `Option<T>` at most one, `Vec<T>` repeated
//! (min/max checked). `#[diameter(extra)] avps: Vec<RawAvp>` keeps every other AVP byte-exact
//! (`*[ AVP ]`); without it an unknown AVP with the `M` bit is rejected with 5001.
//! `#[diameter(forbid(avp = CODE, vendor = ID, name = "X"))]` on the struct rejects an AVP
//! with 5008.
//!
//! `dictionary!("path/to/file.xml")` generates the types of a dictionary file in place.

use proc_macro::TokenStream;

mod attr;
mod dict;
mod enums;
mod structs;

/// Derives `AvpSet` and `Message` for a command struct.
#[proc_macro_derive(Message, attributes(diameter))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    structs::expand(&input, structs::Kind::Message)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Derives `AvpSet`, `Grouped` and `AvpValue` for the data of a Grouped AVP.
#[proc_macro_derive(Grouped, attributes(diameter))]
pub fn derive_grouped(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    structs::expand(&input, structs::Kind::Grouped)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Derives `EnumValue` and `AvpValue` for an Enumerated AVP type.
#[proc_macro_derive(Enumerated, attributes(diameter))]
pub fn derive_enumerated(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    enums::expand(&input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Generates the types of a dictionary file, given relative to the crate's `Cargo.toml`.
///
/// ```ignore
/// diameter_derive::dictionary!("dictionaries/my_vendor.xml");
/// ```
///
/// Errors in the dictionary are reported on the path literal with their file and line; the
/// file is `include_str!`ed so editing it rebuilds the crate.
#[proc_macro]
pub fn dictionary(input: TokenStream) -> TokenStream {
    let lit = syn::parse_macro_input!(input as syn::LitStr);
    dict::expand(&lit)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}
