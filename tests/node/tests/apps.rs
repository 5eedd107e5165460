//! Applications bound to sets of peers (python-diameter's `add_application(app, peers)`):
//! two instances of one application on different peers, a peer outside both, and requests
//! sent through each instance reaching only its peers — with the generated client too.

use std::time::Duration;

use diameter_dictionaries::credit_control::{
    CreditControlAnswer, CreditControlClient, CreditControlRequest,
};
use diameter_runtime::base::ResultCode;
use diameter_runtime::codec::dynamic;
use diameter_runtime::node::{Application, Node, Reply, Request};
use diameter_runtime::{DiameterIdentity, Message};

const T: Duration = Duration::from_secs(5);

fn ccr() -> CreditControlRequest {
    CreditControlRequest::decode(codec_tests::ccr_260())
        .unwrap()
        .1
}

/// Answers CCRs with a well-formed CCA carrying `rc`.
fn answering(rc: ResultCode) -> impl Fn(Request) -> std::future::Ready<Reply> + Send + Sync {
    move |req: Request| std::future::ready(node_tests::grant(&req, rc))
}

async fn peer(name: &str, port: u16) -> Node {
    Node::builder()
        .origin_host(name)
        .origin_realm("example.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{port}"))
        .handler(answering(ResultCode::DIAMETER_SUCCESS))
        .start()
        .await
        .unwrap()
}

fn rc(m: &dynamic::Message) -> u32 {
    m.find(268, 0).unwrap().get::<u32>().unwrap()
}

fn origin(m: &dynamic::Message) -> String {
    m.find(264, 0)
        .unwrap()
        .get::<DiameterIdentity>()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn two_instances_of_one_application_on_different_peers() {
    let hub = Node::builder()
        .origin_host("hub.example.net")
        .origin_realm("example.net")
        .listen("127.0.0.1:0")
        .application(
            Application::auth(4)
                .peers(&["a.example.net"])
                .handler(answering(ResultCode::DIAMETER_SUCCESS)),
        )
        .application(
            Application::auth(4)
                .peers(&["b.example.net", "b2.example.net"])
                .handler(answering(ResultCode::DIAMETER_LIMITED_SUCCESS)),
        )
        .start()
        .await
        .unwrap();
    assert_eq!(hub.capabilities().applications.len(), 1, "advertised once");
    let port = hub.local_addrs()[0].port();
    let (a, b, c) = (
        peer("a.example.net", port).await,
        peer("b.example.net", port).await,
        peer("c.example.net", port).await,
    );
    for n in [&a, &b, &c] {
        n.wait_for_ready(4, T).await.unwrap();
    }
    // Incoming: each instance answers its own peers; a peer bound to neither gets 3007.
    let req = dynamic::Message::from_typed(&ccr(), 0, 0);
    let got = |n: Node| {
        let req = req.clone();
        async move { rc(&n.send_request(&req, T).await.unwrap()) }
    };
    assert_eq!(got(a.clone()).await, 2001);
    assert_eq!(got(b.clone()).await, 2002);
    assert_eq!(got(c.clone()).await, 3007);
    // Outgoing: each instance's handle sends only to its peers.
    let first = hub.application(0).unwrap();
    let second = hub.application(1).unwrap();
    assert!(hub.application(2).is_none());
    first.wait_for_ready(T).await.unwrap();
    second.wait_for_ready(T).await.unwrap();
    for _ in 0..6 {
        assert_eq!(
            origin(&first.send_request(&req, T).await.unwrap()),
            "a.example.net"
        );
        assert_eq!(
            origin(&second.send_request(&req, T).await.unwrap()),
            "b.example.net"
        );
    }
    // Typed, and through the generated client with the instance's filter.
    let cca: CreditControlAnswer = second.call(&ccr()).await.unwrap();
    assert_eq!(cca.origin_host, "b.example.net");
    let client = CreditControlClient::new(hub.clone()).with_filter(first.filter());
    for _ in 0..4 {
        let cca = client.credit_control(&ccr()).await.unwrap();
        assert_eq!(cca.origin_host, "a.example.net");
    }
    // An instance whose peers are all gone has nowhere to send.
    a.shutdown().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = first.send_request(&req, T).await.unwrap_err();
    assert_eq!(
        err.kind(),
        diameter_runtime::node::ErrorKind::NoRoute,
        "{err}"
    );
    assert!(first
        .wait_for_ready(Duration::from_millis(200))
        .await
        .is_err());
}
