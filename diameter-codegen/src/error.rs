//! Named errors with file and line for every mistake a dictionary can hold.

use std::fmt;
use std::path::PathBuf;

/// Where something is: file number (into the loaded file list) and 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Index into the files of the load.
    pub file: usize,
    /// 1-based line.
    pub line: u32,
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// What is wrong. Each has a stable name, shown in messages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind { $($(#[$doc])* $name,)* }

        impl ErrorKind {
            /// The name shown in messages.
            pub fn name(self) -> &'static str {
                match self { $(ErrorKind::$name => stringify!($name),)* }
            }
            /// Every kind.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$name,)*];
        }
    };
}

kinds! {
    /// The file is not well-formed XML.
    XmlSyntax,
    /// The root element is not `<diameter>`.
    BadRoot,
    /// An element that the format does not have in this place.
    UnexpectedElement,
    /// A required attribute is missing.
    MissingAttribute,
    /// An attribute the format does not know (a warning).
    UnknownAttribute,
    /// A number attribute is not a number or is out of range.
    InvalidNumber,
    /// A boolean attribute is not true/false.
    InvalidBool,
    /// A flag list holds something other than V, M, P.
    InvalidFlag,
    /// The same flag is in must= and must-not= (or may=).
    FlagConflict,
    /// A `<data type>` that is neither a base type nor a typedef.
    UnknownType,
    /// Two vendors with one id and different names.
    DuplicateVendorId,
    /// Two vendors with one name and different ids.
    DuplicateVendorName,
    /// A vendor-id no `<vendor>` declares.
    UnknownVendor,
    /// An application id defined twice in one file.
    DuplicateApplicationId,
    /// Two applications with different ids and the same name.
    DuplicateApplicationName,
    /// An inherits= naming no loaded application.
    UnknownParentApplication,
    /// An application inherits from itself through a chain.
    InheritanceCycle,
    /// Two commands with one code in an application.
    DuplicateCommandCode,
    /// Two commands with one name in an application.
    DuplicateCommandName,
    /// A command without `<request>`.
    MissingRequest,
    /// A command with a request but no `<answer>`.
    MissingAnswer,
    /// A command with two `<request>` or two `<answer>`.
    DuplicateGrammar,
    /// A command code above 2^24-1.
    CommandCodeOutOfRange,
    /// AVP code 0 (reserved).
    AvpCodeReserved,
    /// Two AVPs with one (code, vendor) in an application.
    DuplicateAvpCode,
    /// Two AVPs with one name in an application.
    DuplicateAvpName,
    /// An `<avp>` without `<data>`.
    MissingData,
    /// An `<avp>` with two `<data>`.
    DuplicateData,
    /// A rule naming an AVP that is not defined in scope.
    UndefinedAvp,
    /// One AVP named by two rules of one grammar.
    DuplicateRule,
    /// A rule with min greater than max.
    MinGreaterThanMax,
    /// A required rule (min ≥ 1) with max 0.
    RequiredWithMaxZero,
    /// position= other than first or last.
    InvalidPosition,
    /// Two rules at position first (or last) in one grammar.
    DuplicatePosition,
    /// A fixed-position rule that may repeat.
    FixedPositionRepeated,
    /// A `*[ AVP ]` wildcard with a position, or twice in one grammar.
    MisplacedWildcard,
    /// The V flag is required but no vendor-id is given (nor an application default).
    VendorFlagWithoutVendor,
    /// A vendor-id on an AVP whose must-not= has V.
    VendorIdWithoutVendorFlag,
    /// `<item>` on an AVP that is not Enumerated, Integer32 or Unsigned32.
    ItemsOnNonEnumerated,
    /// An Enumerated AVP without items (a warning).
    EnumeratedWithoutItems,
    /// Two items with one code.
    DuplicateItemCode,
    /// Two items with one name.
    DuplicateItemName,
    /// An item code outside the AVP type's range.
    ItemOutOfRange,
    /// A Grouped AVP without rules.
    GroupedWithoutRules,
    /// `<rule>` inside a non-Grouped `<data>`.
    RulesOnNonGrouped,
    /// Grouped AVPs that contain themselves through a chain.
    GroupedCycle,
    /// Two typedefs with one name.
    DuplicateTypedef,
    /// A typedef that redefines a base type.
    TypedefShadowsBuiltin,
    /// A typedef chain that loops.
    TypedefCycle,
    /// A name that cannot become a Rust identifier.
    InvalidName,
    /// A rust-name= that is not a Rust identifier.
    InvalidRustName,
    /// Two items of one module map to the same Rust name.
    RustNameCollision,
    /// `<answer-message>` outside application 0, or twice.
    MisplacedAnswerMessage,
    /// A dictionary file could not be read.
    Io,
    /// A line or element of an imported format (.dia, Wireshark, freeDiameter) that could not
    /// be read.
    ImportSyntax,
    /// Something an imported format says that the native format cannot carry over (a
    /// warning: what was done instead is in the message).
    ImportLoss,
    /// An `inherits` naming an application or library that is not in the load.
    UnknownParent,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The dictionary is refused.
    Error,
    /// Reported; the dictionary loads with the reading described.
    Warning,
}

/// One finding about a dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub loc: Loc,
    /// Details.
    pub message: String,
    /// The file name, filled in when the load ends.
    pub file: PathBuf,
}

impl Diagnostic {
    /// An error.
    pub fn new(kind: ErrorKind, loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            severity: Severity::Error,
            loc,
            message: message.into(),
            file: PathBuf::new(),
        }
    }
    /// A warning.
    pub fn warning(kind: ErrorKind, loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::new(kind, loc, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {sev}[{}]: {}",
            self.file.display(),
            self.loc.line,
            self.kind.name(),
            self.message
        )
    }
}

/// Why a dictionary set could not be turned into Rust.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more errors in the dictionaries (warnings included for context).
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// Writing generated code failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The generated code did not parse as Rust (a generator bug).
    #[error("generated code does not parse: {0}")]
    Format(String),
}

impl Error {
    /// The diagnostics, if the dictionaries were at fault.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Invalid(d) => d,
            _ => &[],
        }
    }
}

fn render(d: &[Diagnostic]) -> String {
    let errors = d.iter().filter(|d| d.severity == Severity::Error).count();
    let mut s = String::new();
    for x in d.iter().filter(|d| d.severity == Severity::Error) {
        s.push_str(&x.to_string());
        s.push('\n');
    }
    s.push_str(&format!("{errors} error(s) in dictionary"));
    s
}
