//! TLS between two nodes, RFC 6733 style (the handshake before CER, on a listener of its own):
//! certificates made here with rcgen, a request answered over TLS, mutual TLS accepted and
//! refused, a certificate that does not name the expected Origin-Host refused (either side),
//! and a plain-text peer on the TLS port refused while TLS traffic carries on; and TLS in
//! band, RFC 3588 style.

use std::time::Duration;

use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlAnswer, CreditControlClient, CreditControlRequest,
    CreditControlServer, CreditControlService,
};
use diameter_runtime::base::ResultCode;
use diameter_runtime::node::{Event, Node, Request, ServiceResult, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

struct Ocs;

impl CreditControlService for Ocs {
    async fn credit_control(
        &self,
        req: Request<CreditControlRequest>,
    ) -> ServiceResult<CreditControlAnswer> {
        Ok(req.answer())
    }
}

/// A CA and certificates it signs.
struct Pki {
    ca_pem: String,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca,
            ca_key,
        }
    }

    /// (certificate PEM, key PEM) for `name`.
    fn issue(&self, name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &self.ca, &self.ca_key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn config(&self, name: &str, trust: &Pki, require_client_cert: bool) -> TlsConfig {
        let (cert, key) = self.issue(name);
        TlsConfig::from_pem(&cert, &key, &trust.ca_pem, require_client_cert).unwrap()
    }
}

async fn ocs(tls: TlsConfig) -> Node {
    Node::builder()
        .origin_host("ocs.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .tls(tls)
        .listen_tls("127.0.0.1:0")
        .handler(CreditControlServer::new(Ocs))
        .start()
        .await
        .unwrap()
}

async fn client(tls: Option<TlsConfig>, expect: &str, uri: String) -> Node {
    let mut b = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .reconnect_interval(Duration::from_millis(200))
        .peer_at(expect, &uri);
    if let Some(tls) = tls {
        b = b.tls(tls);
    }
    b.start().await.unwrap()
}

fn ccr() -> CreditControlRequest {
    CreditControlRequest {
        service_context_id: "32251@3gpp.org".into(),
        cc_request_type: CcRequestType::EventRequest,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_answered_over_tls() {
    let pki = Pki::new();
    let server = ocs(pki.config("ocs.example.net", &pki, true)).await;
    let port = server.local_addrs()[0].port();
    let node = client(
        Some(pki.config("pcef.example.net", &pki, false)),
        "ocs.example.net",
        format!("aaas://127.0.0.1:{port}"),
    )
    .await;
    node.wait_for_ready(4, Duration::from_secs(5))
        .await
        .expect("CER/CEA over TLS");
    let cca = CreditControlClient::new(node.clone())
        .credit_control(ccr())
        .await
        .unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(cca.origin_host, "ocs.example.net");

    // A plain-text peer on the TLS port is refused; TLS traffic carries on.
    let plain = client(None, "ocs.example.net", format!("127.0.0.1:{port}")).await;
    assert!(plain
        .wait_for_ready(4, Duration::from_millis(800))
        .await
        .is_err());
    let cca = CreditControlClient::new(node.clone())
        .credit_control(ccr())
        .await
        .unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
}

/// Whether a client with `tls` expecting `expect` fails to reach OKAY with the TLS
/// listener of `server`.
async fn refused(server: &Node, tls: TlsConfig, expect: &str) -> bool {
    let port = server.local_addrs()[0].port();
    let node = client(Some(tls), expect, format!("aaas://127.0.0.1:{port}")).await;
    node.wait_for_ready(4, Duration::from_millis(1500))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_refuses_an_unknown_client_certificate() {
    let pki = Pki::new();
    let rogue = Pki::new();
    // The client trusts the server's CA but presents a certificate of another CA.
    let server = ocs(pki.config("ocs.example.net", &pki, true)).await;
    let foreign = rogue.config("pcef.example.net", &pki, false);
    assert!(refused(&server, foreign.clone(), "ocs.example.net").await);
    // A certificate a client presents is checked even where none is required.
    let open = ocs(pki.config("ocs.example.net", &pki, false)).await;
    assert!(refused(&open, foreign, "ocs.example.net").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_not_naming_the_peer_is_refused() {
    let pki = Pki::new();
    let server = ocs(pki.config("ocs.example.net", &pki, false)).await;
    let own = pki.config("pcef.example.net", &pki, false);
    assert!(refused(&server, own.clone(), "hss.example.net").await);
    // The same certificates with the right name get in.
    assert!(!refused(&server, own, "ocs.example.net").await);
    // A client whose certificate names another host than its CER's Origin-Host
    // (pcef.example.net) is refused, unless the server does not check client names.
    let other = pki.config("other.example.net", &pki, false);
    assert!(refused(&server, other.clone(), "ocs.example.net").await);
    let lax = ocs(pki
        .config("ocs.example.net", &pki, false)
        .check_client_names(false))
    .await;
    assert!(!refused(&lax, other, "ocs.example.net").await);
}

#[test]
fn bad_pem_is_a_clear_error() {
    let pki = Pki::new();
    let (cert, key) = pki.issue("ocs.example.net");
    let e = TlsConfig::from_pem("not a certificate", &key, &pki.ca_pem, false).unwrap_err();
    assert!(e.to_string().contains("TLS: certificate"), "{e}");
    let e = TlsConfig::from_pem(&cert, "", &pki.ca_pem, false).unwrap_err();
    assert!(e.to_string().contains("TLS: private key"), "{e}");
    let e = TlsConfig::from_pem(&cert, &key, "", false).unwrap_err();
    assert!(e.to_string().contains("TLS: CA"), "{e}");
}

/// RFC 3588 style: CER/CEA in clear with Inband-Security-Id TLS on both sides, then TLS on
/// the same connection; a peer that does not offer TLS is refused with 5017.
/// A client of the in-band server on `port` with `tls`, given 300 ms to get through the
/// capabilities exchange (and the handshake, when it succeeds).
async fn inband_client(host: &str, tls: TlsConfig, port: u16) -> Node {
    let node = Node::builder()
        .origin_host(host)
        .origin_realm("example.net")
        .auth_application(4)
        .request_timeout(Duration::from_millis(500))
        .tls(tls)
        .tls_inband()
        .peer_at("ocs.example.net", &format!("127.0.0.1:{port}"))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    node
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_in_band_after_the_capabilities_exchange() {
    let pki = Pki::new();
    let server = Node::builder()
        .origin_host("ocs.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .tls(pki.config("ocs.example.net", &pki, true))
        .tls_inband()
        .listen("127.0.0.1:0")
        .handler(CreditControlServer::new(Ocs))
        .start()
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    let node = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .tls(pki.config("pcef.example.net", &pki, false))
        .tls_inband()
        .peer_at("ocs.example.net", &format!("127.0.0.1:{port}"))
        .start()
        .await
        .unwrap();
    node.wait_for_ready(4, Duration::from_secs(5))
        .await
        .unwrap();
    for _ in 0..3 {
        let cca = CreditControlClient::new(node.clone())
            .credit_control(ccr())
            .await
            .unwrap();
        assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    }
    // The handshake does happen: a client certificate of another CA ends the connection
    // right after CER/CEA, so requests fail.
    let rogue = Pki::new();
    let bad = inband_client(
        "pcef2.example.net",
        rogue.config("pcef2.example.net", &pki, false),
        port,
    )
    .await;
    assert!(CreditControlClient::new(bad.clone())
        .credit_control(ccr())
        .await
        .is_err());
    // A client certificate from the right CA that names another host: the server closes the
    // connection once the handshake is over, before handling anything sent in TLS.
    let mut events = server.events();
    let misnamed = inband_client(
        "pcef3.example.net",
        pki.config("other.example.net", &pki, false),
        port,
    )
    .await;
    assert!(CreditControlClient::new(misnamed.clone())
        .credit_control(ccr())
        .await
        .is_err());
    let down = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::PeerDown { host, reason }) = events.recv().await {
                if host == "pcef3.example.net" {
                    return reason;
                }
            }
        }
    })
    .await
    .expect("the server drops the misnamed client");
    assert!(down.contains("does not name pcef3.example.net"), "{down}");
    misnamed.shutdown().await;
    // Without TLS in band the client is refused.
    let plain = client(None, "ocs.example.net", format!("127.0.0.1:{port}")).await;
    assert!(plain
        .wait_for_ready(4, Duration::from_millis(800))
        .await
        .is_err());
}

/// The first `ConnectionFailed` reason `node` reports.
async fn connection_failure(events: &mut tokio::sync::broadcast::Receiver<Event>) -> String {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::ConnectionFailed { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("a ConnectionFailed event")
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_certificates_and_plain_text_are_named_in_events() {
    let pki = Pki::new();
    // A server certificate that expired in 2021.
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["ocs.example.net".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
    let expired =
        TlsConfig::from_pem(&cert.pem(), &key.serialize_pem(), &pki.ca_pem, false).unwrap();
    let server = ocs(expired).await;
    let port = server.local_addrs()[0].port();
    let node = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .reconnect_interval(Duration::from_millis(200))
        .tls(pki.config("pcef.example.net", &pki, false))
        .peer_at("ocs.example.net", &format!("aaas://127.0.0.1:{port}"));
    let node = node.start().await.unwrap();
    let mut events = node.events();
    let reason = connection_failure(&mut events).await;
    assert!(reason.contains("certificate expired"), "{reason}");
    node.shutdown().await;

    // Plain text on a TLS port: the server names it, the client sees its connection end.
    let good = ocs(pki.config("ocs.example.net", &pki, true)).await;
    let port = good.local_addrs()[0].port();
    let mut server_events = good.events();
    let plain = client(None, "ocs.example.net", format!("127.0.0.1:{port}")).await;
    let mut client_events = plain.events();
    let reason = connection_failure(&mut server_events).await;
    assert!(reason.contains("TLS"), "{reason}");
    let reason = connection_failure(&mut client_events).await;
    assert!(reason.contains("closed"), "{reason}");
    plain.shutdown().await;
    good.shutdown().await;
}
