//! Golden files of generated code. On a mismatch the new output is written over the expected
//! file and the test fails, so the change is reviewed with `git diff` (run again to pass).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compares `actual` with the file at `path`; on mismatch rewrites it and returns false.
fn bless(path: &Path, actual: &str) -> bool {
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return true;
    }
    std::fs::write(path, actual).expect("write golden file");
    eprintln!(
        "{} was stale and has been rewritten; review with git diff",
        path.display()
    );
    false
}

#[test]
fn runtime_base_types_are_fresh() {
    let r = root();
    let tokens = diameter_codegen::Config::new()
        .generate_tokens(&[
            r.join("dictionaries/base.xml"),
            r.join("dictionaries/accounting.xml"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let code = diameter_codegen::format(tokens).unwrap();
    assert!(
        bless(&r.join("diameter-runtime/src/base/generated.rs"), &code),
        "diameter-runtime/src/base/generated.rs was stale (now regenerated)"
    );
}

#[test]
fn bundled_dictionaries_golden() {
    let r = root();
    let files = diameter_codegen::Config::new()
        .generate(&[r.join("dictionaries/credit_control.xml")])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut fresh = true;
    for f in files {
        fresh &= bless(
            &r.join(format!("tests/codegen/golden/{}.rs", f.stem)),
            &f.code,
        );
    }
    assert!(fresh, "golden files were stale (now regenerated)");
}

fn go_diameter_dir() -> PathBuf {
    let d = std::env::var_os("DIAMETER_REFERENCE_DICTIONARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference-dictionaries"));
    let d = d.join("go-diameter");
    assert!(
        d.is_dir(),
        "reference dictionaries not found at {} (set DIAMETER_REFERENCE_DICTIONARIES)",
        d.display()
    );
    d
}

/// Every go-diameter reference file, loaded as a set, with its generated code kept as a golden
/// file that `tests/compile.rs` compiles.
#[test]
fn go_diameter_reference_set_generates() {
    let dir = go_diameter_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 10, "expected the ten go-diameter files");
    let mut config = diameter_codegen::Config::new();
    config.go_diameter_compat(true);
    let dict = config.load(&files).unwrap_or_else(|e| panic!("{e}"));
    for w in &dict.warnings {
        eprintln!("{w}");
    }
    // The known rule breaks are reported, with file and line.
    let vflag: Vec<_> = dict
        .warnings
        .iter()
        .filter(|w| w.kind == diameter_codegen::ErrorKind::VendorFlagWithoutVendor)
        .collect();
    assert_eq!(vflag.len(), 9, "{vflag:#?}");
    assert!(vflag
        .iter()
        .all(|w| w.file.ends_with("tgpp_rx.xml") && w.loc.line >= 947));
    let tokens = config
        .generate_tokens(&files)
        .unwrap_or_else(|e| panic!("{e}"));
    let code = diameter_codegen::format(tokens).unwrap();
    assert!(
        bless(&root().join("tests/codegen/golden/go_diameter.rs"), &code),
        "golden go_diameter.rs was stale (now regenerated)"
    );
}
