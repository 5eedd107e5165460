//! Generate typed Diameter messages from XML dictionaries in `build.rs`.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     diameter_build::configure().compile(&["dictionaries/my_vendor.xml"])?;
//!     Ok(())
//! }
//! ```
//! and in the crate: `diameter_runtime::include_dictionary!("my_vendor");`.
//!
//! Every input (and every extern dictionary) gets a `cargo:rerun-if-changed` line; files are
//! written only when their content changes, so unchanged dictionaries do not trigger rebuilds.
//! Warnings about the dictionaries are printed as `cargo:warning` lines.

use std::path::{Path, PathBuf};

pub use diameter_codegen::{Config, Error};

/// A build-time generator: a [`Config`] plus where to write.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: Config,
    out_dir: Option<PathBuf>,
    emit_rerun: bool,
}

/// A [`Builder`] with defaults: output to `$OUT_DIR`, rerun-if-changed printed.
pub fn configure() -> Builder {
    Builder {
        config: Config::new(),
        out_dir: None,
        emit_rerun: true,
    }
}

impl Builder {
    /// Where to write (default `$OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Whether to print `cargo:` lines (default true; turn off outside build scripts).
    pub fn emit_rerun_if_changed(mut self, on: bool) -> Self {
        self.emit_rerun = on;
        self
    }

    /// Reads go-diameter files as go-diameter does (warnings instead of some errors).
    pub fn go_diameter_compat(mut self, on: bool) -> Self {
        self.config.go_diameter_compat(on);
        self
    }

    /// See [`Config::extern_dictionary`].
    pub fn extern_dictionary(mut self, path: impl AsRef<Path>, rust_path: &str) -> Self {
        self.config.extern_dictionary(path, rust_path);
        self
    }

    /// See [`Config::bundled_base`].
    pub fn bundled_base(mut self, on: bool) -> Self {
        self.config.bundled_base(on);
        self
    }

    /// See [`Config::type_attribute`].
    pub fn type_attribute(mut self, matcher: &str, attribute: &str) -> Self {
        self.config.type_attribute(matcher, attribute);
        self
    }

    /// See [`Config::field_attribute`].
    pub fn field_attribute(mut self, matcher: &str, attribute: &str) -> Self {
        self.config.field_attribute(matcher, attribute);
        self
    }

    /// Generates `<out_dir>/<stem>.rs` for each dictionary; returns the paths written to.
    pub fn compile(&self, dictionaries: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, Error> {
        if self.emit_rerun {
            for p in dictionaries {
                println!("cargo:rerun-if-changed={}", p.as_ref().display());
            }
        }
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_else(|| ".".into())),
        };
        let files = self.config.generate(dictionaries)?;
        if self.emit_rerun {
            if let Ok(dict) = self.config.load(dictionaries) {
                for w in &dict.warnings {
                    println!("cargo:warning={w}");
                }
            }
        }
        let mut written = Vec::new();
        for f in files {
            let path = out_dir.join(format!("{}.rs", f.stem));
            write_if_changed(&path, &f.code).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Writes `content` to `path` unless the file already holds exactly that.
pub fn write_if_changed(path: &Path, content: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dictionaries() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dictionaries")
    }

    #[test]
    fn compiles_once_and_leaves_unchanged_files_alone() {
        let out = std::env::temp_dir().join(format!("diameter-build-test-{}", std::process::id()));
        let builder = configure().out_dir(&out).emit_rerun_if_changed(false);
        let written = builder
            .compile(&[dictionaries().join("credit_control.xml")])
            .unwrap();
        assert_eq!(written, vec![out.join("credit_control.rs")]);
        let code = std::fs::read_to_string(&written[0]).unwrap();
        assert!(code.starts_with(diameter_codegen::GENERATED_HEADER));
        assert!(code.contains("pub struct CreditControlRequest"));
        let before = std::fs::metadata(&written[0]).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        builder
            .compile(&[dictionaries().join("credit_control.xml")])
            .unwrap();
        let after = std::fs::metadata(&written[0]).unwrap().modified().unwrap();
        assert_eq!(before, after, "an unchanged file is not rewritten");
        assert!(!write_if_changed(&written[0], &code).unwrap());
        assert!(write_if_changed(&written[0], "changed").unwrap());
        std::fs::remove_dir_all(&out).ok();
    }

    #[test]
    fn dictionary_errors_come_back_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("diameter-build-err-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.xml");
        std::fs::write(&bad, "<diameter>\n<application id=\"9\" name=\"X\">\n<avp name=\"A\" code=\"1\"><data type=\"Nope\"/></avp>\n</application>\n</diameter>\n").unwrap();
        let err = configure()
            .out_dir(&dir)
            .emit_rerun_if_changed(false)
            .compile(&[&bad])
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.xml:3: error[UnknownType]"), "{text}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
