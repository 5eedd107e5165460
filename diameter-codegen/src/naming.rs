//! Rust names from dictionary names: one word splitter for types, fields, enum variants and
//! constants, so the same words always give the same name.
//!
//! A dictionary name is split into words at separators (`-`, `_`, spaces, dots) and at case
//! changes. Acronyms are words like any other, so they are capitalised like words:
//! `QoS-Final-Unit-Indication` is `QosFinalUnitIndication` / `qos_final_unit_indication`,
//! `User-Equipment-Info-ModifiedEUI64` is `user_equipment_info_modified_eui64`. Runs of
//! one-letter words are one acronym: `G-S-U-Pool-Reference` is `GsuPoolReference`.
//! Mixed-case abbreviations of the Diameter and 3GPP specifications (`IPv6`, `eNodeB`, `SWx`,
//! `PDUs` …) stay one word. A leading `3GPP` is spelled `Tgpp`, since identifiers cannot
//! start with a digit. The words are then cased by heck.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Mixed-case words that case changes must not split, longest first where one is a prefix
/// of another.
const WORDS: &[&str] = &[
    "IPv4v6", "IPv4", "IPv6", "PMIPv6", "DSMIPv6", "MIPv6", "MIPv4", "IKEv2", "eNodeB", "gNodeB",
    "HeNB", "eNB", "gNB", "ePDG", "eDRX", "xDSL", "xPON", "hSGW", "QoS", "QoP", "ProSe", "PoC",
    "AoC", "CoA", "ToS", "PtP", "WiMAX", "VoLTE", "VoNR", "VoWiFi", "MMTel", "WebRTC", "CIoT",
    "IoT", "MCVideo", "MCPTT", "MCData", "MMBox", "PiLTE", "CxDx", "SGmb", "SWx", "SWm", "SWa",
    "STa", "SLg", "SLh", "SGs", "SGi", "SGd", "JGx", "mIoT",
];

/// The words of a dictionary name, in their original case.
pub fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !token.is_empty() {
            split_token(token, &mut out);
        }
    }
    merge_letters(out)
}

/// Splits one alphanumeric token at case changes.
fn split_token(token: &str, out: &mut Vec<String>) {
    let b = token.as_bytes();
    let mut i = 0;
    let mut cur = String::new();
    while i < b.len() {
        if cur.is_empty() {
            if let Some(w) = known_word(&token[i..]) {
                out.push(w.to_string());
                i += w.len();
                continue;
            }
            // A lowercase letter before an acronym (eNB, hSGW): one word.
            if b[i].is_ascii_lowercase() && upper_run(&b[i + 1..]) >= 2 {
                let n = 1 + upper_run(&b[i + 1..]);
                let n = n - usize::from(starts_word(&b[i..], n));
                out.push(token[i..i + n].to_string());
                i += n;
                continue;
            }
        }
        let c = b[i];
        if !cur.is_empty() && boundary(b, i) {
            out.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(c as char);
        i += 1;
        // An acronym with a short plural or suffix (PDUs, IDs, SWx): the tail stays.
        if c.is_ascii_uppercase() && cur.len() >= 2 && cur.bytes().all(|x| !x.is_ascii_lowercase())
        {
            let tail = b[i..].iter().take_while(|x| x.is_ascii_lowercase()).count();
            let next_ok = b.get(i + tail).is_none_or(|x| !x.is_ascii_lowercase());
            if tail == 1 && b[i] == b's' && next_ok {
                cur.push('s');
                i += 1;
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
}

/// Whether the `n`-th byte of `b` begins a capitalised word (`ABCDef`: `D` begins `Def`).
fn starts_word(b: &[u8], n: usize) -> bool {
    n >= 2 && b.get(n).is_some_and(|x| x.is_ascii_lowercase())
}

fn upper_run(b: &[u8]) -> usize {
    b.iter().take_while(|x| x.is_ascii_uppercase()).count()
}

fn known_word(rest: &str) -> Option<&'static str> {
    WORDS
        .iter()
        .filter(|w| rest.starts_with(**w))
        .filter(|w| {
            rest.as_bytes()
                .get(w.len())
                .is_none_or(|x| !x.is_ascii_lowercase())
        })
        .max_by_key(|w| w.len())
        .copied()
}

/// A word starts at `b[i]`: lower or digit to upper (`modifiedEUI`), the last capital of a
/// run before a lowercase letter (`EUIValue`).
fn boundary(b: &[u8], i: usize) -> bool {
    let (p, c) = (b[i - 1], b[i]);
    if !c.is_ascii_uppercase() {
        return false;
    }
    // "PPPoE", "SMSoIP": capitals joined by "o" (over) are one word.
    let upper_at = |j: usize| b.get(j).is_some_and(u8::is_ascii_uppercase);
    if p == b'o' && i >= 3 && upper_at(i - 2) && upper_at(i - 3) {
        return false;
    }
    if p.is_ascii_lowercase() {
        return true;
    }
    if b.get(i + 1) == Some(&b'o') && upper_at(i + 2) {
        return false;
    }
    let next_lower = b.get(i + 1).is_some_and(|x| x.is_ascii_lowercase());
    if !next_lower {
        return false;
    }
    // "IPv6"-like versions stay with their acronym.
    if b.get(i + 1) == Some(&b'v') && b.get(i + 2).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    // A capital run with a short lowercase tail at the end is an interface name (SWx, STa).
    let tail = b[i + 1..]
        .iter()
        .take_while(|x| x.is_ascii_lowercase())
        .count();
    if p.is_ascii_uppercase() && tail <= 2 && i + 1 + tail == b.len() {
        return false;
    }
    p.is_ascii_uppercase() || p.is_ascii_digit()
}

/// Joins runs of one-letter words into one acronym (`G-S-U` is `GSU`), and a letter with
/// the number after it (`G.3` is `G3`).
fn merge_letters(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut prev_single = false;
    for w in words {
        let single = w.len() == 1 && w.as_bytes()[0].is_ascii_alphabetic();
        let number = w.bytes().all(|b| b.is_ascii_digit());
        if prev_single && (single || number) {
            out.last_mut().expect("previous word").push_str(&w);
        } else {
            out.push(w);
        }
        prev_single = single;
    }
    out
}

/// The words with a leading digit handled: `3GPP` is spelled `TGPP`.
fn spelled(name: &str) -> Vec<String> {
    let mut w = words(name);
    if let Some(first) = w.first_mut() {
        if let Some(rest) = first.strip_prefix("3GPP") {
            *first = format!("TGPP{rest}");
        } else if let Some(rest) = first.strip_prefix("3gpp") {
            *first = format!("tgpp{rest}");
        }
    }
    w
}

/// The words lowercased and joined by `-`: unambiguous input for heck's case conversions,
/// which split it exactly there.
fn normalized(name: &str) -> String {
    spelled(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("-")
}

/// `UpperCamelCase`: types and enum variants.
pub fn camel(name: &str) -> String {
    normalized(name).to_upper_camel_case()
}

/// `snake_case`: fields, modules and methods.
pub fn snake(name: &str) -> String {
    normalized(name).to_snake_case()
}

/// `SHOUTY_SNAKE_CASE`: constants.
pub fn shouty(name: &str) -> String {
    normalized(name).to_shouty_snake_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, snake_: &str, camel_: &str) {
        assert_eq!(snake(name), snake_, "snake of {name}");
        assert_eq!(camel(name), camel_, "camel of {name}");
    }

    #[test]
    fn acronyms_are_words() {
        check(
            "G-S-U-Pool-Reference",
            "gsu_pool_reference",
            "GsuPoolReference",
        );
        check(
            "QoS-Final-Unit-Indication",
            "qos_final_unit_indication",
            "QosFinalUnitIndication",
        );
        check(
            "User-Equipment-Info-ModifiedEUI64",
            "user_equipment_info_modified_eui64",
            "UserEquipmentInfoModifiedEui64",
        );
        check("CC-Money", "cc_money", "CcMoney");
        check("RAT-Type", "rat_type", "RatType");
        check(
            "User-Equipment-Info-IMEISV",
            "user_equipment_info_imeisv",
            "UserEquipmentInfoImeisv",
        );
        check("END_USER_E164", "end_user_e164", "EndUserE164");
        check("IPv6-Prefix", "ipv6_prefix", "Ipv6Prefix");
        check(
            "PDN-Connection-Charging-ID",
            "pdn_connection_charging_id",
            "PdnConnectionChargingId",
        );
        check("3GPP-IMSI", "tgpp_imsi", "TgppImsi");
        check("eNodeB-ID", "enodeb_id", "EnodebId");
        check("Max-PDUs", "max_pdus", "MaxPdus");
        check("SWx", "swx", "Swx");
        check("IPAddress", "ip_address", "IpAddress");
        check("CiscoSystems", "cisco_systems", "CiscoSystems");
        check("tNoAnswer", "t_no_answer", "TNoAnswer");
        check("hSGW-Address", "hsgw_address", "HsgwAddress");
        check(
            "UEReachabilityForIP",
            "ue_reachability_for_ip",
            "UeReachabilityForIp",
        );
        check("Session-Id", "session_id", "SessionId");
        check("DIAMETER_SUCCESS", "diameter_success", "DiameterSuccess");
        check(
            "MIP6-Feature-Vector",
            "mip6_feature_vector",
            "Mip6FeatureVector",
        );
        check("TargetID", "target_id", "TargetId");
        check(
            "PPPoA - PPP over ATM",
            "pppoa_ppp_over_atm",
            "PppoaPppOverAtm",
        );
        check("G.3 Fax", "g3_fax", "G3Fax");
    }

    #[test]
    fn shouty_matches_snake() {
        assert_eq!(
            shouty("QoS-Final-Unit-Indication"),
            "QOS_FINAL_UNIT_INDICATION"
        );
        assert_eq!(shouty("G-S-U-Pool-Identifier"), "GSU_POOL_IDENTIFIER");
    }
}
