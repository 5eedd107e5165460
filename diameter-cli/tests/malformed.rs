//! Malformed-input corpus against a real `diameter serve`: every hand-built case goes out
//! on a fresh TCP connection and must get its exact RFC 6733 answer (Result-Code, E bit,
//! Failed-AVP, echoed header) or connection handling; after each case the server must
//! still take a new peer (CER, CCR answered 2001) and be idle.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::{cpu_ticks, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_diameter");
/// Every read waits at most this long.
const WAIT: Duration = Duration::from_secs(3);
/// A connection the server must drop by its 1 s timers is gone within this.
const CLOSE_SOON: Duration = Duration::from_secs(2);
/// Cases still waiting when this much time has passed are reported as not run.
const BUDGET: Duration = Duration::from_secs(100);
/// The limits the corpus relies on: 1 s to send the CER, 1 s for a frame, 8 pending peers.
const LIMITS: [&str; 6] = [
    "--cer-timeout",
    "1",
    "--frame-timeout",
    "1",
    "--max-pending",
    "8",
];

// Command flags.
const REQ: u8 = 0x80;
const PXY: u8 = 0x40;
const ERR: u8 = 0x20;
// AVP flags.
const VND: u8 = 0x80;
const MAND: u8 = 0x40;

const CER: u32 = 257;
const CCR: u32 = 272;
const DWR: u32 = 280;
const DPR: u32 = 282;
const APP_CC: u32 = 4;

const USER_NAME: u32 = 1;
const EVENT_TIMESTAMP: u32 = 55;
const HOST_IP_ADDRESS: u32 = 257;
const AUTH_APPLICATION_ID: u32 = 258;
const ACCT_APPLICATION_ID: u32 = 259;
const SESSION_ID: u32 = 263;
const ORIGIN_HOST: u32 = 264;
const VENDOR_ID: u32 = 266;
const RESULT_CODE: u32 = 268;
const PRODUCT_NAME: u32 = 269;
const DISCONNECT_CAUSE: u32 = 273;
const FAILED_AVP: u32 = 279;
const DESTINATION_REALM: u32 = 283;
const ORIGIN_REALM: u32 = 296;
const CC_REQUEST_NUMBER: u32 = 415;
const CC_REQUEST_TYPE: u32 = 416;
const CC_SUB_SESSION_ID: u32 = 419;
const CC_TIME: u32 = 420;
const RATING_GROUP: u32 = 432;
const SUBSCRIPTION_ID: u32 = 443;
const SUBSCRIPTION_ID_DATA: u32 = 444;
const USED_SERVICE_UNIT: u32 = 446;
const SUBSCRIPTION_ID_TYPE: u32 = 450;
const MSCC: u32 = 456;
const SERVICE_CONTEXT_ID: u32 = 461;

// ---------------------------------------------------------------------------------------
// Building messages by hand.

static NEXT_ID: AtomicU32 = AtomicU32::new(0x1000);

/// A hop-by-hop id not used before in this run.
fn next_id() -> u32 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn e2e(hbh: u32) -> u32 {
    hbh ^ 0x5eed_0000
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be24(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
}

/// A 20-byte header with Message-Length 20.
fn header(flags: u8, code: u32, app: u32, hbh: u32, e2e: u32) -> Vec<u8> {
    let mut h = vec![1, 0, 0, 20, flags];
    h.extend_from_slice(&code.to_be_bytes()[1..]);
    h.extend_from_slice(&app.to_be_bytes());
    h.extend_from_slice(&hbh.to_be_bytes());
    h.extend_from_slice(&e2e.to_be_bytes());
    h
}

fn set_len(m: &mut [u8], len: u32) {
    m[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
}

/// A message: header and AVPs, Message-Length filled in.
fn message(flags: u8, code: u32, app: u32, hbh: u32, avps: &[Vec<u8>]) -> Vec<u8> {
    let mut m = header(flags, code, app, hbh, e2e(hbh));
    for a in avps {
        m.extend_from_slice(a);
    }
    let len = m.len() as u32;
    set_len(&mut m, len);
    m
}

/// A lone 20-byte CCR header whose Message-Length says `len`.
fn bare_header(flags: u8, len: u32, hbh: u32) -> Vec<u8> {
    let mut m = header(flags, CCR, APP_CC, hbh, e2e(hbh));
    set_len(&mut m, len);
    m
}

/// An AVP, padded; the Vendor-Id field is written when `vendor` is given (flags as given).
fn avp(code: u32, flags: u8, vendor: Option<u32>, data: &[u8]) -> Vec<u8> {
    let len = if vendor.is_some() { 12 } else { 8 } + data.len();
    let mut a = code.to_be_bytes().to_vec();
    a.push(flags);
    a.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    if let Some(v) = vendor {
        a.extend_from_slice(&v.to_be_bytes());
    }
    a.extend_from_slice(data);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

/// An AVP header claiming `len`, followed by `rest` as is.
fn avp_forged(code: u32, flags: u8, len: u32, rest: &[u8]) -> Vec<u8> {
    let mut a = code.to_be_bytes().to_vec();
    a.push(flags);
    a.extend_from_slice(&len.to_be_bytes()[1..]);
    a.extend_from_slice(rest);
    a
}

fn grouped(code: u32, members: &[Vec<u8>]) -> Vec<u8> {
    avp(code, MAND, None, &members.concat())
}

fn u32_avp(code: u32, v: u32) -> Vec<u8> {
    avp(code, MAND, None, &v.to_be_bytes())
}

fn str_avp(code: u32, s: &str) -> Vec<u8> {
    avp(code, MAND, None, s.as_bytes())
}

fn code_of(a: &[u8]) -> u32 {
    be32(a, 0)
}

fn without(avps: &mut Vec<Vec<u8>>, code: u32) {
    avps.retain(|a| code_of(a) != code);
}

fn replace(avps: &mut [Vec<u8>], code: u32, new: Vec<u8>) {
    let at = avps.iter().position(|a| code_of(a) == code).unwrap();
    avps[at] = new;
}

fn ccr_avps() -> Vec<Vec<u8>> {
    vec![
        str_avp(SESSION_ID, "client.example.net;1;1"),
        str_avp(ORIGIN_HOST, "client.example.net"),
        str_avp(ORIGIN_REALM, "example.net"),
        str_avp(DESTINATION_REALM, "example.net"),
        u32_avp(AUTH_APPLICATION_ID, APP_CC),
        str_avp(SERVICE_CONTEXT_ID, "32251@3gpp.org"),
        u32_avp(CC_REQUEST_TYPE, 1),
        u32_avp(CC_REQUEST_NUMBER, 0),
    ]
}

/// A valid Credit-Control-Request.
fn ccr(hbh: u32) -> Vec<u8> {
    message(REQ | PXY, CCR, APP_CC, hbh, &ccr_avps())
}

/// A CCR whose AVPs `edit` changed.
fn ccr_edit(hbh: u32, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let mut avps = ccr_avps();
    edit(&mut avps);
    message(REQ | PXY, CCR, APP_CC, hbh, &avps)
}

/// A valid CCR with other command flags.
fn ccr_flags(hbh: u32, flags: u8) -> Vec<u8> {
    message(flags, CCR, APP_CC, hbh, &ccr_avps())
}

fn cer_avps() -> Vec<Vec<u8>> {
    vec![
        str_avp(ORIGIN_HOST, "client.example.net"),
        str_avp(ORIGIN_REALM, "example.net"),
        avp(HOST_IP_ADDRESS, MAND, None, &[0, 1, 127, 0, 0, 1]),
        u32_avp(VENDOR_ID, 0),
        avp(PRODUCT_NAME, 0, None, b"malformed-test"),
        u32_avp(AUTH_APPLICATION_ID, APP_CC),
        u32_avp(ACCT_APPLICATION_ID, 3),
    ]
}

fn cer(hbh: u32) -> Vec<u8> {
    message(REQ, CER, 0, hbh, &cer_avps())
}

fn cer_edit(hbh: u32, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let mut avps = cer_avps();
    edit(&mut avps);
    message(REQ, CER, 0, hbh, &avps)
}

fn dwr_edit(hbh: u32, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let mut avps = vec![
        str_avp(ORIGIN_HOST, "client.example.net"),
        str_avp(ORIGIN_REALM, "example.net"),
    ];
    edit(&mut avps);
    message(REQ, DWR, 0, hbh, &avps)
}

fn dpr_edit(hbh: u32, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let mut avps = vec![
        str_avp(ORIGIN_HOST, "client.example.net"),
        str_avp(ORIGIN_REALM, "example.net"),
        u32_avp(DISCONNECT_CAUSE, 0),
    ];
    edit(&mut avps);
    message(REQ, DPR, 0, hbh, &avps)
}

/// An unknown AVP with the M bit.
fn unknown_m() -> Vec<u8> {
    avp(99999, MAND, None, &[0, 0, 0, 7])
}

/// An unknown AVP of a vendor nobody knows, V and M bits.
fn unknown_vendor_m() -> Vec<u8> {
    avp(1, VND | MAND, Some(99999), b"abcd")
}

/// Unknown non-M AVPs of code 99998 nested `levels` deep.
fn nest(levels: usize) -> Vec<u8> {
    let mut a = avp(99998, 0, None, &[0, 0, 0, 1]);
    for _ in 1..levels {
        a = avp(99998, 0, None, &a);
    }
    a
}

// ---------------------------------------------------------------------------------------
// Reading and parsing.

#[derive(Clone, Debug)]
struct Avp {
    code: u32,
    flags: u8,
    vendor: Option<u32>,
    data: Vec<u8>,
}

struct Msg {
    flags: u8,
    code: u32,
    app: u32,
    hbh: u32,
    e2e: u32,
    avps: Vec<Avp>,
}

impl Msg {
    fn avp(&self, code: u32) -> Option<&Avp> {
        self.avps
            .iter()
            .find(|a| a.code == code && a.vendor.is_none())
    }

    fn result_code(&self) -> Option<u32> {
        self.avp(RESULT_CODE)
            .filter(|a| a.data.len() == 4)
            .map(|a| be32(&a.data, 0))
    }

    /// The AVPs inside Failed-AVP, if there is one.
    fn failed_avp(&self) -> Option<Result<Vec<Avp>, String>> {
        self.avp(FAILED_AVP).map(|f| parse_avps(&f.data))
    }
}

fn parse_avps(mut b: &[u8]) -> Result<Vec<Avp>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 8 {
            return Err(format!("{} stray bytes after the AVPs", b.len()));
        }
        let code = be32(b, 0);
        let flags = b[4];
        let len = be24(b, 5) as usize;
        let head = if flags & VND != 0 { 12 } else { 8 };
        if len < head || len > b.len() {
            return Err(format!(
                "AVP {code} claims length {len} with {} bytes left",
                b.len()
            ));
        }
        out.push(Avp {
            code,
            flags,
            vendor: (flags & VND != 0).then(|| be32(b, 8)),
            data: b[head..len].to_vec(),
        });
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    Ok(out)
}

fn parse_msg(b: &[u8]) -> Result<Msg, String> {
    if b[0] != 1 {
        return Err(format!("version {}", b[0]));
    }
    Ok(Msg {
        flags: b[4],
        code: be24(b, 5),
        app: be32(b, 8),
        hbh: be32(b, 12),
        e2e: be32(b, 16),
        avps: parse_avps(&b[20..])?,
    })
}

/// What came from the server.
enum Got {
    Msg(Msg),
    /// EOF or reset before any byte of a frame.
    Closed(&'static str),
    /// Nothing for 3 s.
    Timeout,
    /// Half a frame, an unparseable frame or an I/O error.
    Broken(String),
}

enum End {
    Closed(&'static str),
    Timeout,
    Error(String),
}

fn fill(s: &mut TcpStream, buf: &mut [u8]) -> Result<(), (usize, End)> {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) => return Err((n, End::Closed("EOF"))),
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err((n, End::Timeout))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return Err((n, End::Closed("reset")))
            }
            Err(e) => return Err((n, End::Error(e.to_string()))),
        }
    }
    Ok(())
}

/// Reads one frame: 4 bytes, the 24-bit length, the rest.
fn next(s: &mut TcpStream) -> Got {
    let mut head = [0u8; 4];
    match fill(s, &mut head) {
        Ok(()) => {}
        Err((0, End::Closed(why))) => return Got::Closed(why),
        Err((0, End::Timeout)) => return Got::Timeout,
        Err((n, End::Closed(why))) => {
            return Got::Broken(format!("{why} after {n} bytes of a frame"))
        }
        Err((n, End::Timeout)) => {
            return Got::Broken(format!("{n} bytes of a frame, then nothing for 3 s"))
        }
        Err((_, End::Error(e))) => return Got::Broken(format!("read error: {e}")),
    }
    let len = be24(&head, 1) as usize;
    if !(20..=16 << 20).contains(&len) {
        return Got::Broken(format!("a frame with Message-Length {len}"));
    }
    let mut m = head.to_vec();
    m.resize(len, 0);
    match fill(s, &mut m[4..]) {
        Ok(()) => {}
        Err((n, End::Closed(why))) => {
            return Got::Broken(format!("{why} after {} of {len} bytes of a frame", n + 4))
        }
        Err((n, End::Timeout)) => {
            return Got::Broken(format!("{} of {len} bytes of a frame in 3 s", n + 4))
        }
        Err((_, End::Error(e))) => return Got::Broken(format!("read error: {e}")),
    }
    match parse_msg(&m) {
        Ok(msg) => Got::Msg(msg),
        Err(e) => Got::Broken(format!("an unparseable frame ({e}): {}", hex(&m))),
    }
}

fn hex(d: &[u8]) -> String {
    if d.is_empty() {
        return "(empty)".into();
    }
    let mut s: String = d.iter().take(32).map(|b| format!("{b:02x}")).collect();
    if d.len() > 32 {
        s.push_str(&format!("... ({} bytes)", d.len()));
    }
    s
}

fn fmt_avp(a: &Avp) -> String {
    let vendor = a.vendor.map(|v| format!(" vendor {v}")).unwrap_or_default();
    format!(
        "AVP {}{vendor} flags {:#04x} data {}",
        a.code,
        a.flags,
        hex(&a.data)
    )
}

fn describe(m: &Msg) -> String {
    let mut s = format!(
        "{} command {} app {} flags {:#04x} hbh {:#x}",
        if m.flags & REQ != 0 {
            "request"
        } else {
            "answer"
        },
        m.code,
        m.app,
        m.flags,
        m.hbh
    );
    match m.result_code() {
        Some(c) => s.push_str(&format!(" Result-Code {c}")),
        None => s.push_str(" without Result-Code"),
    }
    match m.failed_avp() {
        Some(Ok(inner)) => s.push_str(&format!(
            " Failed-AVP [{}]",
            inner.iter().map(fmt_avp).collect::<Vec<_>>().join(", ")
        )),
        Some(Err(e)) => s.push_str(&format!(" Failed-AVP unparseable ({e})")),
        None => {}
    }
    s
}

fn got_text(g: &Got) -> String {
    match g {
        Got::Msg(m) => describe(m),
        Got::Closed(why) => format!("the connection closed ({why})"),
        Got::Timeout => "nothing within 3 s".into(),
        Got::Broken(e) => e.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// Expectations.

/// An AVP expected inside Failed-AVP.
struct Want {
    code: u32,
    /// `None`: any vendor.
    vendor: Option<Option<u32>>,
    data: WantData,
}

enum WantData {
    Any,
    Bytes(Vec<u8>),
    /// The data holds exactly these AVPs.
    Group(Vec<Want>),
}

/// Only the code is checked.
fn w_code(code: u32) -> Want {
    Want {
        code,
        vendor: None,
        data: WantData::Any,
    }
}

/// A missing AVP: no vendor, `n` zero bytes.
fn w_zero(code: u32, n: usize) -> Want {
    Want {
        code,
        vendor: Some(None),
        data: WantData::Bytes(vec![0; n]),
    }
}

/// The AVP as sent (code, vendor, data).
fn w_exact(bytes: &[u8]) -> Want {
    let a = parse_avps(bytes).unwrap().remove(0);
    Want {
        code: a.code,
        vendor: Some(a.vendor),
        data: WantData::Bytes(a.data),
    }
}

/// A Grouped AVP holding exactly `members`.
fn w_group(code: u32, members: Vec<Want>) -> Want {
    Want {
        code,
        vendor: Some(None),
        data: WantData::Group(members),
    }
}

fn fmt_want(w: &Want) -> String {
    let vendor = match w.vendor {
        None => String::new(),
        Some(None) => String::new(),
        Some(Some(v)) => format!(" vendor {v}"),
    };
    let data = match &w.data {
        WantData::Any => String::new(),
        WantData::Bytes(d) => format!(" data {}", hex(d)),
        WantData::Group(ws) => format!(
            " {{ {} }}",
            ws.iter().map(fmt_want).collect::<Vec<_>>().join(", ")
        ),
    };
    format!("AVP {}{vendor}{data}", w.code)
}

fn check_want(w: &Want, a: &Avp) -> Result<(), String> {
    let mismatch = || format!("expected {}, got {}", fmt_want(w), fmt_avp(a));
    if a.code != w.code || w.vendor.is_some_and(|v| v != a.vendor) {
        return Err(mismatch());
    }
    match &w.data {
        WantData::Any => Ok(()),
        WantData::Bytes(d) if *d == a.data => Ok(()),
        WantData::Bytes(_) => Err(mismatch()),
        WantData::Group(ws) => {
            let inner = parse_avps(&a.data).map_err(|e| format!("{}: {e}", mismatch()))?;
            check_list(ws, &inner).map_err(|e| format!("inside AVP {}: {e}", w.code))
        }
    }
}

fn check_list(ws: &[Want], got: &[Avp]) -> Result<(), String> {
    if ws.len() != got.len() {
        return Err(format!(
            "expected [{}], got [{}]",
            ws.iter().map(fmt_want).collect::<Vec<_>>().join(", "),
            got.iter().map(fmt_avp).collect::<Vec<_>>().join(", ")
        ));
    }
    ws.iter().zip(got).try_for_each(|(w, a)| check_want(w, a))
}

enum Rc {
    Is(u32),
    /// Any Result-Code of 3000 and above.
    Error,
}

enum Failed {
    Unchecked,
    Present,
    Is(Want),
}

/// What must happen on the connection after the answer.
enum Then {
    /// A valid CCR sent next gets 2001 (and is the next answer).
    Open,
    /// EOF within 3 s, nothing more received.
    Closed,
    /// A valid CCR sent next gets nothing: EOF.
    ClosedAfterCcr,
    /// Not part of the contract.
    Unchecked,
}

enum Expect {
    Answer {
        rc: Rc,
        failed: Failed,
        then: Then,
    },
    /// No reply at all, then as said.
    NoReply(Then),
    /// No reply; closed within 2 s of the last byte sent (or of connecting).
    ClosedQuietly,
    /// Whatever arrives is not a 2001, then EOF.
    ClosedNo2001,
    /// 9 idle connections with `--max-pending 8`.
    ConnectionCap,
}

fn answer(rc: u32, failed: Failed, then: Then) -> Expect {
    Expect::Answer {
        rc: Rc::Is(rc),
        failed,
        then,
    }
}

fn expect_text(e: &Expect) -> String {
    let then = |t: &Then| match t {
        Then::Open => ", connection kept open",
        Then::Closed => ", then close",
        Then::ClosedAfterCcr => ", then close (a following CCR unanswered)",
        Then::Unchecked => "",
    };
    match e {
        Expect::Answer { rc, then: t, .. } => match rc {
            Rc::Is(c) => format!("an answer with Result-Code {c}{}", then(t)),
            Rc::Error => format!("an error answer (Result-Code >= 3000){}", then(t)),
        },
        Expect::NoReply(t) => format!("no reply{}", then(t)),
        Expect::ClosedQuietly => "the connection closed without a reply".into(),
        Expect::ClosedNo2001 => "the connection closed, no 2001".into(),
        Expect::ConnectionCap => "one connection of 9 refused".into(),
    }
}

enum Start {
    /// The case's bytes are the first on the connection.
    Raw,
    /// A successful CER/CEA first.
    Cer,
}

enum Send {
    Whole,
    First(usize),
    /// One byte every 150 ms.
    Trickle,
    Nothing,
}

type Build = Box<dyn Fn(u32) -> Vec<u8>>;

struct Case {
    name: &'static str,
    start: Start,
    send: Send,
    build: Build,
    expect: Expect,
}

impl Case {
    fn sending(mut self, send: Send) -> Case {
        self.send = send;
        self
    }
}

fn case(
    name: &'static str,
    start: Start,
    build: impl Fn(u32) -> Vec<u8> + 'static,
    expect: Expect,
) -> Case {
    Case {
        name,
        start,
        send: Send::Whole,
        build: Box::new(build),
        expect,
    }
}

/// A case sent after a successful capabilities exchange.
fn peer(name: &'static str, build: impl Fn(u32) -> Vec<u8> + 'static, expect: Expect) -> Case {
    case(name, Start::Cer, build, expect)
}

/// A case whose bytes are the first on the connection.
fn raw(name: &'static str, build: impl Fn(u32) -> Vec<u8> + 'static, expect: Expect) -> Case {
    case(name, Start::Raw, build, expect)
}

// ---------------------------------------------------------------------------------------
// The corpus.

fn cases() -> Vec<Case> {
    use Failed::{Present, Unchecked};
    use Then::{Closed, ClosedAfterCcr, Open};
    let is = Failed::Is;
    vec![
        // Framing: answer where possible, then close.
        peer(
            "Message-Length 0",
            |h| bare_header(REQ | PXY, 0, h),
            answer(5015, Unchecked, Closed),
        ),
        peer(
            "Message-Length 1",
            |h| bare_header(REQ | PXY, 1, h),
            answer(5015, Unchecked, Closed),
        ),
        peer(
            "Message-Length 12",
            |h| bare_header(REQ | PXY, 12, h),
            answer(5015, Unchecked, Closed),
        ),
        peer(
            "Message-Length 19",
            |h| bare_header(REQ | PXY, 19, h),
            answer(5015, Unchecked, Closed),
        ),
        peer(
            "Message-Length 0 on an answer (R clear)",
            |h| bare_header(PXY, 0, h),
            Expect::NoReply(Closed),
        ),
        peer(
            "Message-Length 22 (not a multiple of 4)",
            |h| [bare_header(REQ | PXY, 22, h), vec![0, 0]].concat(),
            answer(5015, Unchecked, Closed),
        ),
        peer(
            "Message-Length 2 MiB, header only",
            |h| bare_header(REQ | PXY, 2 << 20, h),
            answer(5015, Unchecked, Closed),
        ),
        peer(
            "version 0",
            |h| {
                let mut m = ccr(h);
                m[0] = 0;
                m
            },
            answer(5011, Unchecked, Closed),
        ),
        peer(
            "version 2",
            |h| {
                let mut m = ccr(h);
                m[0] = 2;
                m
            },
            answer(5011, Unchecked, Closed),
        ),
        peer(
            "Message-Length swallowing the next CCR",
            |h| {
                let inner = ccr(h ^ 0x8000_0000);
                let outer = bare_header(REQ | PXY, 20 + inner.len() as u32, h);
                [outer, inner].concat()
            },
            Expect::Answer {
                rc: Rc::Error,
                failed: Unchecked,
                then: Open,
            },
        ),
        peer("half a frame then silence", ccr, Expect::ClosedQuietly).sending(Send::First(30)),
        peer(
            "slow loris (one byte every 150 ms)",
            ccr,
            Expect::ClosedQuietly,
        )
        .sending(Send::Trickle),
        raw("no CER at all", ccr, Expect::ClosedQuietly).sending(Send::Nothing),
        raw("CCR before the CER", ccr, Expect::ClosedNo2001),
        raw(
            "9 idle connections, --max-pending 8",
            ccr,
            Expect::ConnectionCap,
        )
        .sending(Send::Nothing),
        // Header bits.
        peer(
            "reserved command flag 0x08",
            |h| ccr_flags(h, REQ | PXY | 0x08),
            answer(3008, Unchecked, Then::Unchecked),
        ),
        peer(
            "reserved command flag 0x01",
            |h| ccr_flags(h, REQ | PXY | 0x01),
            answer(3008, Unchecked, Then::Unchecked),
        ),
        peer(
            "request with R and E bits",
            |h| ccr_flags(h, REQ | PXY | ERR),
            answer(3008, Unchecked, Then::Unchecked),
        ),
        // Message level: answered, the connection stays open.
        peer(
            "unknown command 999 in application 4",
            |h| message(REQ | PXY, 999, APP_CC, h, &ccr_avps()),
            answer(3001, Unchecked, Open),
        ),
        peer(
            "unknown command 999 in application 0",
            |h| message(REQ, 999, 0, h, &ccr_avps()),
            answer(3001, Unchecked, Open),
        ),
        peer(
            "Accounting (271) in application 4",
            |h| message(REQ | PXY, 271, APP_CC, h, &ccr_avps()),
            answer(3001, Unchecked, Open),
        ),
        peer(
            "application 16777238 (not advertised)",
            |h| message(REQ | PXY, CCR, 16_777_238, h, &ccr_avps()),
            answer(3007, Unchecked, Open),
        ),
        peer(
            "CCR without CC-Request-Type",
            |h| ccr_edit(h, |a| without(a, CC_REQUEST_TYPE)),
            answer(5005, is(w_zero(CC_REQUEST_TYPE, 4)), Open),
        ),
        peer(
            "CCR without Service-Context-Id",
            |h| ccr_edit(h, |a| without(a, SERVICE_CONTEXT_ID)),
            answer(5005, is(w_zero(SERVICE_CONTEXT_ID, 0)), Open),
        ),
        peer(
            "CCR without Origin-Host",
            |h| ccr_edit(h, |a| without(a, ORIGIN_HOST)),
            answer(5005, is(w_zero(ORIGIN_HOST, 0)), Open),
        ),
        peer(
            "CCR without CC-Request-Number",
            |h| ccr_edit(h, |a| without(a, CC_REQUEST_NUMBER)),
            answer(5005, is(w_zero(CC_REQUEST_NUMBER, 4)), Open),
        ),
        peer(
            "CCR without Session-Id",
            |h| ccr_edit(h, |a| without(a, SESSION_ID)),
            answer(5005, is(w_zero(SESSION_ID, 0)), Open),
        ),
        peer(
            "CCR without Destination-Realm",
            |h| ccr_edit(h, |a| without(a, DESTINATION_REALM)),
            answer(5005, is(w_zero(DESTINATION_REALM, 0)), Open),
        ),
        peer(
            "CCR without any AVP",
            |h| message(REQ | PXY, CCR, APP_CC, h, &[]),
            answer(5005, Present, Open),
        ),
        peer(
            "unknown M-bit AVP 99999",
            |h| ccr_edit(h, |a| a.push(unknown_m())),
            answer(5001, is(w_exact(&unknown_m())), Open),
        ),
        peer(
            "unknown M-bit AVP 1 of vendor 99999",
            |h| ccr_edit(h, |a| a.push(unknown_vendor_m())),
            answer(5001, is(w_exact(&unknown_vendor_m())), Open),
        ),
        peer(
            "unknown M-bit AVP inside Multiple-Services-Credit-Control",
            |h| {
                ccr_edit(h, |a| {
                    a.push(grouped(MSCC, &[u32_avp(RATING_GROUP, 1), unknown_m()]))
                })
            },
            answer(5001, is(w_group(MSCC, vec![w_exact(&unknown_m())])), Open),
        ),
        peer(
            "unknown M-bit AVP inside Used-Service-Unit inside MSCC",
            |h| {
                ccr_edit(h, |a| {
                    let usu = grouped(USED_SERVICE_UNIT, &[u32_avp(CC_TIME, 10), unknown_m()]);
                    a.push(grouped(MSCC, &[u32_avp(RATING_GROUP, 1), usu]))
                })
            },
            answer(
                5001,
                is(w_group(
                    MSCC,
                    vec![w_group(USED_SERVICE_UNIT, vec![w_exact(&unknown_m())])],
                )),
                Open,
            ),
        ),
        peer(
            "unknown AVP without the M bit",
            |h| ccr_edit(h, |a| a.push(avp(99999, 0, None, &[0, 0, 0, 7]))),
            answer(2001, Unchecked, Open),
        ),
        peer(
            "AVP length 0",
            |h| ccr_edit(h, |a| a.push(avp_forged(USER_NAME, MAND, 0, &[]))),
            answer(5014, is(w_code(USER_NAME)), Open),
        ),
        peer(
            "AVP length 4",
            |h| ccr_edit(h, |a| a.push(avp_forged(USER_NAME, MAND, 4, &[]))),
            answer(5014, is(w_code(USER_NAME)), Open),
        ),
        peer(
            "AVP length 7",
            |h| ccr_edit(h, |a| a.push(avp_forged(USER_NAME, MAND, 7, &[]))),
            answer(5014, is(w_code(USER_NAME)), Open),
        ),
        peer(
            "AVP length past the end of the message",
            |h| {
                ccr_edit(h, |a| {
                    a.push(avp_forged(USER_NAME, MAND, 100, b"user@example"))
                })
            },
            answer(5014, is(w_code(USER_NAME)), Open),
        ),
        peer(
            "V flag with AVP length 8 (no room for the Vendor-Id)",
            |h| ccr_edit(h, |a| a.push(avp_forged(USER_NAME, VND | MAND, 8, &[]))),
            answer(5014, is(w_code(USER_NAME)), Open),
        ),
        peer(
            "CC-Request-Type twice",
            |h| ccr_edit(h, |a| a.push(u32_avp(CC_REQUEST_TYPE, 3))),
            answer(5009, is(w_exact(&u32_avp(CC_REQUEST_TYPE, 3))), Open),
        ),
        peer(
            "CC-Request-Number twice",
            |h| ccr_edit(h, |a| a.push(u32_avp(CC_REQUEST_NUMBER, 1))),
            answer(5009, is(w_exact(&u32_avp(CC_REQUEST_NUMBER, 1))), Open),
        ),
        peer(
            "Session-Id twice",
            |h| ccr_edit(h, |a| a.push(str_avp(SESSION_ID, "client.example.net;1;2"))),
            answer(5009, is(w_code(SESSION_ID)), Open),
        ),
        peer(
            "CC-Request-Type 9 (undefined)",
            |h| {
                ccr_edit(h, |a| {
                    replace(a, CC_REQUEST_TYPE, u32_avp(CC_REQUEST_TYPE, 9))
                })
            },
            answer(5004, is(w_exact(&u32_avp(CC_REQUEST_TYPE, 9))), Open),
        ),
        peer(
            "CC-Request-Type 0 (undefined)",
            |h| {
                ccr_edit(h, |a| {
                    replace(a, CC_REQUEST_TYPE, u32_avp(CC_REQUEST_TYPE, 0))
                })
            },
            answer(5004, is(w_exact(&u32_avp(CC_REQUEST_TYPE, 0))), Open),
        ),
        peer(
            "User-Name with bytes ff fe (not UTF-8)",
            |h| ccr_edit(h, |a| a.push(avp(USER_NAME, MAND, None, &[0xff, 0xfe]))),
            answer(
                5004,
                is(w_exact(&avp(USER_NAME, MAND, None, &[0xff, 0xfe]))),
                Open,
            ),
        ),
        peer(
            "empty Origin-Host (DiameterIdentity)",
            |h| {
                ccr_edit(h, |a| {
                    replace(a, ORIGIN_HOST, avp(ORIGIN_HOST, MAND, None, b""))
                })
            },
            answer(5014, is(w_code(ORIGIN_HOST)), Open),
        ),
        peer(
            "Event-Timestamp (Time) of 3 bytes",
            |h| ccr_edit(h, |a| a.push(avp(EVENT_TIMESTAMP, MAND, None, &[1, 2, 3]))),
            answer(5014, is(w_code(EVENT_TIMESTAMP)), Open),
        ),
        peer(
            "CC-Request-Number (Unsigned32) of 2 bytes",
            |h| {
                ccr_edit(h, |a| {
                    replace(
                        a,
                        CC_REQUEST_NUMBER,
                        avp(CC_REQUEST_NUMBER, MAND, None, &[0, 0]),
                    )
                })
            },
            answer(5014, is(w_code(CC_REQUEST_NUMBER)), Open),
        ),
        peer(
            "CC-Request-Number (Unsigned32) of 8 bytes",
            |h| {
                ccr_edit(h, |a| {
                    replace(
                        a,
                        CC_REQUEST_NUMBER,
                        avp(CC_REQUEST_NUMBER, MAND, None, &[0; 8]),
                    )
                })
            },
            answer(5014, is(w_code(CC_REQUEST_NUMBER)), Open),
        ),
        peer(
            "CC-Sub-Session-Id (Unsigned64) of 4 bytes",
            |h| {
                ccr_edit(h, |a| {
                    a.push(avp(CC_SUB_SESSION_ID, MAND, None, &[0, 0, 0, 1]))
                })
            },
            answer(5014, is(w_code(CC_SUB_SESSION_ID)), Open),
        ),
        peer(
            "Subscription-Id-Data overrunning its Subscription-Id",
            |h| {
                ccr_edit(h, |a| {
                    a.push(grouped(
                        SUBSCRIPTION_ID,
                        &[
                            u32_avp(SUBSCRIPTION_ID_TYPE, 0),
                            avp_forged(SUBSCRIPTION_ID_DATA, MAND, 40, b"12345\0\0\0"),
                        ],
                    ))
                })
            },
            answer(5014, is(w_code(SUBSCRIPTION_ID)), Open),
        ),
        peer(
            "Subscription-Id without Subscription-Id-Type",
            |h| {
                ccr_edit(h, |a| {
                    a.push(grouped(
                        SUBSCRIPTION_ID,
                        &[str_avp(SUBSCRIPTION_ID_DATA, "12345")],
                    ))
                })
            },
            answer(
                5005,
                is(w_group(
                    SUBSCRIPTION_ID,
                    vec![w_zero(SUBSCRIPTION_ID_TYPE, 4)],
                )),
                Open,
            ),
        ),
        peer(
            "Subscription-Id without Subscription-Id-Data",
            |h| {
                ccr_edit(h, |a| {
                    a.push(grouped(
                        SUBSCRIPTION_ID,
                        &[u32_avp(SUBSCRIPTION_ID_TYPE, 0)],
                    ))
                })
            },
            answer(
                5005,
                is(w_group(
                    SUBSCRIPTION_ID,
                    vec![w_zero(SUBSCRIPTION_ID_DATA, 0)],
                )),
                Open,
            ),
        ),
        peer(
            "Subscription-Id-Type 99 (undefined)",
            |h| {
                ccr_edit(h, |a| {
                    a.push(grouped(
                        SUBSCRIPTION_ID,
                        &[
                            u32_avp(SUBSCRIPTION_ID_TYPE, 99),
                            str_avp(SUBSCRIPTION_ID_DATA, "12345"),
                        ],
                    ))
                })
            },
            answer(
                5004,
                is(w_group(
                    SUBSCRIPTION_ID,
                    vec![w_exact(&u32_avp(SUBSCRIPTION_ID_TYPE, 99))],
                )),
                Open,
            ),
        ),
        peer(
            "reserved AVP flag 0x10",
            |h| {
                ccr_edit(h, |a| {
                    replace(
                        a,
                        CC_REQUEST_NUMBER,
                        avp(CC_REQUEST_NUMBER, MAND | 0x10, None, &[0; 4]),
                    )
                })
            },
            answer(3009, Unchecked, Open),
        ),
        peer(
            "reserved AVP flag 0x01",
            |h| {
                ccr_edit(h, |a| {
                    replace(
                        a,
                        SERVICE_CONTEXT_ID,
                        avp(SERVICE_CONTEXT_ID, MAND | 0x01, None, b"32251@3gpp.org"),
                    )
                })
            },
            answer(3009, Unchecked, Open),
        ),
        peer(
            "unknown non-M AVP nested 64 deep in MSCC",
            |h| ccr_edit(h, |a| a.push(grouped(MSCC, &[nest(64)]))),
            answer(2001, Unchecked, Open),
        ),
        peer(
            "10,000 tiny unknown non-M AVPs",
            |h| {
                ccr_edit(h, |a| {
                    a.extend(std::iter::repeat_n(avp(99997, 0, None, &[]), 10_000))
                })
            },
            answer(2001, Unchecked, Open),
        ),
        peer(
            "512 KiB CCR (one big unknown non-M AVP)",
            |h| ccr_edit(h, |a| a.push(avp(99996, 0, None, &vec![0x5a; 512 << 10]))),
            answer(2001, Unchecked, Open),
        ),
        peer("second CER", cer, answer(5012, Unchecked, Open)),
        peer(
            "answer with an unknown hop-by-hop id",
            |h| {
                message(
                    PXY,
                    CCR,
                    APP_CC,
                    h,
                    &[
                        str_avp(SESSION_ID, "client.example.net;1;1"),
                        u32_avp(RESULT_CODE, 2001),
                        str_avp(ORIGIN_HOST, "client.example.net"),
                        str_avp(ORIGIN_REALM, "example.net"),
                    ],
                )
            },
            Expect::NoReply(Open),
        ),
        peer(
            "DWR without Origin-Host",
            |h| dwr_edit(h, |a| without(a, ORIGIN_HOST)),
            answer(5005, is(w_zero(ORIGIN_HOST, 0)), Open),
        ),
        peer(
            "DWR with a Session-Id",
            |h| dwr_edit(h, |a| a.push(str_avp(SESSION_ID, "client.example.net;1;9"))),
            answer(5008, is(w_code(SESSION_ID)), Open),
        ),
        peer(
            "DWR with an unknown M-bit AVP",
            |h| dwr_edit(h, |a| a.push(unknown_m())),
            answer(5001, is(w_exact(&unknown_m())), Open),
        ),
        peer(
            "valid DWR",
            |h| dwr_edit(h, |_| {}),
            answer(2001, Unchecked, Open),
        ),
        peer(
            "DPR then a CCR",
            |h| dpr_edit(h, |_| {}),
            answer(2001, Unchecked, ClosedAfterCcr),
        ),
        peer(
            "DPR without Disconnect-Cause",
            |h| dpr_edit(h, |a| without(a, DISCONNECT_CAUSE)),
            answer(5005, is(w_zero(DISCONNECT_CAUSE, 4)), Open),
        ),
        // The first message is a bad CER: a CEA, then close.
        raw(
            "CER with a 3-byte Host-IP-Address",
            |h| {
                cer_edit(h, |a| {
                    replace(
                        a,
                        HOST_IP_ADDRESS,
                        avp(HOST_IP_ADDRESS, MAND, None, &[0, 1, 127]),
                    )
                })
            },
            answer(5014, is(w_code(HOST_IP_ADDRESS)), Closed),
        ),
        raw(
            "CER without Origin-Host",
            |h| cer_edit(h, |a| without(a, ORIGIN_HOST)),
            answer(5005, is(w_zero(ORIGIN_HOST, 0)), Closed),
        ),
        raw(
            "CER without Product-Name",
            |h| cer_edit(h, |a| without(a, PRODUCT_NAME)),
            answer(5005, is(w_zero(PRODUCT_NAME, 0)), Closed),
        ),
        raw(
            "CER with no application in common",
            |h| {
                cer_edit(h, |a| {
                    without(a, AUTH_APPLICATION_ID);
                    without(a, ACCT_APPLICATION_ID);
                    a.push(u32_avp(AUTH_APPLICATION_ID, 16_777_238));
                })
            },
            answer(5010, Unchecked, Closed),
        ),
        raw(
            "CER with Origin-Host twice",
            |h| cer_edit(h, |a| a.push(str_avp(ORIGIN_HOST, "other.example.net"))),
            answer(5009, is(w_code(ORIGIN_HOST)), Closed),
        ),
        raw(
            "CER with an unknown M-bit AVP",
            |h| cer_edit(h, |a| a.push(unknown_m())),
            answer(5001, is(w_exact(&unknown_m())), Closed),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Running the cases.

fn connect(port: u16) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, WAIT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s.set_nodelay(true).unwrap();
    Ok(s)
}

/// A connection that completed the capabilities exchange. A CEA 4003 (election lost: the
/// server has not yet seen the previous connection of this Origin-Host go) is retried for 1 s.
fn cer_connect(port: u16) -> Result<TcpStream, String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut s = connect(port)?;
        let hbh = next_id();
        s.write_all(&cer(hbh))
            .map_err(|e| format!("writing the CER: {e}"))?;
        match next(&mut s) {
            Got::Msg(m)
                if m.code == CER
                    && m.flags & REQ == 0
                    && m.hbh == hbh
                    && m.result_code() == Some(2001) =>
            {
                return Ok(s)
            }
            Got::Msg(m) if m.result_code() == Some(4003) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            g => return Err(format!("CER: expected a CEA 2001, got {}", got_text(&g))),
        }
    }
}

/// Closes our side and waits (1 s at most) for the server to close its side.
fn hang_up(mut s: TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 4096];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

/// A valid CCR gets a 2001 CCA, the next message on the connection.
fn expect_open(s: &mut TcpStream) -> Result<(), String> {
    let hbh = next_id();
    if let Err(e) = s.write_all(&ccr(hbh)) {
        return Err(format!(
            "expected the connection open, writing a CCR failed: {e}"
        ));
    }
    match next(s) {
        Got::Msg(m)
            if m.code == CCR
                && m.flags & REQ == 0
                && m.hbh == hbh
                && m.result_code() == Some(2001) =>
        {
            Ok(())
        }
        g => Err(format!(
            "expected the connection open (a CCA 2001 for the next CCR, hbh {hbh:#x}), got {}",
            got_text(&g)
        )),
    }
}

fn expect_closed(s: &mut TcpStream, when: &str) -> Result<(), String> {
    match next(s) {
        Got::Closed(_) => Ok(()),
        Got::Timeout => Err(format!(
            "expected the connection closed {when}, still open after 3 s"
        )),
        g => Err(format!(
            "expected the connection closed {when}, got {}",
            got_text(&g)
        )),
    }
}

fn check_then(s: &mut TcpStream, then: &Then) -> Result<(), String> {
    match then {
        Then::Open => expect_open(s),
        Then::Closed => expect_closed(s, "after the answer"),
        Then::ClosedAfterCcr => {
            let _ = s.write_all(&ccr(next_id()));
            expect_closed(s, "after the DPA (a CCR sent then)")
        }
        Then::Unchecked => Ok(()),
    }
}

fn check_answer(req: &[u8], m: &Msg, rc: &Rc, failed: &Failed) -> Vec<String> {
    let mut e = Vec::new();
    let got = m.result_code();
    let got_text = got.map_or("none".to_string(), |c| c.to_string());
    match rc {
        Rc::Is(want) if got != Some(*want) => {
            e.push(format!("Result-Code: expected {want}, got {got_text}"))
        }
        Rc::Error if got.is_none_or(|c| c < 3000) => e.push(format!(
            "Result-Code: expected an error (>= 3000), got {got_text}"
        )),
        _ => {}
    }
    if let Some(c) = got {
        let want_e = (3000..4000).contains(&c);
        if (m.flags & ERR != 0) != want_e {
            e.push(format!(
                "E bit {} with Result-Code {c}",
                if want_e { "clear" } else { "set" }
            ));
        }
    }
    if m.flags & REQ != 0 {
        e.push("R bit set in the answer".into());
    }
    let echo = [
        ("command code", be24(req, 5), m.code),
        ("application id", be32(req, 8), m.app),
        ("hop-by-hop id", be32(req, 12), m.hbh),
        ("end-to-end id", be32(req, 16), m.e2e),
    ];
    for (what, want, got) in echo {
        if want != got {
            e.push(format!("{what}: expected {want:#x}, got {got:#x}"));
        }
    }
    match (failed, m.failed_avp()) {
        (Failed::Unchecked, _) => {}
        (_, None) => e.push("no Failed-AVP".into()),
        (_, Some(Err(err))) => e.push(format!("Failed-AVP unparseable: {err}")),
        (Failed::Present, Some(Ok(_))) => {}
        (Failed::Is(w), Some(Ok(inner))) => {
            if let Err(err) = check_list(std::slice::from_ref(w), &inner) {
                e.push(format!("Failed-AVP: {err}"));
            }
        }
    }
    e
}

/// Sends one byte every 150 ms until the server closes; it must within 2 s, unanswered.
fn trickle(s: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    let start = Instant::now();
    let closed = |sent: usize| {
        let t = start.elapsed();
        if t <= CLOSE_SOON {
            Ok(())
        } else {
            Err(format!(
                "closed only after {:.1} s ({sent} bytes sent)",
                t.as_secs_f64()
            ))
        }
    };
    for (i, b) in bytes.iter().enumerate() {
        if s.write_all(&[*b]).is_err() {
            return closed(i);
        }
        std::thread::sleep(Duration::from_millis(150));
        s.set_nonblocking(true).unwrap();
        let peeked = s.peek(&mut [0u8; 1]);
        s.set_nonblocking(false).unwrap();
        match peeked {
            Ok(0) => return closed(i + 1),
            Ok(_) => {
                return Err(format!(
                    "expected a close without reply, got {}",
                    got_text(&next(s))
                ))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return closed(i + 1),
        }
        if start.elapsed() > WAIT {
            return Err(format!(
                "still open after {} of {} bytes in {:.1} s (frame timeout 1 s)",
                i + 1,
                bytes.len(),
                start.elapsed().as_secs_f64()
            ));
        }
    }
    Err("the whole CCR went through, the connection open".into())
}

/// 9 idle connections at once: one is closed at once, 8 wait for the CER timeout.
fn connection_cap(port: u16, held: &mut Vec<TcpStream>) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..9 {
        conns.push(connect(port)?);
    }
    let readers: Vec<_> = conns
        .iter()
        .map(|s| {
            let mut s = s.try_clone().unwrap();
            std::thread::spawn(move || {
                let g = next(&mut s);
                (start.elapsed(), got_text(&g), matches!(g, Got::Closed(_)))
            })
        })
        .collect();
    let (mut fast, mut slow, mut odd) = (0, 0, Vec::new());
    for (i, r) in readers.into_iter().enumerate() {
        let (t, text, closed) = r.join().unwrap();
        if closed && t < Duration::from_millis(500) {
            fast += 1;
        } else if closed && t >= Duration::from_millis(800) {
            slow += 1;
        } else {
            odd.push(format!("#{i} after {:.2} s: {text}", t.as_secs_f64()));
        }
    }
    held.extend(conns);
    if fast == 1 && slow == 8 && odd.is_empty() {
        return Ok(());
    }
    Err(format!(
        "expected 1 of 9 idle connections closed within 0.5 s and 8 closed by the CER \
         timeout (0.8-3 s); got {fast} closed at once, {slow} by the CER timeout{}{}",
        if odd.is_empty() { "" } else { "; " },
        odd.join("; ")
    ))
}

fn run_case(port: u16, c: &Case, held: &mut Vec<TcpStream>) -> Result<(), String> {
    if let Expect::ConnectionCap = c.expect {
        return connection_cap(port, held);
    }
    let mut s = match c.start {
        Start::Raw => connect(port)?,
        Start::Cer => cer_connect(port).map_err(|e| format!("before the case: {e}"))?,
    };
    let hbh = next_id();
    let bytes = (c.build)(hbh);
    // A failed write shows in what is (not) read next.
    match c.send {
        Send::Whole => {
            let _ = s.write_all(&bytes);
        }
        Send::First(n) => {
            let _ = s.write_all(&bytes[..n]);
        }
        Send::Trickle => {
            let r = trickle(&mut s, &bytes);
            held.push(s);
            return r;
        }
        Send::Nothing => {}
    }
    let sent = Instant::now();
    let r = match &c.expect {
        Expect::Answer { rc, failed, then } => match next(&mut s) {
            Got::Msg(m) => {
                let mut errs = check_answer(&bytes, &m, rc, failed);
                if !errs.is_empty() {
                    errs.insert(0, format!("got {}", describe(&m)));
                }
                if let Err(e) = check_then(&mut s, then) {
                    errs.push(e);
                }
                if errs.is_empty() {
                    Ok(())
                } else {
                    Err(errs.join("; "))
                }
            }
            g => Err(format!(
                "expected {}, got {}",
                expect_text(&c.expect),
                got_text(&g)
            )),
        },
        Expect::NoReply(Then::Open) => {
            expect_open(&mut s).map_err(|e| format!("expected no reply, connection kept open: {e}"))
        }
        Expect::NoReply(Then::Closed) => expect_closed(&mut s, "without a reply"),
        Expect::NoReply(then) => check_then(&mut s, then),
        Expect::ClosedQuietly => match next(&mut s) {
            Got::Closed(_) if sent.elapsed() <= CLOSE_SOON => Ok(()),
            Got::Closed(_) => Err(format!(
                "expected a close within {} s, closed after {:.1} s",
                CLOSE_SOON.as_secs(),
                sent.elapsed().as_secs_f64()
            )),
            Got::Timeout => Err(format!(
                "expected a close within {} s, still open after 3 s",
                CLOSE_SOON.as_secs()
            )),
            g => Err(format!(
                "expected {}, got {}",
                expect_text(&c.expect),
                got_text(&g)
            )),
        },
        Expect::ClosedNo2001 => loop {
            match next(&mut s) {
                Got::Msg(m) if m.result_code() == Some(2001) => {
                    break Err(format!("expected no 2001, got {}", describe(&m)))
                }
                Got::Msg(_) => {}
                Got::Closed(_) => break Ok(()),
                g => {
                    break Err(format!(
                        "expected {}, got {}",
                        expect_text(&c.expect),
                        got_text(&g)
                    ))
                }
            }
        },
        Expect::ConnectionCap => unreachable!(),
    };
    held.push(s);
    r
}

/// The server burns less than 5 clock ticks of CPU in 300 ms.
fn idle(pid: u32) -> Result<(), String> {
    let before = cpu_ticks(pid).ok_or("cannot read the server's /proc stat")?;
    std::thread::sleep(Duration::from_millis(300));
    let after = cpu_ticks(pid).ok_or("cannot read the server's /proc stat")?;
    if after - before >= 5 {
        return Err(format!(
            "server busy afterwards: {} clock ticks of CPU in 300 ms",
            after - before
        ));
    }
    Ok(())
}

/// A new peer still gets through: CER, then a CCR answered 2001.
fn healthy(port: u16) -> Result<(), String> {
    let mut s = cer_connect(port)?;
    let r = expect_open(&mut s);
    hang_up(s);
    r
}

/// A `diameter serve` process, killed on drop; its stderr goes to `log`.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    fn start() -> Serve {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "diameter-malformed-{}-{port}.log",
            std::process::id()
        ));
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", &listen])
            .args(["--origin-host", "serve.example.net"])
            .args(["--origin-realm", "example.net"])
            .args(LIMITS)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn diameter serve");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "diameter serve exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nothing listens on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Serve { child, port, log }
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn malformed_input_corpus() {
    let cases = cases();
    assert!(cases.len() >= 55, "{} cases", cases.len());
    let started = Instant::now();
    let mut srv = Serve::start();
    let mut logs = vec![srv.log.clone()];
    let mut failures = Vec::new();
    for c in &cases {
        if started.elapsed() > BUDGET {
            failures.push(format!("{}: not run, time budget spent", c.name));
            continue;
        }
        let mut problems = Vec::new();
        let mut held = Vec::new();
        if let Err(e) = run_case(srv.port, c, &mut held) {
            problems.push(e);
        }
        let mut restart = false;
        if let Some(status) = srv.exited() {
            problems.push(format!("the server exited ({status})"));
            restart = true;
        } else {
            if let Err(e) = idle(srv.child.id()) {
                problems.push(e);
            }
            held.into_iter().for_each(hang_up);
            if let Err(e) = healthy(srv.port) {
                problems.push(format!("afterwards a new peer fails: {e}"));
                restart = true;
            }
        }
        if restart {
            problems.push("(server restarted)".into());
            srv = Serve::start();
            logs.push(srv.log.clone());
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", c.name, problems.join("; ")));
        }
    }
    if let Err(e) = idle(srv.child.id()) {
        failures.push(format!("after the last case: {e}"));
    }
    if failures.is_empty() {
        for l in &logs {
            let _ = std::fs::remove_file(l);
        }
        return;
    }
    panic!(
        "{} of {} malformed-input cases failed (server stderr: {}):\n{}",
        failures.len(),
        cases.len(),
        logs.iter()
            .map(|l| l.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        failures
            .iter()
            .map(|f| format!("- {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
