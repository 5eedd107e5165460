//! Lists every command of the bundled application pack as `pack_cases!` entries (type, application,
//! message name), for the typed round-trip and tshark tests.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dicts = root.join("dictionaries");
    let mut files = vec![
        dicts.join("accounting.xml"),
        dicts.join("credit_control.xml"),
    ];
    let mut pack: Vec<_> = std::fs::read_dir(dicts.join("pack"))
        .expect("dictionaries/pack")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    pack.sort();
    println!("cargo:rerun-if-changed={}", dicts.join("pack").display());
    files.extend(pack.iter().cloned());
    let dict = diameter_codegen::Config::new()
        .load(&files)
        .unwrap_or_else(|e| panic!("{e}"));
    let names = diameter_codegen::emit::Names::new(&dict).unwrap_or_else(|e| panic!("{e:?}"));
    let mut out = String::from("pack_cases! {\n");
    for app in &dict.applications {
        if app.library || app.external.is_some() || app.file < 2 || app.commands.is_empty() {
            continue;
        }
        let module = names.module(app.id).expect("module");
        for c in &app.commands {
            for request in [true, false] {
                let ty = diameter_codegen::emit::Names::command_type(c, request);
                let kind = if request { "Request" } else { "Answer" };
                out.push_str(&format!(
                    "    diameter_dictionaries::{module}::{ty}, {}, \"{}-{kind}\";\n",
                    app.id, c.name
                ));
            }
        }
    }
    out.push_str("}\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("pack_cases.rs");
    std::fs::write(dest, out).unwrap();
}
