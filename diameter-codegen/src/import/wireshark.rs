//! Wireshark's Diameter dictionaries: `diameter/dictionary.xml`, which pulls in one file per
//! vendor or application through external entities, and those files on their own.
//!
//! The format has vendors, applications, commands (code and name only), typedefs, AVPs with
//! flag rules, named values and the member lists of Grouped AVPs, but no command grammar.
//! freeDiameter's legacy XML descends from the same format and adds grammars, so one walker
//! reads both (`Dialect`). This file also holds what every importer of this module and
//! `freediameter.rs` share: a tolerant XML reader (DOCTYPE, entities, fragments), type name
//! resolution and the `Builder` that turns imported definitions into native `<diameter>`
//! roots (duplicates, flag consistency, Rust name clashes, `inherits` for cross-application
//! references).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{element, loss, syntax, Imported, Input};
use crate::error::{Diagnostic, Loc};
use crate::naming::{camel, shouty, snake};
use crate::xml::Element;

/// Imports Wireshark dictionary files: `dictionary.xml` with its entity includes, or the
/// vendor and application fragments on their own.
pub fn import(inputs: &[Input<'_>]) -> Imported {
    import_dialect(inputs, Dialect::Wireshark)
}

// ---------------------------------------------------------------------------------------
// Types, numbers, vendors
// ---------------------------------------------------------------------------------------

/// The base type names of the native format (case-sensitive).
const BASE_TYPES: [&str; 16] = [
    "OctetString",
    "Integer32",
    "Integer64",
    "Unsigned32",
    "Unsigned64",
    "Float32",
    "Float64",
    "Grouped",
    "Address",
    "Time",
    "UTF8String",
    "DiameterIdentity",
    "DiameterURI",
    "Enumerated",
    "IPFilterRule",
    "QoSFilterRule",
];

/// Type names of other stacks that are no native base type, with the base type that carries
/// the same value on the wire.
const PSEUDO_TYPES: [(&str, &str); 5] = [
    ("IPAddress", "Address"),
    ("OctetStringOrUTF8", "OctetString"),
    ("AppId", "Unsigned32"),
    ("VendorId", "Unsigned32"),
    ("MIPRegistrationRequest", "OctetString"),
];

/// Vendors whose names every importer knows, so that a Vendor-ID used without a declaration
/// still gets the name other dictionaries give it.
const KNOWN_VENDORS: [(u32, &str); 3] = [(10415, "3GPP"), (5535, "3GPP2"), (13019, "ETSI")];

/// Wireshark's symbolic vendor ids for the vendors above (and `None`), used when the file
/// that declares them (`dictionary.xml`) is not part of the import.
const KNOWN_SYMBOLS: [(&str, u32); 4] = [
    ("None", 0),
    ("TGPP", 10415),
    ("TGPP2", 5535),
    ("ETSI", 13019),
];

/// The usual name of a well-known vendor.
pub(super) fn known_vendor(code: u32) -> Option<&'static str> {
    KNOWN_VENDORS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// Lowercase letters and digits only: how type names are compared when nothing matches
/// exactly (`UTF8string`, `Unsigned 32`).
fn fold(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A base type or pseudo type spelled exactly.
fn known_type(name: &str) -> Option<&'static str> {
    BASE_TYPES.iter().copied().find(|b| *b == name).or_else(|| {
        PSEUDO_TYPES
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, b)| *b)
    })
}

/// The native base type a type name stands for: a base type, a pseudo type (`IPAddress` is
/// `Address` …, OctetString for RADIUS-range codes: see the AVP reader), or a derived type followed through `typedefs` (name → parent) to one of
/// those; last, a base or pseudo type spelled with other case or separators.
pub(super) fn resolve_type(name: &str, typedefs: &HashMap<String, String>) -> Option<&'static str> {
    let mut current = name.trim().to_string();
    for _ in 0..32 {
        if let Some(t) = known_type(&current) {
            return Some(t);
        }
        match typedefs.get(&current) {
            Some(parent) if !parent.trim().is_empty() => current = parent.trim().to_string(),
            _ => break,
        }
    }
    let folded = fold(name);
    if folded.is_empty() {
        return None;
    }
    BASE_TYPES
        .iter()
        .copied()
        .find(|b| fold(b) == folded)
        .or_else(|| {
            PSEUDO_TYPES
                .iter()
                .find(|(p, _)| fold(p) == folded)
                .map(|(_, b)| *b)
        })
}

/// A u32 written in decimal or `0x` hex.
pub(super) fn parse_u32(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// An i64 written in decimal or `0x` hex, with an optional sign.
pub(super) fn parse_i64(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.starts_with(['-', '+']) {
        return None;
    }
    let value = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => body.parse::<i64>().ok()?,
    };
    Some(if negative { -value } else { value })
}

/// Whether a name has a letter or digit (the model refuses names without).
fn has_alnum(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_alphanumeric())
}

/// A `rust-name=` value: `[A-Za-z_][A-Za-z0-9_]*`, made from `text`.
fn rust_ident(text: &str, prefix: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if kept.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        kept
    } else {
        format!("{prefix}{kept}")
    }
}

// ---------------------------------------------------------------------------------------
// Imported definitions
// ---------------------------------------------------------------------------------------

/// What holds AVPs and commands: an application (by id) or an AVP library (by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    /// `<application id=…>`.
    App(u32),
    /// `<application name=… library="true">`.
    Lib(String),
}

/// A fixed position in a grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    /// `< X >` at the head.
    First,
    /// At the tail.
    Last,
}

/// One grammar line: `min`..`max` occurrences of an AVP (`AVP` is the wildcard).
#[derive(Debug, Clone)]
pub(super) struct Rule {
    /// AVP name, or `AVP`.
    pub(super) avp: String,
    /// Minimum occurrences; 1 or more makes the rule required.
    pub(super) min: u32,
    /// Maximum occurrences; `None` is unbounded.
    pub(super) max: Option<u32>,
    /// A fixed position.
    pub(super) position: Option<Position>,
    /// Where it comes from.
    pub(super) loc: Loc,
}

impl Rule {
    /// `*[ AVP ]`.
    pub(super) fn wildcard(loc: Loc) -> Rule {
        Rule {
            avp: "AVP".to_string(),
            min: 0,
            max: None,
            position: None,
            loc,
        }
    }

    fn is_wildcard(&self) -> bool {
        self.avp == "AVP"
    }
}

/// The V, M and P letters of one flag list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Flags {
    /// Vendor-specific.
    pub(super) v: bool,
    /// Mandatory.
    pub(super) m: bool,
    /// Protected.
    pub(super) p: bool,
}

impl Flags {
    /// Reads letters such as `M,V`, `V, M`, `VM` or `-`; the error is the first character
    /// that is no flag letter or separator.
    pub(super) fn read(text: &str) -> Result<Flags, char> {
        let mut flags = Flags::default();
        for c in text.chars() {
            match c {
                'V' | 'v' => flags.v = true,
                'M' | 'm' => flags.m = true,
                'P' | 'p' => flags.p = true,
                ',' | ' ' | '\t' | '-' | ';' | '|' => {}
                other => return Err(other),
            }
        }
        Ok(flags)
    }

    /// `V,M,P` as in the native format, or nothing.
    fn text(self) -> Option<String> {
        let letters: Vec<&str> = [(self.v, "V"), (self.m, "M"), (self.p, "P")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, l)| *l)
            .collect();
        if letters.is_empty() {
            None
        } else {
            Some(letters.join(","))
        }
    }

    fn set(&mut self, letter: Letter) {
        match letter {
            Letter::V => self.v = true,
            Letter::M => self.m = true,
            Letter::P => self.p = true,
        }
    }
}

/// One AVP flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    V,
    M,
    P,
}

/// A named value of an AVP.
#[derive(Debug, Clone)]
pub(super) struct Item {
    /// The value.
    pub(super) code: i64,
    /// Its name, as written.
    pub(super) name: String,
    /// Where it comes from.
    pub(super) loc: Loc,
}

/// An AVP read from another format, before it becomes an `<avp>` element.
#[derive(Debug, Clone)]
pub(super) struct Avp {
    /// Name.
    pub(super) name: String,
    /// AVP code.
    pub(super) code: u32,
    /// Vendor-ID, 0 for none.
    pub(super) vendor: u32,
    /// Flags that must be set.
    pub(super) must: Flags,
    /// Flags that may be set.
    pub(super) may: Flags,
    /// Flags that must (or should) not be set.
    pub(super) must_not: Flags,
    /// Native base type.
    pub(super) ty: &'static str,
    /// Named values.
    pub(super) items: Vec<Item>,
    /// Grouped members.
    pub(super) rules: Vec<Rule>,
    /// Where it comes from.
    pub(super) loc: Loc,
    rust_name: Option<String>,
}

impl Avp {
    /// An AVP without vendor, flags, values or members.
    pub(super) fn new(name: String, code: u32, ty: &'static str, loc: Loc) -> Avp {
        Avp {
            name,
            code,
            vendor: 0,
            must: Flags::default(),
            may: Flags::default(),
            must_not: Flags::default(),
            ty,
            items: Vec::new(),
            rules: Vec::new(),
            loc,
            rust_name: None,
        }
    }
}

/// A command read from another format, before it becomes a `<command>` element.
#[derive(Debug, Clone)]
pub(super) struct Command {
    /// Name without `-Request`/`-Answer`.
    pub(super) name: String,
    /// Command code.
    pub(super) code: u32,
    /// The P bit, when the source says.
    pub(super) proxiable: Option<bool>,
    /// The answer may carry the E bit with this grammar.
    pub(super) error: bool,
    /// Request grammar.
    pub(super) request: Vec<Rule>,
    /// Answer grammar.
    pub(super) answer: Vec<Rule>,
    /// Where it comes from.
    pub(super) loc: Loc,
    rust_name: Option<String>,
}

impl Command {
    /// A command with empty grammars.
    pub(super) fn new(name: String, code: u32, loc: Loc) -> Command {
        Command {
            name,
            code,
            proxiable: None,
            error: false,
            request: Vec::new(),
            answer: Vec::new(),
            loc,
            rust_name: None,
        }
    }
}

/// One application (or library) element of one output root.
#[derive(Debug)]
struct AppOut {
    root: usize,
    key: Key,
    loc: Loc,
    avps: Vec<Avp>,
    commands: Vec<Command>,
}

/// One output root: the `<diameter>` of one input file.
#[derive(Debug)]
struct RootOut {
    file: usize,
    apps: Vec<usize>,
    vendors: Vec<u32>,
}

/// Explicit `inherits` edges between containers, added so that rules find the AVPs they
/// name in other applications of the import.
#[derive(Debug, Default)]
struct Graph {
    parents: HashMap<Key, Vec<Key>>,
}

impl Graph {
    /// `from` and every container it inherits from, nearest first.
    fn closure(&self, from: &Key) -> Vec<Key> {
        let mut out = vec![from.clone()];
        let mut i = 0;
        while let Some(cur) = out.get(i).cloned() {
            i += 1;
            if let Some(ps) = self.parents.get(&cur) {
                for p in ps {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether a rule of `from` finds an AVP defined in one of `targets` (application 0 is
    /// searched by every application).
    fn sees(&self, from: &Key, targets: &[Key]) -> bool {
        targets.contains(&Key::App(0)) || self.closure(from).iter().any(|k| targets.contains(k))
    }

    /// Makes `from` inherit from `to`, unless that closes a cycle.
    fn inherit(&mut self, from: &Key, to: &Key) -> bool {
        if self.closure(to).contains(from) {
            return false;
        }
        self.parents
            .entry(from.clone())
            .or_default()
            .push(to.clone());
        true
    }
}

/// Checks grammars: repeats, positions, bounds, and whether each AVP is visible from the
/// grammar's container.
struct Resolver {
    defined: HashMap<String, Vec<Key>>,
    graph: Graph,
    drop_unknown: bool,
}

impl Resolver {
    fn settle(
        &mut self,
        rules: Vec<Rule>,
        owner: &str,
        from: &Key,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Rule> {
        let mut out: Vec<Rule> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let (mut first, mut last, mut wildcard) = (false, false, false);
        for mut r in rules {
            if r.is_wildcard() {
                if wildcard {
                    diags.push(loss(
                        r.loc,
                        format!("{owner} has a second *[ AVP ]; dropped"),
                    ));
                    continue;
                }
                wildcard = true;
                r.min = 0;
                r.max = None;
                r.position = None;
                out.push(r);
                continue;
            }
            if !seen.insert(r.avp.clone()) {
                let msg = format!("{owner} names {} twice; the first rule is kept", r.avp);
                diags.push(loss(r.loc, msg));
                continue;
            }
            if let Some(p) = r.position {
                let (taken, word) = match p {
                    Position::First => (&mut first, "first"),
                    Position::Last => (&mut last, "last"),
                };
                if *taken {
                    let msg = format!(
                        "{owner}: {} is a second AVP at the {word} position; read without a fixed position",
                        r.avp
                    );
                    diags.push(loss(r.loc, msg));
                    r.position = None;
                } else if r.max.is_some_and(|m| m != 1) {
                    let msg = format!(
                        "{owner}: {} has a fixed position but may repeat; read without a fixed position",
                        r.avp
                    );
                    diags.push(loss(r.loc, msg));
                    r.position = None;
                } else {
                    *taken = true;
                    r.max = Some(1);
                }
            }
            match r.max {
                Some(0) if r.min > 0 => {
                    let msg = format!(
                        "{owner}: {} is required but forbidden; read as forbidden",
                        r.avp
                    );
                    diags.push(loss(r.loc, msg));
                    r.min = 0;
                }
                Some(max) if max > 0 && r.min > max => {
                    let msg = format!(
                        "{owner}: {} has a minimum {} above its maximum {max}; the maximum is raised",
                        r.avp, r.min
                    );
                    diags.push(loss(r.loc, msg));
                    r.max = Some(r.min);
                }
                _ => {}
            }
            match self.defined.get(&r.avp) {
                None if self.drop_unknown => {
                    let msg = format!(
                        "{owner} names {}, which no file of the import defines; dropped",
                        r.avp
                    );
                    diags.push(loss(r.loc, msg));
                    continue;
                }
                None => {}
                Some(keys)
                    if !self.graph.sees(from, keys)
                        && !keys.first().is_some_and(|to| self.graph.inherit(from, to)) =>
                {
                    let msg = format!(
                        "{owner} names {}, defined in an application that this one cannot inherit from without a cycle; dropped",
                        r.avp
                    );
                    diags.push(loss(r.loc, msg));
                    continue;
                }
                Some(_) => {}
            }
            out.push(r);
        }
        out
    }
}

/// Collects imported definitions and writes them as native `<diameter>` roots.
///
/// It drops what the native format cannot hold twice (AVP names and codes, command codes and
/// names, item codes and names), makes flags consistent with the vendor, gives `rust-name`
/// to definitions whose Rust names would clash, renames applications whose names or module
/// names clash, and adds `inherits` so that rules find AVPs of other applications. Each
/// change is an `ImportLoss` warning.
#[derive(Debug)]
pub(super) struct Builder {
    roots: Vec<RootOut>,
    apps: Vec<AppOut>,
    vendors: Vec<(u32, String, Loc)>,
    names: HashMap<Key, String>,
    avp_names: HashSet<(Option<Key>, String)>,
    avp_codes: HashMap<(Option<Key>, u32, u32), String>,
    avp_rust: HashMap<Key, HashSet<String>>,
    cmd_codes: HashSet<(Key, u32)>,
    cmd_names: HashSet<(Key, String)>,
    cmd_rust: HashMap<Key, HashSet<String>>,
    global_avps: bool,
    /// Diagnostics so far.
    pub(super) diags: Vec<Diagnostic>,
}

impl Builder {
    /// A builder. With `global_avps`, AVP names and codes are unique across the whole
    /// import (Wireshark's one namespace), else within each application.
    pub(super) fn new(global_avps: bool) -> Builder {
        Builder {
            roots: Vec::new(),
            apps: Vec::new(),
            vendors: Vec::new(),
            names: HashMap::new(),
            avp_names: HashSet::new(),
            avp_codes: HashMap::new(),
            avp_rust: HashMap::new(),
            cmd_codes: HashSet::new(),
            cmd_names: HashSet::new(),
            cmd_rust: HashMap::new(),
            global_avps,
            diags: Vec::new(),
        }
    }

    /// Starts the output root of input `file`; returns its index.
    pub(super) fn root(&mut self, file: usize) -> usize {
        self.roots.push(RootOut {
            file,
            apps: Vec::new(),
            vendors: Vec::new(),
        });
        self.roots.len() - 1
    }

    /// Declares a vendor in `root`. Vendor 0 is no vendor. A code keeps its first name; a
    /// name already given to another code gets the code appended.
    pub(super) fn vendor(&mut self, root: usize, code: u32, name: &str, loc: Loc) {
        if code == 0 {
            return;
        }
        let name = name.trim();
        if let Some((_, first, _)) = self.vendors.iter().find(|(c, _, _)| *c == code) {
            if !name.is_empty() && first != name {
                let msg = format!("vendor {code} is also named `{name}`; `{first}` is kept");
                self.diags.push(loss(loc, msg));
            }
        } else {
            let mut unique = if name.is_empty() {
                format!("Vendor-{code}")
            } else {
                name.to_string()
            };
            if self.vendors.iter().any(|(_, n, _)| *n == unique) {
                let renamed = format!("{unique} ({code})");
                let msg = format!(
                    "vendor name `{unique}` belongs to another vendor already; vendor {code} is named `{renamed}`"
                );
                self.diags.push(loss(loc, msg));
                unique = renamed;
            }
            self.vendors.push((code, unique, loc));
        }
        if let Some(r) = self.roots.get_mut(root) {
            if !r.vendors.contains(&code) {
                r.vendors.push(code);
            }
        }
    }

    /// The name a vendor got.
    pub(super) fn vendor_name(&self, code: u32) -> Option<&str> {
        self.vendors
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, n, _)| n.as_str())
    }

    /// The application (or library) `key` of `root`, created on first use; returns its index.
    /// The first name given to a key is kept.
    pub(super) fn app(&mut self, root: usize, key: Key, name: Option<&str>, loc: Loc) -> usize {
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
            match self.names.get(&key) {
                None => {
                    self.names.insert(key.clone(), name.to_string());
                }
                Some(first) if first != name => {
                    let msg =
                        format!("application `{name}` is also named `{first}`; `{first}` is kept");
                    self.diags.push(loss(loc, msg));
                }
                Some(_) => {}
            }
        }
        if let Some(i) = self
            .apps
            .iter()
            .position(|a| a.root == root && a.key == key)
        {
            return i;
        }
        self.apps.push(AppOut {
            root,
            key,
            loc,
            avps: Vec::new(),
            commands: Vec::new(),
        });
        let index = self.apps.len() - 1;
        if let Some(r) = self.roots.get_mut(root) {
            r.apps.push(index);
        }
        index
    }

    /// Adds an AVP to application `app`; returns its index there, or `None` when it is
    /// dropped as a repeat.
    pub(super) fn add_avp(&mut self, app: usize, mut avp: Avp) -> Option<usize> {
        let key = self.apps.get(app)?.key.clone();
        let name = avp.name.clone();
        let loc = avp.loc;
        self.settle_flags(&mut avp);
        self.settle_items(&mut avp);
        if avp.ty != "Grouped" && !avp.rules.is_empty() {
            avp.rules.clear();
            let msg = format!("AVP {name} is {}; its member list is dropped", avp.ty);
            self.diags.push(loss(loc, msg));
        }
        let scope = if self.global_avps {
            None
        } else {
            Some(key.clone())
        };
        if self.avp_names.contains(&(scope.clone(), name.clone())) {
            let msg = format!("AVP {name} is defined twice; the first definition is kept");
            self.diags.push(loss(loc, msg));
            return None;
        }
        if let Some(other) = self.avp_codes.get(&(scope.clone(), avp.code, avp.vendor)) {
            let msg = format!(
                "AVP {name} has the code {} (vendor {}) of AVP {other}; the first is kept",
                avp.code, avp.vendor
            );
            self.diags.push(loss(loc, msg));
            return None;
        }
        self.avp_names.insert((scope.clone(), name.clone()));
        self.avp_codes
            .insert((scope, avp.code, avp.vendor), name.clone());
        let used = self.avp_rust.entry(key).or_default();
        let casings = [camel(&name), snake(&name), shouty(&name)];
        if casings.iter().any(|c| used.contains(c)) {
            let r = rust_ident(&format!("{}{}", casings[0], avp.code), "Avp");
            let msg = format!(
                "AVP {name} gives the Rust name of another AVP of its application; it gets rust-name=\"{r}\""
            );
            self.diags.push(loss(loc, msg));
            used.extend([camel(&r), snake(&r), shouty(&r)]);
            avp.rust_name = Some(r);
        } else {
            used.extend(casings);
        }
        let list = &mut self.apps.get_mut(app)?.avps;
        list.push(avp);
        Some(list.len() - 1)
    }

    /// V follows the vendor; a letter both allowed and forbidden stays allowed.
    fn settle_flags(&mut self, avp: &mut Avp) {
        let (name, loc) = (&avp.name, avp.loc);
        if avp.vendor != 0 {
            if avp.must_not.v {
                let msg = format!(
                    "AVP {name} has vendor {} but forbids the V flag; the V flag is set, as the vendor requires",
                    avp.vendor
                );
                self.diags.push(loss(loc, msg));
            }
            avp.must.v = true;
            avp.may.v = false;
            avp.must_not.v = false;
        } else if avp.must.v {
            let msg =
                format!("AVP {name} must carry the V flag but names no vendor; read without V");
            self.diags.push(loss(loc, msg));
            avp.must.v = false;
        }
        if avp.must_not.m && (avp.must.m || avp.may.m) {
            let msg = format!("AVP {name} both allows and forbids the M flag; it is allowed");
            self.diags.push(loss(loc, msg));
            avp.must_not.m = false;
        }
        if avp.must_not.p && (avp.must.p || avp.may.p) {
            let msg = format!("AVP {name} both allows and forbids the P flag; it is allowed");
            self.diags.push(loss(loc, msg));
            avp.must_not.p = false;
        }
        if avp.must.m {
            avp.may.m = false;
        }
        if avp.must.p {
            avp.may.p = false;
        }
    }

    /// Keeps the named values the native format can hold: on Enumerated, Integer32 and
    /// Unsigned32, in range, with a name, no code, name or Rust name twice.
    fn settle_items(&mut self, avp: &mut Avp) {
        let items = std::mem::take(&mut avp.items);
        if items.is_empty() {
            return;
        }
        let name = &avp.name;
        if !matches!(avp.ty, "Enumerated" | "Integer32" | "Unsigned32") {
            let msg = format!(
                "AVP {name} is {}; its {} named values are dropped (only Enumerated, Integer32 and Unsigned32 take them)",
                avp.ty,
                items.len()
            );
            self.diags.push(loss(avp.loc, msg));
            return;
        }
        let unsigned = avp.ty == "Unsigned32";
        let range = if unsigned {
            0..=i64::from(u32::MAX)
        } else {
            i64::from(i32::MIN)..=i64::from(i32::MAX)
        };
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        let mut rust = HashSet::new();
        for item in items {
            let iname = item.name.trim().to_string();
            let code = item.code;
            let problem = if !range.contains(&code) {
                Some(format!("{code} does not fit {}", avp.ty))
            } else if !has_alnum(&iname) {
                Some("the name has no letter or digit".to_string())
            } else if !codes.insert(code) {
                Some(format!("the code {code} is taken by an earlier value"))
            } else if !names.insert(iname.clone()) {
                Some("an earlier value has that name".to_string())
            } else if !rust.insert(if unsigned {
                shouty(&iname)
            } else {
                camel(&iname)
            }) {
                Some("an earlier value gives the same Rust name".to_string())
            } else {
                None
            };
            match problem {
                Some(why) => {
                    let msg = format!("value `{iname}` of AVP {name} is dropped: {why}");
                    self.diags.push(loss(item.loc, msg));
                }
                None => avp.items.push(Item {
                    code,
                    name: iname,
                    loc: item.loc,
                }),
            }
        }
    }

    /// Adds a command to application `app`; returns its index there, or `None` when it is
    /// dropped as a repeat.
    pub(super) fn add_command(&mut self, app: usize, mut cmd: Command) -> Option<usize> {
        let key = self.apps.get(app)?.key.clone();
        let (name, code, loc) = (cmd.name.clone(), cmd.code, cmd.loc);
        if matches!(key, Key::Lib(_)) {
            let msg = format!(
                "command {name} has no application (an AVP library holds no commands); dropped"
            );
            self.diags.push(loss(loc, msg));
            return None;
        }
        if self.cmd_codes.contains(&(key.clone(), code)) {
            let msg = format!("command {name} repeats the command code {code} in its application; the first is kept");
            self.diags.push(loss(loc, msg));
            return None;
        }
        if self.cmd_names.contains(&(key.clone(), name.clone())) {
            let msg =
                format!("command {name} is defined twice in its application; the first is kept");
            self.diags.push(loss(loc, msg));
            return None;
        }
        self.cmd_codes.insert((key.clone(), code));
        self.cmd_names.insert((key.clone(), name.clone()));
        let used = self.cmd_rust.entry(key).or_default();
        if !used.insert(camel(&name)) {
            let r = rust_ident(&format!("{}{code}", camel(&name)), "Cmd");
            let msg = format!(
                "command {name} gives the Rust name of another command of its application; it gets rust-name=\"{r}\""
            );
            self.diags.push(loss(loc, msg));
            used.insert(camel(&r));
            cmd.rust_name = Some(r);
        }
        let list = &mut self.apps.get_mut(app)?.commands;
        list.push(cmd);
        Some(list.len() - 1)
    }

    /// AVP `index` of application `app`.
    pub(super) fn avp_mut(&mut self, app: usize, index: usize) -> Option<&mut Avp> {
        self.apps.get_mut(app)?.avps.get_mut(index)
    }

    /// Command `index` of application `app`.
    pub(super) fn command_mut(&mut self, app: usize, index: usize) -> Option<&mut Command> {
        self.apps.get_mut(app)?.commands.get_mut(index)
    }

    /// Checks every grammar, then writes one `<diameter>` per root. With `drop_unknown`, a
    /// rule naming an AVP that no file of the import defines is dropped (the import is a
    /// complete dictionary); otherwise it is kept for the rest of the load to define.
    pub(super) fn finish(mut self, drop_unknown: bool) -> Imported {
        let mut defined: HashMap<String, Vec<Key>> = HashMap::new();
        for app in &self.apps {
            for avp in &app.avps {
                let keys = defined.entry(avp.name.clone()).or_default();
                if !keys.contains(&app.key) {
                    keys.push(app.key.clone());
                }
            }
        }
        let mut resolver = Resolver {
            defined,
            graph: Graph::default(),
            drop_unknown,
        };
        let mut apps = std::mem::take(&mut self.apps);
        for app in &mut apps {
            let key = app.key.clone();
            for avp in &mut app.avps {
                if avp.ty != "Grouped" {
                    continue;
                }
                let owner = format!("Grouped AVP {}", avp.name);
                let rules = std::mem::take(&mut avp.rules);
                let mut rules = resolver.settle(rules, &owner, &key, &mut self.diags);
                if rules.is_empty() {
                    let msg = format!("{owner} lists no members; read as *[ AVP ]");
                    self.diags.push(loss(avp.loc, msg));
                    rules.push(Rule::wildcard(avp.loc));
                }
                avp.rules = rules;
            }
            for cmd in &mut app.commands {
                let owner = format!("the request of command {}", cmd.name);
                let rules = std::mem::take(&mut cmd.request);
                cmd.request = resolver.settle(rules, &owner, &key, &mut self.diags);
                let owner = format!("the answer of command {}", cmd.name);
                let rules = std::mem::take(&mut cmd.answer);
                cmd.answer = resolver.settle(rules, &owner, &key, &mut self.diags);
            }
        }
        self.apps = apps;
        let final_names = self.final_names();
        let graph = resolver.graph;
        let mut roots = Vec::new();
        let mut inherits_written: HashSet<Key> = HashSet::new();
        for root in &self.roots {
            let root_loc = Loc {
                file: root.file,
                line: 1,
            };
            let mut children = Vec::new();
            let mut codes = root.vendors.clone();
            for app in root.apps.iter().filter_map(|&a| self.apps.get(a)) {
                for avp in &app.avps {
                    if avp.vendor != 0 && !codes.contains(&avp.vendor) {
                        codes.push(avp.vendor);
                    }
                }
            }
            for code in codes {
                let declared = self.vendors.iter().find(|(c, _, _)| *c == code);
                let (name, loc) = match declared {
                    Some((_, n, l)) if l.file == root.file => (n.clone(), *l),
                    Some((_, n, _)) => (n.clone(), root_loc),
                    None => match known_vendor(code) {
                        Some(n) if !self.vendors.iter().any(|(_, v, _)| v == n) => {
                            (n.to_string(), root_loc)
                        }
                        _ => continue,
                    },
                };
                children.push(element(
                    "vendor",
                    &[("id", code.to_string()), ("name", name)],
                    loc,
                ));
            }
            for app in root.apps.iter().filter_map(|&a| self.apps.get(a)) {
                let name = final_names
                    .get(&app.key)
                    .cloned()
                    .unwrap_or_else(|| default_name(&app.key));
                let mut attrs: Vec<(&str, String)> = Vec::new();
                if let Key::App(id) = app.key {
                    attrs.push(("id", id.to_string()));
                }
                attrs.push(("name", name));
                if matches!(app.key, Key::Lib(_)) {
                    attrs.push(("library", "true".to_string()));
                }
                if let Some(parents) = graph.parents.get(&app.key) {
                    if !parents.is_empty() && inherits_written.insert(app.key.clone()) {
                        let list: Vec<String> = parents
                            .iter()
                            .map(|p| match p {
                                Key::App(id) => id.to_string(),
                                Key::Lib(_) => final_names
                                    .get(p)
                                    .cloned()
                                    .unwrap_or_else(|| default_name(p)),
                            })
                            .collect();
                        attrs.push(("inherits", list.join(",")));
                    }
                }
                let mut e = element("application", &attrs, app.loc);
                e.children.extend(app.commands.iter().map(command_element));
                e.children.extend(app.avps.iter().map(avp_element));
                children.push(e);
            }
            roots.push((
                root.file,
                Element {
                    name: "diameter".to_string(),
                    attrs: Vec::new(),
                    children,
                    loc: root_loc,
                },
            ));
        }
        Imported {
            roots,
            diagnostics: self.diags,
        }
    }

    /// One name per container, unique in the import and as a Rust module name.
    fn final_names(&mut self) -> HashMap<Key, String> {
        let mut out: HashMap<Key, String> = HashMap::new();
        let mut exact: HashSet<String> = HashSet::new();
        let mut modules: HashSet<String> = HashSet::new();
        for app in &self.apps {
            if out.contains_key(&app.key) {
                continue;
            }
            let given = self
                .names
                .get(&app.key)
                .cloned()
                .unwrap_or_else(|| default_name(&app.key));
            // `inherits` lists libraries by name: no commas, no leading digit (read as an id).
            let base = match app.key {
                Key::Lib(_) => {
                    let cleaned = given.replace(',', " ");
                    if cleaned.starts_with(|c: char| c.is_ascii_digit()) {
                        format!("Library {cleaned}")
                    } else {
                        cleaned
                    }
                }
                Key::App(_) => given.clone(),
            };
            let mut name = base.clone();
            let mut attempt = 0u32;
            while attempt < 1000 && (exact.contains(&name) || modules.contains(&snake(&name))) {
                attempt += 1;
                name = match (&app.key, attempt) {
                    (Key::App(id), 1) => format!("{base} {id}"),
                    _ => format!("{base} {attempt}"),
                };
            }
            if name != given {
                let msg = format!(
                    "application name `{given}` cannot be used as it is (another application of the import has it or its Rust module name, or a library name would not fit in inherits=); this one is named `{name}`"
                );
                self.diags.push(loss(app.loc, msg));
            }
            exact.insert(name.clone());
            modules.insert(snake(&name));
            out.insert(app.key.clone(), name);
        }
        out
    }
}

/// The name of a container that was given none.
fn default_name(key: &Key) -> String {
    match key {
        Key::App(id) => format!("Application-{id}"),
        Key::Lib(name) => name.clone(),
    }
}

fn rule_element(r: &Rule) -> Element {
    let mut attrs: Vec<(&str, String)> = vec![
        ("avp", r.avp.clone()),
        ("required", (r.min > 0).to_string()),
    ];
    if r.min > 1 {
        attrs.push(("min", r.min.to_string()));
    }
    attrs.push((
        "max",
        r.max.map_or_else(|| "*".to_string(), |m| m.to_string()),
    ));
    match r.position {
        Some(Position::First) => attrs.push(("position", "first".to_string())),
        Some(Position::Last) => attrs.push(("position", "last".to_string())),
        None => {}
    }
    element("rule", &attrs, r.loc)
}

fn command_element(c: &Command) -> Element {
    let mut attrs: Vec<(&str, String)> =
        vec![("code", c.code.to_string()), ("name", c.name.clone())];
    if let Some(p) = c.proxiable {
        attrs.push(("proxiable", p.to_string()));
    }
    if c.error {
        attrs.push(("error", "true".to_string()));
    }
    if let Some(r) = &c.rust_name {
        attrs.push(("rust-name", r.clone()));
    }
    let mut e = element("command", &attrs, c.loc);
    let mut request = element("request", &[], c.loc);
    request.children = c.request.iter().map(rule_element).collect();
    let mut answer = element("answer", &[], c.loc);
    answer.children = c.answer.iter().map(rule_element).collect();
    e.children = vec![request, answer];
    e
}

fn avp_element(a: &Avp) -> Element {
    let mut attrs: Vec<(&str, String)> =
        vec![("name", a.name.clone()), ("code", a.code.to_string())];
    if let Some(f) = a.must.text() {
        attrs.push(("must", f));
    }
    if let Some(f) = a.may.text() {
        attrs.push(("may", f));
    }
    if let Some(f) = a.must_not.text() {
        attrs.push(("must-not", f));
    }
    if a.vendor != 0 {
        attrs.push(("vendor-id", a.vendor.to_string()));
    }
    if let Some(r) = &a.rust_name {
        attrs.push(("rust-name", r.clone()));
    }
    let mut e = element("avp", &attrs, a.loc);
    let mut data = element("data", &[("type", a.ty.to_string())], a.loc);
    for i in &a.items {
        data.children.push(element(
            "item",
            &[("code", i.code.to_string()), ("name", i.name.clone())],
            i.loc,
        ));
    }
    data.children.extend(a.rules.iter().map(rule_element));
    e.children.push(data);
    e
}

// ---------------------------------------------------------------------------------------
// XML reading
// ---------------------------------------------------------------------------------------

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> u32 {
        u32::try_from(self.0.partition_point(|&nl| nl < offset) + 1).unwrap_or(u32::MAX)
    }
}

/// An entity declared in the DOCTYPE's internal subset.
#[derive(Debug, Clone)]
enum Entity {
    /// `SYSTEM "file"`: another file, read in place.
    External(String),
    /// A replacement text.
    Internal(String),
}

/// One input read into elements.
struct Document {
    /// Top-level elements (a fragment has several).
    top: Vec<Element>,
    /// Files its entities pulled in.
    included: Vec<PathBuf>,
}

/// Reads XML with DOCTYPE entity declarations, `&name;` includes and several top-level
/// elements. Elements keep the line they start on; the content of an included file gets the
/// line of the reference.
struct XmlReader<'d> {
    file: usize,
    dir: PathBuf,
    entities: HashMap<String, Entity>,
    expanding: Vec<String>,
    stack: Vec<Element>,
    top: Vec<Element>,
    included: Vec<PathBuf>,
    diags: &'d mut Vec<Diagnostic>,
}

/// The path a file is known by, to tell whether two inputs are one file.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_document(input: &Input<'_>, diags: &mut Vec<Diagnostic>) -> Document {
    let mut reader = XmlReader {
        file: input.file,
        dir: input
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        entities: HashMap::new(),
        expanding: Vec::new(),
        stack: Vec::new(),
        top: Vec::new(),
        included: Vec::new(),
        diags,
    };
    reader.run(input.text, None);
    Document {
        top: reader.top,
        included: reader.included,
    }
}

impl XmlReader<'_> {
    /// Reads `text`; with `at`, every element gets that location (an included file).
    fn run(&mut self, text: &str, at: Option<Loc>) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines = Lines::new(text);
        let file = self.file;
        let loc_of = |offset: usize| {
            at.unwrap_or(Loc {
                file,
                line: lines.line(offset),
            })
        };
        let depth = self.stack.len();
        let mut reader = Reader::from_str(text);
        let mut failed = false;
        loop {
            let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                    self.diags
                        .push(syntax(loc_of(pos), format!("not well-formed XML: {e}")));
                    failed = true;
                    break;
                }
            };
            let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let tag = text.get(..end).and_then(|t| t.rfind('<')).unwrap_or(start);
            match event {
                Event::Start(e) => {
                    let el = self.start(&e, loc_of(tag));
                    self.stack.push(el);
                }
                Event::Empty(e) => {
                    let el = self.start(&e, loc_of(tag));
                    self.attach(el);
                }
                Event::End(_) => {
                    if self.stack.len() <= depth {
                        self.diags
                            .push(syntax(loc_of(tag), "end tag without a start tag"));
                        failed = true;
                        break;
                    }
                    if let Some(el) = self.stack.pop() {
                        self.attach(el);
                    }
                }
                Event::Text(t) => {
                    let raw = String::from_utf8_lossy(&t).into_owned();
                    self.text(&raw, start, &loc_of);
                }
                Event::DocType(d) => {
                    let raw = String::from_utf8_lossy(&d).into_owned();
                    self.doctype(&raw, loc_of(tag));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        while self.stack.len() > depth {
            let Some(el) = self.stack.pop() else { break };
            if !failed {
                let msg = format!("element <{}> is not closed", el.name);
                self.diags.push(syntax(el.loc, msg));
            }
            self.attach(el);
        }
    }

    fn attach(&mut self, el: Element) {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None => self.top.push(el),
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, loc: Loc) -> Element {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = match a {
                Ok(a) => a,
                Err(err) => {
                    self.diags.push(syntax(loc, format!("<{name}>: {err}")));
                    break;
                }
            };
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let entities = &self.entities;
            let value = a.unescape_value_with(|n| {
                resolve_predefined_entity(n).or_else(|| match entities.get(n) {
                    Some(Entity::Internal(t)) => Some(t.as_str()),
                    _ => None,
                })
            });
            let value = match value {
                Ok(v) => v.into_owned(),
                Err(err) => {
                    let msg = format!("<{name}> attribute {key}: {err}");
                    self.diags.push(syntax(loc, msg));
                    String::from_utf8_lossy(&a.value).into_owned()
                }
            };
            attrs.push((key, value));
        }
        Element {
            name,
            attrs,
            children: Vec::new(),
            loc,
        }
    }

    /// Finds `&name;` references in text and reads what they stand for in place.
    fn text(&mut self, raw: &str, start: usize, loc_of: &dyn Fn(usize) -> Loc) {
        let mut offset = 0;
        while let Some(rest) = raw.get(offset..) {
            let Some(amp) = rest.find('&') else { break };
            let after = rest.get(amp + 1..).unwrap_or("");
            let semi = after.find(|c: char| c == ';' || c == '<' || c == '&' || c.is_whitespace());
            let loc = loc_of(start + offset + amp);
            match semi {
                Some(end) if after[end..].starts_with(';') && end > 0 => {
                    let name = &after[..end];
                    if !name.starts_with('#') && resolve_predefined_entity(name).is_none() {
                        self.reference(name, loc);
                    }
                    offset += amp + 1 + end + 1;
                }
                _ => {
                    self.diags
                        .push(syntax(loc, "`&` that starts no entity reference"));
                    offset += amp + 1;
                }
            }
        }
    }

    fn reference(&mut self, name: &str, loc: Loc) {
        let Some(entity) = self.entities.get(name).cloned() else {
            self.diags
                .push(syntax(loc, format!("entity &{name}; is not declared")));
            return;
        };
        if self.expanding.iter().any(|n| n == name) || self.expanding.len() >= 16 {
            self.diags
                .push(syntax(loc, format!("entity &{name}; includes itself")));
            return;
        }
        match entity {
            Entity::Internal(text) => {
                self.expanding.push(name.to_string());
                self.run(&text, Some(loc));
                self.expanding.pop();
            }
            Entity::External(system) => {
                let path = self.dir.join(system.as_str());
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        self.included.push(canonical(&path));
                        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                        let saved = std::mem::replace(&mut self.dir, dir);
                        self.expanding.push(name.to_string());
                        self.run(&text, Some(loc));
                        self.expanding.pop();
                        self.dir = saved;
                    }
                    Err(e) => {
                        let msg = format!(
                            "cannot read {} (entity &{name};): {e}",
                            path.file_name().unwrap_or_default().to_string_lossy()
                        );
                        self.diags.push(syntax(loc, msg));
                    }
                }
            }
        }
    }

    /// Reads the general entity declarations of a DOCTYPE's internal subset.
    fn doctype(&mut self, raw: &str, loc: Loc) {
        let Some(open) = raw.find('[') else { return };
        let subset = strip_comments(raw.get(open + 1..).unwrap_or(""));
        let mut rest = subset.as_str();
        while let Some(i) = rest.find("<!ENTITY") {
            let decl_start = rest.get(i + "<!ENTITY".len()..).unwrap_or("");
            let Some(close) = declaration_end(decl_start) else {
                self.diags
                    .push(syntax(loc, "an <!ENTITY declaration is not closed"));
                return;
            };
            let decl = decl_start.get(..close).unwrap_or("");
            rest = decl_start.get(close + 1..).unwrap_or("");
            match entity_declaration(decl) {
                Some((true, _, _)) => {}
                Some((false, name, entity)) => {
                    self.entities.entry(name).or_insert(entity);
                }
                None => {
                    let msg = format!("cannot read the declaration <!ENTITY{decl}>");
                    self.diags.push(syntax(loc, msg));
                }
            }
        }
    }
}

/// The text without `<!-- … -->` comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 4..).unwrap_or("");
        match after.find("-->") {
            Some(j) => rest = after.get(j + 3..).unwrap_or(""),
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The offset of the `>` that ends a declaration, quotes respected.
fn declaration_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '>' => return Some(i),
            None => {}
        }
    }
    None
}

/// A quoted literal at the start of `text`, and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let q = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = text.get(1..)?;
    let end = body.find(q)?;
    Some((body.get(..end)?.to_string(), body.get(end + 1..)?))
}

/// `name SYSTEM "file"`, `name PUBLIC "id" "file"` or `name "text"`; the flag tells a
/// parameter entity (`% name`).
fn entity_declaration(decl: &str) -> Option<(bool, String, Entity)> {
    let mut s = decl.trim_start();
    let parameter = match s.strip_prefix('%') {
        Some(rest) => {
            s = rest.trim_start();
            true
        }
        None => false,
    };
    let name_end = s.find(char::is_whitespace)?;
    let name = s.get(..name_end)?.to_string();
    let s = s.get(name_end..)?.trim_start();
    let entity = if let Some(rest) = s.strip_prefix("SYSTEM") {
        Entity::External(quoted(rest.trim_start())?.0)
    } else if let Some(rest) = s.strip_prefix("PUBLIC") {
        let (_, rest) = quoted(rest.trim_start())?;
        Entity::External(quoted(rest.trim_start())?.0)
    } else {
        Entity::Internal(quoted(s)?.0)
    };
    Some((parameter, name, entity))
}

// ---------------------------------------------------------------------------------------
// The walker of Wireshark-family XML
// ---------------------------------------------------------------------------------------

/// The two XML formats of the Wireshark family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Wireshark: symbolic vendor ids, no command grammar, `<gavp>` members.
    Wireshark,
    /// freeDiameter's legacy XML: numeric vendor ids, `<requestrules>`/`<answerrules>` and
    /// `<grouped>` with `<fixed>`, `<required>` and `<optional>` groups of `<avprule>`.
    FreeDiameter,
}

/// The sections of a document: the children of `<dictionary>`, or the top-level elements
/// of a fragment.
fn sections(top: &[Element]) -> Vec<&Element> {
    let mut out = Vec::new();
    for e in top {
        if e.name == "dictionary" {
            out.extend(e.children.iter());
        } else {
            out.push(e);
        }
    }
    out
}

struct Walker {
    dialect: Dialect,
    /// Wireshark's symbolic vendor id → Vendor-ID.
    symbols: HashMap<String, u32>,
    /// typedefn name → parent.
    typedefs: HashMap<String, String>,
    b: Builder,
}

/// Imports files of one Wireshark-family dialect.
pub(super) fn import_dialect(inputs: &[Input<'_>], dialect: Dialect) -> Imported {
    let mut w = Walker {
        dialect,
        symbols: HashMap::new(),
        typedefs: HashMap::new(),
        b: Builder::new(dialect == Dialect::Wireshark),
    };
    let docs: Vec<Document> = inputs
        .iter()
        .map(|i| read_document(i, &mut w.b.diags))
        .collect();
    let included: HashSet<PathBuf> = docs
        .iter()
        .flat_map(|d| d.included.iter().cloned())
        .collect();
    let roots: Vec<usize> = inputs.iter().map(|i| w.b.root(i.file)).collect();
    // An input that another input includes is read there, once.
    let skip: Vec<bool> = inputs
        .iter()
        .zip(&docs)
        .map(|(i, d)| {
            let me = canonical(i.path);
            included.contains(&me) && !d.included.contains(&me)
        })
        .collect();
    let mut complete = false;
    for (k, doc) in docs.iter().enumerate() {
        let (Some(&root), Some(false)) = (roots.get(k), skip.get(k).copied()) else {
            if let Some(i) = inputs.get(k) {
                let msg = format!(
                    "{} is included by another input of this import and read there",
                    i.path.file_name().unwrap_or_default().to_string_lossy()
                );
                w.b.diags.push(loss(
                    Loc {
                        file: i.file,
                        line: 1,
                    },
                    msg,
                ));
            }
            continue;
        };
        for s in sections(&doc.top) {
            match s.name.as_str() {
                "vendor" => w.declare_vendor(root, s),
                "typedefn" => w.typedef(s),
                "base" | "application" => {
                    complete |= s.name == "base";
                    for c in s.children.iter().filter(|c| c.name == "typedefn") {
                        w.typedef(c);
                    }
                }
                _ => {}
            }
        }
    }
    for (k, doc) in docs.iter().enumerate() {
        let (Some(&root), Some(false)) = (roots.get(k), skip.get(k).copied()) else {
            continue;
        };
        let mut generic: (usize, Option<Loc>) = (0, None);
        for s in sections(&doc.top) {
            w.section(root, s, &mut generic);
        }
        if let (n, Some(loc)) = generic {
            let msg = format!(
                "Wireshark dictionaries have no command grammar: the request and answer of {n} command(s) read as *[ AVP ]"
            );
            w.b.diags.push(loss(loc, msg));
        }
    }
    w.b.finish(dialect == Dialect::Wireshark && complete)
}

impl Walker {
    /// Warns about attributes the format does not have.
    fn check_attrs(&mut self, e: &Element, known: &[&str]) {
        for (k, _) in &e.attrs {
            if !known.contains(&k.as_str()) && k != "description" {
                let msg = format!("attribute {k} of <{}> is ignored", e.name);
                self.b.diags.push(loss(e.loc, msg));
            }
        }
    }

    /// A required, non-empty, trimmed attribute; a syntax error when missing.
    fn required<'e>(&mut self, e: &'e Element, attr: &str, what: &str) -> Option<&'e str> {
        let value = e.attr(attr).map(str::trim).filter(|v| !v.is_empty());
        if value.is_none() {
            let msg = format!("{what} has no {attr}");
            self.b.diags.push(syntax(e.loc, msg));
        }
        value
    }

    /// A required u32 attribute.
    fn number(&mut self, e: &Element, attr: &str, what: &str) -> Option<u32> {
        let text = self.required(e, attr, what)?;
        let value = parse_u32(text);
        if value.is_none() {
            let msg = format!("{what}: {attr} `{text}` is not a number");
            self.b.diags.push(syntax(e.loc, msg));
        }
        value
    }

    /// The Vendor-ID of a `<vendor>`: `code` (Wireshark) or `id` (freeDiameter).
    fn vendor_code(&mut self, e: &Element) -> Option<u32> {
        let attr = if e.attr("code").is_some() {
            "code"
        } else {
            "id"
        };
        self.number(e, attr, "<vendor>")
    }

    fn declare_vendor(&mut self, root: usize, e: &Element) {
        self.check_attrs(e, &["vendor-id", "code", "name", "id"]);
        let Some(code) = self.vendor_code(e) else {
            return;
        };
        let symbol = e.attr("vendor-id").map(str::trim).filter(|s| !s.is_empty());
        if let Some(s) = symbol {
            self.symbols.entry(s.to_string()).or_insert(code);
        }
        let name = e
            .attr("name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .or(symbol)
            .unwrap_or("");
        self.b.vendor(root, code, name, e.loc);
    }

    fn typedef(&mut self, e: &Element) {
        let Some(name) = self.required(e, "type-name", "<typedefn>") else {
            return;
        };
        let parent = e
            .attr("type-parent")
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        self.typedefs.entry(name.to_string()).or_insert(parent);
    }

    /// A Vendor-ID written in an AVP: a symbol, a number, or one of Wireshark's usual
    /// symbols.
    fn vendor_ref(&mut self, text: &str, loc: Loc) -> u32 {
        let t = text.trim();
        if let Some(&c) = self.symbols.get(t) {
            return c;
        }
        if let Some(c) = parse_u32(t) {
            return c;
        }
        if let Some((_, c)) = KNOWN_SYMBOLS.iter().find(|(s, _)| *s == t) {
            return *c;
        }
        let msg = format!("vendor-id `{t}` names no vendor of the import; read as no vendor");
        self.b.diags.push(loss(loc, msg));
        0
    }

    fn section(&mut self, root: usize, s: &Element, generic: &mut (usize, Option<Loc>)) {
        let app = match s.name.as_str() {
            "base" => {
                self.check_attrs(s, &["uri"]);
                self.b.app(root, Key::App(0), Some("Base"), s.loc)
            }
            "application" => {
                self.check_attrs(s, &["id", "name", "uri"]);
                let Some(id) = self.number(s, "id", "<application>") else {
                    return;
                };
                self.b.app(root, Key::App(id), s.attr("name"), s.loc)
            }
            "vendor" => {
                if !s.children.iter().any(|c| c.name == "avp") {
                    return;
                }
                let code = parse_u32(s.attr("code").or_else(|| s.attr("id")).unwrap_or(""));
                let Some(name) = code.and_then(|c| self.b.vendor_name(c)).map(str::to_string)
                else {
                    return;
                };
                self.b
                    .app(root, Key::Lib(name.clone()), Some(name.as_str()), s.loc)
            }
            "typedefn" => return,
            other => {
                let msg = format!("<{other}> outside <base> and <application> is ignored");
                self.b.diags.push(loss(s.loc, msg));
                return;
            }
        };
        for c in &s.children {
            match c.name.as_str() {
                "avp" => self.avp(app, c),
                "command" => self.command(app, c, generic),
                "typedefn" => {}
                other => {
                    let msg = format!("<{other}> inside <{}> is ignored", s.name);
                    self.b.diags.push(loss(c.loc, msg));
                }
            }
        }
    }

    fn avp(&mut self, app: usize, e: &Element) {
        self.check_attrs(
            e,
            &[
                "name",
                "code",
                "mandatory",
                "protected",
                "vendor-bit",
                "vendor-id",
                "may-encrypt",
                "constrained",
            ],
        );
        let Some(name) = self.required(e, "name", "<avp>") else {
            return;
        };
        let what = format!("AVP {name}");
        let Some(code) = self.number(e, "code", &what) else {
            return;
        };
        let vendor = match e.attr("vendor-id") {
            Some(v) => self.vendor_ref(v, e.loc),
            None => 0,
        };
        let mut ty: Option<&'static str> = None;
        let mut rules = Vec::new();
        let mut items = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "type" | "grouped" if ty.is_some() => {
                    let msg = format!("{what} has a second <type> or <grouped>; ignored");
                    self.b.diags.push(loss(c.loc, msg));
                }
                "type" => {
                    let tn = c.attr("type-name").unwrap_or("").trim();
                    ty = Some(match resolve_type(tn, &self.typedefs) {
                        // Wireshark's IPAddress is a bare 4- or 16-octet address (its
                        // dictionary.xml says so) but also types Diameter's Address AVPs
                        // (Host-IP-Address). Codes below 256 are RADIUS attributes and
                        // vendor-specific attributes carried as they are (RFC 7155, TS 29.061
                        // 16.4.7): OctetString; the others are Address.
                        Some("Address") if tn == "IPAddress" && code < 256 => "OctetString",
                        Some(t) => t,
                        None => {
                            let msg =
                                format!("{what} has the unknown type `{tn}`; read as OctetString");
                            self.b.diags.push(loss(c.loc, msg));
                            "OctetString"
                        }
                    });
                }
                "grouped" => {
                    ty = Some("Grouped");
                    self.rule_groups(c, &mut rules, &format!("Grouped AVP {name}"));
                }
                "enum" => {
                    self.check_attrs(c, &["name", "code"]);
                    let Some(iname) = self.required(c, "name", &format!("a value of {what}"))
                    else {
                        continue;
                    };
                    let Some(text) = self.required(c, "code", &format!("value {iname} of {what}"))
                    else {
                        continue;
                    };
                    match parse_i64(text) {
                        Some(code) => items.push(Item {
                            code,
                            name: iname.to_string(),
                            loc: c.loc,
                        }),
                        None => {
                            let msg =
                                format!("value {iname} of {what}: code `{text}` is not a number");
                            self.b.diags.push(syntax(c.loc, msg));
                        }
                    }
                }
                other => {
                    let msg = format!("<{other}> inside <avp> is ignored");
                    self.b.diags.push(loss(c.loc, msg));
                }
            }
        }
        let Some(ty) = ty else {
            let msg = format!("{what} has neither <type> nor <grouped>");
            self.b.diags.push(syntax(e.loc, msg));
            return;
        };
        let mut avp = Avp::new(name.to_string(), code, ty, e.loc);
        avp.vendor = vendor;
        avp.items = items;
        avp.rules = rules;
        self.flag(e, "mandatory", Letter::M, &mut avp);
        self.flag(e, "protected", Letter::P, &mut avp);
        self.flag(e, "vendor-bit", Letter::V, &mut avp);
        self.b.add_avp(app, avp);
    }

    /// `must`, `may`, `mustnot` or `shouldnot` of one flag attribute.
    fn flag(&mut self, e: &Element, attr: &str, letter: Letter, avp: &mut Avp) {
        let Some(value) = e.attr(attr) else { return };
        let target = match value.trim().to_ascii_lowercase().as_str() {
            "must" => &mut avp.must,
            "may" => &mut avp.may,
            "mustnot" | "shouldnot" | "must-not" | "should-not" => &mut avp.must_not,
            _ => {
                let msg = format!(
                    "AVP {}: {attr}=\"{value}\" is none of must, may, mustnot, shouldnot; ignored",
                    avp.name
                );
                self.b.diags.push(loss(e.loc, msg));
                return;
            }
        };
        target.set(letter);
    }

    /// `<gavp>` members, or `<fixed>`, `<required>` and `<optional>` groups of `<avprule>`.
    fn rule_groups(&mut self, e: &Element, out: &mut Vec<Rule>, owner: &str) {
        for c in &e.children {
            match c.name.as_str() {
                "gavp" => {
                    self.check_attrs(c, &["name"]);
                    if let Some(name) = self.required(c, "name", &format!("a member of {owner}")) {
                        out.push(Rule {
                            avp: name.to_string(),
                            min: 0,
                            max: None,
                            position: None,
                            loc: c.loc,
                        });
                    }
                }
                "fixed" | "required" | "optional" => {
                    for r in &c.children {
                        if r.name == "avprule" {
                            self.avprule(r, &c.name, out, owner);
                        } else {
                            let msg = format!("<{}> inside <{}> is ignored", r.name, c.name);
                            self.b.diags.push(loss(r.loc, msg));
                        }
                    }
                }
                other => {
                    let msg = format!("<{other}> inside <{}> is ignored", e.name);
                    self.b.diags.push(loss(c.loc, msg));
                }
            }
        }
    }

    /// An occurrence bound: a number, or -1 (or nothing) for the default.
    fn bound(&mut self, e: &Element, attr: &str, owner: &str) -> Option<u32> {
        let text = e.attr(attr)?;
        match parse_i64(text) {
            Some(v) if v < 0 => None,
            Some(v) => Some(u32::try_from(v).unwrap_or(u32::MAX)),
            None => {
                let msg = format!("{owner}: {attr} `{text}` is not a number");
                self.b.diags.push(syntax(e.loc, msg));
                None
            }
        }
    }

    fn avprule(&mut self, r: &Element, group: &str, out: &mut Vec<Rule>, owner: &str) {
        self.check_attrs(r, &["name", "maximum", "minimum", "position"]);
        let Some(name) = self.required(r, "name", &format!("a rule of {owner}")) else {
            return;
        };
        let min = self.bound(r, "minimum", owner);
        let max = self.bound(r, "maximum", owner);
        let (default_min, position) = match group {
            "fixed" if r.attr("position").map(str::trim) == Some("last") => {
                (1, Some(Position::Last))
            }
            "fixed" => (1, Some(Position::First)),
            "required" => (1, None),
            _ => (0, None),
        };
        out.push(Rule {
            avp: name.to_string(),
            min: min.unwrap_or(default_min),
            max,
            position,
            loc: r.loc,
        });
    }

    fn command(&mut self, app: usize, e: &Element, generic: &mut (usize, Option<Loc>)) {
        self.check_attrs(e, &["name", "code", "vendor-id", "pbit"]);
        let Some(name) = self.required(e, "name", "<command>") else {
            return;
        };
        let what = format!("command {name}");
        let Some(code) = self.number(e, "code", &what) else {
            return;
        };
        let mut cmd = Command::new(name.to_string(), code, e.loc);
        if let Some(p) = e.attr("pbit") {
            match p.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => cmd.proxiable = Some(true),
                "0" | "false" | "no" => cmd.proxiable = Some(false),
                _ => {
                    let msg = format!("{what}: pbit=\"{p}\" is neither 0 nor 1; ignored");
                    self.b.diags.push(loss(e.loc, msg));
                }
            }
        }
        let mut request: Option<Vec<Rule>> = None;
        let mut answer: Option<Vec<Rule>> = None;
        for c in &e.children {
            let (slot, half) = match c.name.as_str() {
                "requestrules" => (&mut request, "request"),
                "answerrules" => (&mut answer, "answer"),
                other => {
                    let msg = format!("<{other}> inside <command> is ignored");
                    self.b.diags.push(loss(c.loc, msg));
                    continue;
                }
            };
            let rules = slot.get_or_insert_default();
            self.rule_groups(c, rules, &format!("the {half} of {what}"));
        }
        if self.dialect == Dialect::Wireshark && request.is_none() && answer.is_none() {
            generic.0 += 1;
            generic.1.get_or_insert(e.loc);
        } else {
            for (slot, half) in [(&request, "request"), (&answer, "answer")] {
                if slot.is_none() {
                    let msg = format!("{what} gives no rules for its {half}; it reads as *[ AVP ]");
                    self.b.diags.push(loss(e.loc, msg));
                }
            }
        }
        cmd.request = request.unwrap_or_else(|| vec![Rule::wildcard(e.loc)]);
        cmd.answer = answer.unwrap_or_else(|| vec![Rule::wildcard(e.loc)]);
        self.b.add_command(app, cmd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, Severity};

    fn run(text: &str) -> Imported {
        let input = Input {
            file: 0,
            path: Path::new("/nonexistent/dictionary.xml"),
            text,
        };
        import(&[input])
    }

    use crate::import::test_support::{children, find};

    fn errors(out: &Imported) -> Vec<&Diagnostic> {
        out.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect()
    }

    fn losses(out: &Imported) -> usize {
        out.diagnostics
            .iter()
            .filter(|d| d.kind == ErrorKind::ImportLoss)
            .count()
    }

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE dictionary SYSTEM "dictionary.dtd" [
  <!ENTITY extra "<application id='9' name='Extra'/>">
]>
<dictionary>
  <base uri="x">
    <command name="Capabilities-Exchange" code="257" vendor-id="None"/>
    <typedefn type-name="OctetString"/>
    <typedefn type-name="UTF8String" type-parent="OctetString"/>
    <typedefn type-name="IPAddress" type-parent="OctetString"/>
    <typedefn type-name="Special" type-parent="UTF8String"/>
    <avp name="Session-Id" code="263" mandatory="must" vendor-bit="mustnot" protected="may">
      <type type-name="UTF8String"/>
    </avp>
    <avp name="Host-IP-Address" code="257" mandatory="must">
      <type type-name="IPAddress"/>
    </avp>
    <avp name="Framed-IP-Address" code="8" mandatory="must">
      <type type-name="IPAddress"/>
    </avp>
    <avp name="Odd" code="9000">
      <type type-name="Special"/>
    </avp>
    <avp name="Result-Code" code="268" mandatory="must">
      <type type-name="Unsigned32"/>
      <enum name="DIAMETER_SUCCESS" code="2001"/>
      <enum name="DIAMETER SUCCESS" code="2002"/>
      <enum name="Twice" code="2001"/>
      <enum name="*/*" code="3"/>
    </avp>
    <avp name="Pair" code="300" mandatory="must">
      <grouped>
        <gavp name="Session-Id"/>
        <gavp name="Result-Code "/>
        <gavp name="Nowhere"/>
      </grouped>
    </avp>
    <avp name="Empty-Group" code="301">
      <grouped/>
    </avp>
    <avp name="Session-Id" code="999"><type type-name="OctetString"/></avp>
  </base>
  <application id="0" name="Diameter Common Messages"/>
  <vendor vendor-id="TGPP" code="10415" name="3GPP"/>
  <vendor vendor-id="Acme" code="99" name="Acme">
    <avp name="Acme-Thing" code="1" vendor-id="Acme" vendor-bit="must" mandatory="mustnot">
      <type type-name="Enumerated"/>
      <enum name="ON" code="1"/>
    </avp>
  </vendor>
  <application id="16777216" name="3GPP Cx">
    <command name="User-Authorization" code="300" vendor-id="TGPP"/>
    <avp name="Visited-Network-Identifier" code="600" vendor-id="TGPP" vendor-bit="must" mandatory="must">
      <type type-name="OctetString"/>
    </avp>
    <avp name="Bad-Vendor-Bit" code="601" vendor-bit="must"><type type-name="Time"/></avp>
  </application>
  &extra;
</dictionary>
"#;

    #[test]
    fn reads_base_applications_vendors_and_types() {
        let out = run(SAMPLE);
        assert!(errors(&out).is_empty(), "{:?}", out.diagnostics);
        assert_eq!(out.roots.len(), 1);
        let root = &out.roots[0].1;
        assert_eq!(root.name, "diameter");
        let base = find(root, "application", "id", "0").unwrap();
        assert_eq!(base.attr("name"), Some("Base"));
        assert!(find(root, "vendor", "id", "10415").is_some());
        let acme = find(root, "vendor", "id", "99").unwrap();
        assert_eq!(acme.attr("name"), Some("Acme"));
        // Typedef chains resolve to base types; IPAddress is Address, but a bare
        // OctetString address for RADIUS-range codes.
        let host = find(root, "avp", "name", "Host-IP-Address").unwrap();
        assert_eq!(children(host, "data")[0].attr("type"), Some("Address"));
        let framed = find(root, "avp", "name", "Framed-IP-Address").unwrap();
        assert_eq!(
            children(framed, "data")[0].attr("type"),
            Some("OctetString")
        );
        let odd = find(root, "avp", "name", "Odd").unwrap();
        assert_eq!(children(odd, "data")[0].attr("type"), Some("UTF8String"));
        let sid = find(root, "avp", "name", "Session-Id").unwrap();
        assert_eq!(sid.attr("code"), Some("263"));
        assert_eq!(sid.attr("must"), Some("M"));
        assert_eq!(sid.attr("may"), Some("P"));
        assert_eq!(sid.attr("must-not"), Some("V"));
        // Internal entity expanded in place.
        let extra = find(root, "application", "id", "9").unwrap();
        assert_eq!(extra.attr("name"), Some("Extra"));
    }

    #[test]
    fn flags_follow_the_vendor() {
        let out = run(SAMPLE);
        let root = &out.roots[0].1;
        let vni = find(root, "avp", "name", "Visited-Network-Identifier").unwrap();
        assert_eq!(vni.attr("vendor-id"), Some("10415"));
        assert_eq!(vni.attr("must"), Some("V,M"));
        let bad = find(root, "avp", "name", "Bad-Vendor-Bit").unwrap();
        assert_eq!(bad.attr("must"), None);
        assert_eq!(bad.attr("vendor-id"), None);
        assert!(out
            .diagnostics
            .iter()
            .any(|d| d.message.contains("Bad-Vendor-Bit") && d.kind == ErrorKind::ImportLoss));
    }

    #[test]
    fn items_are_deduplicated() {
        let out = run(SAMPLE);
        let root = &out.roots[0].1;
        let rc = find(root, "avp", "name", "Result-Code").unwrap();
        let data = children(rc, "data")[0];
        let items = children(data, "item");
        // "DIAMETER SUCCESS" clashes in Rust with DIAMETER_SUCCESS, "Twice" repeats a code,
        // "*/*" has no letter.
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].attr("name"), Some("DIAMETER_SUCCESS"));
    }

    #[test]
    fn grouped_members_and_duplicates() {
        let out = run(SAMPLE);
        let root = &out.roots[0].1;
        let pair = find(root, "avp", "name", "Pair").unwrap();
        let rules = children(children(pair, "data")[0], "rule");
        let names: Vec<_> = rules.iter().map(|r| r.attr("avp").unwrap()).collect();
        // The import holds <base>: the unknown member is dropped; names are trimmed.
        assert_eq!(names, ["Session-Id", "Result-Code"]);
        assert!(rules.iter().all(|r| r.attr("max") == Some("*")));
        let empty = find(root, "avp", "name", "Empty-Group").unwrap();
        let rules = children(children(empty, "data")[0], "rule");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].attr("avp"), Some("AVP"));
        // The second Session-Id is dropped.
        assert!(find(root, "avp", "code", "999").is_none());
        assert!(losses(&out) >= 4);
    }

    #[test]
    fn vendor_avps_become_a_library() {
        let out = run(SAMPLE);
        let root = &out.roots[0].1;
        let lib = find(root, "application", "name", "Acme").unwrap();
        assert_eq!(lib.attr("library"), Some("true"));
        assert_eq!(lib.attr("id"), None);
        let thing = find(lib, "avp", "name", "Acme-Thing").unwrap();
        assert_eq!(thing.attr("vendor-id"), Some("99"));
        assert_eq!(thing.attr("must"), Some("V"));
        assert_eq!(thing.attr("must-not"), Some("M"));
    }

    #[test]
    fn commands_get_the_generic_grammar() {
        let out = run(SAMPLE);
        let root = &out.roots[0].1;
        let cer = find(root, "command", "code", "257").unwrap();
        for half in ["request", "answer"] {
            let g = children(cer, half);
            assert_eq!(g.len(), 1);
            let rules = children(g[0], "rule");
            assert_eq!(rules.len(), 1);
            assert_eq!(rules[0].attr("avp"), Some("AVP"));
            assert_eq!(rules[0].attr("max"), Some("*"));
        }
        let generic = out
            .diagnostics
            .iter()
            .filter(|d| d.message.contains("no command grammar"))
            .count();
        assert_eq!(generic, 1);
    }

    #[test]
    fn application_names_stay_unique() {
        let out = run(
            r#"<application id="5" name="3GPP Gx"/><application id="6" name="3GPP Gx"/>
               <application id="7" name="3GPP S9a"/><application id="8" name="3GPP S9a*"/>"#,
        );
        let root = &out.roots[0].1;
        assert_eq!(
            find(root, "application", "id", "5").unwrap().attr("name"),
            Some("3GPP Gx")
        );
        assert_eq!(
            find(root, "application", "id", "6").unwrap().attr("name"),
            Some("3GPP Gx 6")
        );
        assert_eq!(
            find(root, "application", "id", "8").unwrap().attr("name"),
            Some("3GPP S9a* 8")
        );
    }

    #[test]
    fn cross_application_members_inherit() {
        let out = run(r#"<application id="2" name="Two">
                 <avp name="Outer" code="2"><grouped><gavp name="Inner"/></grouped></avp>
               </application>
               <application id="1" name="One">
                 <avp name="Inner" code="1"><type type-name="Unsigned32"/></avp>
                 <avp name="Back" code="3"><grouped><gavp name="Outer"/></grouped></avp>
               </application>"#);
        let root = &out.roots[0].1;
        let two = find(root, "application", "id", "2").unwrap();
        assert_eq!(two.attr("inherits"), Some("1"));
        // One → Two would close a cycle: that member is dropped with a warning.
        let back = find(root, "avp", "name", "Back").unwrap();
        let rules = children(children(back, "data")[0], "rule");
        assert_eq!(rules[0].attr("avp"), Some("AVP"));
        assert!(find(root, "application", "id", "1")
            .unwrap()
            .attr("inherits")
            .is_none());
    }

    #[test]
    fn fragments_resolve_known_vendor_symbols() {
        let out = run(r#"<?xml version="1.0"?>
<application id="16777238" name="Gx">
  <avp name="X" code="1" vendor-id="TGPP" vendor-bit="must"><type type-name="OctetStringOrUTF8"/></avp>
  <avp name="Y" code="2" vendor-id="Nobody"><type type-name="AppId"/></avp>
</application>"#);
        assert!(errors(&out).is_empty());
        let root = &out.roots[0].1;
        assert_eq!(
            find(root, "vendor", "id", "10415").unwrap().attr("name"),
            Some("3GPP")
        );
        let x = find(root, "avp", "name", "X").unwrap();
        assert_eq!(x.attr("vendor-id"), Some("10415"));
        assert_eq!(children(x, "data")[0].attr("type"), Some("OctetString"));
        let y = find(root, "avp", "name", "Y").unwrap();
        assert_eq!(y.attr("vendor-id"), None);
        assert_eq!(children(y, "data")[0].attr("type"), Some("Unsigned32"));
        assert_eq!(find(root, "avp", "name", "X").unwrap().loc.line, 3);
    }

    #[test]
    fn missing_include_is_a_syntax_error_at_the_reference() {
        let out = run(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE dictionary [\n<!ENTITY gone SYSTEM \"gone.xml\">\n]>\n<dictionary>\n&gone;\n<application id=\"1\" name=\"A\"/>\n</dictionary>\n",
        );
        let errs = errors(&out);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, ErrorKind::ImportSyntax);
        assert_eq!(errs[0].loc.line, 6);
        assert!(find(&out.roots[0].1, "application", "id", "1").is_some());
    }

    #[test]
    fn includes_read_files_relative_to_the_input() {
        let dir = std::env::temp_dir().join(format!("ws-import-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("part.xml"),
            "<?xml version=\"1.0\"?>\n<application id=\"4\" name=\"Part\"><avp name=\"P\" code=\"5\"><type type-name=\"Integer64\"/></avp></application>\n",
        )
        .unwrap();
        let main = "<!DOCTYPE dictionary [ <!-- <!ENTITY x SYSTEM \"x.xml\"> --> <!ENTITY part SYSTEM \"part.xml\"> ]>\n<dictionary>\n\n&part;\n</dictionary>";
        let path = dir.join("dictionary.xml");
        let part_path = dir.join("part.xml");
        let part_text = std::fs::read_to_string(&part_path).unwrap();
        let inputs = [
            Input {
                file: 0,
                path: &path,
                text: main,
            },
            Input {
                file: 1,
                path: &part_path,
                text: &part_text,
            },
        ];
        let out = import(&inputs);
        std::fs::remove_dir_all(dir).ok();
        assert!(errors(&out).is_empty(), "{:?}", out.diagnostics);
        let root = &out.roots[0].1;
        let p = find(root, "avp", "name", "P").unwrap();
        assert_eq!(p.loc, Loc { file: 0, line: 4 });
        // The included file given again is read once, where it is included.
        assert_eq!(out.roots.len(), 2);
        assert!(out.roots[1].1.children.is_empty());
    }

    #[test]
    fn malformed_input_reports_and_does_not_panic() {
        for text in [
            "<dictionary><application id=\"1\"><avp name=\"A\" code=\"x\"></application>",
            "<dictionary><application id=\"x\"/><avp/></dictionary>",
            "<!DOCTYPE d [ <!ENTITY a \"&a;\"> ]><dictionary>&a;</dictionary>",
            "<!DOCTYPE d [ <!ENTITY a SYSTEM ",
            "<dictionary>&#;&;& &unknown;</dictionary>",
            "<application id=\"1\"><avp name=\"A\" code=\"1\"><enum name=\"x\" code=\"y\"/></avp></application>",
            "<application id=\"1\"><command name=\"C\"/></application></application>",
            "\u{feff}<a b=\"&bogus;\"/>",
            "",
        ] {
            let out = run(text);
            assert!(
                out.diagnostics.iter().any(|d| d.kind == ErrorKind::ImportSyntax)
                    || text.is_empty(),
                "{text}: {:?}",
                out.diagnostics
            );
        }
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(parse_u32("0x10"), Some(16));
        assert_eq!(parse_u32(" 42 "), Some(42));
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_i64("-0x10"), Some(-16));
        assert_eq!(parse_i64("--1"), None);
        assert_eq!(
            resolve_type("utf8string", &HashMap::new()),
            Some("UTF8String")
        );
        assert_eq!(resolve_type("Nope", &HashMap::new()), None);
    }

    fn reference_dir() -> PathBuf {
        crate::import::test_support::reference_dir("wireshark")
    }

    #[test]
    fn imports_the_reference_files() {
        let dir = reference_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "skipped: no Wireshark reference dictionaries at {}",
                dir.display()
            );
            return;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        paths.sort();
        let texts: Vec<String> = paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        // dictionary.xml alone pulls in every other file.
        let main = paths
            .iter()
            .position(|p| p.ends_with("dictionary.xml"))
            .unwrap();
        let out = import(&[Input {
            file: 0,
            path: &paths[main],
            text: &texts[main],
        }]);
        let syntax: Vec<_> = out
            .diagnostics
            .iter()
            .filter(|d| d.kind == ErrorKind::ImportSyntax)
            .collect();
        assert!(syntax.is_empty(), "{syntax:?}");
        assert!(errors(&out).is_empty());
        let root = &out.roots[0].1;
        let apps = children(root, "application");
        assert_eq!(
            apps.iter().filter(|a| a.attr("library").is_none()).count(),
            138
        );
        assert_eq!(
            apps.iter().filter(|a| a.attr("library").is_some()).count(),
            15
        );
        let avps: usize = apps.iter().map(|a| children(a, "avp").len()).sum();
        assert_eq!(avps, 2725);
        let commands: usize = apps.iter().map(|a| children(a, "command").len()).sum();
        assert_eq!(commands, 101);
        let imsi = find(root, "avp", "name", "3GPP-IMSI").unwrap();
        assert_eq!(imsi.attr("vendor-id"), Some("10415"));
        // Every file at once: the included ones are read once, through dictionary.xml.
        let inputs: Vec<Input<'_>> = paths
            .iter()
            .zip(&texts)
            .enumerate()
            .map(|(file, (path, text))| Input { file, path, text })
            .collect();
        let all = import(&inputs);
        assert!(all
            .diagnostics
            .iter()
            .all(|d| d.kind != ErrorKind::ImportSyntax));
        let all_avps: usize = all
            .roots
            .iter()
            .flat_map(|(_, r)| children(r, "application"))
            .map(|a| children(a, "avp").len())
            .sum();
        assert_eq!(all_avps, avps);
    }
}
