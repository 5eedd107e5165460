//! `#[derive(Message)]` and `#[derive(Grouped)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, PathArguments, Type};

use crate::attr::{field_attrs, struct_attrs, FieldAttrs};

pub enum Kind {
    Message,
    Grouped,
}

enum Shape {
    One,
    Optional,
    Repeated,
}

struct Field<'a> {
    ident: &'a syn::Ident,
    ty: &'a Type,
    inner: &'a Type,
    shape: Shape,
    attrs: FieldAttrs,
}

/// `Option<T>` → (Optional, T); `Vec<T>` → (Repeated, T); else (One, ty).
fn shape_of(ty: &Type) -> (Shape, &Type) {
    if let Type::Path(p) = ty {
        if p.qself.is_none() {
            if let Some(seg) = p.path.segments.last() {
                if let PathArguments::AngleBracketed(args) = &seg.arguments {
                    if let (1, Some(GenericArgument::Type(inner))) =
                        (args.args.len(), args.args.first())
                    {
                        if seg.ident == "Option" {
                            return (Shape::Optional, inner);
                        }
                        if seg.ident == "Vec" {
                            return (Shape::Repeated, inner);
                        }
                    }
                }
            }
        }
    }
    (Shape::One, ty)
}

pub fn expand(input: &DeriveInput, kind: Kind) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let rt = quote!(::diameter_runtime::codegen);
    let sattrs = struct_attrs(&input.attrs)?;
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => &n.named,
            _ => {
                return Err(syn::Error::new(
                    input.span(),
                    "Diameter messages and grouped AVPs need named fields",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new(
                input.span(),
                "this derive applies to structs with named fields",
            ))
        }
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "Diameter types cannot be generic",
        ));
    }

    let mut parsed = Vec::new();
    let mut extra: Option<&syn::Ident> = None;
    // Where the `extra` field sits among the others: its AVPs are encoded there.
    let mut extra_pos = 0;
    let mut seen_codes: Vec<(u32, u32)> = Vec::new();
    for f in fields {
        let attrs = field_attrs(f)?;
        let ident = f.ident.as_ref().expect("named field");
        if attrs.extra {
            let (shape, _) = shape_of(&f.ty);
            if !matches!(shape, Shape::Repeated) {
                return Err(syn::Error::new(
                    f.ty.span(),
                    "an `extra` field must be a Vec<RawAvp>",
                ));
            }
            if extra.is_some() {
                return Err(syn::Error::new(
                    f.span(),
                    "only one `extra` field is allowed",
                ));
            }
            extra = Some(ident);
            extra_pos = parsed.len();
            continue;
        }
        let code = attrs.avp.unwrap_or_default();
        if seen_codes.contains(&(code, attrs.vendor)) {
            return Err(syn::Error::new(
                f.span(),
                format!("AVP {code} (vendor {}) appears in two fields", attrs.vendor),
            ));
        }
        seen_codes.push((code, attrs.vendor));
        let (shape, inner) = shape_of(&f.ty);
        match shape {
            Shape::One | Shape::Optional if attrs.min.is_some() || attrs.max.is_some() => {
                return Err(syn::Error::new(
                    f.span(),
                    "`min`/`max` apply to Vec fields; a plain field is exactly one and an Option at most one",
                ))
            }
            Shape::Repeated if attrs.first || attrs.last => {
                return Err(syn::Error::new(
                    f.span(),
                    "a fixed position (`first`, `last`) is for a field that occurs at most once",
                ))
            }
            _ => {}
        }
        parsed.push(Field {
            ident,
            ty: &f.ty,
            inner,
            shape,
            attrs,
        });
    }
    for fb in &sattrs.forbid {
        if seen_codes.contains(&(fb.avp, fb.vendor)) {
            return Err(syn::Error::new(
                input.span(),
                format!("AVP {} is both a field and forbidden", fb.avp),
            ));
        }
    }

    // Decoding builds `Self` once, from placeholders, and writes each AVP into its field; a
    // flag per exactly-one field records that it was seen.
    let mut seen_locals = Vec::new();
    let mut arms = Vec::new();
    let mut finish = Vec::new();
    let mut inits = Vec::new();
    let mut encodes = Vec::new();
    let mut lens = Vec::new();
    let mut resets = Vec::new();
    let mut unset = Vec::new();
    let mut fills = Vec::new();
    for (i, f) in parsed.iter().enumerate() {
        let seen = format_ident!("__seen{}", i);
        let code = f.attrs.avp.unwrap_or_default();
        let vendor = f.attrs.vendor;
        let fname = f
            .attrs
            .name
            .clone()
            .unwrap_or_else(|| format!("AVP {code}"));
        let inner = f.inner;
        let ident = f.ident;
        let mut flags = quote!(#rt::AvpFlags::NONE);
        if f.attrs.must {
            flags = quote!(#flags.with(#rt::AvpFlags::MANDATORY));
        }
        if f.attrs.protected {
            flags = quote!(#flags.with(#rt::AvpFlags::PROTECTED));
        }
        if vendor != 0 {
            flags = quote!(#flags.with(#rt::AvpFlags::VENDOR));
        }
        let span = f.ty.span();
        // `< X >`: the first AVP, or the last (checked once all are read).
        let fixed = if f.attrs.first {
            quote! {
                if __index != 0 {
                    return #rt::Err(#rt::misplaced(__buf, &__avp, #fname, "first"));
                }
            }
        } else if f.attrs.last {
            let at = format_ident!("__last{}", i);
            seen_locals.push(quote!(let mut #at: #rt::Option<(usize, #rt::AvpRef)> = #rt::None;));
            finish.push(quote! {
                if let #rt::Some((__i, __a)) = #at {
                    if __i + 1 != __index {
                        return #rt::Err(#rt::misplaced(__buf, &__a, #fname, "last"));
                    }
                }
            });
            quote!(#at = #rt::Some((__index, __avp));)
        } else {
            quote!()
        };
        match f.shape {
            Shape::One => {
                seen_locals.push(quote!(let mut #seen = false;));
                inits.push(quote_spanned!(span=> #ident: <#inner as #rt::AvpValue>::placeholder()));
                resets.push(
                    quote_spanned!(span=> self.#ident = <#inner as #rt::AvpValue>::placeholder();),
                );
                arms.push(quote_spanned! {span=>
                    (#code, #vendor) => {
                        if #seen {
                            return #rt::Err(#rt::too_many(__buf, &__avp, #fname, 1));
                        }
                        #fixed
                        #seen = true;
                        #rt::decode_field_into::<#inner>(&mut __out.#ident, __buf, &__avp, #fname)?;
                    }
                });
                finish.push(quote_spanned! {span=>
                    if !#seen {
                        return #rt::Err(#rt::DecodeError::missing(
                            #code, #vendor, #fname, <#inner as #rt::AvpValue>::MIN_LEN));
                    }
                });
                encodes.push(quote_spanned! {span=>
                    #rt::write_field(&mut __out, #code, #flags, #vendor, &self.#ident)?;
                });
                lens.push(quote_spanned! {span=>
                    __n += #rt::field_len(#flags, &self.#ident);
                });
                unset.push(quote_spanned! {span=>
                    if <#inner as #rt::AvpValue>::is_unset(&self.#ident) {
                        return #rt::Some(#fname);
                    }
                    if let #rt::Some(n) = <#inner as #rt::AvpValue>::first_unset(&self.#ident) {
                        return #rt::Some(n);
                    }
                });
                let kind = match (code, vendor) {
                    (263, 0) => Some(quote!(SessionId)),
                    (264, 0) => Some(quote!(OriginHost)),
                    (296, 0) => Some(quote!(OriginRealm)),
                    (283, 0) => Some(quote!(DestinationRealm)),
                    (258, 0) | (259, 0) => Some(quote!(ApplicationId)),
                    _ => None,
                };
                if let Some(kind) = kind {
                    fills.push(quote_spanned! {span=>
                        <#inner as #rt::Fillable>::fill_with(&mut self.#ident, #rt::FillKind::#kind, __fill);
                    });
                }
            }
            Shape::Optional => {
                inits.push(quote!(#ident: #rt::None));
                resets.push(quote!(self.#ident = #rt::None;));
                arms.push(quote_spanned! {span=>
                    (#code, #vendor) => {
                        if __out.#ident.is_some() {
                            return #rt::Err(#rt::too_many(__buf, &__avp, #fname, 1));
                        }
                        #fixed
                        let __slot = __out.#ident.insert(<#inner as #rt::AvpValue>::placeholder());
                        #rt::decode_field_into::<#inner>(__slot, __buf, &__avp, #fname)?;
                    }
                });
                encodes.push(quote_spanned! {span=>
                    if let #rt::Some(v) = &self.#ident {
                        #rt::write_field(&mut __out, #code, #flags, #vendor, v)?;
                    }
                });
                lens.push(quote_spanned! {span=>
                    if let #rt::Some(v) = &self.#ident {
                        __n += #rt::field_len(#flags, v);
                    }
                });
                unset.push(quote_spanned! {span=>
                    if let #rt::Some(v) = &self.#ident {
                        if let #rt::Some(n) = <#inner as #rt::AvpValue>::first_unset(v) {
                            return #rt::Some(n);
                        }
                    }
                });
            }
            Shape::Repeated => {
                inits.push(quote!(#ident: #rt::Vec::new()));
                resets.push(quote!(self.#ident.clear();));
                let check = f.attrs.max.map(|max| {
                    let m = max as usize;
                    quote! {
                        if __out.#ident.len() >= #m {
                            return #rt::Err(#rt::too_many(__buf, &__avp, #fname, #max));
                        }
                    }
                });
                arms.push(quote_spanned! {span=>
                    (#code, #vendor) => {
                        #check
                        let __i = __out.#ident.len();
                        if __i == 0 {
                            // Most repeated AVPs occur once: no room for four up front.
                            __out.#ident.reserve_exact(1);
                        }
                        __out.#ident.push(<#inner as #rt::AvpValue>::placeholder());
                        #rt::decode_field_into::<#inner>(&mut __out.#ident[__i], __buf, &__avp, #fname)?;
                    }
                });
                if let Some(min) = f.attrs.min.filter(|m| *m > 0) {
                    let m = min as usize;
                    finish.push(quote_spanned! {span=>
                        if __out.#ident.len() < #m {
                            return #rt::Err(#rt::too_few(#code, #vendor, #fname,
                                <#inner as #rt::AvpValue>::MIN_LEN, #min, __out.#ident.len()));
                        }
                    });
                }
                encodes.push(quote_spanned! {span=>
                    for v in &self.#ident {
                        #rt::write_field(&mut __out, #code, #flags, #vendor, v)?;
                    }
                });
                lens.push(quote_spanned! {span=>
                    for v in &self.#ident {
                        __n += #rt::field_len(#flags, v);
                    }
                });
                unset.push(quote_spanned! {span=>
                    for v in &self.#ident {
                        if let #rt::Some(n) = <#inner as #rt::AvpValue>::first_unset(v) {
                            return #rt::Some(n);
                        }
                    }
                });
            }
        }
    }
    for fb in &sattrs.forbid {
        let (c, v, n) = (fb.avp, fb.vendor, &fb.name);
        arms.push(quote! {
            (#c, #v) => return #rt::Err(#rt::not_allowed(__buf, &__avp, #n)),
        });
    }
    let fallback = match extra {
        Some(x) => {
            inits.push(quote!(#x: #rt::Vec::new()));
            resets.push(quote!(self.#x.clear();));
            encodes.insert(
                extra_pos,
                quote! {
                    for a in &self.#x {
                        #rt::write_raw(&mut __out, a)?;
                    }
                },
            );
            lens.push(quote! {
                for a in &self.#x {
                    __n += a.encoded_len();
                }
            });
            quote!(_ => __out.#x.push(__avp.to_raw(__buf)),)
        }
        None => quote! {
            _ if __avp.flags.is_mandatory() => return #rt::Err(#rt::unsupported(__buf, &__avp)),
            _ => {}
        },
    };
    // Only grammars with a fixed position count the AVPs.
    let positioned = parsed.iter().any(|f| f.attrs.first || f.attrs.last);
    let (index_init, index_step) = if positioned {
        (quote!(let mut __index = 0usize;), quote!(__index += 1;))
    } else {
        (quote!(), quote!())
    };
    let avpset = quote! {
        impl #rt::AvpSet for #name {
            #[inline]
            fn placeholder() -> Self {
                #name { #(#inits),* }
            }

            #[inline]
            fn decode_avps_into(&mut self, __buf: &#rt::Bytes, __start: usize, __end: usize) -> #rt::Result<(), #rt::DecodeError> {
                let __out = self;
                #(#seen_locals)*
                #index_init
                for __avp in #rt::AvpReader::within(__buf, __start, __end) {
                    let __avp = __avp?;
                    match (__avp.code, __avp.vendor_id) {
                        #(#arms)*
                        #fallback
                    }
                    #index_step
                }
                #(#finish)*
                #rt::Ok(())
            }

            #[inline]
            fn write_avps<'__a>(&self, mut __out: &'__a mut [u8]) -> #rt::Option<&'__a mut [u8]> {
                #(#encodes)*
                #rt::Some(__out)
            }

            #[inline]
            fn reset(&mut self) {
                #(#resets)*
            }

            #[inline]
            fn encoded_len(&self) -> usize {
                let mut __n = 0usize;
                #(#lens)*
                __n
            }

            #[inline]
            fn first_unset(&self) -> #rt::Option<&'static str> {
                #(#unset)*
                #rt::None
            }
        }
    };

    let rest = match kind {
        Kind::Grouped => quote! {
            impl #rt::Grouped for #name {}
            impl #rt::AvpValue for #name {
                #[inline]
                fn decode_value(data: #rt::Bytes) -> #rt::Result<Self, #rt::DecodeError> {
                    <Self as #rt::AvpSet>::decode_avps(&data)
                }
                #[inline]
                fn decode_at(buf: &#rt::Bytes, start: usize, end: usize) -> #rt::Result<Self, #rt::DecodeError> {
                    <Self as #rt::AvpSet>::decode_avps_in(buf, start, end)
                }
                #[inline]
                fn decode_into(slot: &mut Self, buf: &#rt::Bytes, start: usize, end: usize) -> #rt::Result<(), #rt::DecodeError> {
                    <Self as #rt::AvpSet>::decode_avps_into(slot, buf, start, end)
                }
                #[inline]
                fn encode_value(&self, out: &mut #rt::BytesMut) {
                    <Self as #rt::AvpSet>::encode_avps(self, out)
                }
                #[inline]
                fn value_len(&self) -> usize {
                    <Self as #rt::AvpSet>::encoded_len(self)
                }
                #[inline]
                fn write_avp<'__a>(&self, out: &'__a mut [u8], code: u32, flags: #rt::AvpFlags, vendor_id: u32) -> #rt::Option<&'__a mut [u8]> {
                    #rt::write_avp_with(out, code, flags, vendor_id, |data| {
                        <Self as #rt::AvpSet>::write_avps(self, data)
                    })
                }
                #[inline]
                fn first_unset(&self) -> #rt::Option<&'static str> {
                    <Self as #rt::AvpSet>::first_unset(self)
                }
                #[inline]
                fn placeholder() -> Self {
                    <Self as #rt::AvpSet>::placeholder()
                }
            }
        },
        Kind::Message => {
            let display = sattrs.name.clone().unwrap_or_else(|| name.to_string());
            let app = sattrs.application.unwrap_or(0);
            let (code, mut flags) = if sattrs.answer_message {
                (0u32, quote!(#rt::CommandFlags::ERROR))
            } else {
                let Some(code) = sattrs.command else {
                    return Err(syn::Error::new(
                        input.ident.span(),
                        "a Message needs #[diameter(command = CODE, request|answer)] or #[diameter(answer_message)]",
                    ));
                };
                if code > 0x00ff_ffff {
                    return Err(syn::Error::new(
                        input.ident.span(),
                        "command codes are 24 bits",
                    ));
                }
                if sattrs.request == sattrs.answer {
                    return Err(syn::Error::new(
                        input.ident.span(),
                        "say exactly one of `request` or `answer`",
                    ));
                }
                let f = if sattrs.request {
                    quote!(#rt::CommandFlags::REQUEST)
                } else {
                    quote!(#rt::CommandFlags::NONE)
                };
                (code, f)
            };
            if sattrs.proxiable {
                flags = quote!(#flags.with(#rt::CommandFlags::PROXIABLE));
            }
            if sattrs.error && !sattrs.answer_message {
                flags = quote!(#flags.with(#rt::CommandFlags::ERROR));
            }
            quote! {
                impl #rt::Message for #name {
                    const NAME: &'static str = #display;
                    const COMMAND_CODE: u32 = #code;
                    const APPLICATION_ID: u32 = #app;
                    const FLAGS: #rt::CommandFlags = #flags;

                    #[inline]
                    fn fill(&mut self, __fill: &#rt::Fill<'_>) {
                        #(#fills)*
                    }
                }
            }
        }
    };
    Ok(quote! {
        #[automatically_derived]
        #avpset
        #[automatically_derived]
        #rest
    })
}
