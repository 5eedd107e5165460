//! Importers against the facts this project already owns: OTP's own `.dia` dictionaries
//! for the base protocol, base accounting and credit control give the same AVPs and command
//! grammars as the bundled native ones, except for differences listed here with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use diameter_codegen::model::{Dictionary, Target};
use diameter_codegen::Config;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference_dir() -> PathBuf {
    std::env::var_os("DIAMETER_REFERENCE_DICTIONARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference-dictionaries"))
}

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
