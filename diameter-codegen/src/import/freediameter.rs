//! freeDiameter's dictionary formats: the legacy XML of `dict_legacy_xml`, the JSON of
//! `dict_json` and the CSV tables of `contrib/tools` (`csvtoc`).
//!
//! The legacy XML is a descendant of Wireshark's format and is read by the same walker
//! (`wireshark.rs`). The JSON has one namespace for the whole load: AVPs belong to no
//! application, and `CommandRules` and `AVPRules` may add rules to commands and Grouped
//! AVPs of other files. Here each file's AVPs go to its application (application 0 when it
//! defines that one, else its only one); a file with no application of its own joins the
//! application whose commands or AVPs it extends, or else becomes an AVP library named after
//! the file. Rules added to a command of another application give that command again in the
//! file's own application, with the rules of both files. CSV files have one AVP table each
//! and become AVP libraries.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::wireshark::{
    import_dialect, known_vendor, parse_u32, resolve_type, Avp, Builder, Command, Dialect, Flags,
    Item, Key, Position, Rule,
};
use super::{loss, syntax, Imported, Input};
use crate::error::{Diagnostic, Loc};

/// Imports freeDiameter legacy XML files (`<dictionary>` with `<vendor>`, `<base>`,
/// `<application>`, `<command>` with `<requestrules>`/`<answerrules>`, `<avp>`).
pub fn import_xml(inputs: &[Input<'_>]) -> Imported {
    import_dialect(inputs, Dialect::FreeDiameter)
}

/// The file name without extension: the name of a library made from the file.
fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("dictionary")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

/// The line of each JSON object. serde_json keeps no positions, but the objects of the
/// parsed tree, visited in document order, are the `{` of the text (outside strings) in
/// order.
struct LineMap(HashMap<*const Value, u32>);

impl LineMap {
    fn new(text: &str, value: &Value) -> LineMap {
        let braces = brace_lines(text);
        let mut map = HashMap::new();
        let mut next = 0;
        number_objects(value, &braces, &mut next, &mut map);
        if next != braces.len() {
            // A repeated key hid an object: the pairing is off, every object gets line 1.
            map.clear();
        }
        LineMap(map)
    }

    fn line(&self, v: &Value) -> u32 {
        self.0.get(&std::ptr::from_ref(v)).copied().unwrap_or(1)
    }
}

/// The line of each `{` outside strings.
fn brace_lines(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut line = 1u32;
    let (mut in_string, mut escaped) = (false, false);
    for b in text.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'{' {
            out.push(line);
        }
        if b == b'\n' {
            line = line.saturating_add(1);
        }
    }
    out
}

fn number_objects(
    v: &Value,
    braces: &[u32],
    next: &mut usize,
    map: &mut HashMap<*const Value, u32>,
) {
    match v {
        Value::Object(m) => {
            map.insert(
                std::ptr::from_ref(v),
                braces.get(*next).copied().unwrap_or(1),
            );
            *next += 1;
            for c in m.values() {
                number_objects(c, braces, next, map);
            }
        }
        Value::Array(a) => {
            for c in a {
                number_objects(c, braces, next, map);
            }
        }
        _ => {}
    }
}

/// Whether a JSON document is a JSON Schema (such as `dict_json_dict_schema.json`) rather
/// than a dictionary.
fn is_schema(v: &Value) -> bool {
    v.get("$schema").is_some()
        || v.get("definitions").is_some()
        || (v.get("properties").is_some() && v.get("type").is_some())
}

struct JsonAvp {
    name: String,
    code: u32,
    vendor: u32,
    must: Flags,
    must_not: Flags,
    ty: String,
    items: Vec<Item>,
    loc: Loc,
}

struct JsonCommand {
    name: String,
    code: u32,
    must: String,
    must_not: String,
    application: Option<String>,
    loc: Loc,
}

struct JsonRules {
    target: String,
    vendor: Option<u32>,
    rules: Vec<Rule>,
    loc: Loc,
}

/// The sections of one JSON file, checked.
#[derive(Default)]
struct Parsed {
    vendors: Vec<(u32, String, Loc)>,
    types: Vec<(String, String)>,
    avps: Vec<JsonAvp>,
    apps: Vec<(u32, String, Loc)>,
    commands: Vec<JsonCommand>,
    command_rules: Vec<JsonRules>,
    avp_rules: Vec<JsonRules>,
}

type Object = Map<String, Value>;

/// Reads the sections of one file, reporting what does not follow the schema.
struct Reading<'a> {
    file: usize,
    lines: &'a LineMap,
    diags: &'a mut Vec<Diagnostic>,
}

impl Reading<'_> {
    fn loc(&self, v: &Value) -> Loc {
        Loc {
            file: self.file,
            line: self.lines.line(v),
        }
    }

    fn bad(&mut self, loc: Loc, msg: String) {
        self.diags.push(syntax(loc, msg));
    }

    /// The objects of array `key`; an absent key is an empty array.
    fn entries<'v>(&mut self, parent: &'v Object, key: &str, at: Loc) -> Vec<(&'v Object, Loc)> {
        let mut out = Vec::new();
        match parent.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let loc = self.loc(item);
                    match item {
                        Value::Object(m) => out.push((m, loc)),
                        _ => self.bad(loc, format!("an entry of {key} is not an object")),
                    }
                }
            }
            Some(_) => self.bad(at, format!("{key} is not an array")),
        }
        out
    }

    fn unknown_keys(&mut self, obj: &Object, known: &[&str], loc: Loc, what: &str) {
        for k in obj.keys() {
            if !known.contains(&k.as_str()) {
                self.diags
                    .push(loss(loc, format!("key {k} of {what} is ignored")));
            }
        }
    }

    /// A required, non-empty string.
    fn text(&mut self, obj: &Object, key: &str, loc: Loc, what: &str) -> Option<String> {
        match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::String(_)) => {
                self.bad(loc, format!("{what}: {key} is empty"));
                None
            }
            Some(_) => {
                self.bad(loc, format!("{what}: {key} is not a string"));
                None
            }
            None => {
                self.bad(loc, format!("{what} has no {key}"));
                None
            }
        }
    }

    /// An optional string.
    fn optional_text(&mut self, obj: &Object, key: &str, loc: Loc, what: &str) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(_) => self.text(obj, key, loc, what),
        }
    }

    /// A required u32.
    fn code(&mut self, obj: &Object, key: &str, loc: Loc, what: &str) -> Option<u32> {
        match obj.get(key) {
            None => {
                self.bad(loc, format!("{what} has no {key}"));
                None
            }
            Some(v) => {
                let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
                if n.is_none() {
                    self.bad(
                        loc,
                        format!("{what}: {key} {v} is not a 32-bit unsigned integer"),
                    );
                }
                n
            }
        }
    }

    /// An optional u32.
    fn optional_code(&mut self, obj: &Object, key: &str, loc: Loc, what: &str) -> Option<u32> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(_) => self.code(obj, key, loc, what),
        }
    }

    /// An occurrence bound: a number, `-1` or `"unbounded"` (or nothing) for the default.
    fn bound(&mut self, obj: &Object, key: &str, loc: Loc, what: &str) -> Option<u32> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "unbounded" => None,
            Some(v) => match v.as_i64() {
                Some(n) if n < 0 => None,
                Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                None => {
                    self.bad(loc, format!("{what}: {key} {v} is not an integer"));
                    None
                }
            },
        }
    }

    /// `Flags: { Must, MustNot }` of an AVP, as letters.
    fn avp_flags(&mut self, obj: &Object, loc: Loc, what: &str) -> (Flags, Flags) {
        let Some(flags) = obj.get("Flags") else {
            return (Flags::default(), Flags::default());
        };
        let Some(flags) = flags.as_object() else {
            self.bad(loc, format!("{what}: Flags is not an object"));
            return (Flags::default(), Flags::default());
        };
        self.unknown_keys(
            flags,
            &["Must", "MustNot"],
            loc,
            &format!("the flags of {what}"),
        );
        let mut read = |key: &str| -> Flags {
            let text = match flags.get(key) {
                None | Some(Value::Null) => return Flags::default(),
                Some(Value::String(s)) => s.as_str(),
                Some(_) => {
                    self.bad(loc, format!("{what}: Flags.{key} is not a string"));
                    return Flags::default();
                }
            };
            match Flags::read(text) {
                Ok(f) => f,
                Err(c) => {
                    let msg = format!("{what}: `{c}` in Flags.{key} is no AVP flag; ignored");
                    self.diags.push(loss(loc, msg));
                    let kept: String = text.chars().filter(|c| "VMPvmp".contains(*c)).collect();
                    Flags::read(&kept).unwrap_or_default()
                }
            }
        };
        let must = read("Must");
        let must_not = read("MustNot");
        (must, must_not)
    }

    /// `Flags: { Must, MustNot }` of a command, as written.
    fn command_flags(&mut self, obj: &Object, loc: Loc, what: &str) -> (String, String) {
        let Some(flags) = obj.get("Flags").and_then(Value::as_object) else {
            if obj.get("Flags").is_some_and(|f| !f.is_null()) {
                self.bad(loc, format!("{what}: Flags is not an object"));
            }
            return (String::new(), String::new());
        };
        self.unknown_keys(
            flags,
            &["Must", "MustNot"],
            loc,
            &format!("the flags of {what}"),
        );
        let get = |key: &str| {
            flags
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        (get("Must"), get("MustNot"))
    }

    /// `Content`: a list of rules.
    fn content(&mut self, obj: &Object, loc: Loc, owner: &str) -> Vec<Rule> {
        if obj.get("Content").is_none() {
            self.bad(loc, format!("{owner} has no Content"));
        }
        let mut rules = Vec::new();
        for (c, cloc) in self.entries(obj, "Content", loc) {
            self.unknown_keys(c, &["AVP", "Vendor", "First", "Min", "Max"], cloc, owner);
            let Some(avp) = self.text(c, "AVP", cloc, &format!("a rule of {owner}")) else {
                continue;
            };
            let first = match c.get("First") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    self.bad(
                        cloc,
                        format!("{owner}: First {v} of {avp} is not a boolean"),
                    );
                    false
                }
            };
            let what = format!("{owner}, rule {avp}");
            let min = self.bound(c, "Min", cloc, &what);
            let max = self.bound(c, "Max", cloc, &what);
            let _vendor = self.optional_code(c, "Vendor", cloc, &what);
            rules.push(Rule {
                avp,
                min: min.unwrap_or(u32::from(first)),
                max,
                position: first.then_some(Position::First),
                loc: cloc,
            });
        }
        rules
    }

    fn parse(&mut self, top: &Value) -> Parsed {
        let mut p = Parsed::default();
        let at = self.loc(top);
        let Some(obj) = top.as_object() else {
            self.bad(at, "the top level is not an object".to_string());
            return p;
        };
        self.unknown_keys(
            obj,
            &[
                "Vendors",
                "Types",
                "AVPs",
                "Applications",
                "Commands",
                "CommandRules",
                "AVPRules",
            ],
            at,
            "the dictionary",
        );
        for (m, loc) in self.entries(obj, "Vendors", at) {
            self.unknown_keys(m, &["Code", "Name"], loc, "a vendor");
            let code = self.code(m, "Code", loc, "a vendor");
            let name = self.text(m, "Name", loc, "a vendor");
            if let (Some(code), Some(name)) = (code, name) {
                p.vendors.push((code, name, loc));
            }
        }
        for (m, loc) in self.entries(obj, "Types", at) {
            self.unknown_keys(m, &["Name", "Base"], loc, "a type");
            let name = self.text(m, "Name", loc, "a type");
            let base = self.text(m, "Base", loc, "a type");
            if let (Some(name), Some(base)) = (name, base) {
                p.types.push((name, base));
            }
        }
        for (m, loc) in self.entries(obj, "AVPs", at) {
            if let Some(avp) = self.avp(m, loc) {
                p.avps.push(avp);
            }
        }
        for (m, loc) in self.entries(obj, "Applications", at) {
            self.unknown_keys(m, &["Code", "Name"], loc, "an application");
            let code = self.code(m, "Code", loc, "an application");
            let name = self.text(m, "Name", loc, "an application");
            if let (Some(code), Some(name)) = (code, name) {
                p.apps.push((code, name, loc));
            }
        }
        for (m, loc) in self.entries(obj, "Commands", at) {
            self.unknown_keys(
                m,
                &["Code", "Name", "Application", "Flags"],
                loc,
                "a command",
            );
            let Some(name) = self.text(m, "Name", loc, "a command") else {
                continue;
            };
            let what = format!("command {name}");
            let Some(code) = self.code(m, "Code", loc, &what) else {
                continue;
            };
            let application = self.optional_text(m, "Application", loc, &what);
            let (must, must_not) = self.command_flags(m, loc, &what);
            p.commands.push(JsonCommand {
                name,
                code,
                must,
                must_not,
                application,
                loc,
            });
        }
        for (m, loc) in self.entries(obj, "CommandRules", at) {
            self.unknown_keys(m, &["Command", "Content"], loc, "command rules");
            let Some(target) = self.text(m, "Command", loc, "command rules") else {
                continue;
            };
            let rules = self.content(m, loc, &format!("the rules of command {target}"));
            p.command_rules.push(JsonRules {
                target,
                vendor: None,
                rules,
                loc,
            });
        }
        for (m, loc) in self.entries(obj, "AVPRules", at) {
            self.unknown_keys(m, &["AVP", "Vendor", "Content"], loc, "AVP rules");
            let Some(target) = self.text(m, "AVP", loc, "AVP rules") else {
                continue;
            };
            let owner = format!("the rules of AVP {target}");
            let vendor = self.optional_code(m, "Vendor", loc, &owner);
            let rules = self.content(m, loc, &owner);
            p.avp_rules.push(JsonRules {
                target,
                vendor,
                rules,
                loc,
            });
        }
        p
    }

    fn avp(&mut self, m: &Object, loc: Loc) -> Option<JsonAvp> {
        self.unknown_keys(
            m,
            &["Code", "Vendor", "Name", "Flags", "Type", "EnumValues"],
            loc,
            "an AVP",
        );
        let name = self.text(m, "Name", loc, "an AVP")?;
        let what = format!("AVP {name}");
        let code = self.code(m, "Code", loc, &what);
        let ty = self.text(m, "Type", loc, &what);
        let vendor = self.optional_code(m, "Vendor", loc, &what).unwrap_or(0);
        let (must, must_not) = self.avp_flags(m, loc, &what);
        let mut items = Vec::new();
        let mut skipped = 0usize;
        for (e, eloc) in self.entries(m, "EnumValues", loc) {
            self.unknown_keys(e, &["Code", "Name"], eloc, &format!("a value of {what}"));
            let iname = match e.get("Name") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    self.bad(eloc, format!("a value of {what} has no Name"));
                    continue;
                }
            };
            match e.get("Code") {
                Some(c) if c.as_i64().is_some() => items.push(Item {
                    code: c.as_i64().unwrap_or_default(),
                    name: iname,
                    loc: eloc,
                }),
                Some(Value::String(_)) | Some(Value::Number(_)) => skipped += 1,
                _ => self.bad(eloc, format!("value {iname} of {what} has no Code")),
            }
        }
        if skipped > 0 {
            let msg = format!(
                "{what}: {skipped} value(s) with a string or fractional code (OctetString values) are dropped"
            );
            self.diags.push(loss(loc, msg));
        }
        Some(JsonAvp {
            name,
            code: code?,
            vendor,
            must,
            must_not,
            ty: ty?,
            items,
            loc,
        })
    }
}

/// A command as declared (one entry per request and answer).
struct CommandRef {
    file: usize,
    key: Key,
    app: usize,
    index: usize,
    request: bool,
}

/// An AVP as defined.
struct AvpRef {
    file: usize,
    name: String,
    vendor: u32,
    app: usize,
    index: usize,
}

/// A command of another application that a file adds rules to, given again in the file's
/// application.
struct Extension {
    file: usize,
    def: (usize, usize),
    request: Vec<Rule>,
    answer: Vec<Rule>,
    loc: Loc,
}

/// A request and its answer, as declared in one file.
struct Pair<'p> {
    key: Key,
    code: u32,
    stem: String,
    request: Option<&'p JsonCommand>,
    answer: Option<&'p JsonCommand>,
}

/// What a file's definitions go to.
struct FileState {
    root: usize,
    home: Key,
}

/// The application (id) that a file defines for itself: 0 when it defines application 0,
/// else its only one.
fn own_app(p: &Parsed) -> Option<u32> {
    if p.apps.iter().any(|(id, _, _)| *id == 0) {
        return Some(0);
    }
    match p.apps.as_slice() {
        [(id, _, _)] => Some(*id),
        _ => None,
    }
}

/// The name without `-Request` or `-Answer`.
fn command_stem(name: &str) -> &str {
    name.strip_suffix("-Request")
        .or_else(|| name.strip_suffix("-Answer"))
        .unwrap_or(name)
}

/// An empty grammar reads as `*[ AVP ]`, with a warning.
fn or_wildcard(rules: Vec<Rule>, what: &str, loc: Loc, diags: &mut Vec<Diagnostic>) -> Vec<Rule> {
    if rules.is_empty() {
        diags.push(loss(
            loc,
            format!("{what} has no rules; it reads as *[ AVP ]"),
        ));
        vec![Rule::wildcard(loc)]
    } else {
        rules
    }
}

/// Imports freeDiameter JSON files (`Vendors`, `Types`, `AVPs`, `Applications`, `Commands`,
/// `CommandRules`, `AVPRules`). The JSON schema file, if given, is skipped.
pub fn import_json(inputs: &[Input<'_>]) -> Imported {
    let mut b = Builder::new(false);
    let mut files: Vec<(Input<'_>, Value)> = Vec::new();
    for input in inputs {
        let loc = Loc {
            file: input.file,
            line: 1,
        };
        match serde_json::from_str::<Value>(input.text) {
            Ok(v) if is_schema(&v) => {
                let msg = "the file is a JSON schema, not a dictionary; skipped".to_string();
                b.diags.push(loss(loc, msg));
            }
            Ok(v) => files.push((*input, v)),
            Err(e) => {
                let line = u32::try_from(e.line()).unwrap_or(u32::MAX).max(1);
                let at = Loc {
                    file: input.file,
                    line,
                };
                b.diags.push(syntax(at, format!("not valid JSON: {e}")));
            }
        }
    }
    let parsed: Vec<Parsed> = files
        .iter()
        .map(|(input, value)| {
            let lines = LineMap::new(input.text, value);
            let mut reading = Reading {
                file: input.file,
                lines: &lines,
                diags: &mut b.diags,
            };
            reading.parse(value)
        })
        .collect();

    // Names known across the files.
    let mut typedefs: HashMap<String, String> = HashMap::new();
    let mut app_ids: HashMap<String, u32> = HashMap::new();
    for p in &parsed {
        for (name, base) in &p.types {
            typedefs.entry(name.clone()).or_insert_with(|| base.clone());
        }
        for (id, name, _) in &p.apps {
            app_ids.entry(name.clone()).or_insert(*id);
        }
    }
    // Where commands and AVPs of files with an application of their own belong.
    let mut command_apps: HashMap<&str, u32> = HashMap::new();
    let mut avp_apps: HashMap<&str, u32> = HashMap::new();
    for p in &parsed {
        let own = own_app(p);
        for c in &p.commands {
            let id = c
                .application
                .as_deref()
                .and_then(|n| app_ids.get(n).copied())
                .or(own);
            if let Some(id) = id {
                command_apps.entry(c.name.as_str()).or_insert(id);
            }
        }
        if let Some(id) = own {
            for a in &p.avps {
                avp_apps.entry(a.name.as_str()).or_insert(id);
            }
        }
    }

    // Vendors, applications, and AVPs in each file's home.
    let mut states: Vec<FileState> = Vec::new();
    let mut avps: Vec<AvpRef> = Vec::new();
    for (k, ((input, _), p)) in files.iter().zip(&parsed).enumerate() {
        let root = b.root(input.file);
        let top = Loc {
            file: input.file,
            line: 1,
        };
        for (code, name, loc) in &p.vendors {
            b.vendor(root, *code, name, *loc);
        }
        for (id, name, loc) in &p.apps {
            b.app(root, Key::App(*id), Some(name.as_str()), *loc);
        }
        let joined = p
            .command_rules
            .iter()
            .find_map(|r| command_apps.get(r.target.as_str()))
            .or_else(|| {
                p.avp_rules
                    .iter()
                    .find_map(|r| avp_apps.get(r.target.as_str()))
            })
            .copied();
        let home = match (own_app(p), joined) {
            (Some(id), _) => Key::App(id),
            (None, Some(id)) => {
                if !p.avps.is_empty() {
                    let msg = format!(
                        "the file defines no application of its own; its AVPs go to application {id}, whose definitions it extends"
                    );
                    b.diags.push(loss(top, msg));
                }
                Key::App(id)
            }
            (None, None) => Key::Lib(stem(input.path)),
        };
        let home_app = if p.avps.is_empty() {
            None
        } else {
            let name = match &home {
                Key::Lib(n) => Some(n.clone()),
                Key::App(_) => None,
            };
            Some(b.app(root, home.clone(), name.as_deref(), top))
        };
        for a in &p.avps {
            let ty = match resolve_type(&a.ty, &typedefs) {
                Some(t) => t,
                None => {
                    let msg = format!(
                        "AVP {} has the unknown type `{}`; read as OctetString",
                        a.name, a.ty
                    );
                    b.diags.push(loss(a.loc, msg));
                    "OctetString"
                }
            };
            let mut avp = Avp::new(a.name.clone(), a.code, ty, a.loc);
            avp.vendor = a.vendor;
            avp.must = a.must;
            avp.must_not = a.must_not;
            avp.items = a.items.clone();
            let Some(app) = home_app else { continue };
            if let Some(index) = b.add_avp(app, avp) {
                avps.push(AvpRef {
                    file: k,
                    name: a.name.clone(),
                    vendor: a.vendor,
                    app,
                    index,
                });
            }
        }
        states.push(FileState { root, home });
    }

    // Commands: requests paired with answers.
    let mut commands: HashMap<String, CommandRef> = HashMap::new();
    let mut defined: Vec<(usize, usize)> = Vec::new();
    for (k, (p, state)) in parsed.iter().zip(&states).enumerate() {
        let mut pairs: Vec<Pair<'_>> = Vec::new();
        for c in &p.commands {
            let request = if c.must.contains('R') {
                true
            } else if c.must_not.contains('R') {
                false
            } else if c.name.ends_with("-Request") {
                true
            } else if c.name.ends_with("-Answer") {
                false
            } else {
                let msg = format!(
                    "command {}: neither its flags nor its name tell a request from an answer; skipped",
                    c.name
                );
                b.diags.push(loss(c.loc, msg));
                continue;
            };
            let named = match &c.application {
                Some(n) => {
                    let id = app_ids.get(n).copied();
                    if id.is_none() {
                        let msg = format!(
                            "command {} names the application `{n}`, which no file of the import defines",
                            c.name
                        );
                        b.diags.push(loss(c.loc, msg));
                    }
                    id
                }
                None => None,
            };
            let key = match (named, &state.home) {
                (Some(id), _) => Key::App(id),
                (None, Key::App(id)) => Key::App(*id),
                (None, Key::Lib(_)) => {
                    let msg = format!(
                        "command {} belongs to no application of its file; placed in application 0",
                        c.name
                    );
                    b.diags.push(loss(c.loc, msg));
                    Key::App(0)
                }
            };
            match pairs
                .iter_mut()
                .find(|pr| pr.key == key && pr.code == c.code)
            {
                Some(pr) => {
                    let slot = if request {
                        &mut pr.request
                    } else {
                        &mut pr.answer
                    };
                    if slot.is_some() {
                        let msg =
                            format!("command {} is declared twice; the first is kept", c.name);
                        b.diags.push(loss(c.loc, msg));
                    } else {
                        if command_stem(&c.name) != pr.stem {
                            let msg = format!(
                                "command {} pairs with a command named {}; the name {} is kept",
                                c.name, pr.stem, pr.stem
                            );
                            b.diags.push(loss(c.loc, msg));
                        }
                        *slot = Some(c);
                    }
                }
                None => pairs.push(Pair {
                    key,
                    code: c.code,
                    stem: command_stem(&c.name).to_string(),
                    request: request.then_some(c),
                    answer: (!request).then_some(c),
                }),
            }
        }
        for pr in pairs {
            let Some(first) = pr.request.or(pr.answer) else {
                continue;
            };
            let loc = first.loc;
            let mut cmd = Command::new(pr.stem.clone(), pr.code, loc);
            cmd.proxiable = if first.must.contains('P') {
                Some(true)
            } else if first.must_not.contains('P') {
                Some(false)
            } else {
                None
            };
            cmd.error = pr.answer.is_some_and(|a| a.must.contains('E'));
            if pr.request.is_none() || pr.answer.is_none() {
                let missing = if pr.request.is_none() {
                    "request"
                } else {
                    "answer"
                };
                let msg = format!(
                    "command {} declares no {missing}; that grammar comes from rules alone",
                    pr.stem
                );
                b.diags.push(loss(loc, msg));
            }
            let app = b.app(state.root, pr.key.clone(), None, loc);
            let Some(index) = b.add_command(app, cmd) else {
                continue;
            };
            defined.push((app, index));
            for (half, request) in [(pr.request, true), (pr.answer, false)] {
                if let Some(c) = half {
                    commands.entry(c.name.clone()).or_insert(CommandRef {
                        file: k,
                        key: pr.key.clone(),
                        app,
                        index,
                        request,
                    });
                }
            }
        }
    }

    // Command rules: a file's own commands, extensions in place, or copies.
    let mut own: HashMap<(usize, usize, bool), Vec<Rule>> = HashMap::new();
    let mut extra: HashMap<(usize, usize, bool), Vec<Rule>> = HashMap::new();
    let mut copies: Vec<Extension> = Vec::new();
    for (k, (p, state)) in parsed.iter().zip(&states).enumerate() {
        for r in &p.command_rules {
            let Some(def) = commands.get(&r.target) else {
                let msg = format!(
                    "rules for command {}, which no file of the import declares; dropped",
                    r.target
                );
                b.diags.push(loss(r.loc, msg));
                continue;
            };
            let slot = (def.app, def.index, def.request);
            if def.file == k {
                own.entry(slot).or_default().extend(r.rules.iter().cloned());
            } else if matches!(&state.home, Key::App(_)) && state.home != def.key {
                let pos = match copies
                    .iter()
                    .position(|c| c.file == k && c.def == (def.app, def.index))
                {
                    Some(pos) => pos,
                    None => {
                        copies.push(Extension {
                            file: k,
                            def: (def.app, def.index),
                            request: Vec::new(),
                            answer: Vec::new(),
                            loc: r.loc,
                        });
                        copies.len() - 1
                    }
                };
                if let Some(copy) = copies.get_mut(pos) {
                    let half = if def.request {
                        &mut copy.request
                    } else {
                        &mut copy.answer
                    };
                    half.extend(r.rules.iter().cloned());
                }
            } else {
                extra
                    .entry(slot)
                    .or_default()
                    .extend(r.rules.iter().cloned());
            }
        }
    }
    let rules_of = |app: usize, index: usize, request: bool, with_extra: bool| -> Vec<Rule> {
        let mut rules = own.get(&(app, index, request)).cloned().unwrap_or_default();
        if with_extra {
            if let Some(more) = extra.get(&(app, index, request)) {
                rules.extend(more.iter().cloned());
            }
        }
        rules
    };
    for &(app, index) in &defined {
        let Some((name, loc)) = b.command_mut(app, index).map(|c| (c.name.clone(), c.loc)) else {
            continue;
        };
        let request = or_wildcard(
            rules_of(app, index, true, true),
            &format!("the request of command {name}"),
            loc,
            &mut b.diags,
        );
        let answer = or_wildcard(
            rules_of(app, index, false, true),
            &format!("the answer of command {name}"),
            loc,
            &mut b.diags,
        );
        if let Some(cmd) = b.command_mut(app, index) {
            cmd.request = request;
            cmd.answer = answer;
        }
    }
    for copy in copies {
        let Some(state) = states.get(copy.file) else {
            continue;
        };
        let (def_app, def_index) = copy.def;
        let Some(template) = b.command_mut(def_app, def_index).cloned() else {
            continue;
        };
        let name = template.name.clone();
        let mut cmd = Command::new(template.name, template.code, copy.loc);
        cmd.proxiable = template.proxiable;
        cmd.error = template.error;
        let mut request = rules_of(def_app, def_index, true, false);
        request.extend(copy.request);
        let mut answer = rules_of(def_app, def_index, false, false);
        answer.extend(copy.answer);
        cmd.request = or_wildcard(
            request,
            &format!("the request of command {name}"),
            copy.loc,
            &mut b.diags,
        );
        cmd.answer = or_wildcard(
            answer,
            &format!("the answer of command {name}"),
            copy.loc,
            &mut b.diags,
        );
        let msg = format!(
            "the file adds rules to command {name} of another application: the command is given again in this file's application, with the rules of both files"
        );
        b.diags.push(loss(copy.loc, msg));
        let app = b.app(state.root, state.home.clone(), None, copy.loc);
        b.add_command(app, cmd);
    }

    // AVP rules: members of Grouped AVPs, wherever those are defined.
    for (k, p) in parsed.iter().enumerate() {
        for r in &p.avp_rules {
            let wanted = r.vendor.unwrap_or(0);
            let named = || avps.iter().filter(|a| a.name == r.target);
            let target = named()
                .find(|a| a.file == k && a.vendor == wanted)
                .or_else(|| named().find(|a| a.vendor == wanted))
                .or_else(|| {
                    if r.vendor.is_none() {
                        named().next()
                    } else {
                        None
                    }
                })
                .map(|a| (a.app, a.index));
            let Some((app, index)) = target else {
                let msg = format!(
                    "rules for AVP {}, which no file of the import defines; dropped",
                    r.target
                );
                b.diags.push(loss(r.loc, msg));
                continue;
            };
            match b.avp_mut(app, index).map(|a| a.ty) {
                Some("Grouped") => {
                    if let Some(avp) = b.avp_mut(app, index) {
                        avp.rules.extend(r.rules.iter().cloned());
                    }
                }
                Some(ty) => {
                    let msg = format!(
                        "rules for AVP {}, which is {ty}, not Grouped; dropped",
                        r.target
                    );
                    b.diags.push(loss(r.loc, msg));
                }
                None => {}
            }
        }
    }
    b.finish(false)
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

/// Splits one CSV line (RFC 4180 quoting, `""` inside quotes).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut quote_seen) = (false, false);
    for c in line.chars() {
        if quoted {
            if quote_seen {
                quote_seen = false;
                if c == '"' {
                    field.push('"');
                    continue;
                }
                quoted = false;
            } else if c == '"' {
                quote_seen = true;
                continue;
            } else {
                field.push(c);
                continue;
            }
        }
        match c {
            ',' => out.push(std::mem::take(&mut field)),
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            _ => field.push(c),
        }
    }
    if quoted && !quote_seen {
        return Err("a quoted field is not closed".to_string());
    }
    out.push(field);
    Ok(out)
}

/// Imports freeDiameter CSV files: each file becomes an AVP library named after it.
/// `@vendor,<id>` sets the vendor of the rows below; `#` lines are comments.
pub fn import_csv(inputs: &[Input<'_>]) -> Imported {
    let mut b = Builder::new(false);
    for input in inputs {
        let root = b.root(input.file);
        let name = stem(input.path);
        let top = Loc {
            file: input.file,
            line: 1,
        };
        let app = b.app(root, Key::Lib(name.clone()), Some(name.as_str()), top);
        let mut vendor = 0u32;
        for (n, line) in input.text.lines().enumerate() {
            let loc = Loc {
                file: input.file,
                line: u32::try_from(n + 1).unwrap_or(u32::MAX),
            };
            csv_row(&mut b, root, app, &mut vendor, line, loc);
        }
    }
    b.finish(false)
}

/// The flag letters of CSV column `column` (1-based, for the message).
fn flag_column(b: &mut Builder, text: &str, name: &str, column: usize, loc: Loc) -> Option<Flags> {
    match Flags::read(text) {
        Ok(f) => Some(f),
        Err(c) => {
            let msg = format!("AVP {name}: `{c}` in column {column} is no flag letter");
            b.diags.push(syntax(loc, msg));
            None
        }
    }
}

/// One CSV line: a comment, the header, a directive or an AVP row
/// (`Name,Code,Section,Type,MUST,MAY,SHOULD NOT,MUST NOT`).
fn csv_row(b: &mut Builder, root: usize, app: usize, vendor: &mut u32, line: &str, loc: Loc) {
    let fields = match split_csv(line) {
        Ok(f) => f,
        Err(msg) => {
            b.diags.push(syntax(loc, msg));
            return;
        }
    };
    let field = |i: usize| fields.get(i).map_or("", |s| s.trim());
    let first = field(0);
    if fields.iter().all(|f| f.trim().is_empty())
        || first.starts_with('#')
        || first.eq_ignore_ascii_case("Attribute Name")
    {
        return;
    }
    if let Some(directive) = first.strip_prefix('@') {
        match directive.trim() {
            "vendor" => match parse_u32(field(1)) {
                Some(code) => {
                    *vendor = code;
                    if code != 0 {
                        let name = known_vendor(code)
                            .map_or_else(|| format!("Vendor-{code}"), str::to_string);
                        b.vendor(root, code, &name, loc);
                    }
                }
                None => {
                    let msg = format!("@vendor `{}` is not a Vendor-ID", field(1));
                    b.diags.push(syntax(loc, msg));
                }
            },
            "standard" => {}
            other => {
                let msg = format!("directive @{other} is ignored");
                b.diags.push(loss(loc, msg));
            }
        }
        return;
    }
    if first.is_empty() {
        b.diags.push(syntax(loc, "the row has no AVP name"));
        return;
    }
    let name = first;
    let Some(code) = parse_u32(field(1)) else {
        let msg = format!("AVP {name}: code `{}` is not a number", field(1));
        b.diags.push(syntax(loc, msg));
        return;
    };
    let type_text = field(3);
    if type_text.is_empty() {
        b.diags.push(syntax(loc, format!("AVP {name} has no type")));
        return;
    }
    let ty = match resolve_type(type_text, &HashMap::new()) {
        Some(t) => t,
        None => {
            let msg = format!("AVP {name} has the unknown type `{type_text}`; read as OctetString");
            b.diags.push(loss(loc, msg));
            "OctetString"
        }
    };
    let must = flag_column(b, field(4), name, 5, loc);
    let may = flag_column(b, field(5), name, 6, loc);
    let should_not = flag_column(b, field(6), name, 7, loc);
    let must_not = flag_column(b, field(7), name, 8, loc);
    let (Some(must), Some(may), Some(should_not), Some(must_not)) =
        (must, may, should_not, must_not)
    else {
        return;
    };
    let mut avp = Avp::new(name.to_string(), code, ty, loc);
    avp.vendor = *vendor;
    avp.must = must;
    avp.may = may;
    avp.must_not = Flags {
        v: must_not.v || should_not.v,
        m: must_not.m || should_not.m,
        p: must_not.p || should_not.p,
    };
    b.add_avp(app, avp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, Severity};
    use crate::xml::Element;
    use std::path::PathBuf;

    fn input<'a>(file: usize, path: &'a Path, text: &'a str) -> Input<'a> {
        Input { file, path, text }
    }

    use crate::import::test_support::{children, find};

    /// avp, required, max, position.
    type RuleView<'e> = (&'e str, Option<&'e str>, Option<&'e str>, Option<&'e str>);

    fn rules(e: &Element) -> Vec<RuleView<'_>> {
        children(e, "rule")
            .iter()
            .map(|r| {
                (
                    r.attr("avp").unwrap_or(""),
                    r.attr("required"),
                    r.attr("max"),
                    r.attr("position"),
                )
            })
            .collect()
    }

    fn count(out: &Imported, kind: ErrorKind) -> usize {
        out.diagnostics.iter().filter(|d| d.kind == kind).count()
    }

    fn errors(out: &Imported) -> Vec<&Diagnostic> {
        out.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect()
    }

    const LEGACY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE dictionary SYSTEM "dictionary.dtd">
<dictionary>
  <vendor id="10415" name="3GPP" />
  <application id="16777216" name="Cx">
    <command name="User-Authorization" code="300" vendor-id="10415" pbit="1">
      <requestrules>
        <fixed><avprule name="Session-Id" minimum="1" maximum="1"/></fixed>
        <required><avprule name="Origin-Host" maximum="1"/></required>
        <optional>
          <avprule name="Server-Name" maximum="1"/>
          <avprule name="Proxy-Info"/>
          <avprule name="AVP"/>
        </optional>
      </requestrules>
      <answerrules>
        <fixed><avprule name="Session-Id" minimum="1" maximum="1"/></fixed>
        <required><avprule name="Result-Code" minumin="1" maximum="1"/></required>
      </answerrules>
    </command>
    <command name="RA" code="258" vendor-id="10415" pbit="0"/>
    <avp name="Server-Name" code="602" mandatory="must" may-encrypt="no" vendor-id="10415">
      <type type-name="UTF8String"/>
    </avp>
    <avp name="Mode" code="603" mandatory="mustnot" vendor-id="10415">
      <type type-name="Enumerated"/>
      <enum name="A" code="0"/>
      <enum name="B" code="1"/>
    </avp>
    <avp name="Server-Capabilities" code="603" mandatory="must" vendor-id="10415">
      <type type-name="OctetString"/>
    </avp>
    <avp name="Pack" code="604" mandatory="must" vendor-id="10415">
      <grouped>
        <required><avprule name="Mode" minimum="1" maximum="1"/></required>
        <optional><avprule name="Server-Name" maximum="2"/></optional>
      </grouped>
    </avp>
  </application>
</dictionary>
"#;

    #[test]
    fn legacy_xml_grammars() {
        let path = PathBuf::from("dict_cx.xml");
        let out = import_xml(&[input(0, &path, LEGACY)]);
        assert!(errors(&out).is_empty(), "{:?}", out.diagnostics);
        let root = &out.roots[0].1;
        assert_eq!(
            find(root, "vendor", "id", "10415").unwrap().attr("name"),
            Some("3GPP")
        );
        let uar = find(root, "command", "code", "300").unwrap();
        assert_eq!(uar.attr("proxiable"), Some("true"));
        let request = children(uar, "request")[0];
        assert_eq!(
            rules(request),
            [
                ("Session-Id", Some("true"), Some("1"), Some("first")),
                ("Origin-Host", Some("true"), Some("1"), None),
                ("Server-Name", Some("false"), Some("1"), None),
                ("Proxy-Info", Some("false"), Some("*"), None),
                ("AVP", Some("false"), Some("*"), None),
            ]
        );
        let answer = children(uar, "answer")[0];
        assert_eq!(
            rules(answer)[1],
            ("Result-Code", Some("true"), Some("1"), None)
        );
        // The misspelt attribute is reported.
        assert!(out
            .diagnostics
            .iter()
            .any(|d| d.message.contains("minumin")));
        // A command without rules gets the generic grammar, with a warning per half.
        let ra = find(root, "command", "code", "258").unwrap();
        assert_eq!(ra.attr("proxiable"), Some("false"));
        assert_eq!(rules(children(ra, "request")[0])[0].0, "AVP");
        assert_eq!(
            out.diagnostics
                .iter()
                .filter(|d| d.message.contains("command RA gives no rules"))
                .count(),
            2
        );
        let sn = find(root, "avp", "name", "Server-Name").unwrap();
        assert_eq!(sn.attr("must"), Some("V,M"));
        assert_eq!(sn.attr("vendor-id"), Some("10415"));
        let mode = find(root, "avp", "name", "Mode").unwrap();
        assert_eq!(mode.attr("must-not"), Some("M"));
        assert_eq!(children(children(mode, "data")[0], "item").len(), 2);
        // Same code and vendor as Mode: dropped.
        assert!(find(root, "avp", "name", "Server-Capabilities").is_none());
        let pack = find(root, "avp", "name", "Pack").unwrap();
        assert_eq!(
            rules(children(pack, "data")[0]),
            [
                ("Mode", Some("true"), Some("1"), None),
                ("Server-Name", Some("false"), Some("2"), None),
            ]
        );
    }

    #[test]
    fn legacy_xml_malformed() {
        let path = PathBuf::from("bad.xml");
        for text in [
            "<dictionary><application id=\"1\"><command name=\"C\" code=\"1\"><requestrules><fixed><avprule/></fixed></requestrules></command></application></dictionary>",
            "<dictionary><application id=\"1\"><avp name=\"A\" code=\"1\"><grouped><optional><avprule name=\"B\" maximum=\"many\"/></optional></grouped></avp></application></dictionary>",
            "<dictionary><vendor id=\"x\" name=\"X\"/>",
        ] {
            let out = import_xml(&[input(0, &path, text)]);
            assert!(count(&out, ErrorKind::ImportSyntax) > 0, "{text}");
        }
    }

    const BASE_JSON: &str = r#"{
  "Vendors": [ { "Code": 0, "Name": "(no vendor)" } ],
  "Types": [ { "Name": "UTF8String", "Base": "OctetString" }, { "Name": "Text", "Base": "UTF8String" } ],
  "Applications": [ { "Code": 0, "Name": "Diameter Common Messages" } ],
  "AVPs": [
    { "Code": 263, "Flags": { "Must": "M", "MustNot": "V" }, "Name": "Session-Id", "Type": "UTF8String" },
    { "Code": 264, "Flags": { "Must": "M", "MustNot": "V" }, "Name": "Origin-Host", "Type": "DiameterIdentity" },
    { "Code": 285, "Flags": { "Must": "M", "MustNot": "V" }, "Name": "Re-Auth-Request-Type", "Type": "Enumerated",
      "EnumValues": [ { "Code": 0, "Name": "AUTHORIZE_ONLY" }, { "Code": 1, "Name": "AUTHORIZE_AUTHENTICATE" } ] },
    { "Code": 279, "Flags": { "Must": "M", "MustNot": "V" }, "Name": "Failed-AVP", "Type": "Grouped" },
    { "Code": 999, "Name": "Note", "Type": "Text" }
  ],
  "Commands": [
    { "Code": 258, "Flags": { "Must": "RP", "MustNot": "E" }, "Name": "Re-Auth-Request" },
    { "Code": 258, "Flags": { "Must": "P", "MustNot": "R" }, "Name": "Re-Auth-Answer" }
  ],
  "CommandRules": [
    { "Command": "Re-Auth-Request", "Content": [
      { "AVP": "Origin-Host", "Max": 1 },
      { "AVP": "Session-Id", "First": true, "Max": 1 },
      { "AVP": "Re-Auth-Request-Type", "Min": 1, "Max": 1 } ] },
    { "Command": "Re-Auth-Answer", "Content": [ { "AVP": "Session-Id", "First": true } ] }
  ]
}"#;

    const APP_JSON: &str = r#"{
  "Applications": [ { "Code": 1, "Name": "NASREQ" } ],
  "AVPs": [ { "Code": 4, "Flags": { "Must": "M", "MustNot": "V" }, "Name": "NAS-IP-Address", "Type": "OctetString",
              "EnumValues": [ { "Code": "<00>", "Name": "zero" } ] } ],
  "CommandRules": [ { "Command": "Re-Auth-Request", "Content": [ { "AVP": "NAS-IP-Address", "Max": 1 } ] } ]
}"#;

    const EXT_JSON: &str = r#"{
  "Vendors": [ { "Code": 10415, "Name": "3GPP" } ],
  "AVPs": [
    { "Code": 1000, "Vendor": 10415, "Flags": { "Must": "VM", "MustNot": "" }, "Name": "Bearer-Usage", "Type": "Enumerated" },
    { "Code": 1001, "Vendor": 10415, "Flags": { "Must": "VM", "MustNot": "" }, "Name": "Rule-Set", "Type": "Grouped" }
  ],
  "AVPRules": [
    { "AVP": "Failed-AVP", "Content": [ { "AVP": "Bearer-Usage" } ] },
    { "AVP": "Rule-Set", "Vendor": 10415, "Content": [ { "AVP": "Session-Id", "Max": 1 }, { "AVP": "Bearer-Usage", "Min": 2, "Max": "unbounded" } ] },
    { "AVP": "Bearer-Usage", "Vendor": 10415, "Content": [ { "AVP": "Session-Id" } ] }
  ],
  "CommandRules": [ { "Command": "Re-Auth-Answer", "Content": [ { "AVP": "Bearer-Usage", "Max": 1 } ] } ]
}"#;

    #[test]
    fn json_applications_avps_and_commands() {
        let (p0, p1, p2) = (
            PathBuf::from("dictionary_base.json"),
            PathBuf::from("dictionary_nasreq.json"),
            PathBuf::from("dictionary_3gpp.json"),
        );
        let out = import_json(&[
            input(0, &p0, BASE_JSON),
            input(1, &p1, APP_JSON),
            input(2, &p2, EXT_JSON),
        ]);
        assert!(errors(&out).is_empty(), "{:?}", out.diagnostics);
        assert_eq!(out.roots.len(), 3);
        let base = &out.roots[0].1;
        let app0 = find(base, "application", "id", "0").unwrap();
        assert_eq!(app0.attr("name"), Some("Diameter Common Messages"));
        let sid = find(app0, "avp", "name", "Session-Id").unwrap();
        assert_eq!(sid.attr("must"), Some("M"));
        assert_eq!(sid.attr("must-not"), Some("V"));
        assert_eq!(sid.loc, Loc { file: 0, line: 6 });
        let note = find(app0, "avp", "name", "Note").unwrap();
        assert_eq!(children(note, "data")[0].attr("type"), Some("UTF8String"));
        let rar = find(app0, "command", "code", "258").unwrap();
        assert_eq!(rar.attr("name"), Some("Re-Auth"));
        assert_eq!(rar.attr("proxiable"), Some("true"));
        assert_eq!(
            rules(children(rar, "request")[0]),
            [
                ("Origin-Host", Some("false"), Some("1"), None),
                ("Session-Id", Some("true"), Some("1"), Some("first")),
                ("Re-Auth-Request-Type", Some("true"), Some("1"), None),
            ]
        );
        // The 3GPP file has no application; it extends application 0's Failed-AVP and
        // Re-Auth-Answer, so its AVPs join application 0 and the rules apply in place.
        let answer = rules(children(rar, "answer")[0]);
        assert_eq!(answer.len(), 2);
        assert_eq!(answer[1].0, "Bearer-Usage");
        let failed = find(app0, "avp", "name", "Failed-AVP").unwrap();
        assert_eq!(rules(children(failed, "data")[0])[0].0, "Bearer-Usage");
        // NASREQ extends Re-Auth-Request of application 0: the command is given again in
        // application 1, with the rules of both files.
        let nas = &out.roots[1].1;
        let app1 = find(nas, "application", "id", "1").unwrap();
        let rar1 = find(app1, "command", "code", "258").unwrap();
        let names: Vec<_> = rules(children(rar1, "request")[0])
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(
            names,
            [
                "Origin-Host",
                "Session-Id",
                "Re-Auth-Request-Type",
                "NAS-IP-Address"
            ]
        );
        assert_eq!(rules(children(rar1, "answer")[0])[0].0, "Session-Id");
        let nas_ip = find(app1, "avp", "name", "NAS-IP-Address").unwrap();
        assert!(children(children(nas_ip, "data")[0], "item").is_empty());
        let ext = &out.roots[2].1;
        assert_eq!(
            find(ext, "vendor", "id", "10415").unwrap().attr("name"),
            Some("3GPP")
        );
        let rule_set = find(ext, "avp", "name", "Rule-Set").unwrap();
        assert_eq!(rule_set.attr("must"), Some("V,M"));
        let member = children(children(rule_set, "data")[0], "rule");
        assert_eq!(member[1].attr("min"), Some("2"));
        assert_eq!(member[1].attr("max"), Some("*"));
        // Rules for a non-Grouped AVP and values with string codes are dropped.
        assert!(count(&out, ErrorKind::ImportLoss) >= 3);
    }

    #[test]
    fn json_lines_and_malformed_input() {
        let path = PathBuf::from("x.json");
        let out = import_json(&[input(0, &path, "{ \"AVPs\": [ {\n \"Code\": 1 }, 3 ] ")]);
        assert!(out.roots.is_empty());
        assert_eq!(count(&out, ErrorKind::ImportSyntax), 1);
        let out = import_json(&[input(
            0,
            &path,
            "{\n\"AVPs\": [\n{ \"Name\": \"A\" },\n{ \"Name\": \"B\", \"Code\": -1, \"Type\": \"Unsigned32\" },\n 7,\n{ \"Name\": \"C\", \"Code\": 5, \"Type\": \"Nope\", \"Flags\": \"M\" }\n],\n\"Commands\": {},\n\"Mystery\": 1\n}",
        )]);
        let syntax: Vec<u32> = out
            .diagnostics
            .iter()
            .filter(|d| d.kind == ErrorKind::ImportSyntax)
            .map(|d| d.loc.line)
            .collect();
        // A: no Code, no Type (line 3); B: bad Code (line 4); 7 (line 2); C's Flags (line 6);
        // Commands is not an array (line 1).
        assert!(
            syntax.contains(&3) && syntax.contains(&4) && syntax.contains(&6),
            "{syntax:?}"
        );
        let root = &out.roots[0].1;
        let c = find(root, "avp", "name", "C").unwrap();
        assert_eq!(children(c, "data")[0].attr("type"), Some("OctetString"));
        for text in [
            "[]",
            "null",
            "{\"AVPs\": 1}",
            "{\"CommandRules\": [ {\"Command\": \"X\"} ]}",
            "",
        ] {
            let out = import_json(&[input(0, &path, text)]);
            assert!(count(&out, ErrorKind::ImportSyntax) > 0, "{text}");
        }
        let schema = import_json(&[input(
            0,
            &path,
            "{\"definitions\": {}, \"type\": \"object\"}",
        )]);
        assert!(schema.roots.is_empty());
        assert_eq!(count(&schema, ErrorKind::ImportLoss), 1);
    }

    const CSV: &str =
        "Attribute Name,Code,Section defined,Value Type,MUST,MAY,SHOULD NOT,MUST NOT\n\
@vendor,10415,,,,,,\n\
@standard,3GPP TS 29.061,,,,,,\n\
# comment,,,,,,,\n\
\"# quoted, comment\",,,,,,,\n\
,,,,,,,\n\
3GPP-IMSI,1,16.4.7,UTF8String,\"M,V\",P,,\n\
3GPP-CG-Address,4,16.4.7,OctetString,V,P,,M\n\
Grouped-Thing,5,1.2,Grouped,\"V, M\",,,\n\
Odd-Type,6,1.3,utf8string,VM,,P,\n\
Broken,x,1.4,Unsigned32,M,,,\n\
Bad-Flag,7,1.5,Unsigned32,Q,,,\n\
@vendor,0,,,,,,\n\
Session-Id,263,8.8,UTF8String,M,P,,V\n\
Unterminated,\"8,1,OctetString,,,,\n";

    #[test]
    fn csv_rows() {
        let path = PathBuf::from("/x/dict_test.csv");
        let out = import_csv(&[input(0, &path, CSV)]);
        let syntax: Vec<u32> = out
            .diagnostics
            .iter()
            .filter(|d| d.kind == ErrorKind::ImportSyntax)
            .map(|d| d.loc.line)
            .collect();
        assert_eq!(syntax, [11, 12, 15]);
        let root = &out.roots[0].1;
        assert_eq!(
            find(root, "vendor", "id", "10415").unwrap().attr("name"),
            Some("3GPP")
        );
        let lib = find(root, "application", "name", "dict_test").unwrap();
        assert_eq!(lib.attr("library"), Some("true"));
        assert_eq!(children(lib, "avp").len(), 5);
        let imsi = find(lib, "avp", "name", "3GPP-IMSI").unwrap();
        assert_eq!(imsi.attr("must"), Some("V,M"));
        assert_eq!(imsi.attr("may"), Some("P"));
        assert_eq!(imsi.attr("vendor-id"), Some("10415"));
        assert_eq!(imsi.loc.line, 7);
        let cg = find(lib, "avp", "name", "3GPP-CG-Address").unwrap();
        assert_eq!(cg.attr("must-not"), Some("M"));
        let grouped = find(lib, "avp", "name", "Grouped-Thing").unwrap();
        let data = children(grouped, "data")[0];
        assert_eq!(data.attr("type"), Some("Grouped"));
        assert_eq!(rules(data), [("AVP", Some("false"), Some("*"), None)]);
        assert!(out
            .diagnostics
            .iter()
            .any(|d| d.kind == ErrorKind::ImportLoss && d.message.contains("Grouped-Thing")));
        let odd = find(lib, "avp", "name", "Odd-Type").unwrap();
        assert_eq!(children(odd, "data")[0].attr("type"), Some("UTF8String"));
        assert_eq!(odd.attr("must-not"), Some("P"));
        let sid = find(lib, "avp", "name", "Session-Id").unwrap();
        assert_eq!(sid.attr("vendor-id"), None);
        assert_eq!(sid.attr("must-not"), Some("V"));
    }

    #[test]
    fn csv_split() {
        assert_eq!(
            split_csv("a,\"b,c\",\"d\"\"e\"").unwrap(),
            ["a", "b,c", "d\"e"]
        );
        assert_eq!(split_csv("").unwrap(), [""]);
        assert!(split_csv("\"open").is_err());
        assert_eq!(split_csv("\"\"").unwrap(), [""]);
    }

    fn reference_dir() -> PathBuf {
        crate::import::test_support::reference_dir("freediameter")
    }

    /// Every file of `dir` with extension `ext`, sorted, with its text.
    fn files(dir: &Path, ext: &str) -> Option<Vec<(PathBuf, String)>> {
        let entries = std::fs::read_dir(dir).ok()?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .collect();
        paths.sort();
        Some(
            paths
                .into_iter()
                .map(|p| {
                    let text = std::fs::read_to_string(&p).unwrap();
                    (p, text)
                })
                .collect(),
        )
    }

    fn import_all(files: &[(PathBuf, String)], f: fn(&[Input<'_>]) -> Imported) -> Imported {
        let inputs: Vec<Input<'_>> = files
            .iter()
            .enumerate()
            .map(|(file, (path, text))| Input { file, path, text })
            .collect();
        f(&inputs)
    }

    fn totals(out: &Imported) -> (usize, usize, usize) {
        let apps: Vec<&Element> = out
            .roots
            .iter()
            .flat_map(|(_, r)| children(r, "application"))
            .collect();
        let avps = apps.iter().map(|a| children(a, "avp").len()).sum();
        let commands = apps.iter().map(|a| children(a, "command").len()).sum();
        (apps.len(), avps, commands)
    }

    #[test]
    fn imports_the_reference_legacy_xml() {
        let Some(xml) = files(&reference_dir().join("dict_legacy"), "xml") else {
            eprintln!("skipped: no freeDiameter legacy XML reference files");
            return;
        };
        let out = import_all(&xml, import_xml);
        assert_eq!(
            count(&out, ErrorKind::ImportSyntax),
            0,
            "{:?}",
            out.diagnostics
        );
        assert_eq!(out.roots.len(), 2);
        assert_eq!(totals(&out), (2, 104, 4));
    }

    #[test]
    fn imports_the_reference_json() {
        let Some(json) = files(&reference_dir().join("dict_json"), "json") else {
            eprintln!("skipped: no freeDiameter JSON reference files");
            return;
        };
        let out = import_all(&json, import_json);
        assert_eq!(
            count(&out, ErrorKind::ImportSyntax),
            0,
            "{:?}",
            out.diagnostics
        );
        // The schema is skipped.
        assert_eq!(out.roots.len(), json.len() - 1);
        let (_, avps, _) = totals(&out);
        assert_eq!(avps, 1127);
    }

    #[test]
    fn imports_the_reference_csv() {
        let Some(csv) = files(&reference_dir(), "csv") else {
            eprintln!("skipped: no freeDiameter CSV reference files");
            return;
        };
        let out = import_all(&csv, import_csv);
        assert_eq!(
            count(&out, ErrorKind::ImportSyntax),
            0,
            "{:?}",
            out.diagnostics
        );
        assert_eq!(totals(&out), (2, 1703, 0));
    }
}
