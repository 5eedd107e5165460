//! Any text as a Wireshark dictionary: the importer and then the loader report what they cannot read but
//! never panic, and whatever loads generates.
#![no_main]

use diameter_codegen::import::{import, Format, Input};
use diameter_codegen::model::{load, LoadOptions, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let formats = [Format::Wireshark];
    let format = formats[selector as usize % formats.len()];
    let path = std::path::Path::new("fuzz.xml");
    let imported = import(format, &[Input { file: 0, path, text }]);
    assert!(imported.roots.len() <= 1);
    let sources = vec![
        Source { path: path.into(), text: text.to_string(), external: None },
        Source {
            path: "base.xml".into(),
            text: diameter_codegen::BASE_XML.to_string(),
            external: Some("::diameter_runtime::base".into()),
        },
    ];
    let options = LoadOptions { format: Some(format), ..Default::default() };
    if let Ok(dict) = load(&sources, options) {
        if let Ok(names) = diameter_codegen::emit::Names::new(&dict) {
            let tokens = diameter_codegen::emit::emit(&dict, &names, &Default::default(), |_| true);
            let _ = diameter_codegen::format(tokens);
        }
    }
});
