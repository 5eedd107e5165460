//! Erlang/OTP diameter's `.dia` dictionaries (the `diameter_dict(4)` format).
//!
//! Each file becomes one `<diameter>` root with its `<vendor>`s and one `<application>`.
//! A file with `@id` is an application with that id; a file without `@id` is an AVP library
//! (`library="true"`, known by its name). The application's name is `@name`, else the file
//! stem.
//!
//! | `.dia` | native |
//! |---|---|
//! | `@id N` | `<application id="N">` |
//! | `@name X` | `<application name="X">` |
//! | `@prefix X` | nothing (an Erlang record prefix) |
//! | `@vendor Id Name` | `<vendor id name>` and the application's `vendor-id` (when not 0) |
//! | `@inherits Module` | `inherits=` the id (or library name) of the file it names |
//! | `@avp_vendor_id Id Avp...` | `vendor-id="Id"` on those AVPs (V flag only) |
//! | `@avp_types` | `<avp name code must vendor-id>` with `<data type>` |
//! | `@enum Avp`, `@define Avp` | `<item code name>` in that AVP's `<data>` |
//! | `@grouped` | `<rule>`s in the Grouped AVP's `<data>` |
//! | `@messages` | `<command>` (request and answer paired by code), `<answer-message>` in 0 |
//! | `@custom_types`, `@codecs` | nothing (Erlang codecs; an `ImportLoss` warning) |
//! | `@end` | the rest of the file is ignored |
//!
//! `@inherits Module` is resolved among the files of the load: by `@name`, then by file
//! stem, then with a leading `diameter_gen_` removed from both sides. OTP's own base
//! dictionaries (`diameter_gen_base_rfc6733`, `diameter_gen_base_rfc3588`), when no file of
//! the load is one of them, stand for application 0 (the bundled `base.xml`). An AVP list
//! after the module is not kept: the whole dictionary is inherited.
//!
//! The OTP type names `DiamIdent` and `DiamURI` become `DiameterIdentity` and `DiameterURI`;
//! other type names are passed on as written. Every element carries the line of the `.dia`
//! file it comes from.

use std::collections::{HashMap, HashSet};

use super::{element, loss, syntax, Imported, Input};
use crate::error::{Diagnostic, ErrorKind, Loc};
use crate::xml::Element;

/// Names of vendors that an `@avp_vendor_id` may use without a `@vendor` in the load.
const KNOWN_VENDORS: &[(u32, &str)] = &[(10415, "3GPP"), (5535, "3GPP2"), (13019, "ETSI")];

/// OTP's base dictionaries (without `diameter_gen_`): application 0 when not in the load.
const OTP_BASE: &[&str] = &["base_rfc6733", "base_rfc3588"];

/// Imports a set of `.dia` files, `@inherits` resolved among them.
///
/// Returns one `<diameter>` root per input, in input order. A line that cannot be read is an
/// [`ErrorKind::ImportSyntax`] error; something the native format cannot say is an
/// [`ErrorKind::ImportLoss`] warning; an `@inherits` that names no file of the load is an
/// [`ErrorKind::UnknownParent`] warning.
pub fn import(inputs: &[Input<'_>]) -> Imported {
    let mut dicts: Vec<Dict<'_>> = inputs.iter().map(parse).collect();
    let names = vendor_names(&mut dicts);
    let parse_diags: Vec<Vec<Diagnostic>> = dicts
        .iter_mut()
        .map(|d| std::mem::take(&mut d.diags))
        .collect();
    let mut out = Imported::default();
    for (d, diags) in dicts.iter().zip(parse_diags) {
        let mut b = Builder {
            d,
            dicts: &dicts,
            vendor_names: &names,
            diags: Vec::new(),
        };
        let root = b.build();
        out.diagnostics.extend(diags);
        out.diagnostics.extend(b.diags);
        out.roots.push((d.file, root));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Reading a file
// ---------------------------------------------------------------------------------------

/// A word or a punctuation mark, with its line.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    line: u32,
    text: &'a str,
}

/// One `@tag` and the lines up to the next.
#[derive(Debug)]
struct Section<'a> {
    tag: &'a str,
    line: u32,
    /// The tag line after the tag.
    rest: &'a str,
    /// The following non-empty lines, comments removed.
    body: Vec<(u32, &'a str)>,
}

/// The flags of an `@avp_types` line.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    m: bool,
    p: bool,
    v: bool,
}

impl Flags {
    /// `must=` text: letters in M, P, V order, comma-separated.
    fn letters(self) -> String {
        let mut l = Vec::new();
        if self.m {
            l.push("M");
        }
        if self.p {
            l.push("P");
        }
        if self.v {
            l.push("V");
        }
        l.join(",")
    }
}

/// An `@avp_types` line.
#[derive(Debug)]
struct AvpDef<'a> {
    name: &'a str,
    code: u32,
    ty: &'a str,
    flags: Flags,
    line: u32,
}

/// A named value of `@enum` / `@define`.
#[derive(Debug)]
struct ItemDef<'a> {
    name: &'a str,
    code: i64,
    line: u32,
}

/// An `@enum` or `@define` section.
#[derive(Debug)]
struct Values<'a> {
    tag: &'a str,
    avp: &'a str,
    line: u32,
    items: Vec<ItemDef<'a>>,
}

/// The bracket of a CCF rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bracket {
    /// `< X >`
    Fixed,
    /// `{ X }`
    Required,
    /// `[ X ]`
    Optional,
}

/// One CCF rule line.
#[derive(Debug)]
struct RuleDef<'a> {
    line: u32,
    bracket: Bracket,
    /// `min*max` when there is a `*`.
    qual: Option<(Option<u32>, Option<u32>)>,
    avp: &'a str,
}

/// `Name ::= < ... Header: ... >` and its rules.
#[derive(Debug)]
struct Def<'a> {
    name: &'a str,
    line: u32,
    /// The tokens after `Header:`.
    header: Vec<Tok<'a>>,
    rules: Vec<RuleDef<'a>>,
}

/// An `@avp_vendor_id` section.
#[derive(Debug)]
struct VendorList<'a> {
    id: u32,
    line: u32,
    avps: Vec<Tok<'a>>,
}

/// What one file says.
#[derive(Debug, Default)]
struct Dict<'a> {
    file: usize,
    stem: String,
    id: Option<(u32, u32)>,
    name: Option<(&'a str, u32)>,
    /// (id, name, line)
    vendor: Option<(u32, &'a str, u32)>,
    /// The module named by each `@inherits`.
    inherits: Vec<Tok<'a>>,
    avp_vendor: Vec<VendorList<'a>>,
    avps: Vec<AvpDef<'a>>,
    values: Vec<Values<'a>>,
    grouped: Vec<Def<'a>>,
    messages: Vec<Def<'a>>,
    diags: Vec<Diagnostic>,
}

impl<'a> Dict<'a> {
    fn loc(&self, line: u32) -> Loc {
        Loc {
            file: self.file,
            line,
        }
    }

    fn err(&mut self, line: u32, msg: impl Into<String>) {
        let d = syntax(self.loc(line), msg);
        self.diags.push(d);
    }

    fn lost(&mut self, line: u32, msg: impl Into<String>) {
        let d = loss(self.loc(line), msg);
        self.diags.push(d);
    }

    /// The application name: `@name`, else the file stem.
    fn app_name(&self) -> String {
        match self.name {
            Some((n, _)) => n.to_string(),
            None => self.stem.clone(),
        }
    }

    /// The only word of a section (`@id`, `@name`).
    fn single(&mut self, s: &Section<'a>) -> Option<Tok<'a>> {
        let w = section_words(s);
        match w.as_slice() {
            [t] => Some(*t),
            _ => {
                self.err(
                    s.line,
                    format!("@{} takes one value, not {}", s.tag, w.len()),
                );
                None
            }
        }
    }

    fn section(&mut self, s: &Section<'a>) {
        match s.tag {
            "id" => {
                if let Some(t) = self.single(s) {
                    match parse_u32(t.text) {
                        None => self.err(
                            t.line,
                            format!("@id `{}` is not a number from 0 to 4294967295", t.text),
                        ),
                        Some(_) if self.id.is_some() => {
                            self.err(s.line, "a second @id; the first is kept")
                        }
                        Some(v) => self.id = Some((v, s.line)),
                    }
                }
            }
            "name" => {
                if let Some(t) = self.single(s) {
                    if self.name.is_some() {
                        self.err(s.line, "a second @name; the first is kept");
                    } else {
                        self.name = Some((t.text, s.line));
                    }
                }
            }
            "prefix" => {}
            "vendor" => {
                let w = section_words(s);
                match w.as_slice() {
                    [id, name] => match parse_u32(id.text) {
                        None => self.err(
                            id.line,
                            format!(
                                "vendor id `{}` is not a number from 0 to 4294967295",
                                id.text
                            ),
                        ),
                        Some(_) if self.vendor.is_some() => {
                            self.err(s.line, "a second @vendor; the first is kept")
                        }
                        Some(v) => self.vendor = Some((v, name.text, s.line)),
                    },
                    _ => self.err(s.line, "@vendor takes a vendor id and a name"),
                }
            }
            "inherits" => match section_words(s).first().copied() {
                Some(m) => self.inherits.push(m),
                None => self.err(s.line, "@inherits names no dictionary"),
            },
            "avp_vendor_id" => {
                let w = section_words(s);
                match w.split_first() {
                    None => self.err(s.line, "@avp_vendor_id needs a vendor id"),
                    Some((id, avps)) => match parse_u32(id.text) {
                        Some(v) => self.avp_vendor.push(VendorList {
                            id: v,
                            line: s.line,
                            avps: avps.to_vec(),
                        }),
                        None => self.err(
                            id.line,
                            format!(
                                "vendor id `{}` is not a number from 0 to 4294967295",
                                id.text
                            ),
                        ),
                    },
                }
            }
            "custom_types" | "codecs" => {
                let w = section_words(s);
                match w.split_first() {
                    None => self.err(s.line, format!("@{} needs a module name", s.tag)),
                    Some((m, avps)) => self.lost(
                        s.line,
                        format!(
                            "@{} {}: the Erlang codec of {} AVP(s) is not carried over; their @avp_types types are kept",
                            s.tag,
                            m.text,
                            avps.len()
                        ),
                    ),
                }
            }
            "avp_types" => {
                for (line, l) in section_lines(s) {
                    self.avp_type(line, l);
                }
            }
            "enum" | "define" => {
                let mut w = s.rest.split_whitespace();
                match (w.next(), w.next()) {
                    (Some(avp), None) => {
                        let mut items = Vec::new();
                        for &(line, l) in &s.body {
                            self.items(line, l, &mut items);
                        }
                        self.values.push(Values {
                            tag: s.tag,
                            avp,
                            line: s.line,
                            items,
                        });
                    }
                    _ => self.err(s.line, format!("@{} takes one AVP name on its line", s.tag)),
                }
            }
            "grouped" => {
                let defs = self.defs(&section_lines(s), "AVP");
                self.grouped.extend(defs);
            }
            "messages" => {
                let defs = self.defs(&section_lines(s), "Diameter");
                self.messages.extend(defs);
            }
            other => self.err(s.line, format!("unknown section @{other}; skipped")),
        }
    }

    /// `Name Code Type [Flags]`.
    fn avp_type(&mut self, line: u32, l: &'a str) {
        let w: Vec<&'a str> = l.split_whitespace().collect();
        let (name, code, ty, flags) = match w.as_slice() {
            [n, c, t] => (*n, *c, *t, "-"),
            [n, c, t, f] => (*n, *c, *t, *f),
            _ => {
                self.err(
                    line,
                    format!("expected `Name Code Type Flags`, found {} word(s)", w.len()),
                );
                return;
            }
        };
        let Some(code) = parse_u32(code) else {
            self.err(
                line,
                format!("AVP code `{code}` of {name} is not a number from 0 to 4294967295"),
            );
            return;
        };
        let flags = match parse_flags(flags) {
            Some(f) => f,
            None => {
                self.err(
                    line,
                    format!("flags `{flags}` of {name} are neither letters M, P, V nor `-`; read as no flags"),
                );
                Flags::default()
            }
        };
        let ty = match ty {
            "DiamIdent" => "DiameterIdentity",
            "DiamURI" => "DiameterURI",
            t => t,
        };
        self.avps.push(AvpDef {
            name,
            code,
            ty,
            flags,
            line,
        });
    }

    /// `NAME Value` pairs of one line.
    fn items(&mut self, line: u32, l: &'a str, out: &mut Vec<ItemDef<'a>>) {
        let w: Vec<&'a str> = l.split_whitespace().collect();
        let pairs = w.chunks_exact(2);
        if !pairs.remainder().is_empty() {
            self.err(line, "expected `NAME Value` pairs");
            return;
        }
        for pair in pairs {
            if let [name, value] = *pair {
                match parse_i64(value) {
                    Some(code) => out.push(ItemDef { name, code, line }),
                    None => self.err(line, format!("value `{value}` of {name} is not an integer")),
                }
            }
        }
    }

    /// The definitions of a `@messages` or `@grouped` section (`what`: `Diameter` or `AVP`).
    fn defs(&mut self, lines: &[(u32, &'a str)], what: &str) -> Vec<Def<'a>> {
        let toks = ccf_tokens(lines);
        let mut out: Vec<Def<'a>> = Vec::new();
        let mut open = false;
        let mut i = 0;
        while i < toks.len() {
            let line = line_at(&toks, i);
            if at_def(&toks, i) {
                let name = text_at(&toks, i);
                match def_header(&toks, i + 2, what) {
                    Ok((header, next)) => {
                        out.push(Def {
                            name,
                            line,
                            header,
                            rules: Vec::new(),
                        });
                        open = true;
                        i = next;
                    }
                    Err(msg) => {
                        self.err(line, format!("`{name} ::=`: {msg}; skipped"));
                        open = false;
                        i += 2;
                        while i < toks.len() && !at_def(&toks, i) {
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if !open {
                self.err(line, "a rule outside a definition (`Name ::= < ... >`)");
                i = skip_line(&toks, i);
                continue;
            }
            match rule(&toks, i) {
                Ok((r, next)) => {
                    if let Some(d) = out.last_mut() {
                        d.rules.push(r);
                    }
                    i = next;
                }
                Err(msg) => {
                    self.err(line, msg);
                    i = skip_line(&toks, i);
                }
            }
        }
        out
    }
}

/// Reads one file into its sections' content.
fn parse<'a>(input: &Input<'a>) -> Dict<'a> {
    let stem = input
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("dia-{}", input.file), str::to_string);
    let mut d = Dict {
        file: input.file,
        stem,
        ..Dict::default()
    };
    for s in sections(&mut d, input.text) {
        d.section(&s);
    }
    d
}

/// 1-based line number of the `i`th line.
fn line_no(i: usize) -> u32 {
    u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX)
}

/// Splits a file into `@` sections, comments and blank lines removed, up to `@end`.
fn sections<'a>(d: &mut Dict<'a>, text: &'a str) -> Vec<Section<'a>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Section<'a>> = Vec::new();
    let mut stray = false;
    for (i, raw) in text.lines().enumerate() {
        let line = line_no(i);
        let l = raw.split_once(';').map_or(raw, |(a, _)| a).trim();
        if l.is_empty() {
            continue;
        }
        if let Some(t) = l.strip_prefix('@') {
            let (tag, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
            if tag == "end" {
                break;
            }
            out.push(Section {
                tag,
                line,
                rest: rest.trim(),
                body: Vec::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.body.push((line, l));
        } else if !stray {
            stray = true;
            d.err(line, "text before the first @section; ignored");
        }
    }
    out
}

/// The words of a section: those after the tag, then those of the following lines.
fn section_words<'a>(s: &Section<'a>) -> Vec<Tok<'a>> {
    let mut v: Vec<Tok<'a>> = words(s.line, s.rest).collect();
    for &(line, l) in &s.body {
        v.extend(words(line, l));
    }
    v
}

/// The lines of a section, the rest of the tag line first (when not empty).
fn section_lines<'a>(s: &Section<'a>) -> Vec<(u32, &'a str)> {
    let mut v = Vec::with_capacity(s.body.len() + 1);
    if !s.rest.is_empty() {
        v.push((s.line, s.rest));
    }
    v.extend(s.body.iter().copied());
    v
}

fn words<'a>(line: u32, s: &'a str) -> impl Iterator<Item = Tok<'a>> + 'a {
    s.split_whitespace().map(move |text| Tok { line, text })
}

/// A u32 in decimal or `0x` hex.
fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

/// An i64 in decimal or `0x` hex, with an optional `-`.
fn parse_i64(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<i64>().ok()?
        }
        None => return None,
    };
    if neg {
        v.checked_neg()
    } else {
        Some(v)
    }
}

/// `-`, or letters from M, P, V.
fn parse_flags(s: &str) -> Option<Flags> {
    let mut f = Flags::default();
    if s == "-" {
        return Some(f);
    }
    for c in s.chars() {
        match c {
            'M' => f.m = true,
            'P' => f.p = true,
            'V' => f.v = true,
            _ => return None,
        }
    }
    Some(f)
}

// ---------------------------------------------------------------------------------------
// CCF (RFC 6733 section 3.2) of @messages and @grouped
// ---------------------------------------------------------------------------------------

fn is_punct(c: char) -> bool {
    matches!(c, '<' | '>' | '{' | '}' | '[' | ']' | '*' | ',' | ':')
}

/// Words, `::=` and the marks `< > { } [ ] * , :`.
fn ccf_tokens<'a>(lines: &[(u32, &'a str)]) -> Vec<Tok<'a>> {
    let mut out = Vec::new();
    for &(line, text) in lines {
        let mut rest = text;
        loop {
            rest = rest.trim_start();
            let Some(c) = rest.chars().next() else {
                break;
            };
            let len = if rest.starts_with("::=") {
                3
            } else if is_punct(c) {
                c.len_utf8()
            } else {
                rest.find(|c: char| c.is_whitespace() || is_punct(c))
                    .unwrap_or(rest.len())
            };
            let (tok, r) = rest.split_at(len);
            out.push(Tok { line, text: tok });
            rest = r;
        }
    }
    out
}

/// The text of the `i`th token, or `""` past the end.
fn text_at<'a>(toks: &[Tok<'a>], i: usize) -> &'a str {
    toks.get(i).map_or("", |t| t.text)
}

/// The line of the `i`th token, or of the last one past the end.
fn line_at(toks: &[Tok<'_>], i: usize) -> u32 {
    toks.get(i).or_else(|| toks.last()).map_or(1, |t| t.line)
}

/// A name: not empty, not a mark.
fn is_word(s: &str) -> bool {
    !s.is_empty() && s != "::=" && !s.starts_with(is_punct)
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `Name ::=` starts at `i`.
fn at_def(toks: &[Tok<'_>], i: usize) -> bool {
    is_word(text_at(toks, i)) && text_at(toks, i.saturating_add(1)) == "::="
}

/// The index of the first token after `i`'s line (or of the next definition).
fn skip_line(toks: &[Tok<'_>], i: usize) -> usize {
    let line = line_at(toks, i);
    let mut j = i.saturating_add(1);
    while j < toks.len() && line_at(toks, j) == line && !at_def(toks, j) {
        j += 1;
    }
    j
}

/// How a token is shown in a message.
fn shown(t: &str) -> String {
    if t.is_empty() {
        "the end of the section".to_string()
    } else {
        format!("`{t}`")
    }
}

/// `< What Header: ... >` from `i`: the tokens after `:` and the index after `>`.
fn def_header<'a>(
    toks: &[Tok<'a>],
    mut i: usize,
    what: &str,
) -> Result<(Vec<Tok<'a>>, usize), String> {
    if text_at(toks, i) != "<" {
        return Err(format!(
            "expected `< {what} Header: ... >`, found {}",
            shown(text_at(toks, i))
        ));
    }
    i += 1;
    let mut inner = Vec::new();
    while i < toks.len() && text_at(toks, i) != ">" && !at_def(toks, i) {
        if let Some(t) = toks.get(i) {
            inner.push(*t);
        }
        i += 1;
    }
    if text_at(toks, i) != ">" {
        return Err("the header has no closing `>`".to_string());
    }
    match inner.as_slice() {
        [w, h, c, rest @ ..] if w.text == what && h.text == "Header" && c.text == ":" => {
            Ok((rest.to_vec(), i + 1))
        }
        _ => Err(format!("the header is not `< {what} Header: ... >`")),
    }
}

/// One rule from `i`: `[min] * [max]` (optional), then `< X >`, `{ X }` or `[ X ]`.
fn rule<'a>(toks: &[Tok<'a>], mut i: usize) -> Result<(RuleDef<'a>, usize), String> {
    let line = line_at(toks, i);
    let mut min = None;
    let mut max = None;
    let mut star = false;
    if is_digits(text_at(toks, i)) {
        min = Some(text_at(toks, i));
        i += 1;
    }
    if text_at(toks, i) == "*" {
        star = true;
        i += 1;
        if is_digits(text_at(toks, i)) {
            max = Some(text_at(toks, i));
            i += 1;
        }
    }
    if min.is_some() && !star {
        return Err("a qualifier is `min*max`: the `*` is missing".to_string());
    }
    let (bracket, close) = match text_at(toks, i) {
        "<" => (Bracket::Fixed, ">"),
        "{" => (Bracket::Required, "}"),
        "[" => (Bracket::Optional, "]"),
        other => {
            return Err(format!(
                "expected `< X >`, `{{ X }}` or `[ X ]`, found {}",
                shown(other)
            ))
        }
    };
    i += 1;
    let avp = text_at(toks, i);
    if !is_word(avp) {
        return Err(format!("expected an AVP name, found {}", shown(avp)));
    }
    if text_at(toks, i + 1) != close {
        return Err(format!(
            "`{avp}` is followed by {}, not `{close}`",
            shown(text_at(toks, i + 1))
        ));
    }
    let num = |t: Option<&str>| -> Result<Option<u32>, String> {
        match t {
            None => Ok(None),
            Some(t) => t
                .parse::<u32>()
                .map(Some)
                .map_err(|_| format!("`{t}` is not a number from 0 to 4294967295")),
        }
    };
    let qual = if star {
        Some((num(min)?, num(max)?))
    } else {
        None
    };
    Ok((
        RuleDef {
            line,
            bracket,
            qual,
            avp,
        },
        i + 2,
    ))
}

// ---------------------------------------------------------------------------------------
// Building the native tree
// ---------------------------------------------------------------------------------------

/// The name of every vendor id: the first `@vendor` of the load that declares it.
fn vendor_names(dicts: &mut [Dict<'_>]) -> HashMap<u32, String> {
    let mut names: HashMap<u32, String> = HashMap::new();
    for d in dicts.iter_mut() {
        let Some((id, name, line)) = d.vendor else {
            continue;
        };
        match names.get(&id) {
            Some(first) if first != name => {
                let msg = format!(
                    "vendor {id} is `{first}` in an earlier file and `{name}` here; `{first}` is used"
                );
                d.lost(line, msg);
            }
            Some(_) => {}
            None => {
                names.insert(id, name.to_string());
            }
        }
    }
    names
}

/// The file an `@inherits` names: by `@name`, by file stem, then without `diameter_gen_`.
fn resolve<'d, 'a>(module: &str, dicts: &'d [Dict<'a>]) -> Option<&'d Dict<'a>> {
    dicts
        .iter()
        .find(|d| d.name.is_some_and(|(n, _)| n == module))
        .or_else(|| dicts.iter().find(|d| d.stem == module))
        .or_else(|| {
            let m = strip_gen(module);
            dicts
                .iter()
                .find(|d| d.name.is_some_and(|(n, _)| strip_gen(n) == m) || strip_gen(&d.stem) == m)
        })
}

fn strip_gen(s: &str) -> &str {
    s.strip_prefix("diameter_gen_").unwrap_or(s)
}

/// `CCR` → (`CC`, `CC`); `Update-Location-Request` → (`Update-Location`, none);
/// `AA-Request` → (`AA`, `AA`).
fn command_name(n: &str) -> (String, Option<String>) {
    if let Some(stem) = n.strip_suffix("-Request") {
        let short = is_abbrev(stem).then(|| stem.to_string());
        return (stem.to_string(), short);
    }
    if let Some(stem) = n
        .strip_suffix('R')
        .filter(|stem| !stem.is_empty() && is_abbrev(n))
    {
        return (stem.to_string(), Some(stem.to_string()));
    }
    (n.to_string(), None)
}

/// Capitals and digits, at least one capital.
fn is_abbrev(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_uppercase())
}

/// `X-Answer` or an abbreviation ending in `A` (`CCA`).
fn answer_name(n: &str) -> bool {
    n.ends_with("-Answer") || (n.len() > 1 && n.ends_with('A') && is_abbrev(n))
}

/// The header of a `@messages` definition.
#[derive(Debug, Clone, Copy)]
struct Header {
    code: u32,
    req: bool,
    pxy: bool,
    err: bool,
}

/// A message with its header.
struct Msg<'m, 'a> {
    def: &'m Def<'a>,
    h: Header,
}

/// Where an AVP of `@avp_vendor_id` is listed.
#[derive(Debug, Clone, Copy)]
struct Listed {
    vendor: u32,
    /// The line of the AVP name.
    line: u32,
    /// The line of `@avp_vendor_id`.
    section: u32,
}

/// An AVP element already built: index into the list, code and vendor.
#[derive(Debug, Clone, Copy)]
struct Built {
    index: usize,
    code: u32,
    vendor: u32,
}

struct Builder<'b, 'a> {
    d: &'b Dict<'a>,
    dicts: &'b [Dict<'a>],
    vendor_names: &'b HashMap<u32, String>,
    diags: Vec<Diagnostic>,
}

impl Builder<'_, '_> {
    fn loc(&self, line: u32) -> Loc {
        self.d.loc(line)
    }

    fn err(&mut self, line: u32, msg: impl Into<String>) {
        let d = syntax(self.loc(line), msg);
        self.diags.push(d);
    }

    fn lost(&mut self, line: u32, msg: impl Into<String>) {
        let d = loss(self.loc(line), msg);
        self.diags.push(d);
    }

    fn unknown_parent(&mut self, line: u32, msg: String) {
        let d = Diagnostic::warning(ErrorKind::UnknownParent, self.loc(line), msg);
        self.diags.push(d);
    }

    fn build(&mut self) -> Element {
        let d = self.d;
        let mut root = element("diameter", &[], self.loc(1));
        let inherits = self.inherits();
        let (avps, used) = self.avps();
        let vendors = self.vendors(&used);
        let (commands, answer_message) = self.commands();

        let mut attrs = Vec::new();
        match d.id {
            Some((id, _)) => attrs.push(("id", id.to_string())),
            None => attrs.push(("library", "true".to_string())),
        }
        attrs.push(("name", d.app_name()));
        if !inherits.is_empty() {
            attrs.push(("inherits", inherits.join(",")));
        }
        if let Some((v, _, _)) = d.vendor.filter(|(v, _, _)| *v != 0) {
            attrs.push(("vendor-id", v.to_string()));
        }
        let line = match (d.id, d.name) {
            (Some((_, l)), _) | (None, Some((_, l))) => l,
            (None, None) => 1,
        };
        let mut app = element("application", &attrs, self.loc(line));
        app.children = avps;
        app.children.extend(answer_message);
        app.children.extend(commands);
        root.children = vendors;
        root.children.push(app);
        root
    }

    /// `inherits=`: ids of applications, names of libraries.
    fn inherits(&mut self) -> Vec<String> {
        let d = self.d;
        let dicts = self.dicts;
        let mut out: Vec<String> = Vec::new();
        for t in &d.inherits {
            let parent = match resolve(t.text, dicts) {
                Some(p) if p.file == d.file => {
                    let msg = format!(
                        "@inherits {} names this dictionary itself; left out",
                        t.text
                    );
                    self.unknown_parent(t.line, msg);
                    continue;
                }
                Some(p) => match (p.id, d.id) {
                    (Some((pid, _)), Some((id, _))) if pid == id => {
                        let msg = format!(
                            "@inherits {}: that file is application {id} too, so the two merge; left out",
                            t.text
                        );
                        self.lost(t.line, msg);
                        continue;
                    }
                    (Some((pid, _)), _) => pid.to_string(),
                    (None, _) => p.app_name(),
                },
                None if OTP_BASE.contains(&strip_gen(t.text)) => "0".to_string(),
                None => {
                    let msg = format!(
                        "@inherits {}: no file of the load has this @name or file name; left out",
                        t.text
                    );
                    self.unknown_parent(t.line, msg);
                    continue;
                }
            };
            if !out.contains(&parent) {
                out.push(parent);
            }
        }
        out
    }

    /// `<vendor>`s: this file's `@vendor`, then the vendors of `@avp_vendor_id` AVPs.
    fn vendors(&mut self, used: &[(u32, u32)]) -> Vec<Element> {
        let own = self.d.vendor.map(|(v, _, line)| (v, line));
        let names = self.vendor_names;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for &(id, line) in own.iter().chain(used) {
            if !seen.insert(id) {
                continue;
            }
            let name = match names.get(&id) {
                Some(n) => n.clone(),
                None => match KNOWN_VENDORS.iter().find(|(k, _)| *k == id) {
                    Some((_, n)) => n.to_string(),
                    None => {
                        let n = format!("Vendor-{id}");
                        self.lost(
                            line,
                            format!("vendor {id} has no @vendor in the load; declared as `{n}`"),
                        );
                        n
                    }
                },
            };
            out.push(element(
                "vendor",
                &[("id", id.to_string()), ("name", name)],
                self.loc(line),
            ));
        }
        out
    }

    /// `<avp>`s with their items and rules, and the vendor ids they use (id, line).
    fn avps(&mut self) -> (Vec<Element>, Vec<(u32, u32)>) {
        let d = self.d;
        let declared: HashSet<&str> = d.avps.iter().map(|a| a.name).collect();
        let mut listed: HashMap<&str, Listed> = HashMap::new();
        for list in &d.avp_vendor {
            for t in &list.avps {
                if !declared.contains(t.text) {
                    let msg = format!(
                        "@avp_vendor_id {}: {} is not in this file's @avp_types; ignored",
                        list.id, t.text
                    );
                    self.lost(t.line, msg);
                    continue;
                }
                match listed.get(t.text) {
                    Some(l) if l.vendor != list.id => {
                        let msg = format!(
                            "{} is already listed under @avp_vendor_id {}; that id is kept",
                            t.text, l.vendor
                        );
                        self.lost(t.line, msg);
                    }
                    Some(_) => {}
                    None => {
                        listed.insert(
                            t.text,
                            Listed {
                                vendor: list.id,
                                line: t.line,
                                section: list.line,
                            },
                        );
                    }
                }
            }
        }

        let own_vendor = d.vendor.map(|(v, _, _)| v);
        let mut used: Vec<(u32, u32)> = Vec::new();
        let mut elements: Vec<Element> = Vec::with_capacity(d.avps.len());
        let mut built: HashMap<&str, Built> = HashMap::new();
        for a in &d.avps {
            let mut flags = a.flags;
            let mut vendor = None;
            let list = listed.get(a.name).copied();
            if flags.v {
                match list.map(|l| l.vendor).or(own_vendor) {
                    Some(v) if v != 0 => {
                        vendor = Some(v);
                        if let Some(l) = list {
                            used.push((l.vendor, l.section));
                        }
                    }
                    _ => {
                        let msg = format!(
                            "AVP {} has the V flag but no vendor (no @avp_vendor_id for it, and no @vendor other than 0); V dropped",
                            a.name
                        );
                        self.lost(a.line, msg);
                        flags.v = false;
                    }
                }
            } else if let Some(l) = list {
                let msg = format!(
                    "{} is listed under @avp_vendor_id {} but has no V flag; the vendor id is ignored",
                    a.name, l.vendor
                );
                self.lost(l.line, msg);
            }
            let mut attrs = vec![("name", a.name.to_string()), ("code", a.code.to_string())];
            let must = flags.letters();
            if !must.is_empty() {
                attrs.push(("must", must));
            }
            if let Some(v) = vendor {
                attrs.push(("vendor-id", v.to_string()));
            }
            let loc = self.loc(a.line);
            let mut avp = element("avp", &attrs, loc);
            avp.children
                .push(element("data", &[("type", a.ty.to_string())], loc));
            built.entry(a.name).or_insert(Built {
                index: elements.len(),
                code: a.code,
                vendor: vendor.unwrap_or(0),
            });
            elements.push(avp);
        }

        for v in &d.values {
            let data = built
                .get(v.avp)
                .and_then(|b| elements.get_mut(b.index))
                .and_then(|e| e.children.first_mut());
            match data {
                Some(data) => {
                    // OTP lists aliases (SUCCESS beside DIAMETER_SUCCESS); the native
                    // format names each value once, so the first name is kept.
                    let mut aliases = 0usize;
                    let signed =
                        matches!(data.attr("type"), Some("Enumerated") | Some("Integer32"));
                    for it in &v.items {
                        // 3GPP writes some Enumerated values as 32-bit patterns
                        // (Media-Type OTHER is 0xFFFFFFFF): the Integer32 with those bits.
                        let mut value = it.code;
                        if signed && value > i64::from(i32::MAX) && value <= i64::from(u32::MAX) {
                            value -= 1i64 << 32;
                            let msg = format!(
                                "{} = {} does not fit {}; read as {value}, the same 32 bits",
                                it.name,
                                it.code,
                                data.attr("type").unwrap_or("Integer32")
                            );
                            self.lost(it.line, msg);
                        }
                        let code = value.to_string();
                        if data
                            .children
                            .iter()
                            .any(|c| c.attr("code") == Some(code.as_str()))
                        {
                            aliases += 1;
                            continue;
                        }
                        data.children.push(element(
                            "item",
                            &[("code", code), ("name", it.name.to_string())],
                            self.d.loc(it.line),
                        ));
                    }
                    if aliases > 0 {
                        let msg = format!(
                            "@{} {}: {aliases} value(s) named a second time (aliases); the first name of each is kept",
                            v.tag, v.avp
                        );
                        self.lost(v.line, msg);
                    }
                }
                None => {
                    let msg = format!(
                        "@{} {}: {} is not in this file's @avp_types (values cannot be added to another dictionary's AVP); {} value(s) dropped",
                        v.tag,
                        v.avp,
                        v.avp,
                        v.items.len()
                    );
                    self.lost(v.line, msg);
                }
            }
        }

        let mut grouped: HashSet<&str> = HashSet::new();
        for g in &d.grouped {
            let Some(b) = built.get(g.name).copied() else {
                let msg = format!(
                    "@grouped {}: {} is not in this file's @avp_types; its grammar is dropped",
                    g.name, g.name
                );
                self.lost(g.line, msg);
                continue;
            };
            if !grouped.insert(g.name) {
                let msg = format!("a second @grouped grammar for {}; ignored", g.name);
                self.err(g.line, msg);
                continue;
            }
            let h: Vec<&str> = g
                .header
                .iter()
                .map(|t| t.text)
                .filter(|t| *t != ",")
                .collect();
            let (code, vendor) = match h.as_slice() {
                [c] => (parse_u32(c), Some(None)),
                [c, v] => (parse_u32(c), parse_u32(v).map(Some)),
                _ => (None, None),
            };
            let (Some(code), Some(vendor)) = (code, vendor) else {
                let msg = format!(
                    "the header of {} is not `< AVP Header: Code [Vendor-Id] >`; its grammar is dropped",
                    g.name
                );
                self.err(g.line, msg);
                continue;
            };
            if code != b.code {
                let msg = format!(
                    "{}: header code {code} differs from the @avp_types code {}; {} is kept",
                    g.name, b.code, b.code
                );
                self.lost(g.line, msg);
            }
            if let Some(v) = vendor.filter(|v| *v != b.vendor) {
                let msg = format!(
                    "{}: header vendor {v} differs from the vendor {} of @avp_types; {} is kept",
                    g.name, b.vendor, b.vendor
                );
                self.lost(g.line, msg);
            }
            let rules = self.rules(&g.rules, g.name);
            if let Some(data) = elements
                .get_mut(b.index)
                .and_then(|e| e.children.first_mut())
            {
                data.children.extend(rules);
            }
        }
        (elements, used)
    }

    /// The header of a `@messages` definition: `Code, REQ, PXY, ERR, AppId`.
    fn message_header(&mut self, m: &Def<'_>) -> Option<Header> {
        let mut items = m
            .header
            .iter()
            .map(|t| t.text)
            .filter(|t| !matches!(*t, "," | "[" | "]"));
        let Some(code) = items.next().and_then(parse_u32) else {
            let msg = format!(
                "the header of {} does not start with a command code",
                m.name
            );
            self.err(m.line, msg);
            return None;
        };
        let mut h = Header {
            code,
            req: false,
            pxy: false,
            err: false,
        };
        let mut app = None;
        for t in items {
            match t {
                "REQ" => h.req = true,
                "PXY" => h.pxy = true,
                "ERR" => h.err = true,
                _ => match parse_u32(t) {
                    Some(a) if app.is_none() => app = Some(a),
                    _ => {
                        let msg = format!(
                            "`{t}` in the header of {}: expected REQ, PXY, ERR or an application id",
                            m.name
                        );
                        self.err(m.line, msg);
                        return None;
                    }
                },
            }
        }
        let own = self.d.id.map(|(id, _)| id);
        if let Some((a, id)) = app.zip(own).filter(|(a, id)| a != id) {
            let msg = format!(
                "{}: application id {a} in the header differs from @id {id}; the command belongs to {id}",
                m.name
            );
            self.lost(m.line, msg);
        }
        Some(h)
    }

    /// `<command>`s (requests and answers paired by code) and `<answer-message>`.
    fn commands(&mut self) -> (Vec<Element>, Option<Element>) {
        let d = self.d;
        let mut order: Vec<u32> = Vec::new();
        let mut reqs: HashMap<u32, Msg<'_, '_>> = HashMap::new();
        let mut anss: HashMap<u32, Msg<'_, '_>> = HashMap::new();
        let mut answer_message: Option<Element> = None;
        for m in &d.messages {
            if m.name == "answer-message" {
                if d.id.map(|(id, _)| id) != Some(0) {
                    self.lost(
                        m.line,
                        "answer-message: the native format has it only in application 0; dropped",
                    );
                } else if answer_message.is_some() {
                    self.err(m.line, "a second answer-message; ignored");
                } else {
                    let mut e = element("answer-message", &[], self.loc(m.line));
                    e.children = self.rules(&m.rules, m.name);
                    answer_message = Some(e);
                }
                continue;
            }
            let Some(mut h) = self.message_header(m) else {
                continue;
            };
            let misnamed = if h.req && answer_name(m.name) && !anss.contains_key(&h.code) {
                reqs.get(&h.code)
            } else {
                None
            };
            if let Some(r) = misnamed {
                let msg = format!(
                    "{} has REQ in its header, but its name is an answer's and {} (line {}) is the request of code {}; read as the answer",
                    m.name, r.def.name, r.def.line, h.code
                );
                self.lost(m.line, msg);
                h.req = false;
            }
            let map = if h.req { &mut reqs } else { &mut anss };
            if let Some(first) = map.get(&h.code) {
                let msg = format!(
                    "a second {} of code {} ({}; the first is {} at line {}); ignored",
                    if h.req { "request" } else { "answer" },
                    h.code,
                    m.name,
                    first.def.name,
                    first.def.line
                );
                self.err(m.line, msg);
                continue;
            }
            map.insert(h.code, Msg { def: m, h });
            if !order.contains(&h.code) {
                order.push(h.code);
            }
        }

        let mut out = Vec::new();
        for code in order {
            let (r, a) = match (reqs.get(&code), anss.get(&code)) {
                (Some(r), Some(a)) => (r, a),
                (Some(r), None) => {
                    let msg = format!("request {} (code {code}) has no answer", r.def.name);
                    self.err(r.def.line, msg);
                    continue;
                }
                (None, Some(a)) => {
                    let msg = format!("answer {} (code {code}) has no request", a.def.name);
                    self.err(a.def.line, msg);
                    continue;
                }
                (None, None) => continue,
            };
            if d.id.is_none() {
                let msg = format!(
                    "{}: a dictionary without @id is an AVP library, which has no commands; dropped",
                    r.def.name
                );
                self.lost(r.def.line, msg);
                continue;
            }
            if r.h.err {
                let msg = format!("{}: ERR on a request is ignored", r.def.name);
                self.lost(r.def.line, msg);
            }
            if a.h.pxy != r.h.pxy {
                let msg = format!(
                    "{}: PXY differs from the request's; both messages take the request's",
                    a.def.name
                );
                self.lost(a.def.line, msg);
            }
            let (name, short) = command_name(r.def.name);
            let mut attrs = vec![("code", code.to_string()), ("name", name)];
            if let Some(s) = short {
                attrs.push(("short", s));
            }
            attrs.push(("proxiable", r.h.pxy.to_string()));
            if a.h.err {
                attrs.push(("error", "true".to_string()));
            }
            let mut c = element("command", &attrs, self.loc(r.def.line));
            let mut request = element("request", &[], self.loc(r.def.line));
            request.children = self.rules(&r.def.rules, r.def.name);
            let mut answer = element("answer", &[], self.loc(a.def.line));
            answer.children = self.rules(&a.def.rules, a.def.name);
            c.children.push(request);
            c.children.push(answer);
            out.push(c);
        }
        (out, answer_message)
    }

    /// `<rule>`s of a grammar (see the rule table of the native format).
    fn rules(&mut self, rules: &[RuleDef<'_>], owner: &str) -> Vec<Element> {
        let mut out = Vec::with_capacity(rules.len());
        let mut unfixed_seen = false;
        let mut first_taken = false;
        let last = rules.len().saturating_sub(1);
        for (i, r) in rules.iter().enumerate() {
            let (min, max) = match r.qual {
                None => (u32::from(r.bracket != Bracket::Optional), Some(1)),
                Some((lo, hi)) => (lo.unwrap_or(u32::from(r.bracket == Bracket::Required)), hi),
            };
            let required = min >= 1 && r.bracket != Bracket::Optional;
            let mut attrs = vec![("avp", r.avp.to_string())];
            if required {
                attrs.push(("required", "true".to_string()));
            }
            if min != u32::from(required) {
                attrs.push(("min", min.to_string()));
            }
            attrs.push((
                "max",
                max.map_or_else(|| "*".to_string(), |m| m.to_string()),
            ));
            if r.bracket == Bracket::Fixed {
                let position = if !unfixed_seen && !first_taken {
                    first_taken = true;
                    Some("first")
                } else if i == last {
                    Some("last")
                } else {
                    None
                };
                match position {
                    Some(p) if max == Some(1) && r.avp != "AVP" => {
                        attrs.push(("position", p.to_string()));
                    }
                    Some(_) => {
                        let msg = format!(
                            "< {} > in {owner}: a fixed position needs an AVP that occurs at most once; read without a position",
                            r.avp
                        );
                        self.lost(r.line, msg);
                    }
                    None => {
                        let msg = format!(
                            "< {} > in {owner} is fixed but neither the first nor the last rule (the native format has one first and one last position); read without a position",
                            r.avp
                        );
                        self.lost(r.line, msg);
                    }
                }
            } else {
                unfixed_seen = true;
            }
            out.push(element("rule", &attrs, self.loc(r.line)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Severity;
    use std::path::PathBuf;

    fn run(files: &[(&str, String)]) -> Imported {
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| PathBuf::from(p)).collect();
        let inputs: Vec<Input<'_>> = files
            .iter()
            .zip(&paths)
            .enumerate()
            .map(|(i, ((_, text), path))| Input {
                file: i,
                path: path.as_path(),
                text: text.as_str(),
            })
            .collect();
        import(&inputs)
    }

    fn one(name: &str, lines: &[&str]) -> Imported {
        run(&[(name, lines.join("\n"))])
    }

    fn attrs(e: &Element) -> Vec<(&str, &str)> {
        e.attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn app(root: &Element) -> &Element {
        root.children
            .iter()
            .find(|c| c.name == "application")
            .expect("an application")
    }

    fn child<'e>(parent: &'e Element, kind: &str, name: &str) -> &'e Element {
        parent
            .children
            .iter()
            .find(|c| c.name == kind && c.attr("name") == Some(name))
            .unwrap_or_else(|| panic!("no <{kind} name={name}>"))
    }

    fn data(avp: &Element) -> &Element {
        avp.children.first().expect("a <data>")
    }

    /// (kind, severity, line) of every diagnostic, sorted by line.
    fn diags(out: &Imported) -> Vec<(ErrorKind, Severity, u32)> {
        let mut v: Vec<_> = out
            .diagnostics
            .iter()
            .map(|d| (d.kind, d.severity, d.loc.line))
            .collect();
        v.sort_by_key(|d| d.2);
        v
    }

    #[test]
    fn avp_types_flags_and_vendors() {
        let out = one(
            "t.dia",
            &[
                "; leading comment",
                "@id 16777999 ; trailing",
                "@name test_app",
                "@prefix test",
                "@vendor 10415 3GPP",
                "@avp_vendor_id 5535 X-Three",
                "   Y-Six",
                "@avp_types",
                "   A-One    1000 Unsigned32  MV",
                "   B-Two    1001 DiamIdent   M",
                "   X-Three  1002 OctetString V",
                "   C-Four   1003 UTF8String  -",
                "   D-Five   1004 Time",
                "   Y-Six    1005 Integer32   M",
            ],
        );
        assert_eq!(out.roots.len(), 1);
        let root = &out.roots[0].1;
        assert_eq!(root.name, "diameter");
        assert_eq!(root.loc.line, 1);
        let vendors: Vec<_> = root
            .children
            .iter()
            .filter(|c| c.name == "vendor")
            .map(|v| (attrs(v), v.loc.line))
            .collect();
        assert_eq!(
            vendors,
            vec![
                (vec![("id", "10415"), ("name", "3GPP")], 5),
                (vec![("id", "5535"), ("name", "3GPP2")], 6),
            ]
        );
        let a = app(root);
        assert_eq!(
            attrs(a),
            vec![
                ("id", "16777999"),
                ("name", "test_app"),
                ("vendor-id", "10415")
            ]
        );
        let a1 = child(a, "avp", "A-One");
        assert_eq!(
            attrs(a1),
            vec![
                ("name", "A-One"),
                ("code", "1000"),
                ("must", "M,V"),
                ("vendor-id", "10415")
            ]
        );
        assert_eq!(a1.loc.line, 9);
        assert_eq!(attrs(data(a1)), vec![("type", "Unsigned32")]);
        let two = child(a, "avp", "B-Two");
        assert_eq!(
            attrs(two),
            vec![("name", "B-Two"), ("code", "1001"), ("must", "M")]
        );
        assert_eq!(attrs(data(two)), vec![("type", "DiameterIdentity")]);
        assert_eq!(
            attrs(child(a, "avp", "X-Three")),
            vec![
                ("name", "X-Three"),
                ("code", "1002"),
                ("must", "V"),
                ("vendor-id", "5535")
            ]
        );
        assert_eq!(
            attrs(child(a, "avp", "C-Four")),
            vec![("name", "C-Four"), ("code", "1003")]
        );
        assert_eq!(
            attrs(child(a, "avp", "D-Five")),
            vec![("name", "D-Five"), ("code", "1004")]
        );
        assert_eq!(
            attrs(child(a, "avp", "Y-Six")),
            vec![("name", "Y-Six"), ("code", "1005"), ("must", "M")]
        );
        // Y-Six is listed under @avp_vendor_id without the V flag.
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportLoss, Severity::Warning, 7)]
        );
    }

    #[test]
    fn v_flag_without_vendor_is_dropped() {
        let out = one(
            "nv.dia",
            &[
                "@id 1",
                "@vendor 0 IETF",
                "@avp_types",
                "  A 1 OctetString MV",
            ],
        );
        let a = app(&out.roots[0].1);
        assert_eq!(
            attrs(child(a, "avp", "A")),
            vec![("name", "A"), ("code", "1"), ("must", "M")]
        );
        assert_eq!(attrs(a), vec![("id", "1"), ("name", "nv")]);
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportLoss, Severity::Warning, 4)]
        );
    }

    #[test]
    fn commands_and_qualifiers() {
        let out = one(
            "cmd.dia",
            &[
                "@id 5",
                "@vendor 0 IETF",
                "@messages",
                "XYZ-Request ::= < Diameter Header: 300, REQ, PXY, 5 >",
                "   < Session-Id >",
                "   { Origin-Host }",
                "   [ User-Name ]",
                " * [ Class ]",
                " 1* { Route-Record }",
                " 2*5 [ Proxy-Info ]",
                " *3 [ Foo ]",
                " 0*1 { Bar }",
                " 0*0 [ Baz ]",
                " *{Qux}",
                "   *[AVP]",
                "XYZ-Answer ::=",
                "   <Diameter Header: 300, PXY, ERR>",
                "   < Session-Id >",
                "   { Result-Code }",
                "   * [ AVP ]",
                "   < Last-One >",
                "CCR ::= <Diameter Header: 272, REQ>",
                "   0*1 < Session-Id >",
                "CCA ::= <Diameter Header: 272>",
                "   { Result-Code }",
            ],
        );
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let root = &out.roots[0].1;
        assert_eq!(
            attrs(&root.children[0]),
            vec![("id", "0"), ("name", "IETF")]
        );
        let a = app(root);
        assert_eq!(attrs(a), vec![("id", "5"), ("name", "cmd")]);
        let cmds: Vec<&Element> = a.children.iter().filter(|c| c.name == "command").collect();
        assert_eq!(cmds.len(), 2);
        let xyz = cmds[0];
        assert_eq!(
            attrs(xyz),
            vec![
                ("code", "300"),
                ("name", "XYZ"),
                ("short", "XYZ"),
                ("proxiable", "true"),
                ("error", "true")
            ]
        );
        assert_eq!(xyz.loc.line, 4);
        let req = &xyz.children[0];
        let ans = &xyz.children[1];
        assert_eq!(
            (req.name.as_str(), ans.name.as_str()),
            ("request", "answer")
        );
        assert_eq!(ans.loc.line, 16);
        let rules: Vec<Vec<(&str, &str)>> = req.children.iter().map(attrs).collect();
        assert_eq!(
            rules,
            vec![
                vec![
                    ("avp", "Session-Id"),
                    ("required", "true"),
                    ("max", "1"),
                    ("position", "first")
                ],
                vec![("avp", "Origin-Host"), ("required", "true"), ("max", "1")],
                vec![("avp", "User-Name"), ("max", "1")],
                vec![("avp", "Class"), ("max", "*")],
                vec![("avp", "Route-Record"), ("required", "true"), ("max", "*")],
                vec![("avp", "Proxy-Info"), ("min", "2"), ("max", "5")],
                vec![("avp", "Foo"), ("max", "3")],
                vec![("avp", "Bar"), ("max", "1")],
                vec![("avp", "Baz"), ("max", "0")],
                vec![("avp", "Qux"), ("required", "true"), ("max", "*")],
                vec![("avp", "AVP"), ("max", "*")],
            ]
        );
        assert_eq!(req.children[7].loc.line, 12);
        let rules: Vec<Vec<(&str, &str)>> = ans.children.iter().map(attrs).collect();
        assert_eq!(
            rules,
            vec![
                vec![
                    ("avp", "Session-Id"),
                    ("required", "true"),
                    ("max", "1"),
                    ("position", "first")
                ],
                vec![("avp", "Result-Code"), ("required", "true"), ("max", "1")],
                vec![("avp", "AVP"), ("max", "*")],
                vec![
                    ("avp", "Last-One"),
                    ("required", "true"),
                    ("max", "1"),
                    ("position", "last")
                ],
            ]
        );
        let cc = cmds[1];
        assert_eq!(
            attrs(cc),
            vec![
                ("code", "272"),
                ("name", "CC"),
                ("short", "CC"),
                ("proxiable", "false")
            ]
        );
        assert_eq!(
            attrs(&cc.children[0].children[0]),
            vec![("avp", "Session-Id"), ("max", "1"), ("position", "first")]
        );
    }

    #[test]
    fn long_command_names() {
        let out = one(
            "s6a.dia",
            &[
                "@id 16777251",
                "@messages",
                "Update-Location-Request ::= <Diameter Header: 316, REQ, PXY, 16777251>",
                "  < Session-Id >",
                "Update-Location-Answer ::= <Diameter Header: 316, PXY, 16777251>",
                "  < Session-Id >",
                "AA-Request ::= <Diameter Header: 265, REQ, PXY, 99>",
                "  < Session-Id >",
                "AA-Answer ::= <Diameter Header: 265, PXY>",
                "  < Session-Id >",
            ],
        );
        let a = app(&out.roots[0].1);
        assert_eq!(
            attrs(child(a, "command", "Update-Location")),
            vec![
                ("code", "316"),
                ("name", "Update-Location"),
                ("proxiable", "true")
            ]
        );
        assert_eq!(
            attrs(child(a, "command", "AA")),
            vec![
                ("code", "265"),
                ("name", "AA"),
                ("short", "AA"),
                ("proxiable", "true")
            ]
        );
        // Application id 99 in the header differs from @id.
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportLoss, Severity::Warning, 7)]
        );
    }

    #[test]
    fn unpaired_messages() {
        let out = one(
            "u.dia",
            &[
                "@id 3",
                "@messages",
                "X-Request ::= <Diameter Header: 500, REQ>",
                "  { A }",
                "Y-Answer ::= <Diameter Header: 501>",
                "  { A }",
                "Z-Request ::= <Diameter Header: 502, REQ, PXY>",
                "  { A }",
                "Z-Answer ::= <Diameter Header: 502, REQ, PXY>",
                "  { A }",
            ],
        );
        assert_eq!(
            diags(&out),
            vec![
                (ErrorKind::ImportSyntax, Severity::Error, 3),
                (ErrorKind::ImportSyntax, Severity::Error, 5),
                (ErrorKind::ImportLoss, Severity::Warning, 9),
            ]
        );
        let a = app(&out.roots[0].1);
        let cmds: Vec<_> = a
            .children
            .iter()
            .filter(|c| c.name == "command")
            .map(attrs)
            .collect();
        assert_eq!(
            cmds,
            vec![vec![
                ("code", "502"),
                ("name", "Z"),
                ("short", "Z"),
                ("proxiable", "true")
            ]]
        );
    }

    #[test]
    fn answer_message_only_in_application_0() {
        let text = |id: &str| {
            [
                id,
                "@messages",
                "answer-message ::= < Diameter Header: code, ERR [PXY] >",
                "   0*1 < Session-Id >",
                "       { Origin-Host }",
                "     * [ AVP ]",
            ]
            .join("\n")
        };
        let out = run(&[("base.dia", text("@id 0")), ("other.dia", text("@id 7"))]);
        let base = app(&out.roots[0].1);
        let am = base
            .children
            .iter()
            .find(|c| c.name == "answer-message")
            .expect("answer-message");
        assert_eq!(am.children.len(), 3);
        assert_eq!(
            attrs(&am.children[0]),
            vec![("avp", "Session-Id"), ("max", "1"), ("position", "first")]
        );
        let other = app(&out.roots[1].1);
        assert!(other.children.iter().all(|c| c.name != "answer-message"));
        assert_eq!(out.diagnostics.len(), 1);
        assert_eq!(out.diagnostics[0].kind, ErrorKind::ImportLoss);
        assert_eq!(out.diagnostics[0].loc, Loc { file: 1, line: 3 });
    }

    #[test]
    fn grouped() {
        let out = one(
            "grp.dia",
            &[
                "@avp_types",
                "  G-One 500 Grouped M",
                "  Inner 501 Unsigned32 M",
                "@grouped",
                "G-One ::= < AVP Header: 500 >",
                "   { Inner }",
                " * [ AVP ]",
                "Missing ::= < AVP Header: 999 >",
                "   { Inner }",
            ],
        );
        let a = app(&out.roots[0].1);
        assert_eq!(attrs(a), vec![("library", "true"), ("name", "grp")]);
        let g = data(child(a, "avp", "G-One"));
        assert_eq!(attrs(g), vec![("type", "Grouped")]);
        let rules: Vec<_> = g.children.iter().map(|r| (attrs(r), r.loc.line)).collect();
        assert_eq!(
            rules,
            vec![
                (
                    vec![("avp", "Inner"), ("required", "true"), ("max", "1")],
                    6
                ),
                (vec![("avp", "AVP"), ("max", "*")], 7),
            ]
        );
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportLoss, Severity::Warning, 8)]
        );
    }

    #[test]
    fn fixed_rules_beyond_first_and_last() {
        let out = one(
            "olr.dia",
            &[
                "@avp_types",
                "  OC-OLR 623 Grouped -",
                "@grouped",
                "OC-OLR ::= < AVP Header: 623 >",
                "   < OC-Sequence-Number >",
                "   < OC-Report-Type >",
                "   [ OC-Reduction-Percentage ]",
                " * [ AVP ]",
            ],
        );
        let g = data(child(app(&out.roots[0].1), "avp", "OC-OLR"));
        assert_eq!(
            attrs(&g.children[1]),
            vec![
                ("avp", "OC-Report-Type"),
                ("required", "true"),
                ("max", "1")
            ]
        );
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportLoss, Severity::Warning, 6)]
        );
    }

    #[test]
    fn enum_and_define() {
        let out = one(
            "en.dia",
            &[
                "@id 9",
                "@avp_types",
                "  Color 600 Enumerated M",
                "  Code-Val 601 Unsigned32 M",
                "@enum Color",
                "  RED 0",
                "  GREEN 1 BLUE 2",
                "  MINUS -1",
                "@define Code-Val",
                " OK 2001",
                " HEXY 0x10",
                "@define Result-Code",
                " NEW_CODE 5999",
            ],
        );
        let a = app(&out.roots[0].1);
        let items: Vec<_> = data(child(a, "avp", "Color"))
            .children
            .iter()
            .map(|i| (attrs(i), i.loc.line))
            .collect();
        assert_eq!(
            items,
            vec![
                (vec![("code", "0"), ("name", "RED")], 6),
                (vec![("code", "1"), ("name", "GREEN")], 7),
                (vec![("code", "2"), ("name", "BLUE")], 7),
                (vec![("code", "-1"), ("name", "MINUS")], 8),
            ]
        );
        let items: Vec<_> = data(child(a, "avp", "Code-Val"))
            .children
            .iter()
            .map(attrs)
            .collect();
        assert_eq!(
            items,
            vec![
                vec![("code", "2001"), ("name", "OK")],
                vec![("code", "16"), ("name", "HEXY")],
            ]
        );
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportLoss, Severity::Warning, 12)]
        );
    }

    #[test]
    fn inherits_resolution() {
        let out = run(&[
            (
                "dir/lib_one.dia",
                [
                    "@name diameter_gen_lib_one",
                    "@avp_types",
                    "L-Avp 700 OctetString M",
                ]
                .join("\n"),
            ),
            ("dir/other.dia", "@id 7".to_string()),
            (
                "dir/main.dia",
                [
                    "@id 8",
                    "@inherits diameter_gen_lib_one",
                    "@inherits other Some-Avp",
                    "   Another-Avp",
                    "@inherits diameter_gen_other",
                    "@inherits lib_one",
                    "@inherits nowhere",
                    "@inherits diameter_gen_base_rfc6733",
                ]
                .join("\n"),
            ),
        ]);
        assert_eq!(out.roots.len(), 3);
        for (i, (file, _)) in out.roots.iter().enumerate() {
            assert_eq!(*file, i);
        }
        assert_eq!(
            attrs(app(&out.roots[0].1)),
            vec![("library", "true"), ("name", "diameter_gen_lib_one")]
        );
        assert_eq!(
            attrs(app(&out.roots[1].1)),
            vec![("id", "7"), ("name", "other")]
        );
        assert_eq!(
            attrs(app(&out.roots[2].1)),
            vec![
                ("id", "8"),
                ("name", "main"),
                ("inherits", "diameter_gen_lib_one,7,0")
            ]
        );
        assert_eq!(out.diagnostics.len(), 1);
        let d = &out.diagnostics[0];
        assert_eq!(
            (d.kind, d.severity, d.loc),
            (
                ErrorKind::UnknownParent,
                Severity::Warning,
                Loc { file: 2, line: 7 }
            )
        );
    }

    #[test]
    fn comments_and_end() {
        let out = one(
            "c.dia",
            &[
                ";; header comment",
                "@id 1 ;; the id",
                "",
                "@avp_types ; types follow",
                "   A 1 OctetString M ; first",
                ";  B 2 OctetString M",
                "@end",
                "@bogus",
                "   C 3 OctetString M",
            ],
        );
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let a = app(&out.roots[0].1);
        let names: Vec<_> = a.children.iter().filter_map(|c| c.attr("name")).collect();
        assert_eq!(names, vec!["A"]);
    }

    #[test]
    fn malformed_lines() {
        let out = one(
            "bad.dia",
            &[
                "@id xyz",
                "@avp_types",
                "  Short 5",
                "  Bad-Code x1 OctetString M",
                "  Bad-Flags 6 OctetString MX",
                "  Good 7 OctetString M",
                "@messages",
                "  { Orphan }",
                "A-Request ::= < Diameter Header: abc, REQ >",
                "  { Good }",
                "B-Request ::= < Diameter Header: 400, REQ >",
                "  { Good",
                "  2 { Good }",
                "  [ Good ]",
                "B-Answer ::= < Diameter Header: 400 >",
                "C-Request ::= < Diameter Header: 401, REQ, FOO >",
                "D-Request ::= <Diameter Header: 402, REQ>",
                "@enum Good",
                "  ODD",
                "  X notanumber",
                "@grouped",
                "Good ::= < Diameter Header: 7 >",
                "@id 0x10",
            ],
        );
        let lines: Vec<u32> = diags(&out).iter().map(|d| d.2).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 8, 9, 12, 13, 16, 17, 19, 20, 22]);
        assert!(out
            .diagnostics
            .iter()
            .all(|d| d.kind == ErrorKind::ImportSyntax && d.severity == Severity::Error));
        let a = app(&out.roots[0].1);
        assert_eq!(a.attr("id"), Some("16"));
        assert_eq!(
            attrs(child(a, "avp", "Bad-Flags")),
            vec![("name", "Bad-Flags"), ("code", "6")]
        );
        let b = child(a, "command", "B");
        assert_eq!(b.children[0].children.len(), 1);
        assert_eq!(b.children[0].children[0].loc.line, 14);
    }

    #[test]
    fn unknown_section() {
        let out = one(
            "un.dia",
            &[
                "@id 3",
                "@foo bar",
                "  baz",
                "@avp_types",
                "  A 1 OctetString M",
            ],
        );
        assert_eq!(
            diags(&out),
            vec![(ErrorKind::ImportSyntax, Severity::Error, 2)]
        );
        assert!(app(&out.roots[0].1)
            .children
            .iter()
            .any(|c| c.attr("name") == Some("A")));
    }

    #[test]
    fn never_panics() {
        let sample = [
            "\u{feff}@id 0xFFFFFFFF",
            "@name x",
            "@vendor 10415 3GPP",
            "@inherits y A B",
            "@avp_vendor_id 10415 A",
            "@custom_types m A",
            "@avp_types",
            "  A 1 Grouped MV",
            "  É 2 Enumerated M",
            "@enum É",
            "  ÜBER 1",
            "@grouped",
            "A ::= < AVP Header: 1 10415 >",
            "  1*2 { É }",
            "@messages",
            "R-Request ::= < Diameter Header: 1, REQ, PXY, ERR >",
            "  < A > * [ AVP ] 3*4 [ É ]",
            "R-Answer ::= < Diameter Header: 1 >",
            "@end",
        ]
        .join("\n");
        let mut texts: Vec<String> = sample
            .char_indices()
            .map(|(i, _)| sample[..i].to_string())
            .collect();
        for junk in [
            "@",
            "@@",
            "::=",
            "<",
            "*",
            "1*",
            "X ::= <",
            "X ::= < Diameter",
            "@enum",
            "@avp_types\nA",
            "@id 99999999999",
            "@messages\n*",
            "@messages\n1*2*3[X]",
            "@messages\nX ::= <Diameter Header:>",
            "@grouped\n::= ::=",
            "\r\n\r\n;",
            "@messages\nX ::= < Diameter Header: 1, REQ > < < >",
            "@enum A\n 1 -",
            "@define A\n X -0x",
            "@define A\n X -9223372036854775808",
        ] {
            texts.push(junk.to_string());
        }
        for t in texts {
            let out = run(&[("p.dia", t)]);
            assert_eq!(out.roots.len(), 1);
        }
    }

    /// (applications, libraries, AVPs, commands, items, ImportLoss warnings, UnknownParent
    /// warnings) of a reference directory, from a Python prototype of this importer.
    fn reference_dir(dir: &str, expect: [usize; 7]) {
        let path = crate::import::test_support::reference_dir(dir);
        let Ok(entries) = std::fs::read_dir(&path) else {
            eprintln!("skipped: {} is not here", path.display());
            return;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "dia"))
            .collect();
        paths.sort();
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let files: Vec<(&str, String)> = names
            .iter()
            .zip(&paths)
            .map(|(n, p)| (n.as_str(), std::fs::read_to_string(p).expect("readable")))
            .collect();
        let out = run(&files);
        let errors: Vec<_> = out
            .diagnostics
            .iter()
            .filter(|d| d.kind == ErrorKind::ImportSyntax)
            .collect();
        assert!(errors.is_empty(), "{dir}: {errors:?}");
        assert_eq!(out.roots.len(), files.len());
        let mut got = [0usize; 7];
        for (_, root) in &out.roots {
            let a = app(root);
            if a.attr("library") == Some("true") {
                got[1] += 1;
            } else {
                got[0] += 1;
            }
            for c in &a.children {
                match c.name.as_str() {
                    "avp" => {
                        got[2] += 1;
                        got[4] += data(c).children.iter().filter(|i| i.name == "item").count();
                    }
                    "command" => got[3] += 1,
                    _ => {}
                }
            }
        }
        for d in &out.diagnostics {
            match d.kind {
                ErrorKind::ImportLoss => got[5] += 1,
                ErrorKind::UnknownParent => got[6] += 1,
                _ => {}
            }
        }
        assert_eq!(got, expect, "{dir}: {:?}", out.diagnostics);
    }

    #[test]
    fn reference_erlang() {
        reference_dir("erlang", [8, 2, 264, 23, 295, 5, 3]);
    }

    #[test]
    fn reference_diafuzzer() {
        reference_dir("diafuzzer", [25, 4, 1330, 82, 1227, 3, 0]);
    }

    #[test]
    fn reference_sigscale() {
        reference_dir("sigscale", [10, 3, 908, 31, 792, 9, 0]);
    }
}
