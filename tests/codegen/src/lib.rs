//! Tests of the generator: golden files, compile tests, dictionary errors, importers and the
//! application pack. Helpers shared by the test files live here.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference dictionaries: `DIAMETER_REFERENCE_DICTIONARIES`, else `../shared` beside
/// the checkout.
pub fn reference_dir() -> PathBuf {
    std::env::var_os("DIAMETER_REFERENCE_DICTIONARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference-dictionaries"))
}

/// Compares `actual` with the golden file at `path` (relative to the root); on a mismatch
/// rewrites it and panics, so the change is reviewed with `git diff` and a second run passes.
pub fn check_golden(path: &str, actual: &str) {
    let path = root().join(path);
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        std::fs::write(&path, actual).expect("write golden file");
        panic!(
            "{} was stale and has been rewritten; review with git diff",
            path.display()
        );
    }
}
