//! The naming rules over every name of every bundled and reference dictionary (XML of
//! go-diameter, Wireshark and this project; the `.dia` files of Erlang/OTP, diafuzzer and
//! sigscale; freeDiameter's CSV): no two names of one scope give the same Rust name, no name
//! is split into one-letter words, and the whole mapping is kept as a golden list
//! (`tests/codegen/golden/names.txt`) so a change of rule shows in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use codegen_tests::{reference_dir, root};

use diameter_codegen::naming::{camel, shouty, snake, words};

/// Names of one scope: AVPs and commands of one file, or the items of one enumeration.
#[derive(Default)]
struct Scopes {
    /// scope → names
    scopes: BTreeMap<String, BTreeSet<String>>,
}

impl Scopes {
    fn add(&mut self, scope: &str, name: &str) {
        self.scopes
            .entry(scope.to_string())
            .or_default()
            .insert(name.to_string());
    }
}

/// `name="…"` of the elements that become Rust names.
fn xml_names(file: &str, text: &str, out: &mut Scopes) {
    let mut current_avp = String::new();
    for raw in text.split('<').skip(1) {
        let tag: String = raw
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let Some(name) = attr(raw, "name") else {
            continue;
        };
        match tag.as_str() {
            "avp" => {
                current_avp = name.clone();
                out.add(&format!("{file}: AVPs"), &name);
            }
            "command" => out.add(&format!("{file}: commands"), &name),
            "item" | "enum" => out.add(&format!("{file}: {current_avp}"), &name),
            _ => {}
        }
    }
}

fn attr(tag: &str, key: &str) -> Option<String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let tag = &tag[..end];
    let mut rest = tag;
    while let Some(i) = rest.find(key) {
        let before_ok = i == 0 || rest.as_bytes()[i - 1].is_ascii_whitespace();
        let after = &rest[i + key.len()..];
        if before_ok && after.starts_with("=\"") {
            let v = &after[2..];
            return v.find('"').map(|e| v[..e].to_string());
        }
        rest = after;
    }
    None
}

/// Erlang's `.dia` format: `@avp_types`, `@enum X`, `@define X`, `@messages`, `@grouped`.
fn dia_names(file: &str, text: &str, out: &mut Scopes) {
    let mut section = String::new();
    let mut scope = String::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("").trim_end();
        if let Some(s) = line.strip_prefix('@') {
            let mut parts = s.split_whitespace();
            section = parts.next().unwrap_or("").to_string();
            scope = match section.as_str() {
                "enum" | "define" => {
                    let avp = parts.next().unwrap_or("").to_string();
                    out.add(&format!("{file}: AVPs"), &avp);
                    format!("{file}: {avp}")
                }
                _ => String::new(),
            };
            continue;
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        match section.as_str() {
            "avp_types" => {
                if let Some(n) = t.split_whitespace().next() {
                    out.add(&format!("{file}: AVPs"), n);
                }
            }
            "enum" | "define" => {
                if let Some(n) = t.split_whitespace().next() {
                    out.add(&scope, n);
                }
            }
            "messages" | "grouped" => {
                if let Some((n, _)) = t.split_once("::=") {
                    let n = n.trim();
                    let n = n.trim_matches(|c| c == '<' || c == '>').trim();
                    if section == "messages" {
                        out.add(&format!("{file}: commands"), n);
                    }
                }
            }
            _ => {}
        }
    }
}

/// freeDiameter's CSV: `Attribute Name,Code,Section,Data Type,…` (`@` lines are metadata).
fn csv_names(file: &str, text: &str, out: &mut Scopes) {
    for line in text.lines() {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 2 || cols[0].is_empty() || cols[0].starts_with(['#', '@']) {
            continue;
        }
        if cols[1].parse::<u32>().is_ok() {
            out.add(&format!("{file}: AVPs"), cols[0]);
        }
    }
}

fn collect() -> Scopes {
    let mut scopes = Scopes::default();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![reference_dir(), root().join("dictionaries")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let base = root();
    for p in files {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let shown = p
            .strip_prefix(&base)
            .or_else(|_| p.strip_prefix(reference_dir()))
            .unwrap_or(&p)
            .display()
            .to_string();
        match p.extension().and_then(|e| e.to_str()) {
            Some("xml") => xml_names(&shown, &text, &mut scopes),
            Some("dia") => dia_names(&shown, &text, &mut scopes),
            Some("csv") => csv_names(&shown, &text, &mut scopes),
            _ => {}
        }
    }
    scopes
}

#[test]
fn every_reference_name_is_named_consistently() {
    let scopes = collect();
    // Names without a letter or digit are rejected by the loader (InvalidName).
    let all: BTreeSet<&String> = scopes
        .scopes
        .values()
        .flatten()
        .filter(|n| n.chars().any(|c| c.is_ascii_alphanumeric()))
        .collect();
    assert!(
        all.len() > 5000,
        "expected the reference dictionaries beside the checkout, found {} names",
        all.len()
    );

    let mut problems = Vec::new();
    for name in &all {
        let w = words(name);
        // A split that leaves single letters next to each other is an acronym torn apart.
        let letter = |s: &str| s.len() == 1 && s.as_bytes()[0].is_ascii_alphabetic();
        if w.windows(2).any(|p| letter(&p[0]) && letter(&p[1])) {
            problems.push(format!("{name}: one-letter words {w:?}"));
        }
        for (kind, s) in [("snake", snake(name)), ("camel", camel(name))] {
            if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
                problems.push(format!("{name}: {kind} name `{s}`"));
            }
        }
        if camel(name).to_ascii_lowercase() != snake(name).replace('_', "") {
            problems.push(format!("{name}: camel and snake disagree"));
        }
        if shouty(name) != snake(name).to_ascii_uppercase() {
            problems.push(format!("{name}: shouty and snake disagree"));
        }
    }

    // Names of one scope that only differ in case or separators are the same name written
    // twice (Wireshark's `IPv4` beside `IPV4`); every other pair must stay apart.
    let mut collisions = Vec::new();
    for (scope, names) in &scopes.scopes {
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        for n in names {
            let key = camel(n);
            if let Some(other) = seen.insert(key.clone(), n) {
                let same = |s: &str| {
                    s.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect::<String>()
                        .to_ascii_lowercase()
                };
                if same(other) != same(n) {
                    collisions.push(format!("{scope}: {other} and {n} are both `{key}`"));
                }
            }
        }
    }
    problems.extend(collisions);
    assert!(
        problems.is_empty(),
        "{} naming problems:\n{}",
        problems.len(),
        problems.join("\n")
    );

    let mut list = String::from("# dictionary name\tsnake_case\tUpperCamelCase\n");
    for n in &all {
        list.push_str(&format!("{n}\t{}\t{}\n", snake(n), camel(n)));
    }
    codegen_tests::check_golden("tests/codegen/golden/names.txt", &list);
}
