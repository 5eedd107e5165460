//! The bundled application pack (`dictionaries/pack/`): it loads with the bundled base,
//! accounting and credit-control dictionaries, and generates.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pack's files, libraries first.
pub fn pack_files() -> Vec<PathBuf> {
    let dir = root().join("dictionaries/pack");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_pack_loads_and_generates() {
    let mut inputs = vec![
        root().join("dictionaries/accounting.xml"),
        root().join("dictionaries/credit_control.xml"),
    ];
    inputs.extend(pack_files());
    let config = diameter_codegen::Config::new();
    let dict = config.load(&inputs).unwrap_or_else(|e| panic!("{e}"));
    assert!(dict.warnings.is_empty(), "{:?}", dict.warnings);
    let apps = dict.applications.iter().filter(|a| !a.library).count();
    let tgpp = dict.avps.iter().filter(|a| a.vendor_id == 10415).count();
    eprintln!(
        "{apps} applications, {} libraries, {} AVPs ({tgpp} of vendor 10415)",
        dict.applications.iter().filter(|a| a.library).count(),
        dict.avps.len()
    );
    let files = config.generate(&inputs).unwrap_or_else(|e| panic!("{e}"));
    let lines: usize = files.iter().map(|f| f.code.lines().count()).sum();
    eprintln!("{} files, {lines} lines generated", files.len());
}
