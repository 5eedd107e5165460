//! The body of the importer targets: import the text as `format`, then load and generate it.

use diameter_codegen::import::{import, Format, Input};
use diameter_codegen::model::{load, LoadOptions, Source};

/// Imports `text` (named `name`) as `format`, loads it beside the bundled base and generates
/// whatever loads: errors are reported, nothing may panic.
pub fn run(format: Format, name: &str, text: &str) {
    let path = std::path::Path::new(name);
    let imported = import(
        format,
        &[Input {
            file: 0,
            path,
            text,
        }],
    );
    assert!(imported.roots.len() <= 1);
    let sources = vec![
        Source {
            path: path.into(),
            text: text.to_string(),
            external: None,
        },
        Source {
            path: "base.xml".into(),
            text: diameter_codegen::BASE_XML.to_string(),
            external: Some("::diameter_runtime::base".into()),
        },
    ];
    let options = LoadOptions {
        format: Some(format),
        ..Default::default()
    };
    if let Ok(dict) = load(&sources, options) {
        if let Ok(names) = diameter_codegen::emit::Names::new(&dict) {
            let tokens = diameter_codegen::emit::emit(&dict, &names, &Default::default(), |_| true);
            let _ = diameter_codegen::format(tokens);
        }
    }
}
