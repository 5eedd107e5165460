//! The bundled application pack (`dictionaries/pack/`): it loads with the bundled base,
//! accounting and credit-control dictionaries, and generates.

use std::path::PathBuf;

use codegen_tests::root;

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

/// (code, vendor) → (name, type, M) of every AVP a load defines.
fn facts(
    d: &diameter_codegen::Dictionary,
) -> std::collections::BTreeMap<(u32, u32), (String, String, &'static str)> {
    d.avps
        .iter()
        .map(|a| {
            (
                (a.code, a.vendor_id),
                (a.name.clone(), a.ty.name().to_string(), m_rule(&a.flags)),
            )
        })
        .collect()
}

/// The specification's word on a listed difference in the M rule (3GPP AVPs), as the spec
/// tables give it (read through freeDiameter's CSV, which copies them row by row with table
/// and version). `None`: not settled yet.
fn spec_word(code: u32, vendor: u32) -> Option<&'static str> {
    if vendor != 10415 {
        return None;
    }
    Some(match code {
        3302 | 3303 => "TS 29.338 table 6.3.3.1/1: M must (ours)",
        3310..=3322 => "TS 29.338 table 5.3.3.1/1: M must (ours)",
        1501..=1503 => "TS 29.273: M must (ours)",
        628..=634 | 653..=658 => "TS 29.229 table 6.3.1: no M (ours)",
        708..=719 => "TS 29.329 table 6.3.1: no M (ours)",
        1034 | 1046..=1048 | 1065 | 2821..=2855 => "TS 29.212 table 5.3.0.1: no M (ours)",
        528 | 530..=532 => "TS 29.214: no M (ours)",
        1524 | 1525 => "TS 29.273: no M (ours)",
        4 | 24..=27 | 29 => "TS 29.061 table 9a: no M (ours)",
        929 | 930 => "TS 29.061 table 20.5a.1: M must not (ours)",
        931..=934 => "TS 29.061 table 20.5a.1: no M (ours)",
        4013 => "TS 29.217: no M (ours)",
        4321 => "TS 29.128 table 6.4.1-1: no M (ours)",
        _ => return None,
    })
}

/// What a dictionary says of an AVP's M flag: `must`, `mustnot`, or `may` (it does not say).
fn m_rule(f: &diameter_codegen::model::FlagRules) -> &'static str {
    match (f.must_m, f.must_not_m) {
        (true, _) => "must",
        (false, true) => "mustnot",
        (false, false) => "may",
    }
}

/// For every AVP the pack and a second source (Wireshark's dictionary, freeDiameter's CSV)
/// both define (same code and vendor), name, type and M flag agree (see the M rule below), or
/// the difference is in
/// the golden list `tests/codegen/golden/pack-cross-check.txt`, to be settled by the
/// specification.
#[test]
fn the_pack_agrees_with_second_sources() {
    let reference = codegen_tests::reference_dir();
    let mut inputs = vec![
        root().join("dictionaries/accounting.xml"),
        root().join("dictionaries/credit_control.xml"),
    ];
    inputs.extend(pack_files());
    let ours = facts(
        &diameter_codegen::Config::new()
            .load(&inputs)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let sources = [
        (
            "wireshark",
            vec![reference.join("wireshark/dictionary.xml")],
        ),
        (
            "freediameter-csv",
            vec![
                reference.join("freediameter/diameter-rfcs.csv"),
                reference.join("freediameter/dict_dcca_3gpp.csv"),
            ],
        ),
    ];
    let mut out = String::new();
    for (label, files) in sources {
        let theirs = facts(
            &diameter_codegen::Config::new()
                .load(&files)
                .unwrap_or_else(|e| panic!("{label}: {e}")),
        );
        let mut shared = 0;
        let mut lines = Vec::new();
        for (key, (name, ty, m)) in &ours {
            let Some((tname, tty, tm)) = theirs.get(key) else {
                continue;
            };
            shared += 1;
            let mut diffs = Vec::new();
            let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_'], "");
            if norm(name) != norm(tname) {
                diffs.push(format!("name {tname}"));
            }
            if ty != tty {
                diffs.push(format!("type {tty} (ours {ty})"));
            }
            // A source that does not say (`may`) contradicts nothing; `may` against `mustnot`
            // differs only in how a received M bit is judged. Listed: the sources say
            // opposite things, or the other says `must` where we do not (we would send the
            // AVP without M).
            if matches!(
                (*m, *tm),
                ("must", "mustnot") | ("mustnot", "must") | ("may", "must")
            ) {
                diffs.push(format!("M {tm} (ours {m})"));
            }
            if !diffs.is_empty() {
                let word = match (
                    diffs.iter().any(|d| d.starts_with("M ")),
                    spec_word(key.0, key.1),
                ) {
                    (true, Some(w)) => format!("; spec: {w}"),
                    _ => String::new(),
                };
                lines.push(format!(
                    "{label}: {name} ({} vendor {}): {}{word}",
                    key.0,
                    key.1,
                    diffs.join(", ")
                ));
            }
        }
        out.push_str(&format!(
            "# {label}: {shared} AVPs in common, {} differ\n",
            lines.len()
        ));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    let path = root().join("tests/codegen/golden/pack-cross-check.txt");
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != out {
        std::fs::write(&path, &out).unwrap();
        panic!(
            "{} was stale and has been rewritten; review with git diff",
            path.display()
        );
    }
}
