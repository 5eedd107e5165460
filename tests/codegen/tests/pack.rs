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

/// The specification's word on every listed difference of an AVP (code, vendor): the clause
/// that settles its name, type or M rule, and whether it agrees with us ("ours"), with the
/// other source ("theirs"; "fixed" when our dictionary now follows it), with neither, or
/// leaves the point "open". M rules of the 3GPP tables are read through freeDiameter's CSV,
/// which copies them row by row with table and version; clause text through the TS quotes of
/// corsac-diameter and the DDFs of Eclipse Titan; RFC text from the RFCs. The word covers
/// every line of the AVP, so specific codes come before the ranges. `None`: not settled yet.
fn spec_word(code: u32, vendor: u32) -> Option<&'static str> {
    Some(match (vendor, code) {
        // IETF
        (0, 23) => "RFC 7155 §4.4.10.6.1: Unsigned32 (ours)",
        (0, 50) => "RFC 6733 §9.8.5: Acct-Multi-Session-Id (ours)",
        (0, 68) => "RFC 7155 §4.6.10: Acct-Tunnel-Connection (ours)",
        (0, 89) => "RFC 4372 §2.1-2.2: Chargeable-User-Identity, an opaque String (ours)",
        (0, 102) => "RFC 4072 §4.1.4: OctetString (ours)",
        (0, 103..=121) => {
            "RFC 4740 §9.5.6 imports them from RFC 4590 (now 5090), whose fields are RADIUS \
             Text; no Diameter type is stated (open)"
        }
        (0, 122) => {
            "RFC 4740 §9.8 imports it from RFC 4590 (now 5090), a RADIUS Text field; no \
             Diameter type is stated (open)"
        }
        (0, 268) => "RFC 6733 §7.1: Unsigned32 (ours)",
        (0, 270) => "RFC 6733 §8.17: Unsigned32 (ours)",
        (0, 291) => "RFC 6733 §8.9: Unsigned32 (ours)",
        (0, 298) => "RFC 6733 §7.7: Unsigned32 (ours)",
        (0, 299) => "RFC 6733 §6.10: Unsigned32 (ours)",
        (0, 337) => "RFC 4004 §7.5: Unsigned32 (ours)",
        (0, 406) => "RFC 7155 §4.6.7: Accounting-Auth-Method (ours)",
        (0, 523) => {
            "RFC 5777 §4.1.7.7: heading IP-Mask-Bit-Mask-Width (ours), text and the §4.1.7.6 \
             grammar IP-Bit-Mask-Width (theirs); the RFC disagrees with itself (open)"
        }
        (0, 563..=565) => "RFC 5777 §4.2.4-4.2.6: Unsigned32 bit masks (ours)",
        // ETSI
        (13019, 301) => {
            "ES 283 034 7.3.2: OctetString; M rule unread (ergw, Wireshark: must), open"
        }
        (13019, 303) => "ES 283 034 7.3.4: Initial-Gate-Setting-Description (ours)",
        (13019, 350) => "ES 283 035 7.3.1: Location-Information (ours)",
        (13019, 353) => "ES 283 035 7.3.4: Requested-Information (ours)",
        (13019, 459) => "TS 183 017 7.3.33: Service-Class (ours)",
        (13019, 462) => "TS 183 017 7.3.38: UTF8String; M rule unread (open)",
        // 3GPP: TS 29.061 Gi/SGi and SGmb
        (10415, 2) => {
            "TS 29.061 16.4.7.2: a 32-bit unsigned value (ours); table 9a lists OctetString \
             (theirs); the TS disagrees with itself (open)"
        }
        (10415, 6 | 7) => {
            "TS 29.061 table 9a: M must not (theirs), as for 1-3, 5, 8-23, which ours sends \
             with M; freeDiameter: the TS is inconsistent on M (open)"
        }
        (10415, 10) => "TS 29.061 table 9a: OctetString (ours; 16.4.7.2 codes one UTF-8 digit)",
        (10415, 11) => {
            "TS 29.061 16.4.7.2: one octet of all ones, OctetString (fixed); not in table 9a, \
             so no M rule (open)"
        }
        (10415, 17) => "TS 29.061 16.4.7.2: 3GPP-IPv6-DNS-Servers (ours)",
        (10415, 29) => "TS 29.061 table 9a: TWAN-Identifier, no M (ours)",
        (10415, 4 | 24..=27) => "TS 29.061 table 9a: no M (ours)",
        (10415, 924) => "TS 29.061 20.5a.2: OctetString (ours)",
        (10415, 929 | 930) => "TS 29.061 table 20.5a.1: M must not (ours)",
        (10415, 931..=934) => "TS 29.061 table 20.5a.1: no M (ours)",
        // TS 29.109, 29.140, 29.154, 29.172, 29.173, 29.234
        (10415, 314) => "TS 29.234 table 10.1.1 (10.1.27), TS 29.230 table 7.1: Integer32 (fixed)",
        (10415, 402) => "TS 29.109 6.3.1.3: NAF-Id (ours; TS 29.230 keeps NAF-Hostname)",
        (10415, 1107) => {
            "TS 29.140 6.3.10: Sequence-Number (neither; the name is taken by TS 29.329 AVP \
             716)"
        }
        (10415, 1108) => {
            "TS 29.140 6.3.11: Recipient-Address (neither; the name is taken by TS 32.299 AVP \
             1201)"
        }
        (10415, 1116) => "TS 29.140 6.3.19: Status (ours)",
        (10415, 4204) => "TS 29.154 5.3.5: Time-Window (ours)",
        (10415, 2536) => "TS 29.172 7.4.41: Unsigned32 (ours)",
        (10415, 2537) => {
            "TS 29.172 7.4.42: OctetString (ours); table 7.4.1-1 lists Grouped (theirs) but \
             gives no grammar"
        }
        (10415, 2548) => {
            "TS 29.172 7.4.55: Termination-Cause (freeDiameter's; the name is taken by RFC 6733 \
             AVP 295), Unsigned32 (ours)"
        }
        (10415, 2553) => "TS 29.172 7.4.58: Unsigned32 (ours)",
        (10415, 2554) => "TS 29.172 7.4.59: 1xRTT-RCID (ours)",
        (10415, 2407) => "TS 29.173 6.4.9: PPR-Address (ours)",
        // TS 29.212, 29.214, 29.217
        (10415, 524) => "TS 29.214 5.3.7: OctetString (ours)",
        (10415, 528 | 530..=532) => "TS 29.214: no M (ours)",
        (10415, 2823) => "TS 29.212 table 5.3.0.1: no M; 5.3.110: Unsigned32 (ours)",
        (10415, 2824) => "TS 29.212 5.3.111: Unsigned32 (ours)",
        (10415, 2826) => "TS 29.212 5.3.113: Unsigned32 (ours)",
        (10415, 2847) => "TS 29.212 5.3.133: 3GPP-PS-Data-Off-Status (ours)",
        (10415, 2852 | 2853) => {
            "TS 29.212 5.3.138/5.3.139: Unsigned32 in tenths of a percent (ours; Float32 in \
             V15.9.0's clause text)"
        }
        (10415, 2855) => "TS 29.212 table 5.3.0.1: no M; 5.3.141: Unsigned32 (ours)",
        (10415, 1034 | 1046..=1048 | 1065 | 2821..=2855) => "TS 29.212 table 5.3.0.1: no M (ours)",
        (10415, 4013) => "TS 29.217: no M (ours)",
        // TS 29.229, 29.329 (Cx, Sh)
        (10415, 606) => {
            "TS 29.229 6.3.7: User-Data (theirs; the name is taken by TS 29.329 AVP 702)"
        }
        (10415, 607) => {
            "TS 29.229 6.3.8: SIP-Number-Auth-Items (freeDiameter's; the name is taken by RFC \
             4740 AVP 382)"
        }
        (10415, 608) => {
            "TS 29.229 6.3.9: SIP-Authentication-Scheme (freeDiameter's; the name is taken by RFC \
             4740 AVP 377)"
        }
        (10415, 609) => {
            "TS 29.229 6.3.10: SIP-Authenticate (freeDiameter's; the name is taken by RFC 4740 \
             AVP 379)"
        }
        (10415, 610) => {
            "TS 29.229 6.3.11: SIP-Authorization (freeDiameter's; the name is taken by RFC 4740 \
             AVP 380)"
        }
        (10415, 612) => {
            "TS 29.229 6.3.13: SIP-Auth-Data-Item (freeDiameter's; the name is taken by RFC 4740 \
             AVP 376)"
        }
        (10415, 613) => {
            "TS 29.229 6.3.14: SIP-Item-Number (freeDiameter's; the name is taken by RFC 4740 AVP \
             378)"
        }
        (10415, 634) => "TS 29.229 table 6.3.1: no M; 6.3.35: Wildcarded-Public-Identity (ours)",
        (10415, 628..=634 | 653..=658) => "TS 29.229 table 6.3.1: no M (ours)",
        (10415, 702) => "TS 29.329 6.3.3: User-Data (ours)",
        (10415, 719) => "TS 29.329 table 6.3.1: no M; 6.3.28: Unsigned32 (ours)",
        (10415, 708..=719) => "TS 29.329 table 6.3.1: no M (ours)",
        // TS 29.272, 29.273 (S6a, STa, SWx...)
        (10415, 1483) => {
            "TS 29.272 7.3.94: Service-Type (freeDiameter's; the name is taken by RFC 7155 AVP 6)"
        }
        (10415, 1488) => {
            "TS 29.272 7.3.101: Call-Barring-Info (ours; Call-Barring-Infor-List before V11.13)"
        }
        (10415, 1665) => "TS 29.272 7.3.176: Unsigned32 (ours)",
        (10415, 1682) => "TS 29.272 7.3.205: Unsigned32 (ours)",
        (10415, 1690) => "TS 29.272 7.3.214: Unsigned32 (ours)",
        (10415, 1702) => "TS 29.272 7.3.227: Unsigned32 (ours)",
        (10415, 1501..=1503) => "TS 29.273: M must (ours)",
        (10415, 1524 | 1525) => "TS 29.273: no M (ours)",
        (10415, 1532) => "TS 29.273 5.2.3.30: UTF8String, the MAC address as text (ours)",
        // TS 29.128, 29.336, 29.338, 29.344
        (10415, 4321) => "TS 29.128 table 6.4.1-1: no M (ours)",
        (10415, 3103) => "TS 29.336 6.4.3: Service-ID (ours)",
        (10415, 3165) => {
            "TS 29.336 8.4.61: Group-Report (ours; Group-Monitoring-Event-Report up to \
             V15.7.0)"
        }
        (10415, 3166) => {
            "TS 29.336 8.4.62: Group-Report-Item (ours; Group-Monitoring-Event-Report-Item up \
             to V15.7.0)"
        }
        (10415, 3302 | 3303) => "TS 29.338 table 6.3.3.1/1: M must (ours)",
        (10415, 3310..=3322) => "TS 29.338 table 5.3.3.1/1: M must (ours)",
        (10415, 3708) => {
            "TS 29.344 6.3.13: Unsigned32; table 6.3.1-1 omits the AVP, so no M rule (open)"
        }
        // TS 32.299 (Rf, Ro) and the OMA charging AVPs it carries
        (10415, 824) => {
            "TS 32.299 7.2.201: SIP-Method (freeDiameter's; the name is taken by RFC 4740 AVP 393)"
        }
        (10415, 861) => "TS 32.299 7.2.35: Integer32 (ours)",
        (10415, 872) => "TS 32.299 7.2.175: Reporting-Reason (ours)",
        (10415, 885) => "TS 32.299 7.2.117: Unsigned32 (ours)",
        (10415, 1263) => "TS 32.299 7.2.1: OctetString (ours)",
        (10415, 1301) => {
            "TS 32.299 7.2.160Da and the 7.2.160Db grammar: RAN-End-Timestamp (ours; table \
             7.2.0.1 says RAN-End-Time)"
        }
        (10415, 1303) => {
            "TS 32.299 7.2.160Dc and the 7.2.160Db grammar: RAN-Start-Timestamp (ours; table \
             7.2.0.1 says RAN-Start-Time)"
        }
        (10415, 2031) => "TS 32.299 7.2.111A: MMTel-SService-Type, Unsigned32 (ours)",
        (10415, 2032) => "TS 32.299 7.2.193: Unsigned32 (ours)",
        (10415, 2037) => "TS 32.299 7.2.37: Integer32 (ours)",
        (10415, 2039) => "TS 32.299 7.2.54: Integer32 (ours)",
        (10415, 2101) => "OMA-DDS-Charging_Data 8.4: UTF8String, M must (fixed)",
        (10415, 2102..=2104 | 2110..=2117) => "OMA-DDS-Charging_Data 8.4-8.5.6: M must (fixed)",
        (10415, 2603) => "TS 32.299 7.2.80A: IP-Realm-Default-Indication (ours)",
        (10415, 2604) => "TS 32.299 7.2.92A: Local-GW-Inserted-Indication (ours)",
        (10415, 2605) => "TS 32.299 7.2.233A: Transcoder-Inserted-Indication (ours)",
        (10415, 2708) => "TS 32.299 7.2.67A: UTF8String (ours)",
        (10415, 3416) => "TS 32.299 7.2.80B: ISUP-Cause, Grouped (fixed)",
        (10415, 3423) => "TS 32.299 7.2.80D: Unsigned32 (ours)",
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
                let word = spec_word(key.0, key.1)
                    .map(|w| format!("; spec: {w}"))
                    .unwrap_or_default();
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
