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
    tokio::time::timeout(T, async {
        while client.peers().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
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
