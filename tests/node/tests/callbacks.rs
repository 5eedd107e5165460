//! The Erlang-style callbacks: peer_up, pick_peer, prepare_request, handle_answer on a
//! client; handle_request returning each action on an agent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use diameter_dictionaries::credit_control::CreditControlRequest;
use diameter_runtime::base::ResultCode;
use diameter_runtime::codec::dynamic;
use diameter_runtime::node::{Action, BoxFuture, Callbacks, Node, Reply, Request};
use diameter_runtime::peer::PeerInfo;
use diameter_runtime::{AvpFlags, Message, RawAvp};

const T: Duration = Duration::from_secs(5);

struct Agent;

impl Callbacks for Agent {
    fn handle_request(&self, req: Request) -> BoxFuture<Action> {
        Box::pin(async move {
            let n = req
                .decode::<CreditControlRequest>()
                .map(|c| c.cc_request_number)
                .unwrap_or(99);
            match n {
                0 => Action::Reply(req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode()),
                1 => Action::ProtocolError(ResultCode::DIAMETER_COMMAND_UNSUPPORTED),
                2 => Action::AnswerMessage(
                    ResultCode::DIAMETER_MISSING_AVP,
                    Some(RawAvp::new(415, AvpFlags::MANDATORY, 0, vec![0u8; 4])),
                ),
                3 => Action::Relay,
                4 => panic!("callback bug"),
                _ => Action::Discard,
            }
        })
    }
}

#[derive(Default)]
struct Client {
    up: Mutex<Vec<String>>,
    answers: Mutex<usize>,
}

struct ClientCb(Arc<Client>);

impl Callbacks for ClientCb {
    fn peer_up(&self, peer: &PeerInfo) {
        self.0.up.lock().unwrap().push(peer.origin_host.to_string());
    }
    fn pick_peer(&self, candidates: &[PeerInfo], _request: &Bytes) -> Option<usize> {
        candidates
            .iter()
            .position(|p| p.origin_host == "agent.example.net")
    }
    fn prepare_request(&self, request: Bytes, _peer: &PeerInfo) -> Option<Bytes> {
        let mut m = dynamic::Message::decode(request).ok()?;
        m.avps
            .push(dynamic::Avp::new(278, AvpFlags::MANDATORY, 0, &4242u32));
        Some(m.encode())
    }
    fn handle_answer(&self, answer: Bytes, _request: &Bytes) -> Bytes {
        *self.0.answers.lock().unwrap() += 1;
        answer
    }
    fn handle_request(&self, _req: Request) -> BoxFuture<Action> {
        Box::pin(async { Action::Discard })
    }
}

fn ccr(n: u32) -> dynamic::Message {
    let (_, mut c) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    c.cc_request_number = n;
    dynamic::Message::from_typed(&c, 0, 0)
}

fn rc(m: &dynamic::Message) -> u32 {
    m.find(268, 0).unwrap().get::<u32>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_drive_requests_and_answers() {
    // The backend the agent relays to; it reports the Origin-State-Id it saw.
    let backend = Node::builder()
        .origin_host("backend.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .handler(|req: Request| {
            let d = req.dynamic().unwrap();
            let rr = d.find(282, 0).map(|a| {
                a.get::<diameter_runtime::DiameterIdentity>()
                    .unwrap()
                    .to_string()
            });
            assert_eq!(
                rr.as_deref(),
                Some("agent.example.net"),
                "relayed with Route-Record"
            );
            std::future::ready(Reply::Answer(
                req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode(),
            ))
        })
        .start()
        .await
        .unwrap();
    let agent = Node::builder()
        .origin_host("agent.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .peer(&format!("127.0.0.1:{}", backend.local_addrs()[0].port()))
        .callbacks(Agent)
        .start()
        .await
        .unwrap();
    agent.wait_for_ready(4, T).await.unwrap();
    let state = Arc::new(Client::default());
    let client = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{}", agent.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{}", backend.local_addrs()[0].port()))
        .callbacks(ClientCb(state.clone()))
        .start()
        .await
        .unwrap();
    node_tests::wait_for_peers(&client, 2).await;
    let mut up = state.up.lock().unwrap().clone();
    up.sort();
    assert_eq!(up, ["agent.example.net", "backend.example.net"]);

    let a = client.send_request(&ccr(0), T).await.unwrap();
    assert_eq!(rc(&a), 2001);
    assert_eq!(
        a.find(264, 0)
            .unwrap()
            .get::<diameter_runtime::DiameterIdentity>()
            .unwrap(),
        "agent.example.net",
        "pick_peer chose the agent"
    );
    let a = client.send_request(&ccr(1), T).await.unwrap();
    assert_eq!(rc(&a), 3001);
    assert!(a.header.flags.is_error());
    let a = client.send_request(&ccr(2), T).await.unwrap();
    assert_eq!(rc(&a), 5005);
    assert_eq!(a.find(279, 0).unwrap().data()[..4], 415u32.to_be_bytes());
    let a = client.send_request(&ccr(3), T).await.unwrap();
    assert_eq!(rc(&a), 2001);
    assert_eq!(
        a.find(264, 0)
            .unwrap()
            .get::<diameter_runtime::DiameterIdentity>()
            .unwrap(),
        "backend.example.net",
        "relayed by the agent"
    );
    let a = client.send_request(&ccr(4), T).await.unwrap();
    assert_eq!(
        rc(&a),
        5012,
        "a panicking callback answers UNABLE_TO_COMPLY"
    );
    let e = client
        .send_request(&ccr(5), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        diameter_runtime::node::ErrorKind::Timeout,
        "discarded: no answer"
    );
    assert_eq!(
        *state.answers.lock().unwrap(),
        5,
        "handle_answer saw every answer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prepare_request_changes_what_is_sent() {
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    let server = Node::builder()
        .origin_host("server.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .handler(move |req: Request| {
            *s2.lock().unwrap() = req
                .dynamic()
                .unwrap()
                .find(278, 0)
                .map(|a| a.get::<u32>().unwrap());
            std::future::ready(Reply::Answer(
                req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode(),
            ))
        })
        .start()
        .await
        .unwrap();
    let state = Arc::new(Client::default());
    let client = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{}", server.local_addrs()[0].port()))
        .callbacks(ClientCb(state.clone()))
        .start()
        .await
        .unwrap();
    client.wait_for_ready(4, T).await.unwrap();
    let a = client.send_request(&ccr(0), T).await.unwrap();
    assert_eq!(rc(&a), 2001);
    assert_eq!(
        *seen.lock().unwrap(),
        Some(4242),
        "prepare_request's AVP reached the server"
    );
}

#[derive(Default)]
struct Seen {
    prepared: Mutex<Vec<bool>>,
    retransmitted: Mutex<Vec<(bool, String)>>,
    errors: Mutex<Vec<String>>,
    sent: Mutex<Vec<(u32, bool, Option<String>)>>,
}

struct Retrying(Arc<Seen>);

impl Callbacks for Retrying {
    fn pick_peer(&self, candidates: &[PeerInfo], _request: &Bytes) -> Option<usize> {
        // The silent peer first, whenever it is still a candidate.
        candidates
            .iter()
            .position(|p| p.origin_host == "silent.example.net")
    }
    fn prepare_request(&self, request: Bytes, _peer: &PeerInfo) -> Option<Bytes> {
        self.0.prepared.lock().unwrap().push(request[4] & 0x10 != 0);
        Some(request)
    }
    fn prepare_retransmit(&self, request: Bytes, peer: &PeerInfo) -> Option<Bytes> {
        self.0
            .retransmitted
            .lock()
            .unwrap()
            .push((request[4] & 0x10 != 0, peer.origin_host.to_string()));
        Some(request)
    }
    fn handle_error(
        &self,
        error: diameter_runtime::node::Error,
        request: &Bytes,
    ) -> Result<Bytes, diameter_runtime::node::Error> {
        self.0.errors.lock().unwrap().push(error.to_string());
        // Turn "no route" into a local 3002 answer for the caller.
        let mut a = dynamic::Message::decode(request.clone()).unwrap();
        a.header = a.header.answer();
        a.avps
            .retain(|x| x.code == 263 || x.code == 264 || x.code == 296);
        a.avps.push(dynamic::Avp::new(
            268,
            AvpFlags::MANDATORY,
            0,
            &ResultCode::DIAMETER_UNABLE_TO_DELIVER.0,
        ));
        Ok(a.encode())
    }
    fn sending(&self, message: &Bytes, peer: Option<&diameter_runtime::DiameterIdentity>) {
        let command = u32::from_be_bytes([0, message[5], message[6], message[7]]);
        self.0.sent.lock().unwrap().push((
            command,
            message[4] & 0x80 != 0,
            peer.map(|p| p.to_string()),
        ));
    }
    fn handle_request(&self, _req: Request) -> BoxFuture<Action> {
        Box::pin(async { Action::Discard })
    }
}

#[tokio::test]
async fn prepare_retransmit_handle_error_and_the_sending_hook() {
    let server = |name: &'static str, answer: bool| async move {
        Node::builder()
            .origin_host(name)
            .origin_realm("example.net")
            .auth_application(4)
            .listen("127.0.0.1:0")
            .handler(move |req: Request| async move {
                if !answer {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                Reply::Answer(req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode())
            })
            .start()
            .await
            .unwrap()
    };
    let silent = server("silent.example.net", false).await;
    let fast = server("fast.example.net", true).await;
    let seen = Arc::new(Seen::default());
    let client = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .retransmit_on_timeout(Duration::from_millis(200), 1)
        .peer(&format!("127.0.0.1:{}", silent.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{}", fast.local_addrs()[0].port()))
        .callbacks(Retrying(seen.clone()))
        .start()
        .await
        .unwrap();
    node_tests::wait_for_peers(&client, 2).await;
    let a = client.send_request(&ccr(0), T).await.unwrap();
    assert_eq!(rc(&a), 2001);
    assert_eq!(
        a.find(264, 0)
            .unwrap()
            .get::<diameter_runtime::DiameterIdentity>()
            .unwrap(),
        "fast.example.net"
    );
    assert_eq!(
        *seen.prepared.lock().unwrap(),
        [false],
        "first attempt, no T flag"
    );
    assert_eq!(
        *seen.retransmitted.lock().unwrap(),
        [(true, "fast.example.net".to_string())],
        "the retransmission goes through prepare_retransmit, with the T flag"
    );
    // A request no peer may take: handle_error's answer reaches the caller.
    let a = client
        .send_request_filtered(
            &ccr(1),
            T,
            diameter_runtime::node::Filter::Host("nobody.example.net".into()),
        )
        .await
        .unwrap();
    assert_eq!(rc(&a), 3002);
    let errors = seen.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("no peer"), "{errors:?}");
    // The hook saw the CERs before the peers were known, then the requests with their peer.
    let sent = seen.sent.lock().unwrap().clone();
    assert_eq!(
        sent.iter().filter(|s| *s == &(257, true, None)).count(),
        2,
        "{sent:?}"
    );
    assert!(
        sent.contains(&(272, true, Some("silent.example.net".into()))),
        "{sent:?}"
    );
    assert!(
        sent.contains(&(272, true, Some("fast.example.net".into()))),
        "{sent:?}"
    );
    // Statistics per command: what the client and the fast server exchanged.
    let stats = client.stats();
    let fast_stats = stats.iter().find(|s| s.host == "fast.example.net").unwrap();
    let ccr_stats = fast_stats
        .commands
        .iter()
        .find(|c| (c.application, c.command) == (4, 272))
        .expect("CCR statistics");
    assert_eq!(
        (ccr_stats.requests_sent, ccr_stats.answers_received),
        (1, 1)
    );
    assert_eq!(ccr_stats.results_received[1], 1, "one 2xxx answer");
    let cer = fast_stats
        .commands
        .iter()
        .find(|c| (c.application, c.command) == (0, 257))
        .expect("CER statistics");
    assert_eq!((cer.requests_sent, cer.answers_received), (1, 1));
    let server_side = fast.stats();
    let ccr_in = server_side[0]
        .commands
        .iter()
        .find(|c| (c.application, c.command) == (4, 272))
        .unwrap();
    assert_eq!((ccr_in.requests_received, ccr_in.answers_sent), (1, 1));
    assert_eq!(ccr_in.results_sent[1], 1);
}
