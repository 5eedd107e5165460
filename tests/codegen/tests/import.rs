//! Importers against the facts this project already owns: OTP's own `.dia` dictionaries
//! for the base protocol, base accounting and credit control give the same AVPs and command
//! grammars as the bundled native ones, except for differences listed here with the reason.

use std::collections::BTreeMap;
use std::path::PathBuf;

use codegen_tests::{reference_dir, root};

use diameter_codegen::model::{Dictionary, Target};
use diameter_codegen::Config;

/// name → (code, vendor, type, M, V) of every AVP.
fn avps(d: &Dictionary) -> BTreeMap<String, (u32, u32, String, bool, bool)> {
    d.avps
        .iter()
        .filter(|a| matches!(a.app, 0 | 3 | 4))
        .map(|a| {
            (
                a.name.clone(),
                (
                    a.code,
                    a.vendor_id,
                    a.ty.name().to_string(),
                    a.flags.must_m,
                    a.vendor_id != 0,
                ),
            )
        })
        .collect()
}

/// (application, code, "req"/"ans") → rules as "AVP min max position".
fn grammars(d: &Dictionary) -> BTreeMap<(u32, u32, &'static str), Vec<String>> {
    let mut out = BTreeMap::new();
    for app in d.applications.iter().filter(|a| matches!(a.id, 0 | 3 | 4)) {
        for c in &app.commands {
            for (kind, rules) in [("req", &c.request), ("ans", &c.answer)] {
                let mut v: Vec<String> = rules
                    .iter()
                    .map(|r| {
                        let name = match r.target {
                            Target::Wildcard => "AVP".to_string(),
                            Target::Avp(id) => d.avps[id].name.clone(),
                        };
                        format!("{name} {} {:?} {:?}", r.min, r.max, r.position)
                    })
                    .collect();
                v.sort();
                out.insert((app.id, c.code, kind), v);
            }
        }
    }
    out
}

#[test]
fn otp_dictionaries_match_the_bundled_ones() {
    let erl = reference_dir().join("erlang");
    if !erl.is_dir() {
        panic!("{} is missing", erl.display());
    }
    let theirs = Config::new()
        .load(&[
            erl.join("base_rfc6733.dia"),
            erl.join("acct_rfc6733.dia"),
            erl.join("rfc4006_cc.dia"),
            erl.join("rfc4005_nas.dia"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let ours = Config::new()
        .load(&[
            root().join("dictionaries/accounting.xml"),
            root().join("dictionaries/credit_control.xml"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));

    let (a, b) = (avps(&theirs), avps(&ours));
    let mut report = Vec::new();
    for (name, t) in &a {
        match b.get(name) {
            Some(o) if o == t => {}
            Some(o) => report.push(format!("AVP {name}: otp {t:?}, ours {o:?}")),
            None => report.push(format!("AVP {name}: only in otp")),
        }
    }
    for name in b.keys().filter(|n| !a.contains_key(*n)) {
        report.push(format!("AVP {name}: only ours"));
    }
    let (ga, gb) = (grammars(&theirs), grammars(&ours));
    for (k, rules) in &ga {
        match gb.get(k) {
            Some(o) if o == rules => {}
            Some(o) => {
                let only_otp: Vec<_> = rules.iter().filter(|r| !o.contains(r)).collect();
                let only_ours: Vec<_> = o.iter().filter(|r| !rules.contains(r)).collect();
                report.push(format!("{k:?}: otp {only_otp:?}, ours {only_ours:?}"));
            }
            None => report.push(format!("{k:?}: only in otp")),
        }
    }
    for k in gb.keys().filter(|k| !ga.contains_key(*k)) {
        report.push(format!("{k:?}: only ours"));
    }
    // Every difference, with the reason it is one.
    let rfc8506 = "RFC 8506 (ours) added it to RFC 4006 (OTP's rfc4006_cc)";
    let mut expected: Vec<(String, &str)> = [
        "QoS-Final-Unit-Indication",
        "Redirect-Address-IPAddress",
        "Redirect-Address-SIP-URI",
        "Redirect-Address-URL",
        "Redirect-Server-Extension",
        "Subscription-Id-E164",
        "Subscription-Id-Extension",
        "Subscription-Id-IMSI",
        "Subscription-Id-NAI",
        "Subscription-Id-Private",
        "Subscription-Id-SIP-URI",
        "User-Equipment-Info-EUI64",
        "User-Equipment-Info-Extension",
        "User-Equipment-Info-IMEI",
        "User-Equipment-Info-IMEISV",
        "User-Equipment-Info-MAC",
        "User-Equipment-Info-ModifiedEUI64",
    ]
    .iter()
    .map(|n| (format!("AVP {n}: only ours"), rfc8506))
    .collect();
    expected.extend([
        (
            "AVP E2E-Sequence: only ours".to_string(),
            "RFC 6733 §6.15 keeps it; OTP's base_rfc6733 leaves it out",
        ),
        (
            "AVP Filter-Id: only ours".to_string(),
            "OTP takes it from NASREQ (application 1, not compared); RFC 8506 uses it in Final-Unit-Indication",
        ),
        (
            "AVP Filter-Rule: only ours".to_string(),
            "as Filter-Id (RFC 8506 §8.34 Restriction-Filter-Rule's sibling in QoS-Final-Unit-Indication)",
        ),
    ]);
    let session_forbidden = "RFC 6733 §10.1 table: Session-Id is 0 in CER/CEA, DPR/DPA, DWR/DWA";
    for code in [257, 280, 282] {
        for kind in ["req", "ans"] {
            expected.push((
                format!("(0, {code}, \"{kind}\"): otp [], ours [\"Session-Id 0 Some(0) None\"]"),
                session_forbidden,
            ));
        }
    }
    for kind in ["ans", "req"] {
        expected.push((
            format!("(0, 271, \"{kind}\"): only in otp"),
            "OTP's base_rfc6733 also defines ACR/ACA in application 0; ours keep them in 3",
        ));
    }
    expected.push((
        "(4, 272, \"ans\"): otp [], ours [\"QoS-Final-Unit-Indication 0 Some(1) None\"]".into(),
        rfc8506,
    ));
    expected.push((
        "(4, 272, \"req\"): otp [], ours [\"Subscription-Id-Extension 0 None None\", \"User-Equipment-Info-Extension 0 Some(1) None\"]".into(),
        rfc8506,
    ));
    let mut want: Vec<&str> = expected.iter().map(|(l, _)| l.as_str()).collect();
    let mut got: Vec<&str> = report.iter().map(String::as_str).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "differences changed:\n{}", report.join("\n"));
}

/// The model with everything that says where it was read from cleared, to compare loads of
/// different files.
fn located_nowhere(mut d: Dictionary) -> String {
    use diameter_codegen::Loc;
    let clear_rules = |rules: &mut Vec<diameter_codegen::model::Rule>| {
        for r in rules {
            r.loc = Loc::default();
        }
    };
    for a in &mut d.avps {
        a.loc = Loc::default();
        clear_rules(&mut a.rules);
        for i in &mut a.items {
            i.loc = Loc::default();
        }
    }
    for app in &mut d.applications {
        app.loc = Loc::default();
        app.file = 0;
        for c in &mut app.commands {
            c.loc = Loc::default();
            clear_rules(&mut c.request);
            clear_rules(&mut c.answer);
        }
        if let Some(r) = &mut app.answer_message {
            clear_rules(r);
        }
    }
    format!("{:#?}\n{:#?}\n{:#?}", d.vendors, d.applications, d.avps)
}

/// Sets of reference files that load together, by directory.
fn loadable_sets() -> Vec<(&'static str, Vec<PathBuf>)> {
    let r = reference_dir();
    let files = |dir: &str, names: &[&str]| -> Vec<PathBuf> {
        names.iter().map(|n| r.join(dir).join(n)).collect()
    };
    let mut sigscale: Vec<PathBuf> = std::fs::read_dir(r.join("sigscale"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    // Both define Credit-Control in application 4; Ro's is the one kept.
    sigscale.retain(|p| {
        p.extension().is_some_and(|e| e == "dia") && !p.ends_with("cc_application_rfc4006.dia")
    });
    sigscale.sort();
    vec![
        (
            "erlang (RFC 6733 set)",
            files(
                "erlang",
                &[
                    "base_rfc6733.dia",
                    "acct_rfc6733.dia",
                    "relay.dia",
                    "doic_rfc7683.dia",
                    "rfc4005_nas.dia",
                    "rfc4006_cc.dia",
                    "rfc4072_eap.dia",
                    "rfc4590_digest.dia",
                ],
            ),
        ),
        (
            "erlang (RFC 3588 set)",
            files("erlang", &["base_rfc3588.dia", "base_accounting.dia"]),
        ),
        ("sigscale", sigscale),
    ]
}

/// Loading imported files and loading their conversion to native XML give the same model.
#[test]
fn conversion_to_native_xml_keeps_the_model() {
    for (name, files) in loadable_sets() {
        let direct = Config::new()
            .load(&files)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let converted = Config::new()
            .convert(&files)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let tmp = std::env::temp_dir().join(format!(
            "import-roundtrip-{}-{}.xml",
            std::process::id(),
            name.len()
        ));
        std::fs::write(&tmp, &converted.xml).unwrap();
        let again = Config::new().load(&[&tmp]);
        let _ = std::fs::remove_file(&tmp);
        let again = again.unwrap_or_else(|e| panic!("{name}: converted XML: {e}"));
        assert!(
            located_nowhere(direct) == located_nowhere(again),
            "{name}: the converted document loads into another model"
        );
    }
}

/// What importing every reference file reports (import diagnostics per directory, then the
/// load's errors), kept as a golden list so a change in any importer shows in review.
#[test]
fn reference_imports_report_as_expected() {
    use diameter_codegen::import::{import, Format, Input};
    let r = reference_dir();
    let mut out = String::new();
    let sets: [(&str, &str, Format); 7] = [
        ("erlang", "dia", Format::Dia),
        ("diafuzzer", "dia", Format::Dia),
        ("sigscale", "dia", Format::Dia),
        // The root file: it includes the others.
        ("wireshark", "dictionary.xml", Format::Wireshark),
        ("freediameter/dict_legacy", "xml", Format::FreeDiameterXml),
        // The dictionaries, not their schema.
        (
            "freediameter/dict_json",
            "/dictionary_",
            Format::FreeDiameterJson,
        ),
        ("freediameter", "csv", Format::FreeDiameterCsv),
    ];
    for (dir, ending, format) in sets {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(r.join(dir))
            .unwrap_or_else(|e| panic!("{}: {e}", r.join(dir).display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let p = p.to_string_lossy();
                p.ends_with(ending) || (ending.starts_with('/') && p.contains(ending))
            })
            .collect();
        paths.sort();
        let texts: Vec<String> = paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        let inputs: Vec<Input<'_>> = paths
            .iter()
            .zip(&texts)
            .enumerate()
            .map(|(file, (path, text))| Input { file, path, text })
            .collect();
        let imported = import(format, &inputs);
        assert_eq!(
            imported.roots.len(),
            paths.len(),
            "{dir}: every file imports"
        );
        out.push_str(&format!("# {dir}: {} files\n", paths.len()));
        for d in &imported.diagnostics {
            let file = paths[d.loc.file].file_name().unwrap().to_string_lossy();
            let sev = format!("{:?}", d.severity).to_lowercase();
            out.push_str(&format!(
                "{file}:{}: {sev}[{}]: {}\n",
                d.loc.line,
                d.kind.name(),
                d.message
            ));
        }
        let loaded = Config::new().format(Some(format)).load(&paths);
        if let Err(diameter_codegen::Error::Invalid(diags)) = loaded {
            for d in diags
                .iter()
                .filter(|d| d.severity == diameter_codegen::Severity::Error)
            {
                let file = d.file.file_name().unwrap_or_default().to_string_lossy();
                out.push_str(&format!(
                    "load {file}:{}: error[{}]: {}\n",
                    d.loc.line,
                    d.kind.name(),
                    d.message
                ));
            }
        }
    }
    codegen_tests::check_golden("tests/codegen/golden/import-diagnostics.txt", &out);
}
