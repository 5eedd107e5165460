//! Any text as a dictionary, alone and beside the bundled base: the loader and the emitter
//! report errors but never panic.
#![no_main]

use diameter_codegen::model::{load, LoadOptions, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for compat in [false, true] {
        let sources = vec![
            Source {
                path: "fuzz.xml".into(),
                text: text.to_string(),
                external: None,
            },
            Source {
                path: "base.xml".into(),
                text: diameter_codegen::BASE_XML.to_string(),
                external: Some("::diameter_runtime::base".into()),
            },
        ];
        if let Ok(dict) = load(
            &sources,
            LoadOptions {
                go_diameter_compat: compat,
                ..Default::default()
            },
        ) {
            if let Ok(names) = diameter_codegen::emit::Names::new(&dict) {
                let tokens =
                    diameter_codegen::emit::emit(&dict, &names, &Default::default(), |_| true);
                let _ = diameter_codegen::format(tokens);
            }
        }
    }
});
