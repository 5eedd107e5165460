//! Importers: dictionaries in other stacks' formats read into the native format's element
//! tree, so the model has one input and `diameter dict convert` prints native XML.
//!
//! Every importer takes the files of one format together (Erlang's `@inherits` is resolved
//! across them) and returns one `<diameter>` root per file, in input order. Elements carry
//! the line of the imported file they come from, so the model's diagnostics point into the
//! original file. What an importer cannot carry over is an [`ErrorKind::ImportLoss`]
//! warning; a line it cannot read is [`ErrorKind::ImportSyntax`]. Importers never panic.

use std::path::Path;

use crate::error::{Diagnostic, ErrorKind};
use crate::xml::Element;

pub mod dia;
pub mod freediameter;
pub mod wireshark;

/// A dictionary format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// This project's XML (go-diameter's schema with extensions).
    Native,
    /// Erlang/OTP diameter's `.dia`.
    Dia,
    /// Wireshark's `diameter/*.xml`.
    Wireshark,
    /// freeDiameter's legacy XML (`dict_legacy_xml`).
    FreeDiameterXml,
    /// freeDiameter's JSON (`dict_json`).
    FreeDiameterJson,
    /// freeDiameter's CSV (`csvtoc` input).
    FreeDiameterCsv,
}

impl Format {
    /// Every format.
    pub const ALL: &'static [Format] = &[
        Format::Native,
        Format::Dia,
        Format::Wireshark,
        Format::FreeDiameterXml,
        Format::FreeDiameterJson,
        Format::FreeDiameterCsv,
    ];

    /// The name used on the command line (`--from`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Dia => "dia",
            Format::Wireshark => "wireshark",
            Format::FreeDiameterXml => "freediameter-xml",
            Format::FreeDiameterJson => "freediameter-json",
            Format::FreeDiameterCsv => "freediameter-csv",
        }
    }

    /// The format named `name` (see [`Format::name`]).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The format of a file, from its extension and, for XML, its root element.
    pub fn detect(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("dia") => return Format::Dia,
            Some("csv") => return Format::FreeDiameterCsv,
            Some("json") => return Format::FreeDiameterJson,
            _ => {}
        }
        let body = strip_prolog(text);
        if body.starts_with("<dictionary") {
            if text.contains("requestrules") || text.contains("answerrules") {
                Format::FreeDiameterXml
            } else {
                Format::Wireshark
            }
        } else {
            Format::Native
        }
    }
}

/// The text after the XML declaration, comments and DOCTYPE: where the root element starts.
fn strip_prolog(text: &str) -> &str {
    let mut t = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(rest) = t.strip_prefix("<?") {
            t = rest.split_once("?>").map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = t.strip_prefix("<!--") {
            t = rest.split_once("-->").map_or("", |(_, r)| r).trim_start();
        } else if t.starts_with("<!DOCTYPE") {
            t = skip_doctype(t).trim_start();
        } else {
            return t;
        }
    }
}

/// Skips a DOCTYPE declaration, internal subset included.
fn skip_doctype(t: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in t.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => return &t[i + 1..],
            _ => {}
        }
    }
    ""
}

/// One input file of an import.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Its index in the load: the `file` of every [`crate::Loc`] that points into it.
    pub file: usize,
    /// Its path, for messages and for resolving relative includes.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
}

/// What an import gives: one native `<diameter>` root per input file that could be read,
/// with that input's `file` index, and every diagnostic.
#[derive(Debug, Default)]
pub struct Imported {
    /// (file index, root) in input order.
    pub roots: Vec<(usize, Element)>,
    /// Errors and warnings, located in the imported files.
    pub diagnostics: Vec<Diagnostic>,
}

/// Imports files of one format. `Native` files are parsed as they are.
pub fn import(format: Format, inputs: &[Input<'_>]) -> Imported {
    match format {
        Format::Native => {
            let mut out = Imported::default();
            for i in inputs {
                match crate::xml::parse(i.text, i.file) {
                    Ok(root) => out.roots.push((i.file, root)),
                    Err(d) => out.diagnostics.push(d),
                }
            }
            out
        }
        Format::Dia => dia::import(inputs),
        Format::Wireshark => wireshark::import(inputs),
        Format::FreeDiameterXml => freediameter::import_xml(inputs),
        Format::FreeDiameterJson => freediameter::import_json(inputs),
        Format::FreeDiameterCsv => freediameter::import_csv(inputs),
    }
}

/// An element with attributes, for importers.
pub(crate) fn element(name: &str, attrs: &[(&str, String)], loc: crate::Loc) -> Element {
    Element {
        name: name.to_string(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        children: Vec::new(),
        loc,
    }
}

/// A syntax diagnostic of an importer.
pub(crate) fn syntax(loc: crate::Loc, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(ErrorKind::ImportSyntax, loc, message)
}

/// A warning for something not carried over.
pub(crate) fn loss(loc: crate::Loc, message: impl Into<String>) -> Diagnostic {
    Diagnostic::warning(ErrorKind::ImportLoss, loc, message)
}

/// Helpers of the importers' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};

    use crate::xml::Element;

    /// `sub` of the reference dictionaries: `DIAMETER_REFERENCE_DICTIONARIES`, else `../shared`
    /// beside the checkout.
    pub(crate) fn reference_dir(sub: &str) -> PathBuf {
        std::env::var_os("DIAMETER_REFERENCE_DICTIONARIES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference-dictionaries")
            })
            .join(sub)
    }

    /// The children of `e` named `name`.
    pub(crate) fn children<'e>(e: &'e Element, name: &str) -> Vec<&'e Element> {
        e.children.iter().filter(|c| c.name == name).collect()
    }

    /// The first element below `e` (or `e`) named `name` whose `attr` is `value`.
    pub(crate) fn find<'e>(
        e: &'e Element,
        name: &str,
        attr: &str,
        value: &str,
    ) -> Option<&'e Element> {
        if e.name == name && e.attr(attr) == Some(value) {
            return Some(e);
        }
        e.children.iter().find_map(|c| find(c, name, attr, value))
    }
}
