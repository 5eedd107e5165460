//! Interop with freeDiameter (Debian's `freediameterd`), in plain TCP, TLS RFC 6733 style (the
//! handshake before CER, on freeDiameter's SecPort) and TLS in band, RFC 3588 style
//! (`TLS_old_method`), each way:
//!
//! ```text
//!   our client ──CER, DWR, CCR──▶ freeDiameter (relay) ──CER, DWR, CCR──▶ our server
//! ```
//!
//! Our client connects to freeDiameter, and freeDiameter connects to our server
//! (`ConnectPeer`). The CCR the client sends to `server.example.net` is relayed by
//! freeDiameter (it advertises the Relay application), answered by the server, and the CCA
//! comes back the same way. The client's watchdog (Tw 1 s) sends DWRs freeDiameter answers;
//! freeDiameter's watchdog (Tw 6 s) sends DWRs to the quiet server, which answers them.
//! Certificates are made here with rcgen.
//!
//! `DIAMETER_SKIP_FREEDIAMETER=1` skips these tests where freeDiameter is not installed
//! (`apt-get install freediameterd freediameter-extensions`); otherwise a missing daemon
//! fails them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::ResultCode;
use diameter_runtime::node::{Action, BoxFuture, Callbacks, Node, Request, TlsConfig};
use diameter_runtime::peer::{WatchdogConfig, WatchdogState};
use diameter_runtime::{DiameterIdentity, Header, Message};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

const T: Duration = Duration::from_secs(15);

/// Where freeDiameter's dictionary extensions may be.
const EXTENSION_DIRS: &[&str] = &[
    "/usr/lib/freeDiameter",
    "/usr/lib/x86_64-linux-gnu/freeDiameter",
    "/usr/local/lib/freeDiameter",
];

fn freediameter_ready() -> Option<PathBuf> {
    if std::env::var_os("DIAMETER_SKIP_FREEDIAMETER").is_some() {
        eprintln!("DIAMETER_SKIP_FREEDIAMETER set: skipping freeDiameter interop");
        return None;
    }
    let found = Command::new("freeDiameterd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "freeDiameterd is not installed (apt-get install freediameterd freediameter-extensions)"
    );
    let dir = EXTENSION_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("dict_dcca.fdx").exists());
    Some(dir.expect("freeDiameter's dict_dcca.fdx (apt-get install freediameter-extensions)"))
}

/// A CA and the certificates of the three hosts, written where freeDiameter reads them.
struct Pki {
    dir: PathBuf,
    ca_pem: String,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "interop test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki {
            dir: dir.to_path_buf(),
            ca_pem: ca.pem(),
            ca,
            ca_key,
        }
    }

    /// A certificate naming `host` (as subject CN and DNS name): (certificate, key) PEM,
    /// also written to `<short>.pem` / `<short>.key`.
    fn issue(&self, host: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let short = host.split('.').next().unwrap();
        std::fs::write(self.dir.join(format!("{short}.pem")), cert.pem()).unwrap();
        std::fs::write(self.dir.join(format!("{short}.key")), key.serialize_pem()).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn config(&self, host: &str) -> TlsConfig {
        let (cert, key) = self.issue(host);
        TlsConfig::from_pem(&cert, &key, &self.ca_pem, true).unwrap()
    }
}

/// A freeDiameter daemon, killed when dropped (its log is printed if the test failed).
struct FreeDiameter {
    child: Child,
    log: PathBuf,
}

impl Drop for FreeDiameter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- freeDiameter log (last lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// The three ways of running a connection.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Plain,
    /// RFC 6733: TLS from the first byte, on the TLS port.
    Tls,
    /// RFC 3588: TLS after CER/CEA on the plain port.
    Inband,
}

/// What a node saw and sent (the server's requests; both nodes' messages).
#[derive(Default)]
struct Seen {
    /// Route-Record values of the requests it handled.
    route_records: Vec<String>,
    /// (command code, request flag) of every message it wrote.
    sent: Vec<(u32, bool)>,
}

/// Records into [`Seen`] and answers CCRs with success.
struct Recorder(Arc<Mutex<Seen>>);

impl Callbacks for Recorder {
    fn sending(&self, message: &Bytes, _peer: Option<&DiameterIdentity>) {
        if let Ok(h) = Header::parse(message) {
            let request = h.flags.contains(diameter_runtime::CommandFlags::REQUEST);
            self.0.lock().unwrap().sent.push((h.command_code, request));
        }
    }

    fn handle_request(&self, req: Request) -> BoxFuture<Action> {
        let seen = self.0.clone();
        Box::pin(async move {
            if let Ok(m) = req.dynamic() {
                let mut seen = seen.lock().unwrap();
                for a in m.avps.iter().filter(|a| a.code == 282) {
                    seen.route_records
                        .push(String::from_utf8_lossy(&a.data()).into_owned());
                }
            }
            match node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS) {
                diameter_runtime::node::Reply::Answer(b) => Action::Reply(b),
                _ => Action::Discard,
            }
        })
    }
}

fn watchdog(tw: Duration) -> WatchdogConfig {
    WatchdogConfig {
        interval: tw,
        jitter: Duration::ZERO,
    }
}

async fn exchange(mode: Mode) {
    let Some(ext) = freediameter_ready() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("diameter-fd-{:?}-{}", mode, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pki = Pki::new(&dir);
    pki.issue("fd.example.net");

    // Our server, which freeDiameter connects to.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut b = Node::builder()
        .origin_host("server.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .callbacks(Recorder(seen.clone()));
    b = match mode {
        Mode::Plain => b.listen("127.0.0.1:0"),
        Mode::Tls => b
            .tls(pki.config("server.example.net"))
            .listen_tls("127.0.0.1:0"),
        Mode::Inband => b
            .tls(pki.config("server.example.net"))
            .tls_inband()
            .listen("127.0.0.1:0"),
    };
    let server = b.start().await.unwrap();
    let server_port = server.local_addrs()[0].port();

    let (plain, secure) = (node_tests::free_port(), node_tests::free_port());
    let flags = match mode {
        Mode::Plain => "No_TLS;",
        Mode::Tls => "",
        Mode::Inband => "TLS_old_method;",
    };
    let d = dir.display();
    let e = ext.display();
    let conf = format!(
        r#"Identity = "fd.example.net";
Realm = "example.net";
Port = {plain};
SecPort = {secure};
ListenOn = "127.0.0.1";
No_SCTP;
No_IPv6;
TwTimer = 6;
TcTimer = 1;
TLS_Cred = "{d}/fd.pem", "{d}/fd.key";
TLS_CA = "{d}/ca.pem";
LoadExtension = "{e}/dict_nasreq.fdx";
LoadExtension = "{e}/dict_dcca.fdx";
LoadExtension = "{e}/acl_wl.fdx" : "{d}/acl_wl.conf";
ConnectPeer = "server.example.net" {{ ConnectTo = "127.0.0.1"; Port = {server_port}; {flags} }};
"#
    );
    std::fs::write(dir.join("fd.conf"), conf).unwrap();
    // Incoming peers need freeDiameter's white list: ALLOW_IPSEC lets one in without TLS,
    // ALLOW_OLD_TLS with TLS in band; in-band mode allows only the latter.
    let acl = match mode {
        Mode::Inband => "ALLOW_OLD_TLS client.example.net\n",
        _ => "ALLOW_OLD_TLS ALLOW_IPSEC client.example.net\n",
    };
    std::fs::write(dir.join("acl_wl.conf"), acl).unwrap();
    let log = dir.join("fd.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("freeDiameterd")
        .arg("-c")
        .arg(dir.join("fd.conf"))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start freeDiameterd");
    let _fd = FreeDiameter { child, log };

    // Our client, which connects to freeDiameter.
    let sent_by_client = Arc::new(Mutex::new(Seen::default()));
    let mut b = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .watchdog(watchdog(Duration::from_secs(1)))
        .callbacks(Recorder(sent_by_client.clone()))
        .reconnect_interval(Duration::from_millis(300));
    b = match mode {
        Mode::Plain => b.peer_at("fd.example.net", &format!("aaa://127.0.0.1:{plain}")),
        Mode::Tls => b
            .tls(pki.config("client.example.net"))
            .peer_at("fd.example.net", &format!("aaas://127.0.0.1:{secure}")),
        Mode::Inband => b
            .tls(pki.config("client.example.net"))
            .tls_inband()
            .peer_at("fd.example.net", &format!("aaa://127.0.0.1:{plain}")),
    };
    let client = b.start().await.unwrap();

    // CER/CEA both ways: the client with freeDiameter (a relay, so application 4 is
    // usable), freeDiameter with the server.
    client
        .wait_for_ready(4, T)
        .await
        .expect("client: CER/CEA with freeDiameter");
    tokio::time::timeout(T, async {
        while !server
            .peers()
            .iter()
            .any(|(p, s)| p.origin_host == "fd.example.net" && *s == WatchdogState::Okay)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("server: freeDiameter connected and completed CER/CEA");
    let fd = client.peers();
    assert_eq!(fd[0].0.origin_host, "fd.example.net");
    assert_eq!(fd[0].0.product_name, "freeDiameter");

    // A CCR relayed through freeDiameter to the server and its CCA back.
    for n in 0..3u32 {
        let (_, mut ccr) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
        ccr.cc_request_number = n;
        ccr.destination_realm = "example.net".into();
        ccr.destination_host = Some("server.example.net".into());
        let cca: CreditControlAnswer = client.call(&ccr).await.expect("CCA through freeDiameter");
        assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
        assert_eq!(cca.origin_host, "server.example.net");
        assert_eq!(cca.cc_request_number, n);
    }
    assert_eq!(
        seen.lock().unwrap().route_records,
        vec!["client.example.net"; 3],
        "freeDiameter relayed, recording the client in Route-Record"
    );

    // DWR/DWA both ways: freeDiameter's watchdog (Tw 6 s, ±2 s) reaches the quiet server,
    // which answers; the client's DWRs (Tw 1 s) are answered and keep it OKAY.
    tokio::time::timeout(T, async {
        while !seen.lock().unwrap().sent.contains(&(280, false)) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("freeDiameter sent the server a DWR, which it answered");
    assert_eq!(client.peers()[0].1, WatchdogState::Okay);
    // Without DWAs the client's watchdog would have gone SUSPECT after 2 Tw.
    let dwrs = sent_by_client
        .lock()
        .unwrap()
        .sent
        .iter()
        .filter(|m| **m == (280, true))
        .count();
    assert!(dwrs >= 3, "the client sent {dwrs} DWRs");

    // DPR/DPA: the client leaves; freeDiameter answers, and the server's link stays up.
    client.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server
        .peers()
        .iter()
        .any(|(p, _)| p.origin_host == "fd.example.net"));
    server.shutdown().await;
    if std::env::var_os("DIAMETER_KEEP_FD_DIR").is_some() {
        eprintln!("freeDiameter files kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_tcp_both_ways() {
    exchange(Mode::Plain).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_before_cer_both_ways() {
    exchange(Mode::Tls).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_in_band_both_ways() {
    exchange(Mode::Inband).await;
}
