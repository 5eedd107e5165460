//! Interop with a real third-party peer: python-diameter (PyPI `python-diameter`, import name
//! `diameter`) as a client of our node and as a server for our client. `.ci/run` installs it;
//! without it these tests fail (set DIAMETER_SKIP_PYTHON=1 to skip on a machine without it).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlAnswer, CreditControlRequest,
};
use diameter_runtime::base::{
    AccountingAnswer, AccountingRecordType, AccountingRequest, ResultCode,
};
use diameter_runtime::node::{Event, Node, Reply, Request};
use diameter_runtime::{Message, Utf8String};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("py")
        .join(name)
}

fn python_ready() -> bool {
    if std::env::var_os("DIAMETER_SKIP_PYTHON").is_some() {
        eprintln!("DIAMETER_SKIP_PYTHON set: skipping python-diameter interop");
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import diameter.node"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python-diameter is not installed (pip install python-diameter)"
    );
    true
}

/// Answers CCR and ACR with success, echoing the identifying AVPs.
fn echo(req: Request) -> std::future::Ready<Reply> {
    let mut a = req.generate_answer(ResultCode::DIAMETER_SUCCESS);
    if let Ok(d) = req.dynamic() {
        for code in [258, 259, 416, 415, 480, 485] {
            if let Some(x) = d.find(code, 0) {
                a.avps.push(x.clone());
            }
        }
    }
    std::future::ready(Reply::Answer(a.encode()))
}

async fn events_until(node: &Node, f: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut ev = node.events();
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(e) = ev.recv().await {
                let done = f(&e);
                seen.push(e);
                if done {
                    return;
                }
            }
        }
    })
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn python_client_against_our_node() {
    if !python_ready() {
        return;
    }
    let s = Node::builder()
        .origin_host("rust-server.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .acct_application(3)
        .listen("127.0.0.1:0")
        .handler(echo)
        .start()
        .await
        .unwrap();
    let port = s.local_addrs()[0].port();
    let watcher = {
        let s = s.clone();
        tokio::spawn(async move { events_until(&s, |e| matches!(e, Event::PeerDown { .. })).await })
    };
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script("client.py"))
            .arg(port.to_string())
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().expect("a JSON line");
    let r: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(r["cca_result_code"], 2001, "{r}");
    assert_eq!(r["cca_origin_host"], "rust-server.example.net");
    assert_eq!(r["cca_session_id"], "py-client.example.net;1;1");
    assert_eq!(r["cca_request_type"], 1);
    assert_eq!(r["cca_request_number"], 0);
    assert_eq!(r["aca_result_code"], 2001);
    assert_eq!(r["aca_record_number"], 7);
    // After an idle period with python's DWR answered, the connection still carries requests.
    assert_eq!(r["cca2_result_code"], 2001);
    assert_eq!(r["cca2_request_number"], 1);
    let seen = watcher.await.unwrap();
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::PeerUp { host, .. } if host == "py-client.example.net")),
        "{seen:?}"
    );
    let down = seen.iter().find_map(|e| match e {
        Event::PeerDown { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        down.as_deref()
            .is_some_and(|r| r.contains("disconnected by the peer")),
        "python's DPR: {down:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn our_client_against_python_server() {
    if !python_ready() {
        return;
    }
    let port = node_tests::free_port();
    let mut child = Command::new("python3")
        .arg(script("server.py"))
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::task::spawn_blocking(move || {
        let first = lines.next().and_then(|l| l.ok());
        (first, lines)
    })
    .await
    .unwrap();
    assert_eq!(ready.0.as_deref(), Some("READY"));
    let lines = ready.1;

    let c = Node::builder()
        .origin_host("rust-client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .acct_application(3)
        .peer(&format!("aaa://127.0.0.1:{port};transport=tcp"))
        .start()
        .await
        .unwrap();
    c.wait_for_ready(4, Duration::from_secs(10)).await.unwrap();
    assert_eq!(c.peers()[0].0.origin_host, "py-server.example.net");
    assert_eq!(c.peers()[0].0.product_name, "python-diameter");

    let (_, mut ccr) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    ccr.session_id = Utf8String::from("rust-client.example.net;1;1");
    ccr.origin_host = "rust-client.example.net".into();
    ccr.origin_realm = "example.net".into();
    ccr.destination_realm = "example.net".into();
    ccr.cc_request_number = 5;
    let cca: CreditControlAnswer = c.call(&ccr).await.unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(cca.origin_host, "py-server.example.net");
    assert_eq!(cca.session_id, "rust-client.example.net;1;1");
    assert_eq!(
        (cca.cc_request_type, cca.cc_request_number),
        (CcRequestType::InitialRequest, 5)
    );

    let acr = AccountingRequest {
        session_id: "rust-client.example.net;1;2".into(),
        origin_host: "rust-client.example.net".into(),
        origin_realm: "example.net".into(),
        destination_realm: "example.net".into(),
        accounting_record_type: AccountingRecordType::EventRecord,
        accounting_record_number: 9,
        acct_application_id: Some(3),
        vendor_specific_application_id: None,
        user_name: None,
        destination_host: None,
        accounting_sub_session_id: None,
        acct_session_id: None,
        acct_multi_session_id: None,
        acct_interim_interval: None,
        accounting_realtime_required: None,
        origin_state_id: None,
        event_timestamp: None,
        proxy_info: vec![],
        route_record: vec![],
        avps: vec![],
    };
    let aca: AccountingAnswer = c.call(&acr).await.unwrap();
    assert_eq!(aca.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(aca.accounting_record_number, 9);

    let watcher = {
        let c = c.clone();
        tokio::spawn(async move { events_until(&c, |e| matches!(e, Event::PeerDown { .. })).await })
    };
    c.shutdown().await;
    let seen = watcher.await.unwrap();
    let down = seen.iter().find_map(|e| match e {
        Event::PeerDown { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        down.as_deref().is_some_and(|r| r.contains("DPA received")),
        "python answered our DPR: {down:?}"
    );

    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "stop");
    let rest: Vec<String> =
        tokio::task::spawn_blocking(move || lines.map_while(Result::ok).collect())
            .await
            .unwrap();
    let _ = child.wait();
    let requests: Vec<serde_json::Value> = rest
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.get("command").is_some())
        .collect();
    assert_eq!(requests.len(), 2, "python saw both requests: {rest:?}");
    assert_eq!(requests[0]["command"], 272);
    assert_eq!(requests[0]["session_id"], "rust-client.example.net;1;1");
    assert_eq!(requests[1]["command"], 271);
    assert_eq!(requests[1]["origin_host"], "rust-client.example.net");
}
