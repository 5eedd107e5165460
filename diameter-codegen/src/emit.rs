//! Rust from the resolved model: one module per application, structs for commands and Grouped
//! AVPs, enums for Enumerated AVPs, constants for codes. Encoding is left to the derives.

use std::collections::HashMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::error::{Diagnostic, ErrorKind, Loc};
use crate::model::{
    Application, Avp, AvpId, BaseType, Command, Dictionary, Item, Position, Rule, Target,
};

/// Extra attributes to put on generated items, by dictionary name ("." for all).
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    /// (matcher, attribute text) for structs and enums.
    pub types: Vec<(String, String)>,
    /// (matcher, attribute text) for fields; the matcher is `Type-Name.AVP-Name` or `.`.
    pub fields: Vec<(String, String)>,
}

const STRICT: &[&str] = &["self", "Self", "super", "crate"];

/// An identifier from an arbitrary word: keywords become raw identifiers, a leading digit
/// gets `prefix`.
fn make_ident(s: &str, prefix: &str) -> Ident {
    let mut s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("{prefix}{s}");
    }
    if STRICT.contains(&s.as_str()) {
        return format_ident!("{}_", s);
    }
    if syn::parse_str::<Ident>(&s).is_err() {
        return Ident::new_raw(&s, Span::call_site());
    }
    Ident::new(&s, Span::call_site())
}

use crate::naming::{camel, shouty, snake};

/// The name an AVP's words come from: its `rust-name`, else its dictionary name.
fn avp_source(a: &Avp) -> &str {
    a.rust_name.as_deref().unwrap_or(&a.name)
}

/// The field of an AVP in a grammar.
fn field_name(a: &Avp) -> String {
    make_ident(&snake(avp_source(a)), "avp_").to_string()
}

/// The constant of an AVP in the `avp` module.
fn avp_const_name(a: &Avp) -> String {
    make_ident(&shouty(avp_source(a)), "_").to_string()
}

/// The type stem of a command (before Request/Answer).
fn command_stem(c: &Command) -> String {
    c.rust_name.clone().unwrap_or_else(|| camel(&c.name))
}

/// The service and client method of a command.
fn method_name(c: &Command) -> String {
    make_ident(&snake(c.rust_name.as_deref().unwrap_or(&c.name)), "cmd_").to_string()
}

/// The variant of an enumerated item.
fn variant_name(it: &Item) -> String {
    it.rust_name
        .clone()
        .unwrap_or_else(|| make_ident(&camel(&it.name), "V").to_string())
}

/// The associated constant of an Unsigned32 item.
fn item_const_name(it: &Item) -> String {
    it.rust_name
        .clone()
        .unwrap_or_else(|| make_ident(&shouty(&it.name), "_").to_string())
}

fn doc(text: &str) -> TokenStream {
    let lines: Vec<TokenStream> = text
        .lines()
        .map(|l| {
            let l = format!(" {}", l.trim());
            quote!(#[doc = #l])
        })
        .collect();
    quote!(#(#lines)*)
}

fn grammar_notation(name: &str, r: &Rule) -> String {
    let inner = if r.target == Target::Wildcard {
        "AVP"
    } else {
        name
    };
    let bracket = |s: &str| {
        if r.position.is_some() {
            format!("< {s} >")
        } else if r.min > 0 {
            format!("{{ {s} }}")
        } else {
            format!("[ {s} ]")
        }
    };
    let qual = match (r.min, r.max) {
        (_, Some(1)) => String::new(),
        (0, None) => "*".into(),
        (1, None) if r.min == 1 => "1*".into(),
        (m, None) => format!("{m}*"),
        (0, Some(x)) => format!("*{x}"),
        (m, Some(x)) => format!("{m}*{x}"),
    };
    format!("{qual}{}", bracket(inner))
}

/// Rust names for every application module and generated type.
pub struct Names {
    modules: HashMap<u32, String>,
    types: HashMap<AvpId, String>,
    /// Paths of external applications.
    external: HashMap<u32, String>,
}

/// Whether an AVP gets a generated type.
fn has_type(a: &Avp) -> bool {
    a.ty == BaseType::Grouped
        || (!a.items.is_empty()
            && matches!(
                a.ty,
                BaseType::Enumerated | BaseType::Integer32 | BaseType::Unsigned32
            ))
}

/// Names given in one Rust scope, to report two dictionary names that become one.
struct Scope {
    what: &'static str,
    names: HashMap<String, String>,
}

impl Scope {
    fn new(what: &'static str) -> Self {
        Scope {
            what,
            names: HashMap::new(),
        }
    }

    fn add(&mut self, rust: String, from: &str, loc: Loc, diags: &mut Vec<Diagnostic>) {
        if let Some(other) = self.names.get(&rust) {
            diags.push(Diagnostic::new(
                ErrorKind::RustNameCollision,
                loc,
                format!(
                    "{from} and {other} both become the {} `{rust}`; set rust-name on one of them",
                    self.what
                ),
            ));
        } else {
            self.names.insert(rust, from.to_string());
        }
    }
}

/// The fields of one grammar must have distinct names.
fn check_fields(dict: &Dictionary, owner: &str, rules: &[Rule], diags: &mut Vec<Diagnostic>) {
    let mut scope = Scope::new("field");
    for r in rules {
        let (rust, from) = match r.target {
            Target::Wildcard => ("avps".to_string(), "*[ AVP ]".to_string()),
            Target::Avp(id) => {
                let a = &dict.avps[id];
                (field_name(a), format!("AVP {}", a.name))
            }
        };
        let n = diags.len();
        scope.add(rust, &from, r.loc, diags);
        if let Some(d) = diags.get_mut(n) {
            d.message = format!("in {owner}: {}", d.message);
        }
    }
}

/// The items of one AVP must have distinct variant (or constant) names.
fn check_items(a: &Avp, diags: &mut Vec<Diagnostic>) {
    let unsigned = a.ty == BaseType::Unsigned32;
    let mut scope = Scope::new(if unsigned { "constant" } else { "variant" });
    let reserved = if unsigned { "NAMES" } else { "Unrecognized" };
    scope
        .names
        .insert(reserved.to_string(), "a generated name".to_string());
    for it in &a.items {
        let rust = if unsigned {
            item_const_name(it)
        } else {
            variant_name(it)
        };
        let n = diags.len();
        scope.add(rust, &format!("item {}", it.name), it.loc, diags);
        if let Some(d) = diags.get_mut(n) {
            d.message = format!("in AVP {}: {}", a.name, d.message);
        }
    }
}

impl Names {
    /// Assigns names and reports collisions.
    pub fn new(dict: &Dictionary) -> Result<Names, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut modules = HashMap::new();
        let mut used_mods: HashMap<String, u32> = HashMap::new();
        let mut external = HashMap::new();
        for app in &dict.applications {
            let m = app
                .rust_name
                .clone()
                .unwrap_or_else(|| make_ident(&snake(&app.name), "app_").to_string());
            if let Some(ext) = &app.external {
                external.insert(app.id, ext.clone());
            }
            if let Some(other) = used_mods.insert(m.clone(), app.id) {
                diags.push(Diagnostic::new(
                    ErrorKind::RustNameCollision,
                    app.loc,
                    format!(
                        "applications {other} and {} both become module `{m}`; set rust-name",
                        app.id
                    ),
                ));
            }
            modules.insert(app.id, m);
        }
        let mut types = HashMap::new();
        for app in &dict.applications {
            let mut used = Scope::new("type");
            for c in &app.commands {
                let stem = command_stem(c);
                for suffix in ["Request", "Answer"] {
                    used.add(
                        format!("{stem}{suffix}"),
                        &format!("command {}", c.name),
                        c.loc,
                        &mut diags,
                    );
                }
            }
            if app.answer_message.is_some() {
                used.add(
                    "AnswerMessage".into(),
                    "the answer-message",
                    app.loc,
                    &mut diags,
                );
            }
            let mut consts = Scope::new("constant");
            let mut commands = Scope::new("command constant");
            for c in &app.commands {
                commands.add(
                    make_ident(&shouty(&c.name), "_").to_string(),
                    &format!("command {}", c.name),
                    c.loc,
                    &mut diags,
                );
            }
            for &id in &app.avps {
                let a = &dict.avps[id];
                consts.add(
                    avp_const_name(a),
                    &format!("AVP {}", a.name),
                    a.loc,
                    &mut diags,
                );
                check_items(a, &mut diags);
                if a.ty == BaseType::Grouped {
                    check_fields(dict, &a.name, &a.rules, &mut diags);
                }
                if !has_type(a) {
                    continue;
                }
                let n = a
                    .rust_name
                    .clone()
                    .unwrap_or_else(|| make_ident(&camel(&a.name), "Avp").to_string());
                used.add(n.clone(), &format!("AVP {}", a.name), a.loc, &mut diags);
                types.insert(id, n);
            }
            for c in &app.commands {
                check_fields(dict, &format!("{}-Request", c.name), &c.request, &mut diags);
                check_fields(dict, &format!("{}-Answer", c.name), &c.answer, &mut diags);
            }
            if let Some(rules) = &app.answer_message {
                check_fields(dict, "Answer-Message", rules, &mut diags);
            }
        }
        for d in &mut diags {
            d.file = dict.files.get(d.loc.file).cloned().unwrap_or_default();
        }
        if diags.is_empty() {
            Ok(Names {
                modules,
                types,
                external,
            })
        } else {
            Err(diags)
        }
    }

    /// The Rust module of an application.
    pub fn module(&self, app: u32) -> Option<&str> {
        self.modules.get(&app).map(String::as_str)
    }

    /// The Rust type of a command's request (`request`) or answer.
    pub fn command_type(c: &Command, request: bool) -> String {
        let stem = command_stem(c);
        let kind = if request { "Request" } else { "Answer" };
        make_ident(&format!("{stem}{kind}"), "Cmd").to_string()
    }

    fn type_path(&self, dict: &Dictionary, from_app: u32, id: AvpId) -> TokenStream {
        let a = &dict.avps[id];
        let ty = make_ident(&self.types[&id], "Avp");
        if let Some(ext) = self.external.get(&a.app) {
            let path: syn::Path = syn::parse_str(ext).unwrap_or_else(|_| syn::parse_quote!(crate));
            quote!(#path::#ty)
        } else if a.app == from_app {
            quote!(#ty)
        } else {
            let m = make_ident(&self.modules[&a.app], "app_");
            quote!(super::#m::#ty)
        }
    }
}

/// How often a rule's AVP occurs, as its field holds it.
#[derive(Clone, Copy)]
enum Shape {
    One,
    Optional,
    Repeated,
}

impl Shape {
    fn of(r: &Rule) -> Shape {
        match (r.min, r.max) {
            (m, Some(1)) if m >= 1 => Shape::One,
            (0, Some(1)) => Shape::Optional,
            _ => Shape::Repeated,
        }
    }
}

/// The doc of every generated `Default` impl.
const DEFAULT_DOC: DefaultDoc = DefaultDoc;

struct DefaultDoc;

impl quote::ToTokens for DefaultDoc {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(quote! {
            /// Required fields empty (text and octets empty, numbers 0, enumerations 0, Grouped
            /// values their own default), optional ones `None`, repeated ones empty: set what
            /// matters and finish with `..Default::default()`. A node sending a request fills
            /// the identity fields it owns and refuses one whose required field is still empty.
        });
    }
}

struct Emitter<'a> {
    dict: &'a Dictionary,
    names: &'a Names,
    attrs: &'a Attributes,
}

impl Emitter<'_> {
    fn value_type(&self, app: u32, id: AvpId) -> TokenStream {
        let a = &self.dict.avps[id];
        if has_type(a) {
            return self.names.type_path(self.dict, app, id);
        }
        match a.ty {
            BaseType::OctetString => quote!(__rt::Bytes),
            BaseType::Integer32 | BaseType::Enumerated => quote!(i32),
            BaseType::Integer64 => quote!(i64),
            BaseType::Unsigned32 => quote!(u32),
            BaseType::Unsigned64 => quote!(u64),
            BaseType::Float32 => quote!(f32),
            BaseType::Float64 => quote!(f64),
            BaseType::Address => quote!(__rt::Address),
            BaseType::Time => quote!(__rt::Time),
            BaseType::Utf8String => quote!(__rt::Utf8String),
            BaseType::DiameterIdentity => quote!(__rt::DiameterIdentity),
            BaseType::DiameterUri => quote!(__rt::DiameterUri),
            BaseType::IpFilterRule => quote!(__rt::IpFilterRule),
            BaseType::QosFilterRule => quote!(__rt::QosFilterRule),
            BaseType::Grouped => unreachable!("Grouped AVPs always have a type"),
        }
    }

    fn type_attrs(&self, name: &str) -> TokenStream {
        let list: Vec<TokenStream> = self
            .attrs
            .types
            .iter()
            .filter(|(m, _)| m == "." || m == name)
            .filter_map(|(_, a)| a.parse().ok())
            .collect();
        quote!(#(#list)*)
    }

    fn field_attrs(&self, owner: &str, field: &str) -> TokenStream {
        let key = format!("{owner}.{field}");
        let list: Vec<TokenStream> = self
            .attrs
            .fields
            .iter()
            .filter(|(m, _)| m == "." || *m == key)
            .filter_map(|(_, a)| a.parse().ok())
            .collect();
        quote!(#(#list)*)
    }

    /// The fields of a grammar, fixed-position ones moved to their place.
    fn fields(
        &self,
        app: u32,
        owner: &str,
        rules: &[Rule],
    ) -> (Vec<TokenStream>, Vec<TokenStream>) {
        let ordered = crate::model::field_order(rules);
        let mut fields = Vec::new();
        let mut forbid = Vec::new();
        for r in ordered {
            let (name, fname) = match r.target {
                Target::Wildcard => ("AVP".to_string(), "avps".to_string()),
                Target::Avp(id) => {
                    let a = &self.dict.avps[id];
                    (a.name.clone(), field_name(a))
                }
            };
            let ident = make_ident(&fname, "avp_");
            let notation = doc(&grammar_notation(&name, r));
            let extra = self.field_attrs(owner, &name);
            let Target::Avp(id) = r.target else {
                fields.push(quote! {
                    #notation
                    #extra
                    #[diameter(extra)]
                    pub #ident: __rt::Vec<__rt::RawAvp>,
                });
                continue;
            };
            let a = &self.dict.avps[id];
            let code = proc_macro2::Literal::u32_unsuffixed(a.code);
            let lit_name = a.name.as_str();
            if r.max == Some(0) {
                let v = proc_macro2::Literal::u32_unsuffixed(a.vendor_id);
                forbid
                    .push(quote!(#[diameter(forbid(avp = #code, vendor = #v, name = #lit_name))]));
                continue;
            }
            let ty = self.value_type(app, id);
            let mut opts = vec![quote!(avp = #code)];
            if a.vendor_id != 0 {
                let v = proc_macro2::Literal::u32_unsuffixed(a.vendor_id);
                opts.push(quote!(vendor = #v));
            }
            if a.flags.must_m {
                opts.push(quote!(must));
            }
            if a.flags.must_p {
                opts.push(quote!(protected));
            }
            if r.position == Some(Position::First) {
                opts.push(quote!(first));
            }
            if r.position == Some(Position::Last) {
                opts.push(quote!(last));
            }
            let full_ty = match (r.min, r.max) {
                (m, Some(1)) if m >= 1 => ty,
                (0, Some(1)) => quote!(__rt::Option<#ty>),
                (min, max) => {
                    if min > 0 {
                        let min = proc_macro2::Literal::u32_unsuffixed(min);
                        opts.push(quote!(min = #min));
                    }
                    if let Some(max) = max {
                        let max = proc_macro2::Literal::u32_unsuffixed(max);
                        opts.push(quote!(max = #max));
                    }
                    quote!(__rt::Vec<#ty>)
                }
            };
            opts.push(quote!(name = #lit_name));
            fields.push(quote! {
                #notation
                #extra
                #[diameter(#(#opts),*)]
                pub #ident: #full_ty,
            });
        }
        (fields, forbid)
    }

    fn avp_type(&self, app: &Application, id: AvpId) -> TokenStream {
        let a = &self.dict.avps[id];
        let ident = make_ident(&self.names.types[&id], "Avp");
        let vendor = if a.vendor_id != 0 {
            format!(", vendor {}", a.vendor_id)
        } else {
            String::new()
        };
        let head = format!(
            "`{}` AVP (code {}{vendor}, {}).",
            a.name, a.code, a.type_name
        );
        let docs = doc(&match &a.description {
            Some(d) => format!("{d}\n\n{head}"),
            None => head,
        });
        let extra = self.type_attrs(&a.name);
        match a.ty {
            BaseType::Grouped => {
                let (fields, forbid) = self.fields(app.id, &a.name, &a.rules);
                quote! {
                    #docs
                    #[derive(Debug, Clone, PartialEq, __rt::Grouped)]
                    #(#forbid)*
                    #extra
                    pub struct #ident {
                        #(#fields)*
                    }

                    #DEFAULT_DOC
                    impl ::core::default::Default for #ident {
                        #[inline]
                        fn default() -> Self {
                            <Self as __rt::AvpSet>::placeholder()
                        }
                    }
                }
            }
            BaseType::Unsigned32 => {
                let mut consts = Vec::new();
                let mut names = Vec::new();
                for it in &a.items {
                    let ci = make_ident(&item_const_name(it), "_");
                    let v = proc_macro2::Literal::u32_unsuffixed(it.code as u32);
                    let n = it.name.as_str();
                    let d = doc(&format!(
                        "{}{} ({}).",
                        it.description
                            .as_deref()
                            .map(|d| format!("{d} "))
                            .unwrap_or_default(),
                        it.name,
                        it.code
                    ));
                    consts.push(quote!(#d pub const #ci: Self = Self(#v);));
                    names.push(quote!((#v, #n)));
                }
                quote! {
                    #docs
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, __rt::Enumerated)]
                    #[diameter(names)]
                    #extra
                    pub struct #ident(pub u32);

                    impl #ident {
                        #(#consts)*
                        /// Every named value with its dictionary name.
                        pub const NAMES: &'static [(u32, &'static str)] = &[#(#names),*];
                    }
                }
            }
            _ => {
                let mut variants = Vec::new();
                for it in &a.items {
                    let vi = make_ident(&variant_name(it), "V");
                    let code = proc_macro2::Literal::i64_unsuffixed(it.code);
                    let n = it.name.as_str();
                    let d = doc(&format!(
                        "{}{} ({}).",
                        it.description
                            .as_deref()
                            .map(|d| format!("{d} "))
                            .unwrap_or_default(),
                        it.name,
                        it.code
                    ));
                    variants.push(quote!(#d #[diameter(value = #code, name = #n)] #vi,));
                }
                quote! {
                    #docs
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, __rt::Enumerated)]
                    #extra
                    pub enum #ident {
                        #(#variants)*
                        /// A value the dictionary does not name, kept as received.
                        #[diameter(unknown)]
                        Unrecognized(i32),
                    }

                    /// The value 0: its variant, or `Unrecognized(0)` (unset: a sender
                    /// refuses it in a required field) when the dictionary does not name 0.
                    impl ::core::default::Default for #ident {
                        #[inline]
                        fn default() -> Self {
                            <Self as __rt::EnumValue>::from_repr(0)
                        }
                    }
                }
            }
        }
    }

    /// The struct of a command's request (`request == true`) or answer.
    fn message(&self, app: &Application, c: &Command, request: bool) -> TokenStream {
        let (kind, rules, error) = if request {
            ("Request", &c.request, false)
        } else {
            ("Answer", &c.answer, c.error)
        };
        let (name, code, proxiable) = (c.name.as_str(), c.code, c.proxiable);
        let stem = command_stem(c);
        let description = c.description.as_deref();
        let ident = make_ident(&format!("{stem}{kind}"), "Cmd");
        let full = format!("{name}-{kind}");
        let (fields, forbid) = self.fields(app.id, &full, rules);
        let head = format!("`{full}` (command {code}, application {}).", app.id);
        let docs = doc(&match description {
            Some(d) => format!("{d}\n\n{head}"),
            None => head,
        });
        let app_id = proc_macro2::Literal::u32_unsuffixed(app.id);
        let code = proc_macro2::Literal::u32_unsuffixed(code);
        let mut opts = vec![quote!(command = #code)];
        opts.push(if kind == "Request" {
            quote!(request)
        } else {
            quote!(answer)
        });
        if proxiable {
            opts.push(quote!(proxiable));
        }
        if error {
            opts.push(quote!(error));
        }
        opts.push(quote!(application = #app_id));
        opts.push(quote!(name = #full));
        let extra = self.type_attrs(&full);
        quote! {
            #docs
            #[derive(Debug, Clone, PartialEq, __rt::Message)]
            #[diameter(#(#opts),*)]
            #(#forbid)*
            #extra
            pub struct #ident {
                #(#fields)*
            }

            #DEFAULT_DOC
            impl ::core::default::Default for #ident {
                #[inline]
                fn default() -> Self {
                    <Self as __rt::AvpSet>::placeholder()
                }
            }
        }
    }

    /// `FromRequest`: the answer of a command started from its request.
    fn answer_from_request(&self, app: &Application, c: &Command) -> TokenStream {
        let stem = command_stem(c);
        let req = make_ident(&format!("{stem}Request"), "Cmd");
        let ans = make_ident(&format!("{stem}Answer"), "Cmd");
        let in_request = |id: AvpId| {
            c.request
                .iter()
                .find(|r| r.target == Target::Avp(id) && r.max != Some(0))
        };
        let mut sets = Vec::new();
        for r in &c.answer {
            let Target::Avp(id) = r.target else {
                continue;
            };
            if r.max == Some(0) {
                continue;
            }
            let a = &self.dict.avps[id];
            let f = make_ident(&field_name(a), "avp_");
            let to = Shape::of(r);
            let ietf = a.vendor_id == 0;
            let value = match (a.code, ietf) {
                (264, true) => Some(quote!(::core::clone::Clone::clone(__origin_host))),
                (296, true) => Some(quote!(::core::clone::Clone::clone(__origin_realm))),
                (268, true) => {
                    let ty = self.value_type(app.id, id);
                    Some(match a.ty {
                        BaseType::Unsigned32 => {
                            quote!(<#ty as ::core::convert::From<u32>>::from(2001u32))
                        }
                        _ => quote!(<#ty as ::core::convert::From<i32>>::from(2001i32)),
                    })
                }
                _ => None,
            };
            if let Some(v) = value {
                sets.push(match to {
                    Shape::One => quote!(__a.#f = #v;),
                    Shape::Optional => quote!(__a.#f = __rt::Some(#v);),
                    Shape::Repeated => quote!(__a.#f = ::std::vec![#v];),
                });
                continue;
            }
            let Some(from) = in_request(id) else {
                continue;
            };
            // The AVPs that identify the exchange: required on both sides, the
            // application ids, Session-Id, and Proxy-Info (RFC 6733 §6.7.3).
            let identifying = (from.min > 0 && r.min > 0)
                || (ietf && matches!(a.code, 258 | 259 | 260 | 263 | 284));
            if !identifying {
                continue;
            }
            let src = quote!(__r.#f);
            sets.push(match (Shape::of(from), to) {
                (Shape::One, Shape::One)
                | (Shape::Optional, Shape::Optional)
                | (Shape::Repeated, Shape::Repeated) => {
                    quote!(__a.#f = ::core::clone::Clone::clone(&#src);)
                }
                (Shape::One, Shape::Optional) => {
                    quote!(__a.#f = __rt::Some(::core::clone::Clone::clone(&#src));)
                }
                (Shape::One, Shape::Repeated) => {
                    quote!(__a.#f = ::std::vec![::core::clone::Clone::clone(&#src)];)
                }
                (Shape::Optional, Shape::One) => quote! {
                    if let __rt::Some(__v) = &#src {
                        __a.#f = ::core::clone::Clone::clone(__v);
                    }
                },
                (Shape::Optional, Shape::Repeated) => {
                    quote!(__a.#f = #src.iter().cloned().collect();)
                }
                (Shape::Repeated, Shape::One) => quote! {
                    if let __rt::Some(__v) = #src.first() {
                        __a.#f = ::core::clone::Clone::clone(__v);
                    }
                },
                (Shape::Repeated, Shape::Optional) => quote!(__a.#f = #src.first().cloned();),
            });
        }
        let d = doc(&format!(
            "The `{}-Answer` to a `{}-Request`: Session-Id, this node's Origin-Host and Origin-Realm, Result-Code 2001, Proxy-Info and the identifying AVPs copied; the rest empty.",
            c.name, c.name
        ));
        quote! {
            #d
            impl __rt::FromRequest<#req> for #ans {
                #[inline]
                fn from_request(
                    __r: &#req,
                    __origin_host: &__rt::DiameterIdentity,
                    __origin_realm: &__rt::DiameterIdentity,
                ) -> Self {
                    let mut __a = <Self as ::core::default::Default>::default();
                    #(#sets)*
                    __a
                }
            }
        }
    }

    /// The service trait, its `Handler` and the typed client of an application.
    fn service(&self, app: &Application) -> TokenStream {
        let base = camel(&self.names.modules[&app.id]);
        let taken = |n: &str| {
            app.avps
                .iter()
                .any(|id| self.names.types.get(id).is_some_and(|t| t == n))
                || app.commands.iter().any(|c| {
                    let stem = command_stem(c);
                    n == format!("{stem}Request") || n == format!("{stem}Answer")
                })
        };
        let name = |suffix: &str| {
            let mut n = format!("{base}{suffix}");
            if taken(&n) {
                n = format!("{base}App{suffix}");
            }
            make_ident(&n, "App")
        };
        let (svc, server, client) = (name("Service"), name("Server"), name("Client"));
        let mut methods = Vec::new();
        let mut arms = Vec::new();
        let mut calls = Vec::new();
        for c in &app.commands {
            let stem = command_stem(c);
            let req = make_ident(&format!("{stem}Request"), "Cmd");
            let ans = make_ident(&format!("{stem}Answer"), "Cmd");
            let method = make_ident(&method_name(c), "cmd_");
            let code = proc_macro2::Literal::u32_unsuffixed(c.code);
            let d = doc(&format!(
                "Answers a `{}-Request` (command {}); an `Err` is answered with its Result-Code.",
                c.name, c.code
            ));
            methods.push(quote! {
                #d
                fn #method(
                    &self,
                    request: __rt::Request<#req>,
                ) -> impl ::core::future::Future<Output = __rt::ServiceResult<#ans>> + Send;
            });
            arms.push(quote! {
                #code => ::std::boxed::Box::pin(async move {
                    match request.decode::<#req>() {
                        __rt::Ok(r) => match svc.#method(request.clone().with_message(r)).await {
                            __rt::Ok(answer) => request.reply(&answer),
                            __rt::Err(e) => e.reply(&request),
                        },
                        __rt::Err(e) => request.error_answer(&e),
                    }
                }),
            });
            let d = doc(&format!(
                "Sends a `{}-Request` and waits for its answer. Takes the message, a reference to it, or a `Call` with its own timeout and filter; empty identity fields are filled by the node (`Node::call`).",
                c.name
            ));
            calls.push(quote! {
                #d
                pub async fn #method(&self, request: impl __rt::IntoCall<#req>) -> __rt::Result<#ans, __rt::NodeError> {
                    self.node.call_filtered(request, self.filter.clone()).await
                }
            });
        }
        let tdoc = doc(&format!(
            "The {} application, to implement: one method per command. Serve it with `{}::new(service)` as the node's handler.",
            app.name, server
        ));
        let sdoc = doc(&format!(
            "Serves a [`{svc}`]: decodes each request with its grammar (errors are answered as RFC 6733 says), calls the method, encodes the answer; other commands get 3001."
        ));
        let cdoc = doc(&format!(
            "A typed client of the {} application over a node.",
            app.name
        ));
        quote! {
            #tdoc
            pub trait #svc: Send + Sync + 'static {
                #(#methods)*
            }

            #sdoc
            pub struct #server<T> {
                inner: __rt::Arc<T>,
            }

            impl<T: #svc> #server<T> {
                /// Wraps a service.
                pub fn new(service: T) -> Self {
                    #server { inner: __rt::Arc::new(service) }
                }
            }

            impl<T: #svc> __rt::Handler for #server<T> {
                fn handle(&self, request: __rt::Request) -> __rt::BoxFuture<__rt::Reply> {
                    let svc = self.inner.clone();
                    match request.header().command_code {
                        #(#arms)*
                        _ => ::std::boxed::Box::pin(::core::future::ready(__rt::unsupported_command(&request))),
                    }
                }
            }

            ::diameter_runtime::__with_node! {
            #cdoc
            #[derive(Clone)]
            pub struct #client {
                node: __rt::Node,
                filter: __rt::Option<__rt::Filter>,
            }

            impl #client {
                /// A client sending through `node`, to any suitable peer.
                pub fn new(node: __rt::Node) -> Self {
                    #client { node, filter: __rt::None }
                }
                /// Sends only to the peers `filter` accepts (failover included), as
                /// `AppHandle::filter` gives for an application bound to a set of peers.
                pub fn with_filter(mut self, filter: __rt::Option<__rt::Filter>) -> Self {
                    self.filter = filter;
                    self
                }
                #(#calls)*
            }
            }
        }
    }

    fn application(&self, app: &Application) -> TokenStream {
        let m = make_ident(&self.names.modules[&app.id], "app_");
        let id = app.id;
        let head = if app.library {
            format!("{} (AVP library).", app.name)
        } else {
            format!("{} (application {}).", app.name, app.id)
        };
        let app_id = (!app.library).then(|| {
            quote! {
                /// The Application-ID.
                pub const APPLICATION_ID: u32 = #id;
            }
        });
        let docs = doc(&match &app.description {
            Some(d) => format!("{head}\n\n{d}"),
            None => head,
        });
        let mut avp_consts = Vec::new();
        for &aid in &app.avps {
            let a = &self.dict.avps[aid];
            let ci = make_ident(&avp_const_name(a), "_");
            let (code, vendor) = (a.code, a.vendor_id);
            let d = doc(&if vendor == 0 {
                format!("`{}` (code {code}).", a.name)
            } else {
                format!("`{}` (code {code}, vendor {vendor}).", a.name)
            });
            avp_consts.push(
                quote!(#d pub const #ci: __rt::AvpCode = __rt::AvpCode::vendor(#code, #vendor);),
            );
        }
        let mut cmd_consts = Vec::new();
        let mut items = Vec::new();
        for c in &app.commands {
            let ci = make_ident(&shouty(&c.name), "_");
            let code = c.code;
            let d = doc(&format!("`{}` ({code}).", c.name));
            cmd_consts
                .push(quote!(#d pub const #ci: __rt::CommandCode = __rt::CommandCode(#code);));
            items.push(self.message(app, c, true));
            items.push(self.message(app, c, false));
            items.push(self.answer_from_request(app, c));
        }
        if app.id != 0 && !app.commands.is_empty() {
            items.push(self.service(app));
        }
        if let Some(rules) = &app.answer_message {
            let (fields, forbid) = self.fields(app.id, "Answer-Message", rules);
            items.push(quote! {
                /// The generic error answer (RFC 6733 §7.2): any command code, `E` bit set.
                #[derive(Debug, Clone, PartialEq, __rt::Message)]
                #[diameter(answer_message, application = 0, name = "Answer-Message")]
                #(#forbid)*
                pub struct AnswerMessage {
                    #(#fields)*
                }

                #DEFAULT_DOC
                impl ::core::default::Default for AnswerMessage {
                    #[inline]
                    fn default() -> Self {
                        <Self as __rt::AvpSet>::placeholder()
                    }
                }
            });
        }
        for &aid in &app.avps {
            if has_type(&self.dict.avps[aid]) {
                items.push(self.avp_type(app, aid));
            }
        }
        quote! {
            #docs
            pub mod #m {
                #![allow(clippy::all, clippy::pedantic, non_camel_case_types, unused_imports)]
                use ::diameter_runtime::codegen as __rt;

                #app_id

                /// The AVPs this application defines: code and Vendor-ID.
                pub mod avp {
                    use ::diameter_runtime::codegen as __rt;
                    #(#avp_consts)*
                }

                /// The codes of this application's commands.
                pub mod command {
                    use ::diameter_runtime::codegen as __rt;
                    #(#cmd_consts)*
                }

                #(#items)*
            }
        }
    }
}

/// Emits the modules of the applications that `keep` selects (external ones never).
pub fn emit(
    dict: &Dictionary,
    names: &Names,
    attrs: &Attributes,
    keep: impl Fn(&Application) -> bool,
) -> TokenStream {
    let e = Emitter { dict, names, attrs };
    let mods: Vec<TokenStream> = dict
        .applications
        .iter()
        .filter(|a| a.external.is_none() && keep(a))
        .map(|a| e.application(a))
        .collect();
    quote!(#(#mods)*)
}
