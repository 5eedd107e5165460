//! tshark as an independent decoder: for every bundled command, the bytes we encode decode in
//! Wireshark's dissector with the command code, every AVP code in order, selected values, and
//! no Malformed packet or expert error.
//!
//! Needs `tshark` on the PATH (`.ci/run` installs it). Set `DIAMETER_SKIP_TSHARK=1` to skip
//! on a machine without it; otherwise its absence is a failure.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::{Bytes, BytesMut};
use diameter_codegen::model::{BaseType, Dictionary, Rule, Target};
use diameter_runtime::codec::avp::AvpFlags;
use diameter_runtime::{dynamic, CommandFlags, Header, Message};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dictionary() -> Dictionary {
    let r = root().join("dictionaries");
    diameter_codegen::Config::new()
        .load(&[
            r.join("base.xml"),
            r.join("accounting.xml"),
            r.join("credit_control.xml"),
        ])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A plausible value for an AVP of this type.
fn sample(dict: &Dictionary, id: usize, depth: usize) -> dynamic::Avp {
    let a = &dict.avps[id];
    let mut flags = AvpFlags::NONE;
    if a.flags.must_m {
        flags = flags.with(AvpFlags::MANDATORY);
    }
    let raw = |data: Vec<u8>| {
        dynamic::Avp::from_raw(diameter_runtime::RawAvp::new(
            a.code,
            flags,
            a.vendor_id,
            data,
        ))
    };
    let first_item = a.items.first().map(|i| i.code);
    match a.ty {
        BaseType::Grouped => {
            let mut children = fill(dict, &a.rules, depth + 1, false);
            if children.is_empty() && a.rules.iter().any(|r| r.target == Target::Wildcard) {
                // A Grouped AVP whose grammar is only `*[ AVP ]` (Filter-Rule here) is not left
                // empty: it carries the extension AVP.
                children.push(dynamic::Avp::from_raw(diameter_runtime::RawAvp::new(
                    65000,
                    AvpFlags::VENDOR,
                    10415,
                    Bytes::from_static(b"extension"),
                )));
            }
            dynamic::Avp::grouped(a.code, flags, a.vendor_id, children)
        }
        BaseType::Integer32 | BaseType::Enumerated => {
            raw((first_item.unwrap_or(1) as i32).to_be_bytes().to_vec())
        }
        BaseType::Unsigned32 => match a.name.as_str() {
            "Result-Code" | "Experimental-Result-Code" => raw(2001u32.to_be_bytes().to_vec()),
            "Auth-Application-Id" | "Acct-Application-Id" => raw(4u32.to_be_bytes().to_vec()),
            "Vendor-Id" | "Supported-Vendor-Id" => raw(10415u32.to_be_bytes().to_vec()),
            _ => raw((first_item.unwrap_or(7) as u32).to_be_bytes().to_vec()),
        },
        BaseType::Integer64 | BaseType::Unsigned64 => raw(42u64.to_be_bytes().to_vec()),
        BaseType::Float32 => raw(1.5f32.to_be_bytes().to_vec()),
        BaseType::Float64 => raw(1.5f64.to_be_bytes().to_vec()),
        BaseType::Time => raw(diameter_runtime::Time::now().0.to_be_bytes().to_vec()),
        BaseType::Address => raw(vec![0, 1, 192, 0, 2, 1]),
        BaseType::DiameterIdentity => match a.name.as_str() {
            n if n.ends_with("Realm") => raw(b"example.net".to_vec()),
            _ => raw(b"peer.example.net".to_vec()),
        },
        BaseType::DiameterUri => raw(b"aaa://peer.example.net:3868;transport=tcp".to_vec()),
        BaseType::Utf8String => match a.name.as_str() {
            "Session-Id" => raw(b"client.example.net;1732275200;1".to_vec()),
            "Subscription-Id-Data" => raw(b"491711234567".to_vec()),
            // An IMSI (TS 23.003 2.2): the 3GPP applications carry one here and Wireshark checks it.
            "User-Name" => raw(b"262011234567890".to_vec()),
            // MCC and MNC digits (TS 29.061 16.4.7.2).
            "3GPP-IMSI-MCC-MNC" | "3GPP-GGSN-MCC-MNC" | "3GPP-SGSN-MCC-MNC" => {
                raw(b"26201".to_vec())
            }
            // MCC, MNC, LAC and RAC in hex digits (TS 29.061 17.7.12).
            "RAI" => raw(b"26201A2C10A".to_vec()),
            _ => raw(b"text".to_vec()),
        },
        BaseType::OctetString => match a.name.as_str() {
            // IMEISV, 8 BCD bytes, which Wireshark checks.
            "User-Equipment-Info-Value" => {
                raw(vec![0x53, 0x86, 0x09, 0x10, 0x20, 0x30, 0x40, 0x05])
            }
            // An EAP Response/Identity packet (RFC 4072 4.1.1, RFC 3748 4).
            "EAP-Payload" | "EAP-Reissued-Payload" => {
                raw(vec![2, 1, 0, 9, 1, b'u', b's', b'e', b'r'])
            }
            // Bare IPv4 addresses (RFC 4005 6.11.1, 6.15.1, kept by RFC 7155; TS 29.061 16.4.7.2).
            "Framed-IP-Address" | "Login-IP-Host" | "3GPP-SGSN-Address" | "3GPP-GGSN-Address" => {
                raw(vec![192, 0, 2, 1])
            }
            // An IPv4 netmask (RFC 4005 6.11.2).
            "Framed-IP-Netmask" => raw(vec![255, 255, 255, 0]),
            // Reserved, prefix length, prefix (RFC 4005 6.11.6, RFC 3162 2.3).
            "Framed-IPv6-Prefix" => raw(vec![0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0]),
            // Bare IPv6 addresses (TS 29.061 16.4.7.2, 17.7.20).
            "3GPP-CG-IPv6-Address"
            | "3GPP-SGSN-IPv6-Address"
            | "3GPP-GGSN-IPv6-Address"
            | "MBMS-GGSN-IPv6-Address" => raw(vec![
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            ]),
            // A count less one, then 2-octet service area codes (TS 29.061 17.7.6).
            "MBMS-Service-Area" => raw(vec![0, 0, 1]),
            // E.164 numbers as TBCD strings (TS 29.329 6.3.2, TS 29.272 7.3.85).
            "MSISDN" | "GMLC-Number" => raw(vec![0x94, 0x71, 0x11, 0x32, 0x54, 0x76]),
            // MCC 262, MNC 01 in three octets (TS 29.272 7.3.9, 7.3.191).
            "Visited-PLMN-Id" | "Group-PLMN-Id" => raw(vec![0x62, 0xf2, 0x10]),
            // No optional fields, a 4-octet SSID (TS 29.061 16.4.7.2, TS 29.274 8.100).
            "TWAN-Identifier" => raw(vec![0, 4, b's', b's', b'i', b'd']),
            // LCS-AP Positioning-Data, one E-CID method used (TS 29.172 7.4.18, TS 29.171).
            "EUTRAN-Positioning-Data" => raw(vec![0x40, 0x0b]),
            _ => raw(b"octets".to_vec()),
        },
        BaseType::IpFilterRule => raw(b"permit out ip from any to assigned".to_vec()),
        BaseType::QosFilterRule => raw(b"permit in ip from any to any".to_vec()),
    }
}

/// The AVPs of a grammar: each required one, and (at the top level) one of each optional one.
fn fill(dict: &Dictionary, rules: &[Rule], depth: usize, optional: bool) -> Vec<dynamic::Avp> {
    let mut out = Vec::new();
    for r in rules {
        match r.target {
            Target::Wildcard if r.min > 0 => {
                // Failed-AVP's 1*{AVP}: carry an Origin-Host.
                out.push(dynamic::Avp::from_raw(diameter_runtime::RawAvp::new(
                    264,
                    AvpFlags::MANDATORY,
                    0,
                    Bytes::from_static(b"peer.example.net"),
                )));
            }
            Target::Wildcard if depth == 0 && optional => {
                // An extension AVP, kept byte-exact where the grammar puts it.
                out.push(dynamic::Avp::from_raw(diameter_runtime::RawAvp::new(
                    65000,
                    AvpFlags::VENDOR,
                    10415,
                    Bytes::from_static(b"extension"),
                )));
            }
            Target::Wildcard => {}
            Target::Avp(id) => {
                let wanted = r
                    .min
                    .max(u32::from(optional && depth < 2 && r.max != Some(0)));
                for _ in 0..wanted {
                    out.push(sample(dict, id, depth));
                }
            }
        }
    }
    if out.is_empty() && depth > 0 {
        // A Grouped AVP whose members are all optional still carries one.
        if let Some(id) = rules.iter().find_map(|r| match r.target {
            Target::Avp(id) if r.max != Some(0) => Some(id),
            _ => None,
        }) {
            out.push(sample(dict, id, depth));
        }
    }
    out
}

/// The (code, vendor) of every AVP in the Diameter dictionary of the installed Wireshark
/// (under its global configuration folder, as `tshark -G folders` names it), read with our
/// Wireshark importer; empty if there is none.
fn wireshark_dictionary_avps() -> std::collections::HashSet<(u32, u32)> {
    let folders = Command::new("tshark")
        .args(["-G", "folders"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let Some(file) = folders
        .lines()
        .find_map(|l| l.strip_prefix("Global configuration:"))
        .map(|d| Path::new(d.trim()).join("diameter/dictionary.xml"))
        .filter(|f| f.exists())
    else {
        return Default::default();
    };
    let d = diameter_codegen::Config::new()
        .load(&[&file])
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    d.avps.iter().map(|a| (a.code, a.vendor_id)).collect()
}

/// AVP codes in wire order, not looking inside AVPs Wireshark does not know.
fn codes(avps: &[dynamic::Avp], opens: &dyn Fn(u32, u32) -> bool, out: &mut Vec<u32>) {
    for a in avps {
        out.push(a.code);
        if opens(a.code, a.vendor_id) {
            codes(a.children(), opens, out);
        }
    }
}

struct Case {
    name: String,
    bytes: Bytes,
    code: u32,
    avps: Vec<dynamic::Avp>,
}

/// Builds the message, runs it through the typed struct `T`, returns its typed encoding.
fn case<T: Message + PartialEq + std::fmt::Debug>(
    dict: &Dictionary,
    rules: &[Rule],
    app: u32,
) -> Case {
    let lookup = |c: u32, v: u32| {
        dict.avps
            .iter()
            .any(|a| a.code == c && a.vendor_id == v && a.ty == BaseType::Grouped)
    };
    let avps = fill(dict, rules, 0, true);
    let mut flags = T::FLAGS;
    if T::COMMAND_CODE == 0 {
        flags = flags.with(CommandFlags::PROXIABLE);
    }
    let code = if T::COMMAND_CODE == 0 {
        272
    } else {
        T::COMMAND_CODE
    };
    let msg = dynamic::Message {
        header: Header::new(flags, code, app, 0x1111, 0x2222),
        avps,
    };
    let input = msg.encode();
    let (header, typed) = T::decode(input.clone()).unwrap_or_else(|e| panic!("{}: {e}", T::NAME));
    let mut out = BytesMut::new();
    typed.encode_with_header(&header, &mut out);
    let bytes = out.freeze();
    let back = dynamic::Message::decode_with(bytes.clone(), &lookup).unwrap();
    assert_eq!(
        bytes,
        input,
        "{}: typed re-encoding differs from the input",
        T::NAME
    );
    Case {
        name: T::NAME.to_string(),
        bytes,
        code,
        avps: back.avps,
    }
}

fn rules_of<'a>(dict: &'a Dictionary, app: u32, name: &str) -> &'a [Rule] {
    let a = dict.application(app).unwrap();
    if name == "Answer-Message" {
        return a.answer_message.as_ref().unwrap();
    }
    let (cmd, kind) = name.rsplit_once('-').unwrap();
    let c = a.commands.iter().find(|c| c.name == cmd).unwrap();
    if kind == "Request" {
        &c.request
    } else {
        &c.answer
    }
}

/// A pcap of one TCP packet per message, each on its own connection to port 3868.
fn pcap(cases: &[Case]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, c) in cases.iter().enumerate() {
        let mut pkt = Vec::new();
        pkt.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = 20 + 20 + c.bytes.len();
        let src = Ipv4Addr::new(192, 0, 2, 1).octets();
        let dst = Ipv4Addr::new(192, 0, 2, 2).octets();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        pkt.extend_from_slice(&ip);
        let sport = 40000 + i as u16;
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sport.to_be_bytes());
        tcp.extend_from_slice(&3868u16.to_be_bytes());
        tcp.extend_from_slice(&1u32.to_be_bytes());
        tcp.extend_from_slice(&1u32.to_be_bytes());
        tcp.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        pkt.extend_from_slice(&tcp);
        pkt.extend_from_slice(&c.bytes);
        f.extend_from_slice(&(i as u32 + 1).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        f.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        f.extend_from_slice(&pkt);
    }
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

#[test]
fn tshark_decodes_every_bundled_command() {
    if std::env::var_os("DIAMETER_SKIP_TSHARK").is_some() {
        eprintln!("DIAMETER_SKIP_TSHARK set: not running tshark");
        return;
    }
    let have = Command::new("tshark").arg("--version").output();
    assert!(
        have.is_ok_and(|o| o.status.success()),
        "tshark is not installed (apt-get install tshark, or set DIAMETER_SKIP_TSHARK=1)"
    );
    use diameter_dictionaries::credit_control as cc;
    use diameter_runtime::base::{base, base_accounting as acct};
    let d = dictionary();
    macro_rules! cases {
        ($($ty:ty, $app:expr, $name:literal);* $(;)?) => {
            vec![$(case::<$ty>(&d, rules_of(&d, $app, $name), if $app == 3 || $app == 4 { $app } else { 0 }),)*]
        };
    }
    let cases = cases! {
        base::CapabilitiesExchangeRequest, 0, "Capabilities-Exchange-Request";
        base::CapabilitiesExchangeAnswer, 0, "Capabilities-Exchange-Answer";
        base::DeviceWatchdogRequest, 0, "Device-Watchdog-Request";
        base::DeviceWatchdogAnswer, 0, "Device-Watchdog-Answer";
        base::DisconnectPeerRequest, 0, "Disconnect-Peer-Request";
        base::DisconnectPeerAnswer, 0, "Disconnect-Peer-Answer";
        base::ReAuthRequest, 0, "Re-Auth-Request";
        base::ReAuthAnswer, 0, "Re-Auth-Answer";
        base::SessionTerminationRequest, 0, "Session-Termination-Request";
        base::SessionTerminationAnswer, 0, "Session-Termination-Answer";
        base::AbortSessionRequest, 0, "Abort-Session-Request";
        base::AbortSessionAnswer, 0, "Abort-Session-Answer";
        base::AnswerMessage, 0, "Answer-Message";
        acct::AccountingRequest, 3, "Accounting-Request";
        acct::AccountingAnswer, 3, "Accounting-Answer";
        cc::CreditControlRequest, 4, "Credit-Control-Request";
        cc::CreditControlAnswer, 4, "Credit-Control-Answer";
    };
    let problems = tshark_problems(&d, &cases, "bundled");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs tshark over the cases and lists every disagreement, Malformed packet and expert
/// warning or error.
fn tshark_problems(d: &Dictionary, cases: &[Case], label: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("diameter-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{label}.pcap"));
    std::fs::write(&file, pcap(cases)).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&file)
        .args([
            "-d",
            "tcp.port==3868,diameter",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ])
        .args([
            "-e",
            "frame.number",
            "-e",
            "diameter.cmd.code",
            "-e",
            "diameter.avp.code",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.expert.message",
            "-e",
            "diameter.Session-Id",
            "-e",
            "diameter.Origin-Host",
        ])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), cases.len(), "one line per message:\n{text}");
    // The AVPs this Wireshark knows, by the fields its dissector registers.
    let fields = Command::new("tshark")
        .args(["-G", "fields"])
        .output()
        .expect("tshark -G fields");
    let fields = String::from_utf8_lossy(&fields.stdout);
    let known_names: std::collections::HashSet<&str> = fields
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .filter_map(|f| f.strip_prefix("diameter."))
        .collect();
    // By code alone: Wireshark's field names do not carry the vendor.
    let known = |code: u32| {
        d.avps
            .iter()
            .filter(|a| a.code == code)
            .any(|a| known_names.contains(a.name.as_str()))
    };
    // Wireshark opens a Grouped AVP it knows: by one of our names, or by code and vendor in
    // its own dictionary files (an AVP it knows under an older spec name).
    let ws_avps = wireshark_dictionary_avps();
    let opens = |code: u32, vendor: u32| ws_avps.contains(&(code, vendor)) || known(code);
    let mut problems = Vec::new();
    for (line, c) in lines.iter().zip(cases) {
        let f: Vec<&str> = line.split('|').collect();
        if f[1] != c.code.to_string() {
            problems.push(format!(
                "{}: tshark command code {} (want {})",
                c.name, f[1], c.code
            ));
        }
        let mut avp_codes = Vec::new();
        codes(&c.avps, &opens, &mut avp_codes);
        let want: Vec<String> = avp_codes.iter().map(|x| x.to_string()).collect();
        if f[2] != want.join(",") {
            problems.push(format!(
                "{}: tshark AVP codes {}\n   we encoded      {}",
                c.name,
                f[2],
                want.join(",")
            ));
        }
        if !f[3].is_empty() {
            problems.push(format!("{}: Malformed packet", c.name));
        }
        // Expert infos of warning (0x00600000) or error (0x00800000) severity, except Wireshark
        // naming an AVP its dictionary lacks.
        let severities = f[4].split(',');
        let messages = f[5].split(',').filter(|m| !m.starts_with(" if you know"));
        for (sev, msg) in severities.zip(messages) {
            let unknown_to_wireshark = msg
                .strip_prefix("Unknown AVP ")
                .and_then(|r| r.split(' ').next())
                .and_then(|code| code.parse::<u32>().ok())
                .is_some_and(|code| !known(code));
            if (sev == "6291456" || sev == "8388608") && !unknown_to_wireshark {
                problems.push(format!("{}: expert info {sev}: {msg}", c.name));
            }
        }
        if avp_codes.contains(&263) && f[6] != "client.example.net;1732275200;1" {
            problems.push(format!("{}: Session-Id {}", c.name, f[6]));
        }
        if avp_codes.contains(&264) && !f[7].starts_with("peer.example.net") {
            problems.push(format!("{}: Origin-Host {}", c.name, f[7]));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    problems
}

/// The bundled dictionaries with the application pack.
fn pack_dictionary() -> Dictionary {
    let r = root().join("dictionaries");
    let mut files = vec![r.join("accounting.xml"), r.join("credit_control.xml")];
    let mut pack: Vec<PathBuf> = std::fs::read_dir(r.join("pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    pack.sort();
    files.extend(pack);
    diameter_codegen::Config::new()
        .load(&files)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every command of the application pack: a message with each required AVP, each optional
/// one at the top level and an extension AVP where the grammar has `*[ AVP ]` decodes into
/// its generated type and encodes back byte for byte.
fn pack_cases(d: &Dictionary) -> Vec<Case> {
    macro_rules! pack_cases {
        ($($ty:ty, $app:expr, $name:literal);* $(;)?) => {
            vec![$(case::<$ty>(d, rules_of(d, $app, $name), $app),)*]
        };
    }
    include!(concat!(env!("OUT_DIR"), "/pack_cases.rs"))
}

#[test]
fn every_pack_command_round_trips_byte_exact() {
    let d = pack_dictionary();
    let cases = pack_cases(&d);
    let commands: std::collections::HashSet<u32> = cases.iter().map(|c| c.code).collect();
    assert!(cases.len() >= 148, "{} messages", cases.len());
    assert!(commands.len() >= 45, "{} command codes", commands.len());
}

/// Wireshark's view of every pack message (diagnostic output for now: see the test below).
#[test]
fn tshark_decodes_the_pack() {
    if std::env::var_os("DIAMETER_SKIP_TSHARK").is_some() {
        return;
    }
    let d = pack_dictionary();
    let cases = pack_cases(&d);
    let problems = tshark_problems(&d, &cases, "pack");
    // What is left is Wireshark's (4.0): applications it does not know (Nt, St), the NAT
    // Control AVPs of RFC 6736 it lacks, and Framed-IPX-Network, which it reads as
    // UTF8String where the AVP's own text says Unsigned32. The list is kept so a change
    // shows.
    let mut text = problems.join("\n");
    text.push('\n');
    let path = root().join("tests/codec/golden/tshark-pack.txt");
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != text {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        panic!(
            "{} was stale and has been rewritten; review with git diff",
            path.display()
        );
    }
}
