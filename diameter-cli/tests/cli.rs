//! The `diameter` binary end to end on loopback: serve, send, bench (also against a
//! python-diameter server), decode (hex and a capture of our own traffic), dict, bad input.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_diameter");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run diameter")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wait_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `diameter send --connect addr --file file`.
fn send_file(addr: &str, file: &std::path::Path) -> Output {
    run(&["send", "--connect", addr, "--file", file.to_str().unwrap()])
}

/// A `diameter serve` process, killed on drop.
struct Serve(Child, u16);

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec![
            "serve",
            "--listen",
            &listen,
            "--origin-host",
            "serve.example.net",
        ];
        args.extend_from_slice(extra);
        let child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port);
        Serve(child, port)
    }
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.1)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn one_line_error(o: &Output) {
    assert!(!o.status.success(), "must fail: {}", stdout(o));
    let e = stderr(o);
    assert_eq!(e.trim().lines().count(), 1, "one line: {e:?}");
    assert!(e.starts_with("diameter: "), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn decode_hex_tree_and_json() {
    let hex = codec_hex();
    let o = run(&["decode", "--hex", &hex]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(
        t.starts_with("Credit-Control-Request (command 272, application 4) flags RP"),
        "{t}"
    );
    assert!(
        t.contains(
            "  Subscription-Id (443) M\n    Subscription-Id-Type (450) M = END_USER_E164 (0)"
        ),
        "{t}"
    );
    assert!(t.contains("      CC-Total-Octets (421) M = 1048576"), "{t}");
    let o = run(&["decode", "--json", "--hex", &hex]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["name"], "Credit-Control-Request");
    assert_eq!(v[0]["avps"][0]["name"], "Session-Id");
    assert_eq!(
        v[0]["avps"][0]["value"],
        "rs-bench.client.lab;1732275200;42;7"
    );
    assert_eq!(v[0]["grammar"]["valid"], true);
    assert!(t.contains("\n  grammar: valid\n"), "{t}");
    // The same CCR with its CC-Request-Number cut to two bytes: decoded all the same, with
    // the verdict `diameter serve` would answer.
    let bad = hex.replacen("0000019f4000000c00000000", "0000019f4000000a0000ffff", 1);
    assert_ne!(bad, hex, "the CC-Request-Number AVP is in the shared CCR");
    let o = run(&["decode", "--json", "--hex", &bad]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["grammar"]["valid"], false);
    assert_eq!(v[0]["grammar"]["result_code"], 5014);
    assert_eq!(v[0]["grammar"]["failed_avp"], 415);
    let o = run(&["decode", "--hex", &bad]);
    assert!(
        stdout(&o).contains("grammar: 5014 DIAMETER_INVALID_AVP_LENGTH at Credit-Control-Request / CC-Request-Number"),
        "{}",
        stdout(&o)
    );
}

fn codec_hex() -> String {
    std::fs::read_to_string(root().join("../shared/bench-data/ccr-260.hex"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn decode_bad_input() {
    one_line_error(&run(&["decode", "--hex", "zz"]));
    one_line_error(&run(&["decode", "/nonexistent/file.pcap"]));
    // TLS needs a certificate, a key and CAs, readable and in PEM.
    one_line_error(&run(&[
        "send",
        "--connect",
        "aaas://127.0.0.1:1",
        "--tls-cert",
        "/nonexistent/cert.pem",
    ]));
    one_line_error(&run(&[
        "send",
        "--connect",
        "aaas://127.0.0.1:1",
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
        "--tls-ca",
        "/nonexistent/ca.pem",
    ]));
    one_line_error(&run(&["send", "--connect", "aaas://127.0.0.1:1"]));
    one_line_error(&run(&["decode", "--hex", "0100"]));
    // A malformed message decodes to its RFC error, non-zero exit.
    let mut hex = codec_hex();
    hex.replace_range(48..50, "41"); // reserved AVP flag bit on the first AVP
    let o = run(&["decode", "--hex", &hex]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("DIAMETER_INVALID_AVP_BITS (3009)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn dict_check_list_convert() {
    let good = root().join("dictionaries/credit_control.xml");
    let o = run(&["dict", "check", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("ok: 1 application(s), 70 AVP(s)"),
        "{}",
        stdout(&o)
    );
    let broken = root().join("tests/codegen/dict/broken.xml");
    let o = run(&["dict", "check", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("broken.xml:3: error[UnknownType]: type `Unsigned33`"),
        "{}",
        stdout(&o)
    );
    let go = root().join("../shared/reference-dictionaries/go-diameter/tgpp_rx.xml");
    let base = root().join("../shared/reference-dictionaries/go-diameter/base.xml");
    let o = run(&[
        "dict",
        "check",
        "--go-diameter",
        base.to_str().unwrap(),
        go.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("tgpp_rx.xml:947: warning[VendorFlagWithoutVendor]"),
        "{}",
        stdout(&o)
    );
    let o = run(&["dict", "list"]);
    assert!(
        stdout(&o).contains("application 4 Credit-Control\n  command 272 Credit-Control\n"),
        "{}",
        stdout(&o)
    );
    // Two files become one document that loads as they did, and converting it again gives
    // the same text.
    let vendor = root().join("tests/codegen/dict/vendor.xml");
    let o = run(&[
        "dict",
        "convert",
        good.to_str().unwrap(),
        vendor.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let converted = stdout(&o);
    assert_eq!(converted.matches("<diameter>").count(), 1, "{converted}");
    let tmp = std::env::temp_dir().join(format!("convert-{}.xml", std::process::id()));
    std::fs::write(&tmp, &converted).unwrap();
    let o = run(&["dict", "check", tmp.to_str().unwrap()]);
    assert!(
        stdout(&o).starts_with("ok: 2 application(s), 74 AVP(s)"),
        "{}",
        stdout(&o)
    );
    let again = run(&["dict", "convert", tmp.to_str().unwrap()]);
    assert_eq!(stdout(&again), converted);
    let _ = std::fs::remove_file(&tmp);
    one_line_error(&run(&[
        "dict",
        "convert",
        "--from",
        "wireshark",
        good.to_str().unwrap(),
    ]));
    one_line_error(&run(&["dict", "check", "/nonexistent.xml"]).clone_with_stderr_only());
}

trait Only {
    fn clone_with_stderr_only(&self) -> Output;
}
impl Only for Output {
    /// `dict check` prints diagnostics on stdout and a count on stderr.
    fn clone_with_stderr_only(&self) -> Output {
        Output {
            status: self.status,
            stdout: Vec::new(),
            stderr: self.stderr.clone(),
        }
    }
}

#[test]
fn serve_send_and_bench() {
    let s = Serve::start(&[]);
    let o = run(&[
        "send",
        "--connect",
        &s.addr(),
        "--app",
        "credit-control",
        "--command",
        "Credit-Control",
        "--avp",
        "Service-Context-Id=32251@3gpp.org",
        "--avp",
        "CC-Request-Type=INITIAL_REQUEST",
        "--avp",
        "CC-Request-Number=3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["name"], "Credit-Control-Answer");
    let avp = |n: &str| {
        v["avps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == n)
            .map(|a| a["value"].clone())
    };
    assert_eq!(avp("Result-Code"), Some(2001.into()));
    assert_eq!(avp("Origin-Host"), Some("serve.example.net".into()));
    assert_eq!(avp("CC-Request-Number"), Some(3.into()), "echoed");
    assert_eq!(avp("CC-Request-Type"), Some(1.into()), "echoed");
    assert_eq!(avp("Auth-Application-Id"), Some(4.into()));

    // A request from a TOML file, accounting.
    let dir = std::env::temp_dir().join(format!("diameter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("acr.toml");
    std::fs::write(&f, "command = \"Accounting\"\napplication = \"accounting\"\n[avps]\nAccounting-Record-Type = \"EVENT_RECORD\"\nAccounting-Record-Number = 12\n").unwrap();
    let o = send_file(&s.addr(), &f);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Accounting-Answer (command 271, application 3)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("Accounting-Record-Number (485) M = 12"),
        "{}",
        stdout(&o)
    );

    // Proxy-Info comes back in the answer, each in order (RFC 6733 §6.7.1: a proxy finds its
    // state again), with the echoed AVPs.
    let f = dir.join("ccr-proxied.toml");
    std::fs::write(
        &f,
        "command = \"Credit-Control\"\napplication = \"credit-control\"\n[avps]\n\
         Service-Context-Id = \"32251@3gpp.org\"\nCC-Request-Type = \"UPDATE_REQUEST\"\n\
         CC-Request-Number = 7\nProxy-Info = [{ Proxy-Host = \"p1.example.net\", Proxy-State = \"s1\" }, \
         { Proxy-Host = \"p2.example.net\", Proxy-State = \"s2\" }]\n",
    )
    .unwrap();
    let o = send_file(&s.addr(), &f);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let (p1, p2) = (
        text.find("p1.example.net").expect(&text),
        text.find("p2.example.net").expect(&text),
    );
    assert!(p1 < p2, "{text}");
    assert!(text.contains("CC-Request-Number (415) M = 7"), "{text}");

    // bench --json prints exactly one object with the documented keys.
    let o = run(&[
        "bench",
        "--connect",
        &s.addr(),
        "--requests",
        "3000",
        "--concurrency",
        "32",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "requests",
            "answered",
            "success",
            "errors",
            "elapsed_s",
            "rps",
            "p50_us",
            "p90_us",
            "p99_us",
            "max_us"
        ]
    );
    assert_eq!(
        (
            r["requests"].as_u64(),
            r["success"].as_u64(),
            r["errors"].as_u64()
        ),
        (Some(3000), Some(3000), Some(0))
    );
    let o = run(&[
        "bench",
        "--connect",
        &s.addr(),
        "--app",
        "accounting",
        "--duration",
        "0.5",
        "--concurrency",
        "4",
        "--rate",
        "200",
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let n = r["requests"].as_u64().unwrap();
    assert!((60..=110).contains(&n), "--rate 200 for 0.5 s sent {n}");
    assert!(o.status.success());

    // Failing answers make bench exit non-zero.
    let bad = Serve::start(&["--result-code", "5012"]);
    let o = run(&[
        "bench",
        "--connect",
        &bad.addr(),
        "--requests",
        "50",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["errors"], 50);
}

#[test]
fn bad_input_gives_one_line_and_nonzero_exit() {
    let s = Serve::start(&[]);
    one_line_error(&run(&[
        "send",
        "--connect",
        &s.addr(),
        "--avp",
        "No-Such-Avp=1",
    ]));
    one_line_error(&run(&[
        "send",
        "--connect",
        &s.addr(),
        "--avp",
        "CC-Request-Number=abc",
    ]));
    one_line_error(&run(&["send", "--connect", "127.0.0.1:1"]));
    one_line_error(&run(&[
        "bench",
        "--connect",
        "127.0.0.1:1",
        "--requests",
        "5",
    ]));
    one_line_error(&run(&["bench", "--app", "nasreq", "--requests", "5"]));
    one_line_error(&send_file(&s.addr(), "/nonexistent.toml".as_ref()));
    // A peer that rejects our CER: the vendor application is not served.
    let vendor = root().join("tests/codegen/dict/vendor.xml");
    let o = run(&[
        "send",
        "--connect",
        &s.addr(),
        "--dictionary",
        vendor.to_str().unwrap(),
        "--app",
        "16777999",
    ]);
    one_line_error(&o);
    assert!(stderr(&o).contains("5010"), "{}", stderr(&o));

    // SCTP where the kernel has none: one line naming it. (With SCTP, serve just runs.)
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sctp-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        eprintln!("this kernel has SCTP: `serve --sctp-listen` runs");
        let _ = child.kill();
        let _ = child.wait();
    } else {
        let o = child.wait_with_output().unwrap();
        one_line_error(&o);
        let e = stderr(&o);
        assert!(e.contains("SCTP") && e.contains("kernel"), "{e}");
    }
}

#[test]
fn decode_a_capture_of_our_own_traffic() {
    if std::env::var_os("DIAMETER_SKIP_TSHARK").is_some() {
        return;
    }
    let s = Serve::start(&[]);
    let dir = std::env::temp_dir().join(format!("diameter-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("own.pcapng");
    let filter = format!("tcp port {}", s.1);
    let mut cap = Command::new("tshark")
        .args(["-i", "lo", "-f", &filter, "-w", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tshark (apt-get install tshark) to capture on lo");
    // Wait until tshark says it captures.
    let mut err = BufReader::new(cap.stderr.take().unwrap());
    let mut line = String::new();
    let start = Instant::now();
    while !line.contains("Capturing on") {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 || start.elapsed() > Duration::from_secs(20) {
            panic!("tshark did not start capturing: {line}");
        }
    }
    // tshark says so a moment before packets are really captured.
    std::thread::sleep(Duration::from_millis(1500));
    let o = run(&[
        "bench",
        "--connect",
        &s.addr(),
        "--requests",
        "40",
        "--concurrency",
        "4",
        "--json",
    ]);
    assert!(o.status.success());
    std::thread::sleep(Duration::from_millis(700));
    let _ = Command::new("kill")
        .args(["-INT", &cap.id().to_string()])
        .status();
    let _ = cap.wait();
    let o = run(&[
        "decode",
        "--port",
        &s.1.to_string(),
        "--json",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let count = |n: &str| names.iter().filter(|x| **x == n).count();
    assert_eq!(count("Capabilities-Exchange-Request"), 1, "{names:?}");
    assert_eq!(count("Capabilities-Exchange-Answer"), 1);
    assert_eq!(count("Credit-Control-Request"), 40);
    assert_eq!(count("Credit-Control-Answer"), 40);
    assert_eq!(count("Disconnect-Peer-Request"), 1);
    let o = run(&["decode", "--port", &s.1.to_string(), file.to_str().unwrap()]);
    assert!(stdout(&o).contains("Credit-Control-Answer (command 272, application 4)"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_against_python_diameter() {
    if std::env::var_os("DIAMETER_SKIP_PYTHON").is_some() {
        return;
    }
    let port = free_port();
    let mut py = Command::new("python3")
        .arg(root().join("diameter-cli/tests/py/bench_server.py"))
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 with python-diameter");
    let mut first = String::new();
    BufReader::new(py.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(
        first.trim(),
        "READY",
        "python-diameter is installed (pip install python-diameter)"
    );
    let o = run(&[
        "bench",
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--origin-host",
        "bench.example.net",
        "--requests",
        "2000",
        "--concurrency",
        "16",
        "--json",
    ]);
    let _ = writeln!(py.stdin.take().unwrap(), "stop");
    let _ = py.wait();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["success"], 2000);
}

#[test]
fn serve_config_with_routes() {
    let dir = std::env::temp_dir().join(format!("diameter-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cfg = dir.join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "origin_host = \"agent.example.net\"\norigin_realm = \"example.net\"\nlisten = [\"127.0.0.1:{port}\"]\n\n[[routes]]\nrealm = \"home.net\"\naction = \"redirect\"\npeers = [\"hss.home.net\"]\n"
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    let s = Serve(child, port);
    let o = run(&[
        "send",
        "--connect",
        &s.addr(),
        "--destination-realm",
        "home.net",
        "--avp",
        "CC-Request-Type=INITIAL_REQUEST",
        "--avp",
        "CC-Request-Number=0",
    ]);
    assert_eq!(o.status.code(), Some(1), "a 3006 answer is not a success");
    let t = stdout(&o);
    assert!(
        t.contains("Result-Code (268) M = DIAMETER_REDIRECT_INDICATION (3006)"),
        "{t}"
    );
    assert!(
        t.contains("Redirect-Host (292) M = \"aaa://hss.home.net;transport=tcp\""),
        "{t}"
    );
    // Its own realm is still served locally.
    let o = run(&[
        "send",
        "--connect",
        &s.addr(),
        "--destination-realm",
        "example.net",
        "--avp",
        "Service-Context-Id=32251@3gpp.org",
        "--avp",
        "CC-Request-Type=INITIAL_REQUEST",
        "--avp",
        "CC-Request-Number=0",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
    // A bad route is one line and a non-zero exit.
    std::fs::write(
        &cfg,
        "[[routes]]\nrealm = \"x\"\naction = \"teleport\"\npeers = [\"a\"]\n",
    )
    .unwrap();
    one_line_error(&run(&["serve", "--config", cfg.to_str().unwrap()]));
}

#[test]
fn busy_poll_keeps_polling_only_while_traffic_is_recent() {
    // One connection, a request every 5 ms for 0.6 s: with a 20 ms window the server polls
    // through every gap; without one it sleeps through them. Once the client is gone, both
    // are idle.
    let run_with = |extra: &[&str]| {
        let s = Serve::start(extra);
        let pid = s.0.id();
        let cpu_ticks = |pid| common::cpu_ticks(pid).expect("the server's /proc stat");
        let before = cpu_ticks(pid);
        let o = run(&[
            "bench",
            "--connect",
            &s.addr(),
            "--rate",
            "200",
            "--duration",
            "0.6",
            "--concurrency",
            "1",
            "--json",
        ]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("\"errors\":0"), "{}", stdout(&o));
        let during = cpu_ticks(pid) - before;
        std::thread::sleep(Duration::from_millis(100));
        let rest = cpu_ticks(pid);
        std::thread::sleep(Duration::from_millis(300));
        (during, cpu_ticks(pid) - rest)
    };
    let (plain, plain_after) = run_with(&[]);
    let (busy, busy_after) = run_with(&["--busy-poll", "20000"]);
    assert!(
        busy >= 15 && busy >= 3 * plain.max(1),
        "busy-poll {busy} clock ticks, plain {plain}"
    );
    assert!(
        plain_after < 5 && busy_after < 5,
        "after: {plain_after}, {busy_after}"
    );
}
