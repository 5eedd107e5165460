//! Dictionaries at run time: the AVPs, commands and grammars of a set of dictionary files,
//! and the validation of a received message against its command's grammar with the verdicts
//! of generated code (same Result-Code, same Failed-AVP, same AVP path).
//!
//! Generated types check a message while they decode it; a relay, a tool, or a node whose
//! dictionaries come from configuration (freeDiameter's model) has no generated type for it.
//! [`Dictionary::validate`] gives those the same checks on the bytes, without building a
//! value. With the `xml` feature, `Dictionary::load` reads the files `diameter-codegen`
//! reads; `Dictionary::from_model` takes a model already loaded.
//!
//! ```
//! # #[cfg(feature = "xml")] {
//! use diameter_runtime::dictionary::Dictionary;
//! use diameter_runtime::base::DeviceWatchdogRequest;
//! use diameter_runtime::Message;
//!
//! let dict = Dictionary::load::<&str>(&[]).unwrap(); // the bundled base protocol
//! let dwr = DeviceWatchdogRequest {
//!     origin_host: "a.example.net".into(),
//!     origin_realm: "example.net".into(),
//!     origin_state_id: None,
//!     avps: vec![],
//! };
//! let checked = dict.validate(&dwr.encode(1, 2)).unwrap();
//! assert_eq!(checked.command.name, "Device-Watchdog");
//! # }
//! ```

use std::borrow::Cow;

use bytes::Bytes;

use crate::codec::avp::{AvpReader, AvpRef};
use crate::codec::error::rc;
use crate::codec::message::{misplaced, not_allowed, too_few, too_many, unsupported};
use crate::codec::types::*;
use crate::codec::{DecodeError, Header, HEADER_LEN};

/// The data type of an AVP (RFC 6733 §4.2, §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AvpType {
    OctetString,
    Integer32,
    Integer64,
    Unsigned32,
    Unsigned64,
    Float32,
    Float64,
    Grouped,
    Address,
    Time,
    Utf8String,
    DiameterIdentity,
    DiameterUri,
    Enumerated,
    IpFilterRule,
    QosFilterRule,
}

/// Runs `$body` with `$t` bound to the Rust type generated code uses for `$ty` (not Grouped).
macro_rules! with_value_type {
    ($ty:expr, $t:ident => $body:expr) => {
        match $ty {
            AvpType::OctetString => {
                type $t = Bytes;
                $body
            }
            AvpType::Integer32 | AvpType::Enumerated => {
                type $t = i32;
                $body
            }
            AvpType::Integer64 => {
                type $t = i64;
                $body
            }
            AvpType::Unsigned32 => {
                type $t = u32;
                $body
            }
            AvpType::Unsigned64 => {
                type $t = u64;
                $body
            }
            AvpType::Float32 => {
                type $t = f32;
                $body
            }
            AvpType::Float64 => {
                type $t = f64;
                $body
            }
            AvpType::Address => {
                type $t = Address;
                $body
            }
            AvpType::Time => {
                type $t = Time;
                $body
            }
            AvpType::Utf8String => {
                type $t = Utf8String;
                $body
            }
            AvpType::DiameterIdentity => {
                type $t = DiameterIdentity;
                $body
            }
            AvpType::DiameterUri => {
                type $t = DiameterUri;
                $body
            }
            AvpType::IpFilterRule => {
                type $t = IpFilterRule;
                $body
            }
            AvpType::QosFilterRule => {
                type $t = QosFilterRule;
                $body
            }
            AvpType::Grouped => {
                type $t = Bytes;
                $body
            }
        }
    };
}

impl AvpType {
    /// The length of the zero-filled value a 5005 answer's Failed-AVP carries.
    pub fn min_len(self) -> usize {
        match self {
            AvpType::Grouped => 0,
            t => with_value_type!(t, T => <T as AvpValue>::MIN_LEN),
        }
    }
}

/// One AVP definition.
#[derive(Clone, Debug)]
pub struct AvpDef {
    /// Dictionary name, e.g. `CC-Request-Type`.
    pub name: Cow<'static, str>,
    /// AVP code.
    pub code: u32,
    /// Vendor-ID, 0 for IETF AVPs.
    pub vendor_id: u32,
    /// Data type.
    pub ty: AvpType,
    /// Named values (Enumerated, and Integer32/Unsigned32 with named values), sorted.
    pub values: Vec<i64>,
    /// The grammar of a Grouped AVP (an index into the dictionary's grammars).
    grammar: Option<usize>,
}

/// How often a rule lets its AVP occur, as generated code shapes the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Exactly one (`T`).
    One,
    /// At most one (`Option<T>`).
    Optional,
    /// A list (`Vec<T>`) with bounds.
    Repeated { min: u32, max: Option<u32> },
}

#[derive(Clone, Debug)]
struct Rule {
    avp: usize,
    shape: Shape,
    /// `< X >`: the first or the last AVP of its grammar.
    fixed: Option<Place>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    First,
    Last,
}

/// A place in a grammar's lookup table: the AVP's key and, for an allowed AVP, a copy of what
/// the check of each occurrence reads from its rule, so that the lookup and the check touch
/// one cache line (the rules are read only for errors and the end-of-grammar pass).
#[derive(Clone, Copy, Debug)]
#[repr(align(32))]
struct Entry {
    /// `code << 32 | vendor`; `EMPTY` for a free place.
    key: u64,
    /// The rule's index in `Grammar::rules` (unused when `forbidden`).
    rule: u32,
    /// The AVP's index in `Dictionary::avps`.
    avp: u32,
    /// The most occurrences the rule allows (`u32::MAX`: no limit).
    max: u32,
    /// The AVP's Grouped grammar, `NO_GRAMMAR` without one.
    grammar: u32,
    ty: AvpType,
    fixed: Option<Place>,
    /// `[ AVP ]` with a maximum of 0: the AVP must not occur.
    forbidden: bool,
    named_values: bool,
}

/// `Entry::grammar` of an AVP without a Grouped grammar.
const NO_GRAMMAR: u32 = u32::MAX;

impl Entry {
    const FREE: Entry = Entry {
        key: EMPTY,
        rule: 0,
        avp: 0,
        max: 0,
        grammar: NO_GRAMMAR,
        ty: AvpType::OctetString,
        fixed: None,
        forbidden: false,
        named_values: false,
    };

    /// Copies what the check reads from the AVP's definition: its type, Grouped grammar and
    /// whether it has named values (set once the dictionary is built).
    fn copy_def(&mut self, def: &AvpDef) {
        self.ty = def.ty;
        self.grammar = def.grammar.map_or(NO_GRAMMAR, |g| g as u32);
        self.named_values = !def.values.is_empty();
    }
}

/// A command body or a Grouped AVP's data: its rules in the order generated code checks them.
#[derive(Clone, Debug)]
struct Grammar {
    rules: Vec<Rule>,
    /// The rules checked once all AVPs are seen, in rule order: those with a minimum count
    /// and the fixed last one. The others cannot fail there.
    finals: Vec<usize>,
    /// Open addressing, linear probing; `EMPTY` keys mark free places. Twice as many
    /// places as entries, so most lookups take one probe.
    table: Vec<Entry>,
    /// `*[ AVP ]`: other AVPs are kept.
    wildcard: bool,
}

/// A free place in a grammar's table (code and vendor 0xffffffff: no AVP has both).
const EMPTY: u64 = u64::MAX;

impl Grammar {
    fn new(entries: Vec<Entry>, rules: Vec<Rule>, wildcard: bool) -> Grammar {
        let size = (entries.len() * 2).next_power_of_two().max(8);
        let mut table = vec![Entry::FREE; size];
        for e in entries {
            let mut i = Self::home(e.key, size);
            while table[i].key != EMPTY {
                i = (i + 1) & (size - 1);
            }
            table[i] = e;
        }
        let finals = (0..rules.len())
            .filter(|&i| {
                let r: &Rule = &rules[i];
                r.fixed == Some(Place::Last)
                    || matches!(r.shape, Shape::One | Shape::Repeated { min: 1.., .. })
            })
            .collect();
        Grammar {
            rules,
            finals,
            table,
            wildcard,
        }
    }

    #[inline(always)]
    fn home(key: u64, size: usize) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & (size - 1)
    }

    #[inline]
    fn entry(&self, code: u32, vendor: u32) -> Option<&Entry> {
        let key = key(code, vendor);
        let mask = self.table.len() - 1;
        let mut i = Self::home(key, self.table.len());
        loop {
            let e = &self.table[i];
            if e.key == key && key != EMPTY {
                return Some(e);
            }
            if e.key == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

/// One command: its code, application and the two grammars.
#[derive(Clone, Debug)]
pub struct CommandDef {
    /// Dictionary name without `-Request`/`-Answer`, e.g. `Credit-Control`.
    pub name: Cow<'static, str>,
    /// Command code.
    pub code: u32,
    /// The application that defines it.
    pub application_id: u32,
    /// Whether the P bit is set.
    pub proxiable: bool,
    request_name: Cow<'static, str>,
    answer_name: Cow<'static, str>,
    request: usize,
    answer: usize,
}

/// How strictly [`Dictionary::validate`] judges, beyond what generated decoders check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strictness {
    /// An AVP with the M bit that the grammar does not name is 5001 even where `*[ AVP ]`
    /// allows others (Erlang diameter's `strict_mbit`; RFC 6733 §4.1 for servers).
    pub mbit: bool,
    /// An Enumerated value the dictionary does not define is 5004 (generated enums keep it
    /// as `Unknown`).
    pub enumerated: bool,
}

impl Strictness {
    /// Both checks on: what a server answering with RFC 6733's error codes wants.
    pub const STRICT: Strictness = Strictness {
        mbit: true,
        enumerated: true,
    };
}

/// How deep Grouped AVPs may nest before a message is refused (5004 at the level past it).
pub const MAX_DEPTH: usize = 16;

/// A set of applications, commands and AVPs for validating messages at run time.
#[derive(Clone, Debug, Default)]
pub struct Dictionary {
    avps: Vec<AvpDef>,
    /// (code << 32 | vendor) → AVP index, sorted.
    by_code: Vec<(u64, usize)>,
    grammars: Vec<Grammar>,
    commands: Vec<CommandDef>,
    /// (application, code) → command index, sorted.
    by_command: Vec<((u32, u32), usize)>,
    /// Application → its parents (inherited commands).
    parents: Vec<(u32, Vec<u32>)>,
    applications: Vec<u32>,
    answer_message: Option<usize>,
    strict: Strictness,
}

/// A message that passed validation: its header and its command.
#[derive(Clone, Copy, Debug)]
pub struct Validated<'a> {
    /// The parsed header.
    pub header: Header,
    /// The command the message is an instance of (for an error answer validated against the
    /// answer-message grammar, still the command its code names, when known).
    pub command: &'a CommandDef,
}

impl Dictionary {
    /// The checks beyond generated decoders' (none by default).
    pub fn strictness(&self) -> Strictness {
        self.strict
    }

    /// Sets the checks beyond generated decoders'.
    pub fn set_strictness(&mut self, s: Strictness) {
        self.strict = s;
    }

    /// The same dictionary with other checks.
    pub fn with_strictness(mut self, s: Strictness) -> Self {
        self.strict = s;
        self
    }

    /// Every AVP definition.
    pub fn avps(&self) -> &[AvpDef] {
        &self.avps
    }

    /// The AVP with this code and vendor.
    pub fn avp(&self, code: u32, vendor_id: u32) -> Option<&AvpDef> {
        self.by_code
            .binary_search_by_key(&key(code, vendor_id), |(k, _)| *k)
            .ok()
            .map(|i| &self.avps[self.by_code[i].1])
    }

    /// Every command.
    pub fn commands(&self) -> &[CommandDef] {
        &self.commands
    }

    /// The Application-Ids defined.
    pub fn applications(&self) -> &[u32] {
        &self.applications
    }

    /// The command `code` as application `app` sees it: its own, one it inherits, or the base
    /// protocol's (application 0).
    pub fn command(&self, app: u32, code: u32) -> Option<&CommandDef> {
        // The application's own command first: the common case, found without allocating.
        if let Some(c) = self.defined(app, code) {
            return Some(c);
        }
        let mut todo: Vec<u32> = self.parents_of(app).iter().rev().copied().collect();
        let mut seen = vec![app];
        while let Some(a) = todo.pop() {
            if seen.contains(&a) {
                continue;
            }
            seen.push(a);
            if let Some(c) = self.defined(a, code) {
                return Some(c);
            }
            todo.extend(self.parents_of(a).iter().rev());
        }
        if app != 0 {
            return self.defined(0, code);
        }
        None
    }

    /// The command `code` that application `app` itself defines.
    fn defined(&self, app: u32, code: u32) -> Option<&CommandDef> {
        self.by_command
            .binary_search_by_key(&(app, code), |(k, _)| *k)
            .ok()
            .map(|i| &self.commands[self.by_command[i].1])
    }

    /// The applications `app` inherits commands from.
    fn parents_of(&self, app: u32) -> &[u32] {
        self.parents
            .binary_search_by_key(&app, |(k, _)| *k)
            .map_or(&[], |i| &self.parents[i].1)
    }

    /// Parses the header of the message in `buf` (exactly one message) and checks the body
    /// against its command's grammar: the request or answer grammar by the R bit, the
    /// answer-message grammar for an answer with the E bit.
    ///
    /// Errors are those of generated decoders — 3008 for header bits, 5011/5015 for the
    /// header, 3001 for a command the dictionary does not know for the application, then
    /// 5001, 5004, 5005, 5008, 5009, 5014, 3009 for the AVPs with the Failed-AVP and path a
    /// generated type would give — plus what [`Strictness`] adds.
    pub fn validate(&self, buf: &Bytes) -> Result<Validated<'_>, DecodeError> {
        let header = Header::parse(buf)?;
        let command = self.validate_body(&header, buf)?;
        Ok(Validated { header, command })
    }

    /// [`Dictionary::validate`] for a message whose header is already parsed.
    pub fn validate_body(&self, header: &Header, buf: &Bytes) -> Result<&CommandDef, DecodeError> {
        let Some(command) = self.command(header.application_id, header.command_code) else {
            return Err(DecodeError::new(
                rc::COMMAND_UNSUPPORTED,
                format!(
                    "command {} is not defined for application {}",
                    header.command_code, header.application_id
                ),
            ));
        };
        let answer_message = self.answer_message.filter(|_| header.flags.is_error());
        let (grammar, name) = match (header.flags.is_request(), answer_message) {
            (true, _) => (command.request, &command.request_name),
            (false, Some(g)) => (g, &Cow::Borrowed("Answer-Message")),
            (false, None) => (command.answer, &command.answer_name),
        };
        self.check(grammar, buf, HEADER_LEN, buf.len(), 0)
            .map_err(|e| e.in_context(name.clone()))?;
        Ok(command)
    }

    /// Checks the AVPs in `buf[start..end]` against a grammar, in the order generated
    /// decoders do: each AVP as it comes (framing, occurrences, value), then what is missing.
    fn check(
        &self,
        grammar: usize,
        buf: &Bytes,
        start: usize,
        end: usize,
        depth: usize,
    ) -> Result<(), DecodeError> {
        let g = &self.grammars[grammar];
        let mut small = [0u32; 64];
        let mut large = Vec::new();
        let counts: &mut [u32] = if g.rules.len() <= small.len() {
            &mut small[..g.rules.len()]
        } else {
            large.resize(g.rules.len(), 0);
            &mut large
        };
        let mut last_at: Option<(usize, AvpRef)> = None;
        let mut index = 0usize;
        for avp in AvpReader::within(buf, start, end) {
            let avp = avp?;
            let at = index;
            index += 1;
            match g.entry(avp.code, avp.vendor_id) {
                Some(e) if !e.forbidden => {
                    let i = e.rule as usize;
                    if counts[i] >= e.max {
                        let name = self.avps[e.avp as usize].name.clone();
                        return Err(too_many(buf, &avp, name, e.max));
                    }
                    match e.fixed {
                        Some(Place::First) if at != 0 => {
                            let name = self.avps[e.avp as usize].name.clone();
                            return Err(misplaced(buf, &avp, name, "first"));
                        }
                        Some(Place::Last) => last_at = Some((at, avp)),
                        _ => {}
                    }
                    counts[i] += 1;
                    if let Err(err) = self.check_value(e, buf, &avp, depth) {
                        let name = self.avps[e.avp as usize].name.clone();
                        return Err(err.within(name, &avp.to_raw(buf)));
                    }
                }
                Some(e) => {
                    let name = self.avps[e.avp as usize].name.clone();
                    return Err(not_allowed(buf, &avp, name));
                }
                None => {
                    if avp.flags.is_mandatory() && (!g.wildcard || self.strict.mbit) {
                        return Err(unsupported(buf, &avp));
                    }
                }
            }
        }
        for &i in &g.finals {
            let (rule, n) = (&g.rules[i], counts[i]);
            let def = &self.avps[rule.avp];
            if let (Some(Place::Last), Some((at, a))) = (rule.fixed, last_at) {
                if at + 1 != index {
                    return Err(misplaced(buf, &a, def.name.clone(), "last"));
                }
            }
            match rule.shape {
                Shape::One if n == 0 => {
                    return Err(DecodeError::missing(
                        def.code,
                        def.vendor_id,
                        def.name.clone(),
                        def.ty.min_len(),
                    ));
                }
                Shape::Repeated { min, .. } if min > 0 && n < min => {
                    return Err(too_few(
                        def.code,
                        def.vendor_id,
                        def.name.clone(),
                        def.ty.min_len(),
                        min,
                        n as usize,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The value checks of the type generated code decodes the AVP into.
    fn check_value(
        &self,
        rule: &Entry,
        buf: &Bytes,
        avp: &AvpRef,
        depth: usize,
    ) -> Result<(), DecodeError> {
        let (start, end) = (avp.start, avp.end);
        match (rule.ty, rule.grammar) {
            (AvpType::Grouped, g) if g != NO_GRAMMAR => {
                if depth + 1 >= MAX_DEPTH {
                    return Err(DecodeError::new(
                        rc::INVALID_AVP_VALUE,
                        format!("Grouped AVPs nested deeper than {MAX_DEPTH}"),
                    ));
                }
                self.check(g as usize, buf, start, end, depth + 1)
            }
            (AvpType::Grouped, _) => Ok(()),
            (AvpType::Enumerated, _) | (AvpType::Integer32, _)
                if self.strict.enumerated && rule.named_values =>
            {
                let v = i32::decode_at(buf, start, end)?;
                let def = &self.avps[rule.avp as usize];
                if def.values.binary_search(&(v as i64)).is_err() {
                    return Err(DecodeError::new(
                        rc::INVALID_AVP_VALUE,
                        format!("{v} is not a value of {}", def.name),
                    ));
                }
                Ok(())
            }
            (t, _) => with_value_type!(t, T => <T as AvpValue>::check_at(buf, start, end)),
        }
    }
}

/// Building a dictionary: AVPs, then grammars naming them, then commands.
#[derive(Debug, Default)]
pub struct Builder {
    dict: Dictionary,
}

/// One rule of a grammar, for [`Builder::grammar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleSpec {
    /// An AVP (index from [`Builder::avp`]) with its occurrence bounds; `max` 0 forbids it.
    Avp {
        /// The AVP.
        avp: usize,
        /// Fewest occurrences.
        min: u32,
        /// Most occurrences; `None` for no limit.
        max: Option<u32>,
    },
    /// `< X >` (`required`) or `0*1< X >`: at most once, and then the first AVP of its
    /// grammar, or the last with `last`.
    Fixed {
        /// The AVP.
        avp: usize,
        /// Exactly once rather than at most once.
        required: bool,
        /// The last AVP rather than the first.
        last: bool,
    },
    /// `*[ AVP ]`.
    Wildcard,
}

impl Builder {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an AVP definition; returns its index. A later definition of the same code and
    /// vendor replaces the earlier one in lookups by code.
    pub fn avp(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        code: u32,
        vendor_id: u32,
        ty: AvpType,
        mut values: Vec<i64>,
    ) -> usize {
        values.sort_unstable();
        values.dedup();
        self.dict.avps.push(AvpDef {
            name: name.into(),
            code,
            vendor_id,
            ty,
            values,
            grammar: None,
        });
        self.dict.avps.len() - 1
    }

    /// Adds a grammar: rules in the order generated code lays out the fields (fixed first
    /// positions, then the rest, then fixed last positions). Returns its index.
    pub fn grammar(&mut self, rules: &[RuleSpec]) -> usize {
        let mut entries: Vec<Entry> = Vec::new();
        let mut list = Vec::new();
        let mut wildcard = false;
        for r in rules {
            let (r, fixed) = match *r {
                RuleSpec::Fixed {
                    avp,
                    required,
                    last,
                } => (
                    RuleSpec::Avp {
                        avp,
                        min: u32::from(required),
                        max: Some(1),
                    },
                    Some(if last { Place::Last } else { Place::First }),
                ),
                r => (r, None),
            };
            match r {
                RuleSpec::Wildcard => wildcard = true,
                RuleSpec::Fixed { .. } => unreachable!("made an Avp above"),
                RuleSpec::Avp { avp, min, max } => {
                    let a = &self.dict.avps[avp];
                    let k = key(a.code, a.vendor_id);
                    if entries.iter().any(|e| e.key == k) {
                        continue;
                    }
                    let entry = Entry {
                        key: k,
                        rule: list.len() as u32,
                        avp: avp as u32,
                        max: max.unwrap_or(u32::MAX),
                        fixed,
                        ..Entry::FREE
                    };
                    if max == Some(0) {
                        entries.push(Entry {
                            forbidden: true,
                            ..entry
                        });
                        continue;
                    }
                    let shape = match (min, max) {
                        (m, Some(1)) if m >= 1 => Shape::One,
                        (0, Some(1)) => Shape::Optional,
                        (min, max) => Shape::Repeated { min, max },
                    };
                    entries.push(entry);
                    list.push(Rule { avp, shape, fixed });
                }
            }
        }
        self.dict
            .grammars
            .push(Grammar::new(entries, list, wildcard));
        self.dict.grammars.len() - 1
    }

    /// Gives a Grouped AVP its grammar.
    pub fn set_grouped(&mut self, avp: usize, grammar: usize) {
        self.dict.avps[avp].grammar = Some(grammar);
    }

    /// Adds a command of an application with its request and answer grammars.
    pub fn command(
        &mut self,
        application_id: u32,
        code: u32,
        name: impl Into<Cow<'static, str>>,
        proxiable: bool,
        request: usize,
        answer: usize,
    ) {
        let name = name.into();
        self.dict.commands.push(CommandDef {
            request_name: format!("{name}-Request").into(),
            answer_name: format!("{name}-Answer").into(),
            name,
            code,
            application_id,
            proxiable,
            request,
            answer,
        });
    }

    /// Declares an application and the applications whose commands it inherits.
    pub fn application(&mut self, id: u32, parents: Vec<u32>) {
        self.dict.applications.push(id);
        self.dict.parents.push((id, parents));
    }

    /// The grammar of the generic error answer (RFC 6733 §7.2).
    pub fn answer_message(&mut self, grammar: usize) {
        self.dict.answer_message = Some(grammar);
    }

    /// The finished dictionary.
    pub fn build(mut self) -> Dictionary {
        let d = &mut self.dict;
        for g in &mut d.grammars {
            for e in g.table.iter_mut().filter(|e| e.key != EMPTY) {
                e.copy_def(&d.avps[e.avp as usize]);
            }
        }
        let mut by_code: Vec<(u64, usize)> = Vec::with_capacity(d.avps.len());
        for (i, a) in d.avps.iter().enumerate() {
            by_code.push((key(a.code, a.vendor_id), i));
        }
        // Stable sort, then keep the last definition of each key.
        by_code.sort_by_key(|(k, _)| *k);
        let mut dedup: Vec<(u64, usize)> = Vec::with_capacity(by_code.len());
        for e in by_code {
            match dedup.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => dedup.push(e),
            }
        }
        d.by_code = dedup;
        d.by_command = d
            .commands
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.application_id, c.code), i))
            .collect();
        d.by_command.sort_by_key(|(k, _)| *k);
        d.by_command.dedup_by_key(|(k, _)| *k);
        d.parents.sort_by_key(|(k, _)| *k);
        d.applications.sort_unstable();
        d.applications.dedup();
        self.dict
    }
}

#[inline(always)]
fn key(code: u32, vendor: u32) -> u64 {
    ((code as u64) << 32) | vendor as u64
}

#[cfg(feature = "xml")]
mod xml {
    use super::*;
    use diameter_codegen::model::{self, BaseType, Target};

    /// A dictionary failed to load: every error, each with its file and line.
    #[derive(Debug, Clone)]
    pub struct LoadError {
        /// One line per error: `file:line: message`.
        pub errors: Vec<String>,
    }

    impl std::fmt::Display for LoadError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.errors.join("\n"))
        }
    }

    impl std::error::Error for LoadError {}

    fn avp_type(t: BaseType) -> AvpType {
        match t {
            BaseType::OctetString => AvpType::OctetString,
            BaseType::Integer32 => AvpType::Integer32,
            BaseType::Integer64 => AvpType::Integer64,
            BaseType::Unsigned32 => AvpType::Unsigned32,
            BaseType::Unsigned64 => AvpType::Unsigned64,
            BaseType::Float32 => AvpType::Float32,
            BaseType::Float64 => AvpType::Float64,
            BaseType::Grouped => AvpType::Grouped,
            BaseType::Address => AvpType::Address,
            BaseType::Time => AvpType::Time,
            BaseType::Utf8String => AvpType::Utf8String,
            BaseType::DiameterIdentity => AvpType::DiameterIdentity,
            BaseType::DiameterUri => AvpType::DiameterUri,
            BaseType::Enumerated => AvpType::Enumerated,
            BaseType::IpFilterRule => AvpType::IpFilterRule,
            BaseType::QosFilterRule => AvpType::QosFilterRule,
        }
    }

    /// The rules in generated code's field order (see `model::field_order`).
    fn ordered(rules: &[model::Rule]) -> Vec<RuleSpec> {
        model::field_order(rules)
            .into_iter()
            .map(|r| match (r.target, r.position) {
                (Target::Wildcard, _) => RuleSpec::Wildcard,
                (Target::Avp(id), Some(p)) => RuleSpec::Fixed {
                    avp: id,
                    required: r.min > 0,
                    last: p == model::Position::Last,
                },
                (Target::Avp(id), None) => RuleSpec::Avp {
                    avp: id,
                    min: r.min,
                    max: r.max,
                },
            })
            .collect()
    }

    impl Dictionary {
        /// The dictionary of a model `diameter-codegen` loaded.
        pub fn from_model(m: &model::Dictionary) -> Dictionary {
            let mut b = Builder::new();
            for a in &m.avps {
                b.avp(
                    a.name.clone(),
                    a.code,
                    a.vendor_id,
                    avp_type(a.ty),
                    a.items.iter().map(|i| i.code).collect(),
                );
            }
            for (i, a) in m.avps.iter().enumerate() {
                if a.ty == BaseType::Grouped {
                    let g = b.grammar(&ordered(&a.rules));
                    b.set_grouped(i, g);
                }
            }
            for app in &m.applications {
                b.application(app.id, app.parents.clone());
                for c in &app.commands {
                    let req = b.grammar(&ordered(&c.request));
                    let ans = b.grammar(&ordered(&c.answer));
                    b.command(app.id, c.code, c.name.clone(), c.proxiable, req, ans);
                }
                if let Some(rules) = &app.answer_message {
                    if app.id == 0 {
                        let g = b.grammar(&ordered(rules));
                        b.answer_message(g);
                    }
                }
            }
            b.build()
        }

        /// Loads the bundled base protocol and `files` (native XML dictionaries), as
        /// `diameter-build` does. Errors name their file and line.
        pub fn load<P: AsRef<std::path::Path>>(files: &[P]) -> Result<Dictionary, LoadError> {
            let mut sources = vec![model::Source {
                path: "<bundled base.xml>".into(),
                text: diameter_codegen::BASE_XML.to_string(),
                external: None,
            }];
            for p in files {
                let p = p.as_ref();
                let text = std::fs::read_to_string(p).map_err(|e| LoadError {
                    errors: vec![format!("{}: {e}", p.display())],
                })?;
                sources.push(model::Source {
                    path: p.to_path_buf(),
                    text,
                    external: None,
                });
            }
            Self::load_sources(&sources)
        }

        /// Loads dictionaries from texts (the base protocol is not added).
        pub fn load_sources(sources: &[model::Source]) -> Result<Dictionary, LoadError> {
            let m =
                model::load(sources, model::LoadOptions::default()).map_err(|diags| LoadError {
                    errors: diags
                        .iter()
                        .filter(|d| d.severity == diameter_codegen::Severity::Error)
                        .map(|d| d.to_string())
                        .collect(),
                })?;
            Ok(Self::from_model(&m))
        }
    }
}

#[cfg(feature = "xml")]
pub use xml::LoadError;
