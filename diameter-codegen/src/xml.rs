//! A small XML tree with line numbers, read with quick-xml.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{Diagnostic, ErrorKind, Loc};

/// One element: name, attributes in order, children, and where it starts.
#[derive(Debug, Clone)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Attributes as written.
    pub attrs: Vec<(String, String)>,
    /// Child elements (text is dropped).
    pub children: Vec<Element>,
    /// Where the start tag is.
    pub loc: Loc,
}

impl Element {
    /// The value of an attribute.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

struct Lines(Vec<usize>);

impl Lines {
    fn new(src: &str) -> Self {
        Lines(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }
    fn line(&self, offset: usize) -> u32 {
        (self.0.partition_point(|&nl| nl < offset) + 1) as u32
    }
}

fn element(
    e: &BytesStart<'_>,
    src: &str,
    end: usize,
    lines: &Lines,
    file: usize,
) -> Result<Element, Diagnostic> {
    let start = src[..end.min(src.len())].rfind('<').unwrap_or(0);
    let loc = Loc {
        file,
        line: lines.line(start),
    };
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| Diagnostic::new(ErrorKind::XmlSyntax, loc, err.to_string()))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| Diagnostic::new(ErrorKind::XmlSyntax, loc, err.to_string()))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        loc,
    })
}

/// Parses `src` (file number `file`) into its root element.
pub fn parse(src: &str, file: usize) -> Result<Element, Diagnostic> {
    let lines = Lines::new(src);
    let mut reader = Reader::from_str(src);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let syntax = |reader: &Reader<&[u8]>, msg: String| {
        let pos = reader.error_position() as usize;
        Diagnostic::new(
            ErrorKind::XmlSyntax,
            Loc {
                file,
                line: lines.line(pos),
            },
            msg,
        )
    };
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| syntax(&reader, e.to_string()))?;
        let end = reader.buffer_position() as usize;
        match ev {
            Event::Start(e) => stack.push(element(&e, src, end, &lines, file)?),
            Event::Empty(e) => {
                let el = element(&e, src, end, &lines, file)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(syntax(&reader, "more than one root element".into())),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| syntax(&reader, "unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(syntax(&reader, "more than one root element".into())),
                }
            }
            Event::Eof => break,
            Event::DocType(_) => {
                return Err(syntax(
                    &reader,
                    "DOCTYPE declarations (and external entities) are not supported in native dictionaries".into(),
                ))
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(syntax(
            &reader,
            format!("element <{}> is not closed", stack[0].name),
        ));
    }
    root.ok_or_else(|| syntax(&reader, "no root element".into()))
}

/// Writes an element tree as XML: two-space indentation, attributes in order, empty
/// elements self-closed, values escaped. The output parses back to the same tree (line
/// numbers aside).
pub fn write(root: &Element) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_element(root, 0, &mut out);
    out
}

fn write_element(e: &Element, depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_into(v, out);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    for c in &e.children {
        write_element(c, depth + 1, out);
    }
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push_str(">\n");
}

fn escape_into(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}
