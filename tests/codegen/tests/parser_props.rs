//! The dictionary loader never panics, whatever the text: random bytes, and the bundled base
//! dictionary with random edits.

use diameter_codegen::model::{load, LoadOptions, Source};
use proptest::prelude::*;

fn run(text: String) {
    for compat in [false, true] {
        let sources = vec![Source {
            path: "p.xml".into(),
            text: text.clone(),
            external: None,
        }];
        if let Ok(dict) = load(
            &sources,
            LoadOptions {
                go_diameter_compat: compat,
                ..Default::default()
            },
        ) {
            if let Ok(names) = diameter_codegen::emit::Names::new(&dict) {
                let t = diameter_codegen::emit::emit(&dict, &names, &Default::default(), |_| true);
                diameter_codegen::format(t).expect("whatever loads generates parseable Rust");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_text(s in "\\PC{0,300}") {
        run(s);
    }

    #[test]
    fn edited_base_dictionary(edits in proptest::collection::vec((0usize..40_000, "[<>/=\" a-zA-Z0-9*-]{0,6}", 0usize..8), 1..6)) {
        let mut text = diameter_codegen::BASE_XML.to_string();
        for (pos, insert, del) in edits {
            let mut p = pos % text.len().max(1);
            while !text.is_char_boundary(p) { p -= 1; }
            let mut end = (p + del).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(p..end, &insert);
        }
        run(text);
    }
}
