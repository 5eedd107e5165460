//! `diameter`: serve, send, bench, decode and check dictionaries.
//!
//! ```text
//! diameter serve --listen 127.0.0.1:3868
//! diameter bench --connect 127.0.0.1:3868 --requests 100000 --concurrency 256
//! diameter send --connect 127.0.0.1:3868 --app credit-control --command Credit-Control \
//!     --avp Service-Context-Id=32251@3gpp.org --avp CC-Request-Type=INITIAL_REQUEST --avp CC-Request-Number=0
//! diameter decode --hex 0100...
//! diameter dict check my.xml
//! ```

mod bench;
mod decode;
mod dict;
mod serve;
mod value;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use diameter_runtime::codec::dynamic;
use diameter_runtime::node::{Event, Node, NodeBuilder};
use diameter_runtime::{CommandFlags, Header};

use crate::dict::Dict;

#[derive(Parser)]
#[command(
    name = "diameter",
    version,
    about = "Diameter (RFC 6733) node, load generator and decoder"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
struct Identity {
    /// Origin-Host of this node.
    #[arg(long, default_value = "diameter.example.net")]
    origin_host: String,
    /// Origin-Realm of this node.
    #[arg(long, default_value = "example.net")]
    origin_realm: String,
    /// Extra dictionary files (native XML); repeatable.
    #[arg(long = "dictionary", value_name = "FILE")]
    dictionaries: Vec<PathBuf>,
}

/// TLS (RFC 6733 style: the handshake before CER): for `--tls-listen` listeners and
/// `aaas://` peers.
#[derive(Args, Clone)]
struct Tls {
    /// This node's certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The CA certificates peers' certificates must chain to (PEM).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Refuse TLS clients without a certificate from --tls-ca (mutual TLS).
    #[arg(long)]
    tls_require_client_cert: bool,
    /// TLS in band (RFC 3588 style): advertise Inband-Security-Id TLS and turn to TLS right
    /// after CER/CEA on plain connections; peers without it get 5017.
    #[arg(long)]
    tls_inband: bool,
}

impl Tls {
    /// The configuration, if --tls-cert, --tls-key and --tls-ca are given (all or none).
    fn config(&self) -> Result<Option<diameter_runtime::node::TlsConfig>, String> {
        match (&self.tls_cert, &self.tls_key, &self.tls_ca) {
            (None, None, None) => Ok(None),
            (Some(c), Some(k), Some(ca)) => diameter_runtime::node::TlsConfig::from_pem_files(
                c,
                k,
                ca,
                self.tls_require_client_cert,
            )
            .map(Some)
            .map_err(|e| e.to_string()),
            _ => Err("TLS needs all of --tls-cert, --tls-key and --tls-ca".into()),
        }
    }

    /// `builder` with the TLS configuration, if any.
    fn apply(&self, builder: NodeBuilder) -> Result<NodeBuilder, String> {
        Ok(match (self.config()?, self.tls_inband) {
            (Some(c), false) => builder.tls(c),
            (Some(c), true) => builder.tls(c).tls_inband(),
            (None, false) => builder,
            (None, true) => {
                return Err("--tls-inband needs --tls-cert, --tls-key and --tls-ca".into())
            }
        })
    }
}

/// What a serving node tolerates from the connections it accepts.
#[derive(Args, Clone)]
struct Limits {
    /// Seconds a new connection may take to complete the capabilities exchange.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    cer_timeout: f64,
    /// Seconds a message may take to arrive whole once its first byte has.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    frame_timeout: f64,
    /// Most connections at once.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Most connections still in the capabilities exchange at once.
    #[arg(long, default_value_t = 256)]
    max_pending: usize,
    /// Answers kept to replay to retransmitted duplicates (RFC 6733 §5.5.4); 0 turns
    /// duplicate detection off.
    #[arg(long, default_value_t = 8192, value_name = "N")]
    duplicate_cache: usize,
    /// Seconds an answer stays in the duplicate cache.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    duplicate_lifetime: f64,
    /// Low-latency mode: microseconds each connection keeps polling instead of sleeping
    /// after traffic (keeps a core busy; off by default).
    #[arg(long, value_name = "MICROS")]
    busy_poll: Option<u64>,
}

impl Limits {
    fn apply(&self, b: NodeBuilder) -> Result<NodeBuilder, String> {
        let secs = |name: &str, v: f64| {
            Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("--{name} must be a positive number of seconds, not {v}"))
        };
        Ok(b.cer_timeout(secs("cer-timeout", self.cer_timeout)?)
            .frame_timeout(secs("frame-timeout", self.frame_timeout)?)
            .max_connections(self.max_connections)
            .max_pending_connections(self.max_pending)
            .duplicate_cache(self.duplicate_cache)
            .duplicate_lifetime(secs("duplicate-lifetime", self.duplicate_lifetime)?)
            .busy_poll(Duration::from_micros(self.busy_poll.unwrap_or(0))))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Answer every request of the loaded applications.
    Serve {
        #[command(flatten)]
        id: Identity,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3868")]
        listen: String,
        /// Result-Code of the answers.
        #[arg(long, default_value_t = 2001)]
        result_code: u32,
        /// TOML configuration: origin_host, origin_realm, listen = [..], peers = [..],
        /// result_code, dictionaries = [..], [[routes]] tables (realm, application,
        /// action = local|relay|proxy|redirect, peers = [..]), and tls_cert, tls_key, tls_ca,
        /// tls_listen = [..], tls_require_client_cert, tls_inband, sctp_listen = [..].
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        limits: Limits,
        /// Also listen here with TLS (RFC 6733: port 5658 by convention); repeatable.
        #[arg(long = "tls-listen", value_name = "ADDR")]
        tls_listen: Vec<String>,
        /// Also listen on SCTP; several addresses separated by commas make one multihomed
        /// endpoint (`10.0.0.1:3868,10.0.1.1`); repeatable. Needs a kernel with SCTP.
        #[arg(long = "sctp-listen", value_name = "ADDR[,ADDR]")]
        sctp_listen: Vec<String>,
        #[command(flatten)]
        tls: Tls,
    },
    /// Send one request and print the answer.
    Send {
        #[command(flatten)]
        id: Identity,
        /// Peer address (host:port or aaa:// URI).
        #[arg(long)]
        connect: String,
        /// Application name or id.
        #[arg(long, default_value = "credit-control")]
        app: String,
        /// Command name (e.g. Credit-Control) or code.
        #[arg(long)]
        command: Option<String>,
        /// Destination-Realm.
        #[arg(long)]
        destination_realm: Option<String>,
        /// An AVP as Name=Value; repeatable.
        #[arg(long = "avp", value_name = "NAME=VALUE")]
        avps: Vec<String>,
        /// The request in TOML or JSON: command, application, avps = { Name = value, ... }.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for the peer and the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
        #[command(flatten)]
        tls: Tls,
    },
    /// Load generator: CCR-Initial (credit-control) or ACR (accounting).
    Bench {
        #[command(flatten)]
        id: Identity,
        /// Peer address; without it, an in-process `serve` on loopback is benchmarked.
        #[arg(long)]
        connect: Option<String>,
        /// Destination-Realm.
        #[arg(long, default_value = "example.net")]
        destination_realm: String,
        /// credit-control or accounting.
        #[arg(long, default_value = "credit-control")]
        app: String,
        /// Number of requests (default 100000 unless --duration).
        #[arg(long)]
        requests: Option<u64>,
        /// Run for this many seconds instead.
        #[arg(long)]
        duration: Option<f64>,
        /// Requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Requests per second at most.
        #[arg(long)]
        rate: Option<f64>,
        /// Seconds before a request counts as unanswered.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        /// Low-latency mode: microseconds the client's connection (and the in-process
        /// server's, without --connect) keeps polling instead of sleeping after traffic.
        #[arg(long, value_name = "MICROS")]
        busy_poll: Option<u64>,
        #[command(flatten)]
        tls: Tls,
    },
    /// Decode messages from hex, a binary file, or a pcap/pcapng capture.
    Decode {
        /// Hex of one or more messages.
        #[arg(long)]
        hex: Option<String>,
        /// A binary file or a capture.
        file: Option<PathBuf>,
        /// TCP port of Diameter in captures.
        #[arg(long, default_value_t = 3868)]
        port: u16,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Extra dictionary files.
        #[arg(long = "dictionary", value_name = "FILE")]
        dictionaries: Vec<PathBuf>,
    },
    /// Check, list or convert dictionaries.
    Dict {
        #[command(subcommand)]
        action: DictCmd,
    },
}

#[derive(Subcommand)]
enum DictCmd {
    /// Validate dictionary files: every error with file:line; non-zero exit on any.
    Check {
        /// Files, loaded as one set together with the bundled base dictionary.
        files: Vec<PathBuf>,
        /// Read go-diameter files as go-diameter does (warnings instead of some errors).
        #[arg(long)]
        go_diameter: bool,
    },
    /// List applications, commands and AVPs of the loaded dictionaries.
    List {
        /// Extra dictionary files.
        #[arg(long = "dictionary", value_name = "FILE")]
        dictionaries: Vec<PathBuf>,
    },
    /// Print dictionaries as native XML.
    Convert {
        /// Files to convert.
        files: Vec<PathBuf>,
        /// Input format: native, go-diameter, dia, wireshark, freediameter-xml,
        /// freediameter-json or freediameter-csv; detected per file when absent.
        #[arg(long)]
        from: Option<String>,
        /// A dictionary the inputs build on (e.g. the AVP library an Erlang file
        /// `@inherits`): loaded with them, not printed. Repeatable.
        #[arg(long = "with", value_name = "FILE")]
        with: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("diameter: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("diameter: {e}");
            ExitCode::from(2)
        }
    }
}

/// One `[[routes]]` table: realm, action (local, relay, proxy, redirect), peers, and an
/// optional application id.
fn parse_route(v: &toml::Value) -> Result<diameter_runtime::node::Route, String> {
    use diameter_runtime::node::{Route, RouteAction};
    let realm = v
        .get("realm")
        .and_then(|r| r.as_str())
        .ok_or("`realm` is required (use \"*\" for the default route)")?;
    let action = match v.get("action").and_then(|a| a.as_str()).unwrap_or("relay") {
        "local" => RouteAction::Local,
        "relay" => RouteAction::Relay,
        "proxy" => RouteAction::Proxy,
        "redirect" => RouteAction::Redirect,
        other => {
            return Err(format!(
                "action `{other}` is not local, relay, proxy or redirect"
            ))
        }
    };
    let application = match v.get("application") {
        None => None,
        Some(a) => Some(
            a.as_integer()
                .filter(|i| *i >= 0)
                .ok_or("`application` is an application id")? as u32,
        ),
    };
    let peers: Vec<String> = match v.get("peers") {
        None => Vec::new(),
        Some(p) => p
            .as_array()
            .ok_or("`peers` is a list of Origin-Hosts")?
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .ok_or("`peers` is a list of Origin-Hosts")
            })
            .collect::<Result<_, _>>()?,
    };
    if peers.is_empty() && action != RouteAction::Local {
        return Err(format!("a {action:?} route needs `peers`"));
    }
    Ok(Route {
        realm: realm.to_string(),
        application,
        action,
        peers,
    })
}

fn peer_address(s: &str) -> Result<String, String> {
    if s.starts_with("aaa://") || s.starts_with("aaas://") {
        return Ok(s.to_string());
    }
    s.parse::<std::net::SocketAddr>()
        .map(|a| a.to_string())
        .or_else(|_| {
            if s.rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                Ok(s.to_string())
            } else {
                Err(format!("`{s}` is neither host:port nor an aaa:// URI"))
            }
        })
}

/// Connects a client node to `connect` and waits for the capabilities exchange; a refused
/// connection or CER gives a one-line error quickly.
async fn client(
    builder: NodeBuilder,
    connect: &str,
    app: u32,
    timeout: Duration,
) -> Result<Node, String> {
    let target = peer_address(connect)?;
    let (tcp_target, sctp) = if target.starts_with("aaa") {
        let u = diameter_runtime::DiameterUri::parse(&target)?;
        let sctp = u.transport == diameter_runtime::codec::types::Transport::Sctp;
        (format!("{}:{}", u.host, u.port), sctp)
    } else {
        (target.clone(), false)
    };
    // A refused TCP connection is reported at once (SCTP's show through the readiness wait).
    if !sctp {
        tokio::net::TcpStream::connect(&tcp_target)
            .await
            .map_err(|e| format!("cannot connect to {tcp_target}: {e}"))?;
    }
    let node = builder
        .peer(&target)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let mut events = node.events();
    let outcome = {
        let ready = node.wait_for_ready(app, timeout);
        tokio::pin!(ready);
        loop {
            tokio::select! {
                r = &mut ready => break r.map_err(|_| format!("{connect} did not become ready for application {app} within {timeout:?}")),
                e = events.recv() => match e {
                    Ok(Event::Refused { result_code, reason, .. }) => {
                        break Err(format!("{connect} refused the capabilities exchange: {result_code} {reason}"));
                    }
                    Ok(Event::ConnectionFailed { reason, .. }) => {
                        break Err(format!("{connect}: {reason}"));
                    }
                    _ => {}
                }
            }
        }
    };
    match outcome {
        Ok(()) => Ok(node),
        Err(e) => {
            node.shutdown().await;
            Err(e)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Cmd::Serve {
            id,
            listen,
            result_code,
            config,
            limits,
            tls_listen,
            sctp_listen,
            tls,
        } => {
            let mut sctp_listen = sctp_listen;
            let mut id = id;
            let mut tls = tls;
            let mut tls_listen = tls_listen;
            let mut listens = vec![listen];
            let mut peers = Vec::new();
            let mut rc = result_code;
            let mut routes: Vec<diameter_runtime::node::Route> = Vec::new();
            if let Some(path) = config {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let cfg: toml::Value =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                if let Some(h) = cfg.get("origin_host").and_then(|v| v.as_str()) {
                    id.origin_host = h.into();
                }
                if let Some(r) = cfg.get("origin_realm").and_then(|v| v.as_str()) {
                    id.origin_realm = r.into();
                }
                if let Some(l) = cfg.get("listen").and_then(|v| v.as_array()) {
                    listens = l
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect();
                }
                if let Some(p) = cfg.get("peers").and_then(|v| v.as_array()) {
                    peers = p
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect();
                }
                if let Some(r) = cfg.get("result_code").and_then(|v| v.as_integer()) {
                    rc = r as u32;
                }
                // tls_cert, tls_key, tls_ca, tls_listen = [..], tls_require_client_cert,
                // tls_inband: as the flags of the same names.
                let file = |k: &str| cfg.get(k).and_then(|v| v.as_str()).map(PathBuf::from);
                tls.tls_cert = file("tls_cert").or(tls.tls_cert);
                tls.tls_key = file("tls_key").or(tls.tls_key);
                tls.tls_ca = file("tls_ca").or(tls.tls_ca);
                let flag = |k: &str| cfg.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
                tls.tls_require_client_cert |= flag("tls_require_client_cert");
                tls.tls_inband |= flag("tls_inband");
                if let Some(l) = cfg.get("tls_listen").and_then(|v| v.as_array()) {
                    tls_listen.extend(l.iter().filter_map(|v| v.as_str().map(String::from)));
                }
                if let Some(l) = cfg.get("sctp_listen").and_then(|v| v.as_array()) {
                    sctp_listen.extend(l.iter().filter_map(|v| v.as_str().map(String::from)));
                }
                if let Some(d) = cfg.get("dictionaries").and_then(|v| v.as_array()) {
                    id.dictionaries
                        .extend(d.iter().filter_map(|v| v.as_str().map(PathBuf::from)));
                }
                if let Some(list) = cfg.get("routes").and_then(|v| v.as_array()) {
                    for (i, r) in list.iter().enumerate() {
                        routes.push(
                            parse_route(r)
                                .map_err(|e| format!("{}: routes[{i}]: {e}", path.display()))?,
                        );
                    }
                } else if cfg.get("routes").is_some() {
                    return Err(format!(
                        "{}: `routes` must be an array of tables ([[routes]])",
                        path.display()
                    ));
                }
            }
            let dict = Arc::new(Dict::load(&id.dictionaries)?);
            let mut b = tls.apply(limits.apply(Node::builder())?)?;
            for l in &listens {
                b = b.listen(l);
            }
            for l in &tls_listen {
                b = b.listen_tls(l);
            }
            for l in &sctp_listen {
                let addrs: Vec<&str> = l.split(',').map(str::trim).collect();
                b = b.listen_sctp(&addrs);
            }
            for p in &peers {
                b = b.peer(&peer_address(p)?);
            }
            for r in &routes {
                let peers: Vec<&str> = r.peers.iter().map(String::as_str).collect();
                b = b.route(&r.realm, r.application, r.action, &peers);
            }
            let node = serve::start(dict, b, &id.origin_host, &id.origin_realm, rc).await?;
            eprintln!("serving {} on {:?}", id.origin_host, node.local_addrs());
            let mut events = node.events();
            loop {
                tokio::select! {
                    e = events.recv() => match e {
                        Ok(Event::PeerUp { host, applications }) => eprintln!("peer up: {host} {applications:?}"),
                        Ok(Event::PeerDown { host, reason }) => eprintln!("peer down: {host} ({reason})"),
                        Ok(Event::Refused { addr, result_code, reason }) => eprintln!("refused {addr}: {result_code} {reason}"),
                        Ok(Event::ConnectionFailed { addr, reason }) => eprintln!("connection {addr} failed: {reason}"),
                        _ => {}
                    },
                    _ = tokio::signal::ctrl_c() => {
                        node.shutdown().await;
                        return Ok(ExitCode::SUCCESS);
                    }
                }
            }
        }
        Cmd::Send {
            id,
            connect,
            app,
            command,
            destination_realm,
            avps,
            file,
            json,
            timeout,
            tls,
        } => {
            let dict = Dict::load(&id.dictionaries)?;
            let timeout = Duration::from_secs(timeout);
            let req = build_request(
                &dict,
                &id,
                &app,
                command.as_deref(),
                destination_realm.as_deref(),
                &avps,
                file.as_deref(),
            )?;
            let app_id = req.header.application_id;
            let b = tls.apply(
                Node::builder()
                    .origin_host(&id.origin_host)
                    .origin_realm(&id.origin_realm),
            )?;
            // Advertise the application of the request only.
            let acct = dict
                .model
                .application(app_id)
                .is_some_and(|a| a.kind == Some(diameter_codegen::model::AppKind::Acct));
            let b = if acct {
                b.acct_application(app_id)
            } else {
                b.auth_application(app_id)
            };
            let node = client(b, &connect, app_id, timeout).await?;
            let answer = node
                .send_request(&req, timeout)
                .await
                .map_err(|e| e.to_string())?;
            let answer = decode::decode(&dict, answer.encode())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&decode::json(&dict, &answer)).unwrap_or_default()
                );
            } else {
                print!("{}", decode::tree(&dict, &answer));
            }
            node.shutdown().await;
            let rc = answer.find(268, 0).and_then(|a| a.get::<u32>().ok());
            Ok(if rc.is_some_and(|rc| (2000..3000).contains(&rc)) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Bench {
            id,
            connect,
            destination_realm,
            app,
            requests,
            duration,
            concurrency,
            rate,
            timeout,
            json,
            busy_poll,
            tls,
        } => {
            let busy_poll = Duration::from_micros(busy_poll.unwrap_or(0));
            let app = bench::App::parse(&app)?;
            let dict = Arc::new(Dict::load(&id.dictionaries)?);
            let timeout_d = Duration::from_secs(timeout);
            let (target, server) = match connect {
                Some(c) => (c, None),
                None => {
                    let s = serve::start(
                        dict.clone(),
                        Node::builder().listen("127.0.0.1:0").busy_poll(busy_poll),
                        "server.example.net",
                        "example.net",
                        2001,
                    )
                    .await?;
                    let addr = s.local_addrs()[0];
                    if !json {
                        eprintln!(
                            "no --connect: benchmarking an in-process `diameter serve` on {addr}"
                        );
                    }
                    (addr.to_string(), Some(s))
                }
            };
            let b = tls.apply(
                Node::builder()
                    .origin_host(&id.origin_host)
                    .origin_realm(&id.origin_realm)
                    .request_timeout(timeout_d)
                    .busy_poll(busy_poll),
            )?;
            let b = match app {
                bench::App::CreditControl => b.auth_application(4),
                bench::App::Accounting => b.acct_application(3),
            };
            let node = client(b, &target, app.id(), timeout_d).await?;
            let params = bench::Params {
                app,
                origin_host: id.origin_host.clone(),
                origin_realm: id.origin_realm.clone(),
                destination_realm,
                requests: if duration.is_some() {
                    requests
                } else {
                    Some(requests.unwrap_or(100_000))
                },
                duration: duration.map(Duration::from_secs_f64),
                concurrency,
                rate,
                timeout: timeout_d,
                progress: !json,
            };
            let report = bench::run(&node, params).await;
            node.shutdown().await;
            if let Some(s) = server {
                s.shutdown().await;
            }
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print!("{}", report.text());
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Decode {
            hex,
            file,
            port,
            json,
            dictionaries,
        } => {
            let dict = Dict::load(&dictionaries)?;
            let messages = decode::input(hex.as_deref(), file.as_deref(), port)?;
            if messages.is_empty() {
                return Err("no Diameter message found".into());
            }
            let validator = diameter_runtime::dictionary::Dictionary::from_model(&dict.model)
                .with_strictness(diameter_runtime::dictionary::Strictness::STRICT);
            let mut out = Vec::new();
            let mut failed = false;
            for m in messages {
                let verdict = decode::verdict(&validator, &m);
                match decode::decode(&dict, m) {
                    Ok(d) if json => {
                        let mut o = decode::json(&dict, &d);
                        o["grammar"] = decode::verdict_json(&verdict);
                        out.push(o)
                    }
                    Ok(d) => println!(
                        "{}  {}\n",
                        decode::tree(&dict, &d),
                        decode::verdict_line(&verdict)
                    ),
                    Err(e) if json => {
                        failed = true;
                        out.push(serde_json::json!({ "error": e }))
                    }
                    Err(e) => {
                        failed = true;
                        println!("{e}\n")
                    }
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Dict { action } => dict_cmd(action),
    }
}

fn dict_cmd(action: DictCmd) -> Result<ExitCode, String> {
    match action {
        DictCmd::Check { files, go_diameter } => {
            if files.is_empty() {
                return Err("dict check: give one or more files".into());
            }
            let mut config = diameter_codegen::Config::new();
            config.go_diameter_compat(go_diameter);
            match config.load(&files) {
                Ok(d) => {
                    for w in &d.warnings {
                        println!("{w}");
                    }
                    println!(
                        "ok: {} application(s), {} AVP(s), {} warning(s)",
                        d.applications
                            .iter()
                            .filter(|a| a.external.is_none())
                            .count(),
                        d.avps
                            .iter()
                            .filter(|a| d.application(a.app).is_some_and(|x| x.external.is_none()))
                            .count(),
                        d.warnings.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    for d in e.diagnostics() {
                        println!("{d}");
                    }
                    let n = e
                        .diagnostics()
                        .iter()
                        .filter(|d| d.severity == diameter_codegen::Severity::Error)
                        .count();
                    eprintln!("diameter: {n} error(s)");
                    Ok(ExitCode::from(1))
                }
            }
        }
        DictCmd::List { dictionaries } => {
            let dict = Dict::load(&dictionaries)?;
            for app in &dict.model.applications {
                println!("application {} {}", app.id, app.name);
                for c in &app.commands {
                    println!("  command {} {}", c.code, c.name);
                }
                for &i in &app.avps {
                    let a = &dict.model.avps[i];
                    let vendor = if a.vendor_id != 0 {
                        format!(" vendor {}", a.vendor_id)
                    } else {
                        String::new()
                    };
                    println!("  avp {}{vendor} {} {}", a.code, a.name, a.type_name);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DictCmd::Convert { files, from, with } => {
            if files.is_empty() {
                return Err("dict convert: name at least one dictionary file".into());
            }
            let mut config = diameter_codegen::Config::new();
            match from.as_deref() {
                None => {}
                Some("go-diameter") => {
                    config.go_diameter_compat(true);
                }
                Some(name) => {
                    let format =
                        diameter_codegen::import::Format::from_name(name).ok_or_else(|| {
                            let known: Vec<&str> = diameter_codegen::import::Format::ALL
                                .iter()
                                .map(|f| f.name())
                                .collect();
                            format!(
                                "--from {name}: unknown format (known: {}, go-diameter)",
                                known.join(", ")
                            )
                        })?;
                    config.format(Some(format));
                }
            }
            for w in &with {
                config.extern_dictionary(w, "crate");
            }
            let converted = config.convert(&files).map_err(|e| match e {
                diameter_codegen::Error::Invalid(diags) => {
                    let errors: Vec<_> = diags
                        .iter()
                        .filter(|d| d.severity == diameter_codegen::Severity::Error)
                        .collect();
                    match errors.as_slice() {
                        [] => "the dictionaries do not load".to_string(),
                        [one] => one.to_string(),
                        [first, rest @ ..] => format!(
                            "{first} (and {} more errors; see `diameter dict check`)",
                            rest.len()
                        ),
                    }
                }
                other => other.to_string(),
            })?;
            for w in &converted.warnings {
                eprintln!("{w}");
            }
            print!("{}", converted.xml);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Builds a request from --avp flags or a file, adding Session-Id, Origin-Host/Realm,
/// Destination-Realm and the application-id AVP when absent.
fn build_request(
    dict: &Dict,
    id: &Identity,
    app: &str,
    command: Option<&str>,
    destination_realm: Option<&str>,
    avps: &[String],
    file: Option<&std::path::Path>,
) -> Result<dynamic::Message, String> {
    let mut app_name = app.to_string();
    let mut command = command.map(String::from);
    let mut members: Vec<(String, serde_json::Value)> = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            let t: toml::Value =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::to_value(t).map_err(|e| e.to_string())?
        };
        if let Some(c) = v.get("command").and_then(|c| c.as_str()) {
            command = Some(c.to_string());
        }
        if let Some(a) = v.get("application") {
            app_name = a
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| a.to_string());
        }
        if let Some(obj) = v.get("avps").and_then(|a| a.as_object()) {
            members.extend(obj.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    for a in avps {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("--avp {a}: expected Name=Value"))?;
        members.push((
            k.trim().to_string(),
            serde_json::Value::String(v.trim().to_string()),
        ));
    }
    let application = dict
        .application(&app_name)
        .ok_or_else(|| format!("unknown application `{app_name}`"))?;
    let cmd = match command.as_deref() {
        None => application.commands.first().ok_or_else(|| {
            format!(
                "application {} has no command; give --command",
                application.name
            )
        })?,
        Some(c) => {
            let c = c.trim_end_matches("-Request");
            application
                .commands
                .iter()
                .find(|x| {
                    x.name.eq_ignore_ascii_case(c)
                        || x.short
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case(c.trim_end_matches('R')))
                        || x.code.to_string() == c
                })
                .or_else(|| {
                    dict.model
                        .application(0)
                        .and_then(|b| b.commands.iter().find(|x| x.name.eq_ignore_ascii_case(c)))
                })
                .ok_or_else(|| format!("unknown command `{c}` in {}", application.name))?
        }
    };
    let mut flags = CommandFlags::REQUEST;
    if cmd.proxiable {
        flags = flags.with(CommandFlags::PROXIABLE);
    }
    let mut msg = dynamic::Message {
        header: Header::new(flags, cmd.code, application.id, 0, 0),
        avps: Vec::new(),
    };
    let given: Vec<String> = members
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    let has = |n: &str| given.iter().any(|g| g == &n.to_ascii_lowercase());
    let mut add = |name: &str, v: String| -> Result<(), String> {
        msg.avps
            .extend(value::from_json(dict, name, &serde_json::Value::String(v))?);
        Ok(())
    };
    if !has("Session-Id") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        add(
            "Session-Id",
            format!("{};{now};{}", id.origin_host, std::process::id()),
        )?;
    }
    if !has("Origin-Host") {
        add("Origin-Host", id.origin_host.clone())?;
    }
    if !has("Origin-Realm") {
        add("Origin-Realm", id.origin_realm.clone())?;
    }
    if !has("Destination-Realm") {
        add(
            "Destination-Realm",
            destination_realm.unwrap_or(&id.origin_realm).to_string(),
        )?;
    }
    let app_avp = if application.kind == Some(diameter_codegen::model::AppKind::Acct) {
        "Acct-Application-Id"
    } else {
        "Auth-Application-Id"
    };
    if !has(app_avp) && application.id != 0 {
        add(app_avp, application.id.to_string())?;
    }
    for (k, v) in &members {
        msg.avps.extend(value::from_json(dict, k, v)?);
    }
    Ok(msg)
}
