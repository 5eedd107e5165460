//! The resolved dictionary model: vendors, applications, commands, AVPs, grammars.
//!
//! Built from one or more native XML files loaded as a set; every reference is resolved and
//! every rule checked here, so the emitter never sees an inconsistent dictionary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use crate::error::{Diagnostic, ErrorKind as K, Loc, Severity};
use crate::xml::Element;

/// Index of an AVP in [`Dictionary::avps`].
pub type AvpId = usize;

/// The RFC 6733 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseType {
    /// OctetString.
    OctetString,
    /// Integer32.
    Integer32,
    /// Integer64.
    Integer64,
    /// Unsigned32.
    Unsigned32,
    /// Unsigned64.
    Unsigned64,
    /// Float32.
    Float32,
    /// Float64.
    Float64,
    /// Grouped.
    Grouped,
    /// Address.
    Address,
    /// Time.
    Time,
    /// UTF8String.
    Utf8String,
    /// DiameterIdentity.
    DiameterIdentity,
    /// DiameterURI.
    DiameterUri,
    /// Enumerated.
    Enumerated,
    /// IPFilterRule.
    IpFilterRule,
    /// QoSFilterRule.
    QosFilterRule,
}

impl BaseType {
    /// The base type for a dictionary type name.
    pub fn from_name(s: &str) -> Option<BaseType> {
        use BaseType::*;
        Some(match s {
            "OctetString" => OctetString,
            "Integer32" => Integer32,
            "Integer64" => Integer64,
            "Unsigned32" => Unsigned32,
            "Unsigned64" => Unsigned64,
            "Float32" => Float32,
            "Float64" => Float64,
            "Grouped" => Grouped,
            "Address" => Address,
            "Time" => Time,
            "UTF8String" => Utf8String,
            "DiameterIdentity" => DiameterIdentity,
            "DiameterURI" => DiameterUri,
            "Enumerated" => Enumerated,
            "IPFilterRule" => IpFilterRule,
            "QoSFilterRule" => QosFilterRule,
            _ => return None,
        })
    }
    /// The dictionary name.
    pub fn name(self) -> &'static str {
        use BaseType::*;
        match self {
            OctetString => "OctetString",
            Integer32 => "Integer32",
            Integer64 => "Integer64",
            Unsigned32 => "Unsigned32",
            Unsigned64 => "Unsigned64",
            Float32 => "Float32",
            Float64 => "Float64",
            Grouped => "Grouped",
            Address => "Address",
            Time => "Time",
            Utf8String => "UTF8String",
            DiameterIdentity => "DiameterIdentity",
            DiameterUri => "DiameterURI",
            Enumerated => "Enumerated",
            IpFilterRule => "IPFilterRule",
            QosFilterRule => "QoSFilterRule",
        }
    }
}

/// AVP flag rules from must=, may=, must-not=.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagRules {
    /// M must be set.
    pub must_m: bool,
    /// P must be set.
    pub must_p: bool,
    /// M must not be set.
    pub must_not_m: bool,
}

/// A named value of an Enumerated (or Integer32/Unsigned32) AVP.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The value.
    pub code: i64,
    /// Its name.
    pub name: String,
    /// Doc text.
    pub description: Option<String>,
    /// Rust name override (a variant or constant name, as written).
    pub rust_name: Option<String>,
    /// Where it is defined.
    pub loc: Loc,
}

/// What a rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A defined AVP.
    Avp(AvpId),
    /// `*[ AVP ]`: any other AVP.
    Wildcard,
}

/// Fixed position of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// `< X >` at the start.
    First,
    /// At the end.
    Last,
}

/// One grammar entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The AVP or the wildcard.
    pub target: Target,
    /// Minimum occurrences.
    pub min: u32,
    /// Maximum occurrences; `None` is unbounded.
    pub max: Option<u32>,
    /// Fixed position, if any.
    pub position: Option<Position>,
    /// Where it is written.
    pub loc: Loc,
}

/// The rules of a grammar in the order generated code lays out, encodes and checks its
/// fields: fixed first positions, the others as written (the wildcard included, so AVPs it
/// keeps are encoded where the grammar puts them), fixed last positions. Run-time validation
/// follows the same order, so both report the same missing AVP first.
pub fn field_order(rules: &[Rule]) -> Vec<&Rule> {
    let mut ordered: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.position == Some(Position::First))
        .collect();
    ordered.extend(rules.iter().filter(|r| r.position.is_none()));
    ordered.extend(rules.iter().filter(|r| r.position == Some(Position::Last)));
    ordered
}

/// An AVP definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Avp {
    /// Dictionary name.
    pub name: String,
    /// Code.
    pub code: u32,
    /// Vendor-ID; 0 for IETF AVPs.
    pub vendor_id: u32,
    /// Resolved base type.
    pub ty: BaseType,
    /// The type name as written (a typedef name or the base name).
    pub type_name: String,
    /// Flag rules.
    pub flags: FlagRules,
    /// Named values.
    pub items: Vec<Item>,
    /// Grammar of a Grouped AVP.
    pub rules: Vec<Rule>,
    /// Application that defines it.
    pub app: u32,
    /// Doc text.
    pub description: Option<String>,
    /// Rust name override.
    pub rust_name: Option<String>,
    /// Where it is defined.
    pub loc: Loc,
}

/// A command with both grammars.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Code.
    pub code: u32,
    /// Name without -Request/-Answer.
    pub name: String,
    /// Short name (CC, DW …).
    pub short: Option<String>,
    /// P bit.
    pub proxiable: bool,
    /// Answer may carry the E bit with this grammar.
    pub error: bool,
    /// Request grammar.
    pub request: Vec<Rule>,
    /// Answer grammar.
    pub answer: Vec<Rule>,
    /// Doc text.
    pub description: Option<String>,
    /// Rust name override (used as the stem before Request/Answer).
    pub rust_name: Option<String>,
    /// Where it is defined.
    pub loc: Loc,
}

/// Authentication or accounting application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// type="auth".
    Auth,
    /// type="acct".
    Acct,
}

/// An application, merged from every file that defines its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// Application-ID.
    pub id: u32,
    /// Name.
    pub name: String,
    /// auth or acct.
    pub kind: Option<AppKind>,
    /// inherits= parents.
    pub parents: Vec<u32>,
    /// An AVP library (`library="true"`): AVPs for other applications to inherit, no
    /// commands, never advertised; without an `id` it is known by its name.
    pub library: bool,
    /// Default vendor for V-flag AVPs without vendor-id.
    pub default_vendor: Option<u32>,
    /// Commands.
    pub commands: Vec<Command>,
    /// AVPs defined here.
    pub avps: Vec<AvpId>,
    /// The generic answer-message grammar (application 0 only).
    pub answer_message: Option<Vec<Rule>>,
    /// Doc text.
    pub description: Option<String>,
    /// Rust module name override.
    pub rust_name: Option<String>,
    /// The file that first defines it.
    pub file: usize,
    /// Rust path of already generated types (e.g. the runtime's base), if not generated here.
    pub external: Option<String>,
    /// Where it is first defined.
    pub loc: Loc,
}

/// A vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    /// Vendor-ID.
    pub id: u32,
    /// Name.
    pub name: String,
}

/// How strictly to read files.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Read go-diameter files as go-diameter does: a V flag without vendor-id gives vendor 0
    /// and no V flag, Grouped AVPs without rules take any AVP, conflicting redefinitions take
    /// the last one, and the parent applications go-diameter hard-codes (Gx → Gq → CC → NASREQ,
    /// S6a → CC, Rx → Gmb → Gx) are searched. Each such reading is a warning, not an error.
    pub go_diameter_compat: bool,
    /// The format of every input that is not external; `None` detects each file's format
    /// from its extension and root element ([`crate::import::Format::detect`]).
    pub format: Option<crate::import::Format>,
}

use crate::import::{Format, Input};

/// One input: a path (for messages) and its text; `external` marks the applications it
/// defines as generated elsewhere, at that Rust path.
#[derive(Debug, Clone)]
pub struct Source {
    /// File name for messages.
    pub path: PathBuf,
    /// XML text.
    pub text: String,
    /// Rust path of already generated types for this file's applications.
    pub external: Option<String>,
}

impl Source {
    /// Sources for dictionaries embedded as `(name, XML text)` pairs, such as
    /// `diameter_dictionaries::SOURCES`; each is named `<bundled NAME>` in messages.
    pub fn embedded(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(name, text)| Source {
                path: PathBuf::from(format!("<bundled {name}>")),
                text: text.to_string(),
                external: None,
            })
            .collect()
    }
}

/// A resolved set of dictionaries.
#[derive(Debug, Clone)]
pub struct Dictionary {
    /// The files, in load order.
    pub files: Vec<PathBuf>,
    /// Vendors by id.
    pub vendors: Vec<Vendor>,
    /// Applications in load order.
    pub applications: Vec<Application>,
    /// Every AVP definition.
    pub avps: Vec<Avp>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
}

impl Dictionary {
    /// The application with this id.
    pub fn application(&self, id: u32) -> Option<&Application> {
        self.applications.iter().find(|a| a.id == id)
    }
    /// Finds an AVP by name as seen from application `app`.
    pub fn avp_by_name(&self, app: u32, name: &str) -> Option<&Avp> {
        self.applications
            .iter()
            .find(|a| a.id == app)
            .and_then(|a| {
                a.avps
                    .iter()
                    .map(|&i| &self.avps[i])
                    .find(|x| x.name == name)
            })
    }
}

const GO_DIAMETER_PARENTS: &[(u32, u32)] = &[
    (4, 1),
    (16777251, 4),
    (16777236, 16777223),
    (16777223, 16777238),
    (16777238, 16777222),
    (16777222, 4),
];

struct PendingGrammar {
    app: u32,
    elements: Vec<Element>,
    owner: Owner,
}

#[derive(Clone, Copy)]
enum Owner {
    Avp(AvpId),
    Request(u32, usize),
    Answer(u32, usize),
    AnswerMessage(u32),
}

struct Loader {
    opts: LoadOptions,
    diags: Vec<Diagnostic>,
    vendors: BTreeMap<u32, (String, Loc)>,
    typedefs: HashMap<String, (String, Loc)>,
    apps: Vec<Application>,
    avps: Vec<Avp>,
    by_name: HashMap<(u32, String), AvpId>,
    by_code: HashMap<(u32, u32, u32), AvpId>,
    pending: Vec<PendingGrammar>,
    vendor_uses: Vec<(u32, Loc)>,
    /// (application index, parent name, where): `inherits` by name, resolved once all
    /// applications are read.
    named_parents: Vec<(usize, String, Loc)>,
}

/// Libraries without an id get one counting down from here: no application has such an id
/// (vendor-specific ids are allocated upwards from 16777216, and 0xffffffff is the relay).
pub const LIBRARY_IDS: u32 = 0xffff_fffe;

fn parse_num<T: std::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let v = u64::from_str_radix(hex, 16).ok()?;
        return v.to_string().parse().ok();
    }
    s.parse().ok()
}

impl Loader {
    fn err(&mut self, kind: K, loc: Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(kind, loc, msg));
    }
    fn warn(&mut self, kind: K, loc: Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(kind, loc, msg));
    }
    /// An error, or a warning under go-diameter compatibility.
    fn lenient(&mut self, kind: K, loc: Loc, msg: impl Into<String>) {
        if self.opts.go_diameter_compat {
            self.warn(kind, loc, msg)
        } else {
            self.err(kind, loc, msg)
        }
    }

    fn check_attrs(&mut self, e: &Element, known: &[&str]) {
        for (k, _) in &e.attrs {
            if !known.contains(&k.as_str()) {
                let msg = format!(
                    "unknown attribute `{k}` on <{}> is ignored (known: {})",
                    e.name,
                    known.join(", ")
                );
                self.warn(K::UnknownAttribute, e.loc, msg);
            }
        }
    }

    fn req<'e>(&mut self, e: &'e Element, key: &str) -> Option<&'e str> {
        let v = e.attr(key);
        if v.is_none() {
            self.err(
                K::MissingAttribute,
                e.loc,
                format!("<{}> needs a `{key}` attribute", e.name),
            );
        }
        v
    }

    fn num<T: std::str::FromStr>(&mut self, e: &Element, key: &str, v: &str) -> Option<T> {
        let n = parse_num(v);
        if n.is_none() {
            self.err(
                K::InvalidNumber,
                e.loc,
                format!("`{key}=\"{v}\"` on <{}> is not a valid number", e.name),
            );
        }
        n
    }

    fn boolean(&mut self, e: &Element, key: &str, default: bool) -> bool {
        match e.attr(key) {
            None => default,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    self.err(
                        K::InvalidBool,
                        e.loc,
                        format!("`{key}=\"{v}\"` is neither true nor false"),
                    );
                    default
                }
            },
        }
    }

    fn flags(&mut self, e: &Element, key: &str) -> (bool, bool, bool) {
        let mut out = (false, false, false);
        let Some(v) = e.attr(key) else { return out };
        for part in v.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "-" => {}
                "V" | "v" => out.0 = true,
                "M" | "m" => out.1 = true,
                "P" | "p" => out.2 = true,
                other => self.err(
                    K::InvalidFlag,
                    e.loc,
                    format!("`{other}` in {key}=\"{v}\" is not one of V, M, P"),
                ),
            }
        }
        out
    }

    fn description(e: &Element) -> Option<String> {
        e.attr("description").map(str::to_string)
    }

    fn check_name(&mut self, e: &Element, name: &str) {
        if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
            self.err(
                K::InvalidName,
                e.loc,
                format!("name `{name}` has no letter or digit to make an identifier from"),
            );
        }
    }

    fn rust_name(&mut self, e: &Element) -> Option<String> {
        let v = e.attr("rust-name")?;
        let ok = !v.is_empty()
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !v.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            self.err(
                K::InvalidRustName,
                e.loc,
                format!("rust-name `{v}` is not a Rust identifier"),
            );
            return None;
        }
        Some(v.to_string())
    }

    fn vendor(&mut self, e: &Element) {
        self.check_attrs(e, &["id", "name", "description"]);
        let (Some(id), Some(name)) = (self.req(e, "id"), self.req(e, "name")) else {
            return;
        };
        let Some(id) = self.num::<u32>(e, "id", id) else {
            return;
        };
        let name = name.to_string();
        if let Some((other, _)) = self.vendors.get(&id) {
            if *other != name {
                let msg = format!("vendor {id} is `{other}` elsewhere and `{name}` here");
                self.lenient(K::DuplicateVendorId, e.loc, msg);
            }
            return;
        }
        if let Some((&other, _)) = self.vendors.iter().find(|(_, (n, _))| *n == name) {
            let msg = format!("vendor name `{name}` is vendor {other} elsewhere and {id} here");
            self.lenient(K::DuplicateVendorName, e.loc, msg);
        }
        self.vendors.insert(id, (name, e.loc));
    }

    fn typedef(&mut self, e: &Element) {
        self.check_attrs(e, &["name", "type", "description"]);
        let (Some(name), Some(ty)) = (self.req(e, "name"), self.req(e, "type")) else {
            return;
        };
        if BaseType::from_name(name).is_some() {
            self.err(
                K::TypedefShadowsBuiltin,
                e.loc,
                format!("typedef `{name}` redefines a base type"),
            );
            return;
        }
        if let Some((_, l)) = self.typedefs.get(name) {
            let msg = format!("typedef `{name}` is already defined at line {}", l.line);
            self.err(K::DuplicateTypedef, e.loc, msg);
            return;
        }
        self.typedefs
            .insert(name.to_string(), (ty.to_string(), e.loc));
    }

    fn resolve_type(&mut self, name: &str, loc: Loc) -> Option<BaseType> {
        let mut cur = name.to_string();
        let mut seen = HashSet::new();
        loop {
            if let Some(b) = BaseType::from_name(&cur) {
                return Some(b);
            }
            if !seen.insert(cur.clone()) {
                self.err(
                    K::TypedefCycle,
                    loc,
                    format!("typedef `{name}` loops back to itself"),
                );
                return None;
            }
            match self.typedefs.get(&cur) {
                Some((next, _)) => cur = next.clone(),
                None => {
                    self.err(
                        K::UnknownType,
                        loc,
                        format!("type `{cur}` is neither a base type nor a typedef"),
                    );
                    return None;
                }
            }
        }
    }

    fn app_index(&self, id: u32) -> Option<usize> {
        self.apps.iter().position(|a| a.id == id)
    }

    fn application(
        &mut self,
        e: &Element,
        file: usize,
        external: &Option<String>,
        seen: &mut HashSet<u32>,
    ) {
        self.check_attrs(
            e,
            &[
                "id",
                "name",
                "type",
                "inherits",
                "vendor-id",
                "rust-name",
                "description",
                "uri",
                "library",
            ],
        );
        let library = self.boolean(e, "library", false);
        let id = if library && e.attr("id").is_none() {
            // A library is known by its name; it gets an id no real application has.
            let Some(name) = self.req(e, "name") else {
                return;
            };
            match self.apps.iter().find(|a| a.library && a.name == name) {
                Some(a) => a.id,
                None => LIBRARY_IDS - self.apps.iter().filter(|a| a.library).count() as u32,
            }
        } else {
            let Some(id) = self.req(e, "id") else { return };
            let Some(id) = self.num::<u32>(e, "id", id) else {
                return;
            };
            id
        };
        if !seen.insert(id) {
            self.err(
                K::DuplicateApplicationId,
                e.loc,
                format!("application {id} is defined twice in this file"),
            );
            return;
        }
        let name = e.attr("name").unwrap_or("").to_string();
        let kind = match e.attr("type") {
            None => None,
            Some("auth") => Some(AppKind::Auth),
            Some("acct") => Some(AppKind::Acct),
            Some(other) => {
                let msg = format!("application type `{other}` is neither auth nor acct; ignored");
                self.warn(K::UnknownAttribute, e.loc, msg);
                None
            }
        };
        let mut parents = Vec::new();
        let mut named_parents = Vec::new();
        if let Some(inh) = e.attr("inherits") {
            for p in inh.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match parse_num::<u32>(p) {
                    Some(n) => parents.push(n),
                    None => named_parents.push(p.to_string()),
                }
            }
        }
        let default_vendor = match e.attr("vendor-id") {
            Some(v) => self.num::<u32>(e, "vendor-id", v),
            None => None,
        };
        if let Some(v) = default_vendor {
            self.vendor_uses.push((v, e.loc));
        }
        let rust_name = self.rust_name(e);
        let idx = match self.app_index(id) {
            Some(i) => {
                let a = &mut self.apps[i];
                a.parents.extend(parents);
                if a.default_vendor.is_none() {
                    a.default_vendor = default_vendor;
                }
                i
            }
            None => {
                if !name.is_empty() && self.apps.iter().any(|a| a.name == name) {
                    let msg = format!("another application is already named `{name}`");
                    self.lenient(K::DuplicateApplicationName, e.loc, msg);
                }
                self.apps.push(Application {
                    id,
                    name: if name.is_empty() {
                        format!("Application-{id}")
                    } else {
                        name
                    },
                    kind,
                    parents,
                    library,
                    default_vendor,
                    commands: Vec::new(),
                    avps: Vec::new(),
                    answer_message: None,
                    description: Self::description(e),
                    rust_name,
                    file,
                    external: external.clone(),
                    loc: e.loc,
                });
                self.apps.len() - 1
            }
        };
        for p in named_parents {
            self.named_parents.push((idx, p, e.loc));
        }
        for c in &e.children {
            match c.name.as_str() {
                "vendor" => self.vendor(c),
                "typedef" => self.typedef(c),
                _ => {}
            }
        }
        for c in &e.children {
            match c.name.as_str() {
                "vendor" | "typedef" => {}
                "avp" => self.avp(c, idx),
                "command" if library => self.err(
                    K::UnexpectedElement,
                    c.loc,
                    "a library (library=\"true\") holds AVPs, not commands",
                ),
                "command" => self.command(c, idx),
                "answer-message" => {
                    if id != 0 || self.apps[idx].answer_message.is_some() {
                        self.err(
                            K::MisplacedAnswerMessage,
                            c.loc,
                            "<answer-message> belongs once in application 0",
                        );
                        continue;
                    }
                    self.apps[idx].answer_message = Some(Vec::new());
                    self.pending.push(PendingGrammar {
                        app: id,
                        elements: c.children.clone(),
                        owner: Owner::AnswerMessage(id),
                    });
                }
                other => self.err(
                    K::UnexpectedElement,
                    c.loc,
                    format!("<{other}> is not expected inside <application>"),
                ),
            }
        }
    }

    fn command(&mut self, e: &Element, app_idx: usize) {
        self.check_attrs(
            e,
            &[
                "code",
                "name",
                "short",
                "proxiable",
                "error",
                "rust-name",
                "description",
            ],
        );
        let (Some(code), Some(name)) = (self.req(e, "code"), self.req(e, "name")) else {
            return;
        };
        let Some(code) = self.num::<u32>(e, "code", code) else {
            return;
        };
        if code > 0x00ff_ffff {
            self.err(
                K::CommandCodeOutOfRange,
                e.loc,
                format!("command code {code} does not fit 24 bits"),
            );
            return;
        }
        self.check_name(e, name);
        let app_id = self.apps[app_idx].id;
        let mut request = None;
        let mut answer = None;
        for c in &e.children {
            match c.name.as_str() {
                "request" | "answer" => {
                    let slot = if c.name == "request" {
                        &mut request
                    } else {
                        &mut answer
                    };
                    if slot.is_some() {
                        let msg = format!("command {name} has two <{}>", c.name);
                        self.err(K::DuplicateGrammar, c.loc, msg);
                    } else {
                        *slot = Some(c.children.clone());
                    }
                }
                other => self.err(
                    K::UnexpectedElement,
                    c.loc,
                    format!("<{other}> is not expected inside <command>"),
                ),
            }
        }
        let Some(request) = request else {
            self.err(
                K::MissingRequest,
                e.loc,
                format!("command {name} has no <request>"),
            );
            return;
        };
        let Some(answer) = answer else {
            self.err(
                K::MissingAnswer,
                e.loc,
                format!("command {name} has no <answer>"),
            );
            return;
        };
        let cmd = Command {
            code,
            name: name.to_string(),
            short: e.attr("short").map(str::to_string),
            proxiable: self.boolean(e, "proxiable", true),
            error: self.boolean(e, "error", false),
            request: Vec::new(),
            answer: Vec::new(),
            description: Self::description(e),
            rust_name: self.rust_name(e),
            loc: e.loc,
        };
        let app = &self.apps[app_idx];
        let dup = app
            .commands
            .iter()
            .position(|c| c.code == code)
            .map(|i| (i, K::DuplicateCommandCode))
            .or_else(|| {
                app.commands
                    .iter()
                    .position(|c| c.name == name)
                    .map(|i| (i, K::DuplicateCommandName))
            });
        let index = match dup {
            Some((i, kind)) => {
                let msg = format!(
                    "command {name} ({code}) clashes with command {} ({}) at line {}",
                    app.commands[i].name, app.commands[i].code, app.commands[i].loc.line
                );
                self.lenient(kind, e.loc, msg);
                if !self.opts.go_diameter_compat {
                    return;
                }
                self.apps[app_idx].commands[i] = cmd;
                i
            }
            None => {
                self.apps[app_idx].commands.push(cmd);
                self.apps[app_idx].commands.len() - 1
            }
        };
        self.pending.push(PendingGrammar {
            app: app_id,
            elements: request,
            owner: Owner::Request(app_id, index),
        });
        self.pending.push(PendingGrammar {
            app: app_id,
            elements: answer,
            owner: Owner::Answer(app_id, index),
        });
    }

    fn avp(&mut self, e: &Element, app_idx: usize) {
        self.check_attrs(
            e,
            &[
                "name",
                "code",
                "must",
                "may",
                "must-not",
                "may-encrypt",
                "vendor-id",
                "rust-name",
                "description",
            ],
        );
        let (Some(name), Some(code)) = (self.req(e, "name"), self.req(e, "code")) else {
            return;
        };
        let Some(code) = self.num::<u32>(e, "code", code) else {
            return;
        };
        self.check_name(e, name);
        if code == 0 {
            self.err(
                K::AvpCodeReserved,
                e.loc,
                format!("AVP {name} uses the reserved code 0"),
            );
        }
        let must = self.flags(e, "must");
        let may = self.flags(e, "may");
        let must_not = self.flags(e, "must-not");
        for (i, letter) in ["V", "M", "P"].iter().enumerate() {
            let pick = |f: (bool, bool, bool)| [f.0, f.1, f.2][i];
            if pick(must) && pick(must_not) || pick(may) && pick(must_not) {
                let msg = format!("flag {letter} of AVP {name} is both allowed and forbidden");
                self.lenient(K::FlagConflict, e.loc, msg);
            }
        }
        let app_id = self.apps[app_idx].id;
        let mut vendor_id = match e.attr("vendor-id") {
            Some(v) => self.num::<u32>(e, "vendor-id", v).unwrap_or(0),
            None => 0,
        };
        if vendor_id != 0 {
            self.vendor_uses.push((vendor_id, e.loc));
            if must_not.0 {
                let msg = format!("AVP {name} has vendor-id {vendor_id} but must-not has V");
                self.lenient(K::VendorIdWithoutVendorFlag, e.loc, msg);
            }
        } else if must.0 {
            match self.apps[app_idx].default_vendor {
                Some(v) => vendor_id = v,
                None => {
                    let msg = if self.opts.go_diameter_compat {
                        format!("AVP {name} must carry the V flag but has no vendor-id; read as vendor 0 without V, as go-diameter does")
                    } else {
                        format!("AVP {name} must carry the V flag but has no vendor-id (and application {app_id} has no default vendor-id)")
                    };
                    self.lenient(K::VendorFlagWithoutVendor, e.loc, msg);
                }
            }
        }
        let datas: Vec<&Element> = e.children.iter().filter(|c| c.name == "data").collect();
        for c in e.children.iter().filter(|c| c.name != "data") {
            let msg = format!("<{}> is not expected inside <avp>", c.name);
            self.err(K::UnexpectedElement, c.loc, msg);
        }
        let data = match datas.as_slice() {
            [] => {
                self.err(K::MissingData, e.loc, format!("AVP {name} has no <data>"));
                return;
            }
            [d] => *d,
            [_, d, ..] => {
                self.err(
                    K::DuplicateData,
                    d.loc,
                    format!("AVP {name} has two <data>"),
                );
                return;
            }
        };
        self.check_attrs(data, &["type", "description"]);
        let Some(type_name) = self.req(data, "type") else {
            return;
        };
        let Some(ty) = self.resolve_type(type_name, data.loc) else {
            return;
        };
        let mut items: Vec<Item> = Vec::new();
        let mut rules = Vec::new();
        for c in &data.children {
            match c.name.as_str() {
                "item" => {
                    self.check_attrs(c, &["code", "name", "description", "rust-name"]);
                    if !matches!(
                        ty,
                        BaseType::Enumerated | BaseType::Integer32 | BaseType::Unsigned32
                    ) {
                        let msg = format!("AVP {name} is {}; only Enumerated, Integer32 and Unsigned32 take <item>", ty.name());
                        self.err(K::ItemsOnNonEnumerated, c.loc, msg);
                        continue;
                    }
                    let (Some(ic), Some(iname)) = (self.req(c, "code"), self.req(c, "name")) else {
                        continue;
                    };
                    let Some(icode) = self.num::<i64>(c, "code", ic) else {
                        continue;
                    };
                    let in_range = match ty {
                        BaseType::Unsigned32 => (0..=u32::MAX as i64).contains(&icode),
                        _ => (i32::MIN as i64..=i32::MAX as i64).contains(&icode),
                    };
                    if !in_range {
                        let msg = format!("item {iname} = {icode} does not fit {}", ty.name());
                        self.err(K::ItemOutOfRange, c.loc, msg);
                        continue;
                    }
                    self.check_name(c, iname);
                    if let Some(o) = items.iter().find(|i| i.code == icode) {
                        let msg = format!(
                            "items {} and {iname} of AVP {name} share code {icode}",
                            o.name
                        );
                        self.lenient(K::DuplicateItemCode, c.loc, msg);
                        continue;
                    }
                    if items.iter().any(|i| i.name == iname) {
                        let msg = format!("AVP {name} has two items named {iname}");
                        self.lenient(K::DuplicateItemName, c.loc, msg);
                        continue;
                    }
                    let rust_name = self.rust_name(c);
                    items.push(Item {
                        code: icode,
                        name: iname.to_string(),
                        description: Self::description(c),
                        rust_name,
                        loc: c.loc,
                    });
                }
                "rule" => {
                    if ty != BaseType::Grouped {
                        let msg = format!("AVP {name} is {}; only Grouped takes <rule>", ty.name());
                        self.err(K::RulesOnNonGrouped, c.loc, msg);
                        continue;
                    }
                    rules.push(c.clone());
                }
                other => {
                    let msg = format!("<{other}> is not expected inside <data>");
                    self.err(K::UnexpectedElement, c.loc, msg);
                }
            }
        }
        if ty == BaseType::Enumerated && items.is_empty() {
            let msg =
                format!("Enumerated AVP {name} names no values; it is generated as a plain i32");
            self.warn(K::EnumeratedWithoutItems, data.loc, msg);
        }
        let mut wildcard_fallback = false;
        if ty == BaseType::Grouped && rules.is_empty() {
            let msg = if self.opts.go_diameter_compat {
                format!("Grouped AVP {name} has no rules; read as *[ AVP ]")
            } else {
                format!("Grouped AVP {name} has no rules")
            };
            self.lenient(K::GroupedWithoutRules, data.loc, msg);
            wildcard_fallback = true;
        }
        let avp = Avp {
            name: name.to_string(),
            code,
            vendor_id,
            ty,
            type_name: type_name.to_string(),
            flags: FlagRules {
                must_m: must.1,
                must_p: must.2,
                must_not_m: must_not.1,
            },
            items,
            rules: if wildcard_fallback {
                vec![Rule {
                    target: Target::Wildcard,
                    min: 0,
                    max: None,
                    position: None,
                    loc: data.loc,
                }]
            } else {
                Vec::new()
            },
            app: app_id,
            description: Self::description(e),
            rust_name: self.rust_name(e),
            loc: e.loc,
        };
        let key_code = (app_id, code, vendor_id);
        let key_name = (app_id, name.to_string());
        let clash = self
            .by_code
            .get(&key_code)
            .map(|&i| (i, K::DuplicateAvpCode))
            .or_else(|| {
                self.by_name
                    .get(&key_name)
                    .map(|&i| (i, K::DuplicateAvpName))
            });
        let id = match clash {
            Some((i, kind)) => {
                let old = self.avps[i].clone();
                let same = old.name == avp.name
                    && old.code == avp.code
                    && old.vendor_id == avp.vendor_id
                    && old.ty == avp.ty
                    && old.items == avp.items;
                if same && old.loc.file != avp.loc.file {
                    return; // the same definition in two files of one application
                }
                let msg = format!(
                    "AVP {name} ({code}{}) clashes with AVP {} ({}) at line {}{}",
                    if vendor_id != 0 {
                        format!("/{vendor_id}")
                    } else {
                        String::new()
                    },
                    old.name,
                    old.code,
                    old.loc.line,
                    if self.opts.go_diameter_compat {
                        "; the later definition wins, as in go-diameter"
                    } else {
                        ""
                    }
                );
                self.lenient(kind, e.loc, msg);
                if !self.opts.go_diameter_compat {
                    return;
                }
                let (oc, on) = (
                    (app_id, old.code, old.vendor_id),
                    (app_id, old.name.clone()),
                );
                self.by_code.remove(&oc);
                self.by_name.remove(&on);
                self.avps[i] = avp;
                i
            }
            None => {
                self.avps.push(avp);
                let i = self.avps.len() - 1;
                self.apps[app_idx].avps.push(i);
                i
            }
        };
        self.by_code.insert(key_code, id);
        self.by_name.insert(key_name, id);
        if !rules.is_empty() {
            self.pending.push(PendingGrammar {
                app: app_id,
                elements: rules,
                owner: Owner::Avp(id),
            });
        }
    }

    /// The applications whose AVPs `app` sees, nearest first.
    fn scope(&self, app: u32) -> Vec<u32> {
        let mut out = vec![app];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            i += 1;
            let explicit: Vec<u32> = self
                .apps
                .iter()
                .find(|a| a.id == cur)
                .map(|a| a.parents.clone())
                .unwrap_or_default();
            {
                let mut next = explicit;
                // go-diameter walks its parent map whether or not the parent is loaded.
                if self.opts.go_diameter_compat && next.is_empty() {
                    next.extend(
                        GO_DIAMETER_PARENTS
                            .iter()
                            .filter(|(c, _)| *c == cur)
                            .map(|(_, p)| *p),
                    );
                }
                for p in next {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
        if !out.contains(&0) {
            out.push(0);
        }
        out
    }

    fn lookup(&self, app: u32, name: &str) -> Option<AvpId> {
        self.scope(app)
            .into_iter()
            .find_map(|a| self.by_name.get(&(a, name.to_string())).copied())
    }

    fn grammar(&mut self, p: &PendingGrammar) -> Vec<Rule> {
        let mut rules: Vec<Rule> = Vec::new();
        for r in &p.elements {
            if r.name != "rule" {
                let msg = format!("<{}> is not expected in a grammar; use <rule>", r.name);
                self.err(K::UnexpectedElement, r.loc, msg);
                continue;
            }
            self.check_attrs(
                r,
                &["avp", "required", "min", "max", "position", "description"],
            );
            let Some(name) = self.req(r, "avp") else {
                continue;
            };
            let target = if name == "AVP" {
                Target::Wildcard
            } else {
                match self.lookup(p.app, name) {
                    Some(id) => Target::Avp(id),
                    None => {
                        let msg = format!(
                            "rule names AVP `{name}`, which is not defined in application {} or the applications it sees",
                            p.app
                        );
                        if !self.opts.go_diameter_compat {
                            self.err(K::UndefinedAvp, r.loc, msg);
                            continue;
                        }
                        // go-diameter resolves names only when a message is built; take the
                        // one definition of that name anywhere in the set, else drop the rule.
                        let found: Vec<AvpId> = self
                            .by_name
                            .iter()
                            .filter(|((_, n), _)| n == name)
                            .map(|(_, &id)| id)
                            .collect();
                        match found.as_slice() {
                            [id] => {
                                let app = self.avps[*id].app;
                                self.warn(
                                    K::UndefinedAvp,
                                    r.loc,
                                    format!("{msg}; using its definition in application {app}"),
                                );
                                Target::Avp(*id)
                            }
                            _ => {
                                self.warn(
                                    K::UndefinedAvp,
                                    r.loc,
                                    format!("{msg}; the rule is dropped"),
                                );
                                continue;
                            }
                        }
                    }
                }
            };
            let required = self.boolean(r, "required", false);
            let min = match r.attr("min") {
                Some(v) => match self.num::<u32>(r, "min", v) {
                    Some(n) => n,
                    None => continue,
                },
                None => u32::from(required),
            };
            let max = match r.attr("max") {
                None | Some("*") => None,
                Some(v) => match self.num::<u32>(r, "max", v) {
                    Some(n) => Some(n),
                    None => continue,
                },
            };
            if let Some(m) = max {
                if min > m && m != 0 {
                    self.err(
                        K::MinGreaterThanMax,
                        r.loc,
                        format!("rule {name}: min {min} > max {m}"),
                    );
                    continue;
                }
                if m == 0 && min > 0 {
                    self.err(
                        K::RequiredWithMaxZero,
                        r.loc,
                        format!("rule {name} is required but has max 0"),
                    );
                    continue;
                }
            }
            let position = match r.attr("position") {
                None => None,
                Some("first") => Some(Position::First),
                Some("last") => Some(Position::Last),
                Some(other) => {
                    let msg = format!("position `{other}` is neither first nor last");
                    self.err(K::InvalidPosition, r.loc, msg);
                    continue;
                }
            };
            if target == Target::Wildcard {
                if position.is_some() || rules.iter().any(|x| x.target == Target::Wildcard) {
                    self.err(
                        K::MisplacedWildcard,
                        r.loc,
                        "*[ AVP ] appears once per grammar and has no fixed position",
                    );
                    continue;
                }
            } else if let Some(prev) = rules.iter().find(|x| x.target == target) {
                let msg = format!(
                    "AVP {name} already has a rule at line {}; this one is ignored",
                    prev.loc.line
                );
                self.lenient(K::DuplicateRule, r.loc, msg);
                continue;
            }
            if let Some(pos) = position {
                if max != Some(1) {
                    self.err(
                        K::FixedPositionRepeated,
                        r.loc,
                        format!("fixed-position rule {name} must have max=\"1\""),
                    );
                    continue;
                }
                if rules.iter().any(|x| x.position == Some(pos)) {
                    self.err(
                        K::DuplicatePosition,
                        r.loc,
                        format!("two rules claim position {pos:?}"),
                    );
                    continue;
                }
            }
            rules.push(Rule {
                target,
                min,
                max,
                position,
                loc: r.loc,
            });
        }
        rules
    }

    fn resolve(&mut self) {
        // Parents named rather than numbered: applications or libraries of the load.
        for (idx, name, loc) in std::mem::take(&mut self.named_parents) {
            match self.apps.iter().find(|a| a.name == name) {
                Some(p) => {
                    let id = p.id;
                    self.apps[idx].parents.push(id);
                }
                None => {
                    let msg = format!(
                        "application {} inherits from `{name}`, which no application or library of the load is named",
                        self.apps[idx].name
                    );
                    self.err(K::UnknownParentApplication, loc, msg);
                }
            }
        }
        // Parents exist and do not loop.
        for i in 0..self.apps.len() {
            let parents = self.apps[i].parents.clone();
            for p in parents {
                if self.app_index(p).is_none() {
                    let msg = format!(
                        "application {} inherits from unknown application {p}",
                        self.apps[i].id
                    );
                    let loc = self.apps[i].loc;
                    self.err(K::UnknownParentApplication, loc, msg);
                }
            }
        }
        for i in 0..self.apps.len() {
            let start = self.apps[i].id;
            let mut stack = vec![(start, vec![start])];
            let mut looped = false;
            while let Some((cur, path)) = stack.pop() {
                if let Some(a) = self.apps.iter().find(|a| a.id == cur) {
                    for &p in &a.parents {
                        if p == start {
                            looped = true;
                        } else if !path.contains(&p) {
                            let mut np = path.clone();
                            np.push(p);
                            stack.push((p, np));
                        }
                    }
                }
            }
            if looped {
                let loc = self.apps[i].loc;
                self.err(
                    K::InheritanceCycle,
                    loc,
                    format!("application {start} inherits from itself"),
                );
                self.apps[i].parents.clear();
            }
        }
        for (v, loc) in std::mem::take(&mut self.vendor_uses) {
            if !self.vendors.contains_key(&v) {
                self.lenient(
                    K::UnknownVendor,
                    loc,
                    format!("vendor-id {v} is not declared by a <vendor>"),
                );
            }
        }
        let pending = std::mem::take(&mut self.pending);
        for p in &pending {
            let rules = self.grammar(p);
            match p.owner {
                Owner::Avp(id) => self.avps[id].rules = rules,
                Owner::Request(app, i) | Owner::Answer(app, i) => {
                    let a = self.app_index(app).expect("pending app exists");
                    let cmd = &mut self.apps[a].commands[i];
                    if matches!(p.owner, Owner::Request(..)) {
                        cmd.request = rules;
                    } else {
                        cmd.answer = rules;
                    }
                }
                Owner::AnswerMessage(app) => {
                    let a = self.app_index(app).expect("pending app exists");
                    self.apps[a].answer_message = Some(rules);
                }
            }
        }
        self.grouped_cycles();
    }

    fn grouped_cycles(&mut self) {
        // Colour-marking DFS over Grouped → Grouped edges.
        let n = self.avps.len();
        let mut state = vec![0u8; n];
        let mut reported = HashSet::new();
        for start in 0..n {
            if state[start] != 0 || self.avps[start].ty != BaseType::Grouped {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let rules = &self.avps[node].rules;
                if *next < rules.len() {
                    let r = rules[*next].clone();
                    *next += 1;
                    if let Target::Avp(child) = r.target {
                        if self.avps[child].ty != BaseType::Grouped {
                            continue;
                        }
                        match state[child] {
                            0 => {
                                state[child] = 1;
                                stack.push((child, 0));
                            }
                            1 if reported.insert(child) => {
                                let msg = format!(
                                    "Grouped AVP {} contains itself through {}",
                                    self.avps[child].name, self.avps[node].name
                                );
                                self.err(K::GroupedCycle, r.loc, msg);
                            }
                            _ => {}
                        }
                    }
                } else {
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
    }
}

/// The native element tree of every source, in source order: files of other formats are
/// imported, each format's files together (Erlang's `@inherits` names other files of the
/// set). `forced` is the format of every source that is not external.
pub fn import_sources(sources: &[Source], forced: Option<Format>) -> crate::import::Imported {
    let mut groups: Vec<(Format, Vec<Input<'_>>)> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let format = match (forced, &s.external) {
            (Some(f), None) => f,
            _ => Format::detect(&s.path, &s.text),
        };
        let input = Input {
            file: i,
            path: &s.path,
            text: &s.text,
        };
        match groups.iter_mut().find(|(f, _)| *f == format) {
            Some((_, g)) => g.push(input),
            None => groups.push((format, vec![input])),
        }
    }
    let mut out = crate::import::Imported::default();
    for (format, inputs) in &groups {
        let imported = crate::import::import(*format, inputs);
        out.roots.extend(imported.roots);
        out.diagnostics.extend(imported.diagnostics);
    }
    out.roots.sort_by_key(|(i, _)| *i);
    out
}

/// Loads a set of dictionary files into one resolved model.
///
/// Returns every diagnostic (errors and warnings) if any error was found.
pub fn load(sources: &[Source], opts: LoadOptions) -> Result<Dictionary, Vec<Diagnostic>> {
    load_imported(sources, &import_sources(sources, opts.format), opts)
}

/// [`load`] of sources already imported with [`import_sources`] (whose diagnostics are
/// reported with the load's).
pub fn load_imported(
    sources: &[Source],
    imported: &crate::import::Imported,
    opts: LoadOptions,
) -> Result<Dictionary, Vec<Diagnostic>> {
    let mut l = Loader {
        opts,
        diags: Vec::new(),
        vendors: BTreeMap::new(),
        typedefs: HashMap::new(),
        apps: Vec::new(),
        avps: Vec::new(),
        by_name: HashMap::new(),
        by_code: HashMap::new(),
        pending: Vec::new(),
        vendor_uses: Vec::new(),
        named_parents: Vec::new(),
    };
    let roots = &imported.roots;
    l.diags.extend(imported.diagnostics.iter().cloned());
    // Vendors and typedefs first, wherever they are, so the order of files does not matter.
    for (_, root) in roots {
        if root.name != "diameter" {
            let msg = format!("the root element is <{}>, expected <diameter>", root.name);
            l.err(K::BadRoot, root.loc, msg);
            continue;
        }
        for c in &root.children {
            match c.name.as_str() {
                "vendor" => l.vendor(c),
                "typedef" => l.typedef(c),
                _ => {}
            }
        }
    }
    for (i, root) in roots {
        if root.name != "diameter" {
            continue;
        }
        let mut seen = HashSet::new();
        for c in &root.children {
            match c.name.as_str() {
                "vendor" | "typedef" => {}
                "application" => l.application(c, *i, &sources[*i].external, &mut seen),
                other => {
                    let msg = format!("<{other}> is not expected inside <diameter>");
                    l.err(K::UnexpectedElement, c.loc, msg);
                }
            }
        }
    }
    l.resolve();
    let files: Vec<PathBuf> = sources.iter().map(|s| s.path.clone()).collect();
    for d in &mut l.diags {
        d.file = files.get(d.loc.file).cloned().unwrap_or_default();
    }
    if l.diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(l.diags);
    }
    Ok(Dictionary {
        files,
        vendors: l
            .vendors
            .into_iter()
            .map(|(id, (name, _))| Vendor { id, name })
            .collect(),
        applications: l.apps,
        avps: l.avps,
        warnings: l.diags,
    })
}
