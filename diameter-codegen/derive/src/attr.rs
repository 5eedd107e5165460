//! Parsing of `#[diameter(...)]` attributes.

use syn::spanned::Spanned;
use syn::{Attribute, LitInt, LitStr};

/// Struct-level options.
#[derive(Default)]
pub struct StructAttrs {
    pub command: Option<u32>,
    pub request: bool,
    pub answer: bool,
    pub proxiable: bool,
    pub error: bool,
    pub answer_message: bool,
    pub application: Option<u32>,
    pub name: Option<String>,
    pub forbid: Vec<Forbid>,
    pub names: bool,
}

/// `forbid(avp = .., vendor = .., name = ..)`.
pub struct Forbid {
    pub avp: u32,
    pub vendor: u32,
    pub name: String,
}

/// Field-level options.
#[derive(Default)]
pub struct FieldAttrs {
    pub avp: Option<u32>,
    pub vendor: u32,
    pub must: bool,
    pub protected: bool,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub name: Option<String>,
    pub extra: bool,
    pub first: bool,
    pub last: bool,
}

/// Variant-level options.
#[derive(Default)]
pub struct VariantAttrs {
    pub value: Option<i64>,
    pub unknown: bool,
    pub name: Option<String>,
}

fn int<T: std::str::FromStr>(m: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<T>
where
    T::Err: std::fmt::Display,
{
    let lit: LitInt = m.value()?.parse()?;
    lit.base10_parse()
}

fn string(m: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    let lit: LitStr = m.value()?.parse()?;
    Ok(lit.value())
}

fn ours(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("diameter"))
}

pub fn struct_attrs(attrs: &[Attribute]) -> syn::Result<StructAttrs> {
    let mut s = StructAttrs::default();
    for a in ours(attrs) {
        a.parse_nested_meta(|m| {
            let key = m
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match key.as_str() {
                "command" => s.command = Some(int(&m)?),
                "request" => s.request = true,
                "answer" => s.answer = true,
                "proxiable" => s.proxiable = true,
                "error" => s.error = true,
                "answer_message" => s.answer_message = true,
                "application" => s.application = Some(int(&m)?),
                "name" => s.name = Some(string(&m)?),
                "names" => s.names = true,
                "forbid" => {
                    let mut f = Forbid {
                        avp: 0,
                        vendor: 0,
                        name: String::new(),
                    };
                    let mut have_avp = false;
                    m.parse_nested_meta(|n| {
                        let k = n
                            .path
                            .get_ident()
                            .map(|i| i.to_string())
                            .unwrap_or_default();
                        match k.as_str() {
                            "avp" => {
                                f.avp = int(&n)?;
                                have_avp = true;
                            }
                            "vendor" => f.vendor = int(&n)?,
                            "name" => f.name = string(&n)?,
                            _ => return Err(n.error("expected `avp`, `vendor` or `name`")),
                        }
                        Ok(())
                    })?;
                    if !have_avp {
                        return Err(m.error("`forbid` needs `avp = CODE`"));
                    }
                    if f.name.is_empty() {
                        f.name = format!("AVP {}", f.avp);
                    }
                    s.forbid.push(f);
                }
                _ => {
                    return Err(m.error(
                        "unknown diameter attribute; expected one of command, request, answer, \
                         proxiable, error, answer_message, application, name, forbid, names",
                    ))
                }
            }
            Ok(())
        })?;
    }
    Ok(s)
}

pub fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut f = FieldAttrs::default();
    let mut seen = false;
    for a in ours(&field.attrs) {
        seen = true;
        a.parse_nested_meta(|m| {
            let key = m
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match key.as_str() {
                "avp" => f.avp = Some(int(&m)?),
                "vendor" => f.vendor = int(&m)?,
                "must" | "mandatory" => f.must = true,
                "protected" => f.protected = true,
                "min" => f.min = Some(int(&m)?),
                "max" => f.max = Some(int(&m)?),
                "name" => f.name = Some(string(&m)?),
                "extra" => f.extra = true,
                "first" => f.first = true,
                "last" => f.last = true,
                _ => {
                    return Err(m.error(
                        "unknown diameter field attribute; expected one of avp, vendor, must, \
                         protected, min, max, name, extra, first, last",
                    ))
                }
            }
            Ok(())
        })?;
    }
    if !seen {
        return Err(syn::Error::new(
            field.span(),
            "every field needs #[diameter(avp = CODE, ...)] or #[diameter(extra)]",
        ));
    }
    if f.extra && f.avp.is_some() {
        return Err(syn::Error::new(
            field.span(),
            "a field is either `extra` or an `avp`, not both",
        ));
    }
    if !f.extra && f.avp.is_none() {
        return Err(syn::Error::new(
            field.span(),
            "missing `avp = CODE` in #[diameter(...)]",
        ));
    }
    if let (Some(min), Some(max)) = (f.min, f.max) {
        if min > max {
            return Err(syn::Error::new(
                field.span(),
                format!("min {min} is greater than max {max}"),
            ));
        }
    }
    Ok(f)
}

pub fn variant_attrs(v: &syn::Variant) -> syn::Result<VariantAttrs> {
    let mut out = VariantAttrs::default();
    for a in ours(&v.attrs) {
        a.parse_nested_meta(|m| {
            let key = m
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match key.as_str() {
                "value" => {
                    let neg = m.input.peek2(syn::Token![-]);
                    let _ = neg;
                    let expr: syn::Expr = m.value()?.parse()?;
                    out.value = Some(parse_int_expr(&expr)?);
                }
                "unknown" => out.unknown = true,
                "name" => out.name = Some(string(&m)?),
                _ => {
                    return Err(m.error(
                        "unknown diameter variant attribute; expected value, unknown or name",
                    ))
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn parse_int_expr(e: &syn::Expr) -> syn::Result<i64> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse(),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => Ok(-parse_int_expr(expr)?),
        _ => Err(syn::Error::new(e.span(), "expected an integer")),
    }
}
