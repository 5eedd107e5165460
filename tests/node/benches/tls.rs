//! The cost of a TLS connection to a node's TLS listener (RFC 6733 style): TCP connect and
//! handshake, full (no session cache) and resumed (the client's session cache on).
//!
//! cargo bench -p node-tests --bench tls

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use diameter_runtime::node::{Node, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

fn handshakes(c: &mut Criterion) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issue = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (scert, skey) = issue("ocs.example.net");
    let (ccert, ckey) = issue("pcef.example.net");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        Node::builder()
            .origin_host("ocs.example.net")
            .origin_realm("example.net")
            .auth_application(4)
            .tls(TlsConfig::from_pem(&scert, &skey, &ca.pem(), true).unwrap())
            .listen_tls("127.0.0.1:0")
            .start()
            .await
            .unwrap()
    });
    let addr = server.local_addrs()[0];

    let client_config = || {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
            .unwrap();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ccert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(ckey.as_bytes()).unwrap();
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap()
    };
    let connect = |config: &Arc<rustls::ClientConfig>| {
        let name = ServerName::try_from("ocs.example.net").unwrap();
        let mut conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        // TLS 1.3 session tickets follow the handshake: take them for the next connection.
        tcp.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let _ = conn.complete_io(&mut tcp);
        conn.send_close_notify();
        let _ = conn.complete_io(&mut tcp);
        let _ = tcp.flush();
        resumed
    };

    let mut g = c.benchmark_group("tls-connect");
    let mut full = client_config();
    full.resumption = rustls::client::Resumption::disabled();
    let full = Arc::new(full);
    g.bench_function("full-handshake", |b| b.iter(|| assert!(!connect(&full))));
    let resuming = Arc::new(client_config());
    assert!(!connect(&resuming));
    g.bench_function("resumed-handshake", |b| {
        b.iter(|| assert!(connect(&resuming), "the session resumes"))
    });
    g.finish();
    drop(server);
}

criterion_group!(benches, handshakes);
criterion_main!(benches);
