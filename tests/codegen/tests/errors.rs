//! Every mistake a dictionary author can make gets a named error at the right line.

use diameter_codegen::model::{load, LoadOptions, Source};
use diameter_codegen::{ErrorKind as K, Severity, BASE_XML};

fn sources(text: &str) -> Vec<Source> {
    vec![
        Source {
            path: "test.xml".into(),
            text: text.to_string(),
            external: None,
        },
        Source {
            path: "base.xml".into(),
            text: BASE_XML.to_string(),
            external: Some("::diameter_runtime::base".into()),
        },
    ]
}

/// A file whose application body starts on line 3.
fn app(body: &str) -> String {
    format!("<diameter>\n<application id=\"16777999\" name=\"Test\" inherits=\"0\">\n{body}\n</application>\n</diameter>\n")
}

#[track_caller]
fn expect(text: &str, kind: K, line: u32) {
    let diags = match load(&sources(text), LoadOptions::default()) {
        Ok(d) => d.warnings,
        Err(d) => d,
    };
    let hit = diags.iter().find(|d| d.kind == kind);
    let Some(d) = hit else {
        panic!("expected {kind:?} at line {line}, got {diags:#?}");
    };
    assert_eq!(d.loc.line, line, "{d}");
    assert_eq!(d.file.to_str(), Some("test.xml"), "{d}");
    // The message names the kind, the file and the line.
    let shown = d.to_string();
    assert!(shown.starts_with(&format!("test.xml:{line}: ")), "{shown}");
    assert!(shown.contains(kind.name()), "{shown}");
}

#[track_caller]
fn expect_error(text: &str, kind: K, line: u32) {
    let Err(diags) = load(&sources(text), LoadOptions::default()) else {
        panic!("expected the load to fail with {kind:?}");
    };
    assert!(
        diags
            .iter()
            .any(|d| d.kind == kind && d.severity == Severity::Error),
        "{diags:#?}"
    );
    expect(text, kind, line);
}

const U32: &str = r#"<data type="Unsigned32"/>"#;

fn avp(name: &str, code: u32, extra: &str, data: &str) -> String {
    format!("<avp name=\"{name}\" code=\"{code}\" must=\"M\" {extra}>{data}</avp>")
}

#[test]
fn xml_syntax() {
    expect_error(
        "<diameter>\n<application id=\"1\">\n</diameter>\n",
        K::XmlSyntax,
        3,
    );
}

#[test]
fn bad_root() {
    expect_error("<dict/>\n", K::BadRoot, 1);
}

#[test]
fn unexpected_element() {
    expect_error(&app("<avps/>"), K::UnexpectedElement, 3);
}

#[test]
fn missing_attribute() {
    expect_error(
        &app(r#"<avp name="X" must="M"><data type="Unsigned32"/></avp>"#),
        K::MissingAttribute,
        3,
    );
}

#[test]
fn unknown_attribute_is_a_warning() {
    let text = app(&avp("X-A", 1001, "colour=\"red\"", U32));
    assert!(load(&sources(&text), LoadOptions::default()).is_ok());
    expect(&text, K::UnknownAttribute, 3);
}

#[test]
fn invalid_number() {
    expect_error(
        &app(&avp("X-A", 0, "", U32).replace("code=\"0\"", "code=\"twelve\"")),
        K::InvalidNumber,
        3,
    );
}

#[test]
fn invalid_bool() {
    let body = format!(
        "{}\n<command code=\"9000\" name=\"T\">\n<request><rule avp=\"X-A\" required=\"maybe\"/></request>\n<answer/>\n</command>",
        avp("X-A", 1001, "", U32)
    );
    expect_error(&app(&body), K::InvalidBool, 5);
}

#[test]
fn invalid_flag() {
    expect_error(
        &app(r#"<avp name="X-A" code="1001" must="M,Q"><data type="Unsigned32"/></avp>"#),
        K::InvalidFlag,
        3,
    );
}

#[test]
fn flag_conflict() {
    expect_error(
        &app(
            r#"<avp name="X-A" code="1001" must="M" must-not="M"><data type="Unsigned32"/></avp>"#,
        ),
        K::FlagConflict,
        3,
    );
}

#[test]
fn unknown_type() {
    expect_error(
        &app(&avp("X-A", 1001, "", r#"<data type="Unsigned33"/>"#)),
        K::UnknownType,
        3,
    );
}

#[test]
fn duplicate_vendor_id() {
    expect_error(
        "<diameter>\n<vendor id=\"1\" name=\"A\"/>\n<vendor id=\"1\" name=\"B\"/>\n</diameter>\n",
        K::DuplicateVendorId,
        3,
    );
}

#[test]
fn duplicate_vendor_name() {
    expect_error(
        "<diameter>\n<vendor id=\"1\" name=\"A\"/>\n<vendor id=\"2\" name=\"A\"/>\n</diameter>\n",
        K::DuplicateVendorName,
        3,
    );
}

#[test]
fn unknown_vendor() {
    expect_error(
        &app(
            r#"<avp name="X-A" code="1001" must="M,V" vendor-id="777"><data type="Unsigned32"/></avp>"#,
        ),
        K::UnknownVendor,
        3,
    );
}

#[test]
fn duplicate_application_id() {
    expect_error(
        "<diameter>\n<application id=\"5\" name=\"A\"/>\n<application id=\"5\" name=\"B\"/>\n</diameter>\n",
        K::DuplicateApplicationId,
        3,
    );
}

#[test]
fn duplicate_application_name() {
    expect_error(
        "<diameter>\n<application id=\"5\" name=\"A\"/>\n<application id=\"6\" name=\"A\"/>\n</diameter>\n",
        K::DuplicateApplicationName,
        3,
    );
}

#[test]
fn unknown_parent_application() {
    expect_error(
        "<diameter>\n<application id=\"5\" name=\"A\" inherits=\"77\"/>\n</diameter>\n",
        K::UnknownParentApplication,
        2,
    );
}

#[test]
fn inheritance_cycle() {
    expect_error(
        "<diameter>\n<application id=\"5\" name=\"A\" inherits=\"6\"/>\n<application id=\"6\" name=\"B\" inherits=\"5\"/>\n</diameter>\n",
        K::InheritanceCycle,
        2,
    );
}

fn command(code: &str, name: &str) -> String {
    format!("<command code=\"{code}\" name=\"{name}\">\n<request><rule avp=\"Session-Id\" required=\"true\" max=\"1\"/></request>\n<answer><rule avp=\"Session-Id\" required=\"true\" max=\"1\"/></answer>\n</command>")
}

#[test]
fn duplicate_command_code() {
    let body = format!("{}\n{}", command("9000", "A"), command("9000", "B"));
    expect_error(&app(&body), K::DuplicateCommandCode, 7);
}

#[test]
fn duplicate_command_name() {
    let body = format!("{}\n{}", command("9000", "A"), command("9001", "A"));
    expect_error(&app(&body), K::DuplicateCommandName, 7);
}

#[test]
fn missing_request() {
    expect_error(
        &app("<command code=\"9000\" name=\"A\">\n<answer/>\n</command>"),
        K::MissingRequest,
        3,
    );
}

#[test]
fn missing_answer() {
    expect_error(
        &app("<command code=\"9000\" name=\"A\">\n<request/>\n</command>"),
        K::MissingAnswer,
        3,
    );
}

#[test]
fn duplicate_grammar() {
    expect_error(
        &app("<command code=\"9000\" name=\"A\">\n<request/>\n<request/>\n<answer/>\n</command>"),
        K::DuplicateGrammar,
        5,
    );
}

#[test]
fn command_code_out_of_range() {
    expect_error(&app(&command("16777216", "A")), K::CommandCodeOutOfRange, 3);
}

#[test]
fn avp_code_reserved() {
    expect_error(&app(&avp("X-A", 0, "", U32)), K::AvpCodeReserved, 3);
}

#[test]
fn duplicate_avp_code() {
    let body = format!(
        "{}\n{}",
        avp("X-A", 1001, "", U32),
        avp("X-B", 1001, "", U32)
    );
    expect_error(&app(&body), K::DuplicateAvpCode, 4);
}

#[test]
fn duplicate_avp_name() {
    let body = format!(
        "{}\n{}",
        avp("X-A", 1001, "", U32),
        avp("X-A", 1002, "", U32)
    );
    expect_error(&app(&body), K::DuplicateAvpName, 4);
}

#[test]
fn missing_data() {
    expect_error(&app(&avp("X-A", 1001, "", "")), K::MissingData, 3);
}

#[test]
fn duplicate_data() {
    expect_error(
        &app(&avp(
            "X-A",
            1001,
            "",
            "\n<data type=\"Unsigned32\"/>\n<data type=\"Unsigned32\"/>",
        )),
        K::DuplicateData,
        5,
    );
}

fn grouped(rules: &str) -> String {
    format!(
        "{}\n{}\n<avp name=\"X-G\" code=\"1003\" must=\"M\"><data type=\"Grouped\">\n{rules}\n</data></avp>",
        avp("X-A", 1001, "", U32),
        avp("X-B", 1002, "", U32)
    )
}

#[test]
fn undefined_avp() {
    expect_error(
        &app(&grouped("<rule avp=\"X-Nope\" required=\"true\"/>")),
        K::UndefinedAvp,
        6,
    );
}

#[test]
fn duplicate_rule() {
    expect_error(
        &app(&grouped("<rule avp=\"X-A\"/>\n<rule avp=\"X-A\"/>")),
        K::DuplicateRule,
        7,
    );
}

#[test]
fn min_greater_than_max() {
    expect_error(
        &app(&grouped("<rule avp=\"X-A\" min=\"3\" max=\"2\"/>")),
        K::MinGreaterThanMax,
        6,
    );
}

#[test]
fn required_with_max_zero() {
    expect_error(
        &app(&grouped("<rule avp=\"X-A\" required=\"true\" max=\"0\"/>")),
        K::RequiredWithMaxZero,
        6,
    );
}

#[test]
fn invalid_position() {
    expect_error(
        &app(&grouped(
            "<rule avp=\"X-A\" max=\"1\" position=\"middle\"/>",
        )),
        K::InvalidPosition,
        6,
    );
}

#[test]
fn duplicate_position() {
    expect_error(
        &app(&grouped("<rule avp=\"X-A\" max=\"1\" position=\"first\"/>\n<rule avp=\"X-B\" max=\"1\" position=\"first\"/>")),
        K::DuplicatePosition,
        7,
    );
}

#[test]
fn fixed_position_repeated() {
    expect_error(
        &app(&grouped("<rule avp=\"X-A\" position=\"first\"/>")),
        K::FixedPositionRepeated,
        6,
    );
}

#[test]
fn misplaced_wildcard() {
    expect_error(
        &app(&grouped("<rule avp=\"AVP\"/>\n<rule avp=\"AVP\"/>")),
        K::MisplacedWildcard,
        7,
    );
}

#[test]
fn vendor_flag_without_vendor() {
    expect_error(
        &app(r#"<avp name="X-A" code="1001" must="M,V"><data type="Unsigned32"/></avp>"#),
        K::VendorFlagWithoutVendor,
        3,
    );
}

#[test]
fn vendor_flag_takes_the_application_default() {
    let text = "<diameter>\n<vendor id=\"10415\" name=\"3GPP\"/>\n<application id=\"16777999\" name=\"T\" vendor-id=\"10415\">\n<avp name=\"X-A\" code=\"1001\" must=\"M,V\"><data type=\"Unsigned32\"/></avp>\n</application>\n</diameter>\n";
    let d = load(&sources(text), LoadOptions::default()).unwrap();
    assert_eq!(d.avp_by_name(16777999, "X-A").unwrap().vendor_id, 10415);
}

#[test]
fn vendor_id_without_vendor_flag() {
    let text = "<diameter>\n<vendor id=\"10415\" name=\"3GPP\"/>\n<application id=\"16777999\" name=\"T\">\n<avp name=\"X-A\" code=\"1001\" must=\"M\" must-not=\"V\" vendor-id=\"10415\"><data type=\"Unsigned32\"/></avp>\n</application>\n</diameter>\n";
    expect_error(text, K::VendorIdWithoutVendorFlag, 4);
}

#[test]
fn items_on_non_enumerated() {
    expect_error(
        &app(&avp(
            "X-A",
            1001,
            "",
            "<data type=\"OctetString\">\n<item code=\"1\" name=\"ONE\"/>\n</data>",
        )),
        K::ItemsOnNonEnumerated,
        4,
    );
}

#[test]
fn enumerated_without_items_is_a_warning() {
    let text = app(&avp("X-A", 1001, "", "<data type=\"Enumerated\"/>"));
    assert!(load(&sources(&text), LoadOptions::default()).is_ok());
    expect(&text, K::EnumeratedWithoutItems, 3);
}

#[test]
fn duplicate_item_code() {
    expect_error(&app(&avp("X-A", 1001, "", "<data type=\"Enumerated\">\n<item code=\"1\" name=\"ONE\"/>\n<item code=\"1\" name=\"UNO\"/>\n</data>")), K::DuplicateItemCode, 5);
}

#[test]
fn duplicate_item_name() {
    expect_error(&app(&avp("X-A", 1001, "", "<data type=\"Enumerated\">\n<item code=\"1\" name=\"ONE\"/>\n<item code=\"2\" name=\"ONE\"/>\n</data>")), K::DuplicateItemName, 5);
}

#[test]
fn item_out_of_range() {
    expect_error(
        &app(&avp(
            "X-A",
            1001,
            "",
            "<data type=\"Unsigned32\">\n<item code=\"-1\" name=\"MINUS\"/>\n</data>",
        )),
        K::ItemOutOfRange,
        4,
    );
}

#[test]
fn grouped_without_rules() {
    expect_error(
        &app(&avp("X-A", 1001, "", "<data type=\"Grouped\"/>")),
        K::GroupedWithoutRules,
        3,
    );
}

#[test]
fn rules_on_non_grouped() {
    expect_error(
        &app(&avp(
            "X-A",
            1001,
            "",
            "<data type=\"Unsigned32\">\n<rule avp=\"Session-Id\"/>\n</data>",
        )),
        K::RulesOnNonGrouped,
        4,
    );
}

#[test]
fn grouped_cycle() {
    let body = "<avp name=\"X-G\" code=\"1001\" must=\"M\"><data type=\"Grouped\">\n<rule avp=\"X-H\"/>\n</data></avp>\n<avp name=\"X-H\" code=\"1002\" must=\"M\"><data type=\"Grouped\">\n<rule avp=\"X-G\"/>\n</data></avp>";
    let Err(diags) = load(&sources(&app(body)), LoadOptions::default()) else {
        panic!("a grouped cycle must fail");
    };
    let d = diags
        .iter()
        .find(|d| d.kind == K::GroupedCycle)
        .expect("GroupedCycle");
    assert!([4, 7].contains(&d.loc.line), "{d}");
}

#[test]
fn duplicate_typedef() {
    expect_error(
        "<diameter>\n<typedef name=\"Id\" type=\"Unsigned32\"/>\n<typedef name=\"Id\" type=\"Unsigned64\"/>\n</diameter>\n",
        K::DuplicateTypedef,
        3,
    );
}

#[test]
fn typedef_shadows_builtin() {
    expect_error(
        "<diameter>\n<typedef name=\"Time\" type=\"Unsigned32\"/>\n</diameter>\n",
        K::TypedefShadowsBuiltin,
        2,
    );
}

#[test]
fn typedef_cycle() {
    let text = "<diameter>\n<typedef name=\"A\" type=\"B\"/>\n<typedef name=\"B\" type=\"A\"/>\n<application id=\"16777999\" name=\"T\">\n<avp name=\"X-A\" code=\"1001\"><data type=\"A\"/></avp>\n</application>\n</diameter>\n";
    expect_error(text, K::TypedefCycle, 5);
}

#[test]
fn typedef_resolves_to_its_base_type() {
    let text = "<diameter>\n<typedef name=\"AppId\" type=\"Unsigned32\"/>\n<application id=\"16777999\" name=\"T\">\n<avp name=\"X-A\" code=\"1001\"><data type=\"AppId\"/></avp>\n</application>\n</diameter>\n";
    let d = load(&sources(text), LoadOptions::default()).unwrap();
    let a = d.avp_by_name(16777999, "X-A").unwrap();
    assert_eq!(a.ty, diameter_codegen::model::BaseType::Unsigned32);
    assert_eq!(a.type_name, "AppId");
}

#[test]
fn invalid_name() {
    expect_error(&app(&avp("---", 1001, "", U32)), K::InvalidName, 3);
}

#[test]
fn invalid_rust_name() {
    expect_error(
        &app(&avp("X-A", 1001, "rust-name=\"not valid\"", U32)),
        K::InvalidRustName,
        3,
    );
}

#[test]
fn rust_name_collision() {
    let text = app(&format!(
        "{}\n{}",
        avp(
            "X-A",
            1001,
            "",
            "<data type=\"Enumerated\"><item code=\"1\" name=\"A\"/></data>"
        ),
        avp(
            "X_A",
            1002,
            "",
            "<data type=\"Enumerated\"><item code=\"1\" name=\"A\"/></data>"
        )
    ));
    let err =
        diameter_codegen::emit::Names::new(&load(&sources(&text), LoadOptions::default()).unwrap())
            .err()
            .expect("names collide");
    assert_eq!(err[0].kind, K::RustNameCollision);
    assert_eq!(err[0].loc.line, 4);
}

/// The names of the errors of one dictionary, or none.
fn name_errors(text: &str) -> Vec<diameter_codegen::Diagnostic> {
    let dict = load(&sources(text), LoadOptions::default()).unwrap();
    diameter_codegen::emit::Names::new(&dict)
        .err()
        .unwrap_or_default()
}

#[test]
fn rust_name_collision_of_constants_variants_and_fields() {
    // `QoS-Class` and `QOS-Class` are both `QOS_CLASS` and the field `qos_class`.
    let text = app(&format!(
        "{}\n{}",
        avp("QoS-Class", 1001, "", U32),
        avp("QOS-Class", 1002, "", U32)
    ));
    let err = name_errors(&text);
    assert_eq!(err[0].kind, K::RustNameCollision, "{err:?}");
    assert_eq!(err[0].loc.line, 4);
    assert!(err[0].message.contains("QOS_CLASS"), "{}", err[0].message);
    // rust-name on one of them renames its constant and field too.
    let text = app(&format!(
        "{}\n{}",
        avp("QoS-Class", 1001, "", U32),
        avp("QOS-Class", 1002, "rust-name=\"LegacyQosClass\"", U32)
    ));
    assert!(name_errors(&text).is_empty());

    // Items `IPv4` and `IPV4` are both the variant `Ipv4`; `rust-name` on an item fixes it.
    let items = |second: &str| {
        app(&avp(
            "Address-Kind",
            1003,
            "",
            &format!(
                "<data type=\"Enumerated\"><item code=\"1\" name=\"IPv4\"/>\n<item code=\"2\" name=\"IPV4\" {second}/></data>"
            ),
        ))
    };
    let err = name_errors(&items(""));
    assert_eq!(err[0].kind, K::RustNameCollision, "{err:?}");
    assert_eq!(err[0].loc.line, 4);
    assert!(
        err[0].message.contains("variant `Ipv4`"),
        "{}",
        err[0].message
    );
    assert!(name_errors(&items("rust-name=\"Ipv4Legacy\"")).is_empty());

    // An item named like the catch-all variant.
    let text = app(&avp(
        "Kind",
        1004,
        "",
        "<data type=\"Enumerated\"><item code=\"0\" name=\"UNRECOGNIZED\"/></data>",
    ));
    assert_eq!(name_errors(&text)[0].kind, K::RustNameCollision);
}

/// An AVP library has a name and no id; applications inherit it by name.
#[test]
fn libraries_are_inherited_by_name() {
    let text = "<diameter>\n<vendor id=\"10415\" name=\"3GPP\"/>\n<application name=\"3gpp-avps\" library=\"true\">\n<avp name=\"RAT-Type\" code=\"1032\" must=\"M,V\" vendor-id=\"10415\"><data type=\"Unsigned32\"/></avp>\n</application>\n<application id=\"16777999\" name=\"Test\" inherits=\"0,3gpp-avps\">\n<command code=\"8388999\" name=\"Example\"><request><rule avp=\"Session-Id\" required=\"true\" max=\"1\" position=\"first\"/><rule avp=\"RAT-Type\" max=\"1\"/></request><answer><rule avp=\"Session-Id\" required=\"true\" max=\"1\"/></answer></command>\n</application>\n</diameter>\n";
    let dict = load(&sources(text), LoadOptions::default()).unwrap();
    let lib = dict.applications.iter().find(|a| a.library).unwrap();
    assert_eq!(lib.name, "3gpp-avps");
    let app = dict.application(16777999).unwrap();
    assert!(app.parents.contains(&lib.id) && app.parents.contains(&0));
    let names = diameter_codegen::emit::Names::new(&dict).unwrap();
    let code = diameter_codegen::format(diameter_codegen::emit::emit(
        &dict,
        &names,
        &Default::default(),
        |a| a.id != 0,
    ))
    .unwrap();
    assert!(code.contains("pub mod tgpp_avps"), "{code}");
    assert!(
        code.contains("super::tgpp_avps::RAT_TYPE") || code.contains("rat_type"),
        "{code}"
    );

    // An unknown parent name, and a command in a library.
    let bad = text.replace("inherits=\"0,3gpp-avps\"", "inherits=\"0,4gpp-avps\"");
    expect_error(&bad, K::UnknownParentApplication, 6);
    let bad = text.replace(
        "<avp name=\"RAT-Type\"",
        "<command code=\"1\" name=\"X\"><request/><answer/></command>\n<avp name=\"RAT-Type\"",
    );
    expect_error(&bad, K::UnexpectedElement, 4);
}

/// Diagnostics of an Erlang `.dia` file, located in it.
fn dia(text: &str) -> Vec<diameter_codegen::Diagnostic> {
    let sources = vec![Source {
        path: "test.dia".into(),
        text: text.to_string(),
        external: None,
    }];
    match load(&sources, LoadOptions::default()) {
        Ok(d) => d.warnings,
        Err(d) => d,
    }
}

#[test]
fn imported_files_report_in_their_own_lines() {
    let ok = "@id 16777999\n@name test\n@avp_types\nX-A 1001 Unsigned32 M\n";
    assert!(dia(ok).is_empty(), "{:?}", dia(ok));
    // A rule line that cannot be read.
    let d = dia(&format!("{ok}@messages\nX-Request ::= < Diameter Header: 1, REQ >\n  {{ X-A \nX-Answer ::= < Diameter Header: 1 >\n"));
    assert!(
        d.iter()
            .any(|d| d.kind == K::ImportSyntax && d.loc.line == 7),
        "{d:?}"
    );
    // What the native format cannot say: an Erlang codec module.
    let d = dia(&format!("{ok}@custom_types my_codec\nX-A\n"));
    assert!(
        d.iter().any(|d| d.kind == K::ImportLoss && d.loc.line == 5),
        "{d:?}"
    );
    // @inherits naming a dictionary that is not in the load.
    let d = dia(&format!("{ok}@inherits nowhere\n"));
    assert!(
        d.iter()
            .any(|d| d.kind == K::UnknownParent && d.loc.line == 5),
        "{d:?}"
    );
}

#[test]
fn misplaced_answer_message() {
    expect_error(&app("<answer-message/>"), K::MisplacedAnswerMessage, 3);
}

#[test]
fn unreadable_file_is_an_io_error() {
    let err = diameter_codegen::Config::new()
        .load(&["/nonexistent/dictionary.xml"])
        .unwrap_err();
    assert_eq!(err.diagnostics()[0].kind, K::Io);
    assert!(err.to_string().contains("/nonexistent/dictionary.xml"));
}

#[test]
fn every_kind_is_tested_here() {
    let src = include_str!("errors.rs");
    for k in K::ALL {
        assert!(
            src.contains(&format!("K::{}", k.name())),
            "no test names ErrorKind::{}",
            k.name()
        );
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let body = format!(
        "{}\n{}",
        avp("X-A", 0, "", U32),
        avp("X-B", 1001, "", "<data type=\"Nope\"/>")
    );
    let diags = load(&sources(&app(&body)), LoadOptions::default()).unwrap_err();
    let kinds: Vec<K> = diags.iter().map(|d| d.kind).collect();
    assert!(
        kinds.contains(&K::AvpCodeReserved) && kinds.contains(&K::UnknownType),
        "{kinds:?}"
    );
}
