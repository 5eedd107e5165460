//! `#[derive(Enumerated)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Type};

use crate::attr::{struct_attrs, variant_attrs};

fn repr_of(ty: &Type) -> syn::Result<&Type> {
    if let Type::Path(p) = ty {
        if p.path.is_ident("i32") || p.path.is_ident("u32") {
            return Ok(ty);
        }
    }
    Err(syn::Error::new(
        ty.span(),
        "the value type of an Enumerated must be i32 or u32",
    ))
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let rt = quote!(::diameter_runtime::codegen);
    let sattrs = struct_attrs(&input.attrs)?;
    // Value 0 is "unset" when the type names its values and 0 is not one of them.
    let mut named = true;
    let (repr, from, to, names) = match &input.data {
        Data::Struct(s) => {
            let Fields::Unnamed(u) = &s.fields else {
                return Err(syn::Error::new(
                    input.span(),
                    "an Enumerated struct must be a newtype like `struct X(pub u32);`",
                ));
            };
            if u.unnamed.len() != 1 {
                return Err(syn::Error::new(
                    u.span(),
                    "an Enumerated struct must have exactly one field",
                ));
            }
            let repr = repr_of(&u.unnamed[0].ty)?;
            let names = if sattrs.names {
                quote! {
                    Self::NAMES.iter().find(|(v, _)| *v == self.0).map(|(_, n)| *n)
                }
            } else {
                named = false;
                quote!(#rt::None)
            };
            (repr.clone(), quote!(#name(v)), quote!(self.0), names)
        }
        Data::Enum(e) => {
            let mut unknown = None;
            let mut from_arms = Vec::new();
            let mut to_arms = Vec::new();
            let mut name_arms = Vec::new();
            let mut values = Vec::new();
            for v in &e.variants {
                let a = variant_attrs(v)?;
                let ident = &v.ident;
                if a.unknown {
                    let Fields::Unnamed(u) = &v.fields else {
                        return Err(syn::Error::new(
                            v.span(),
                            "the `unknown` variant keeps the value: write `Unrecognized(i32)`",
                        ));
                    };
                    if u.unnamed.len() != 1 || unknown.is_some() {
                        return Err(syn::Error::new(
                            v.span(),
                            "exactly one `unknown` variant with one field is allowed",
                        ));
                    }
                    unknown = Some((ident, repr_of(&u.unnamed[0].ty)?.clone()));
                    continue;
                }
                if !matches!(v.fields, Fields::Unit) {
                    return Err(syn::Error::new(
                        v.span(),
                        "variants other than `unknown` must be unit variants",
                    ));
                }
                let Some(value) = a.value else {
                    return Err(syn::Error::new(
                        v.span(),
                        "missing #[diameter(value = N)] on this variant",
                    ));
                };
                if values.contains(&value) {
                    return Err(syn::Error::new(
                        v.span(),
                        format!("value {value} is used by two variants"),
                    ));
                }
                values.push(value);
                let vname = a.name.unwrap_or_else(|| ident.to_string());
                let lit = proc_macro2::Literal::i64_unsuffixed(value);
                from_arms.push(quote!(#lit => #name::#ident,));
                to_arms.push(quote!(#name::#ident => #lit,));
                name_arms.push(quote!(#name::#ident => #rt::Some(#vname),));
            }
            let Some((unknown, repr)) = unknown else {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "an Enumerated enum needs an `#[diameter(unknown)] Unrecognized(i32)` variant to keep values it does not name",
                ));
            };
            let is_u32 = matches!(&repr, Type::Path(p) if p.path.is_ident("u32"));
            if is_u32 && values.iter().any(|v| *v < 0 || *v > u32::MAX as i64)
                || !is_u32
                    && values
                        .iter()
                        .any(|v| *v < i32::MIN as i64 || *v > i32::MAX as i64)
            {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "a variant value does not fit the value type",
                ));
            }
            (
                repr,
                quote!(match v { #(#from_arms)* v => #name::#unknown(v) }),
                quote!(match self { #(#to_arms)* #name::#unknown(v) => v }),
                quote!(match self { #(#name_arms)* #name::#unknown(_) => #rt::None }),
            )
        }
        Data::Union(_) => {
            return Err(syn::Error::new(
                input.span(),
                "Enumerated applies to enums and newtype structs",
            ))
        }
    };
    Ok(quote! {
        #[automatically_derived]
        impl #rt::EnumValue for #name {
            type Repr = #repr;
            #[inline]
            fn from_repr(v: #repr) -> Self {
                #from
            }
            #[inline]
            fn to_repr(self) -> #repr {
                #to
            }
            #[inline]
            fn name(self) -> #rt::Option<&'static str> {
                #names
            }
        }
        #[automatically_derived]
        impl #rt::AvpValue for #name {
            const MIN_LEN: usize = 4;
            #[inline]
            fn placeholder() -> Self {
                <Self as #rt::EnumValue>::from_repr(0)
            }
            #[inline]
            fn decode_value(data: #rt::Bytes) -> #rt::Result<Self, #rt::DecodeError> {
                <#repr as #rt::AvpValue>::decode_value(data)
                    .map(<Self as #rt::EnumValue>::from_repr)
            }
            #[inline]
            fn decode_at(buf: &#rt::Bytes, start: usize, end: usize) -> #rt::Result<Self, #rt::DecodeError> {
                <#repr as #rt::AvpValue>::decode_at(buf, start, end)
                    .map(<Self as #rt::EnumValue>::from_repr)
            }
            #[inline]
            fn check_at(buf: &#rt::Bytes, start: usize, end: usize) -> #rt::Result<(), #rt::DecodeError> {
                <#repr as #rt::AvpValue>::check_at(buf, start, end)
            }
            #[inline]
            fn encode_value(&self, out: &mut #rt::BytesMut) {
                <#repr as #rt::AvpValue>::encode_value(&<Self as #rt::EnumValue>::to_repr(*self), out)
            }
            #[inline(always)]
            fn value_len(&self) -> usize {
                4
            }
            #[inline(always)]
            fn write_avp<'__a>(&self, out: &'__a mut [u8], code: u32, flags: #rt::AvpFlags, vendor_id: u32) -> #rt::Option<&'__a mut [u8]> {
                <#repr as #rt::AvpValue>::write_avp(&<Self as #rt::EnumValue>::to_repr(*self), out, code, flags, vendor_id)
            }
            #[inline]
            fn is_unset(&self) -> bool {
                #named
                    && <Self as #rt::EnumValue>::to_repr(*self) == 0
                    && <Self as #rt::EnumValue>::name(*self).is_none()
            }
        }
        #[automatically_derived]
        impl ::core::convert::From<#repr> for #name {
            fn from(v: #repr) -> Self {
                <Self as #rt::EnumValue>::from_repr(v)
            }
        }
        #[automatically_derived]
        impl ::core::convert::From<#name> for #repr {
            fn from(v: #name) -> #repr {
                <#name as #rt::EnumValue>::to_repr(v)
            }
        }
    })
}
