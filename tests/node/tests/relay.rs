//! Agents: a relay chain client → relay → server (Route-Record, end-to-end kept, new
//! hop-by-hop), loop detection (3005), no route (3002), and a redirect agent (3006) that the
//! client follows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diameter_runtime::base::ResultCode;
use diameter_runtime::codec::dynamic;
use diameter_runtime::node::{Node, Reply, Request, RouteAction};
use diameter_runtime::{AvpFlags, CommandFlags, DiameterIdentity, Header};

const T: Duration = Duration::from_secs(5);

/// What the home server saw of each request: hop-by-hop, end-to-end, Route-Records.
type Seen = Arc<Mutex<Vec<(u32, u32, Vec<String>)>>>;

async fn home_server(seen: Seen) -> Node {
    Node::builder()
        .origin_host("hss.home.net")
        .origin_realm("home.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .handler(move |req: Request| {
            let d = req.dynamic().unwrap();
            let rr: Vec<String> = d
                .find_all(282, 0)
                .map(|a| a.get::<DiameterIdentity>().unwrap().to_string())
                .collect();
            seen.lock()
                .unwrap()
                .push((req.header().hop_by_hop, req.header().end_to_end, rr));
            std::future::ready(Reply::Answer(
                req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode(),
            ))
        })
        .start()
        .await
        .unwrap()
}

fn request(dest_realm: &str, route_records: &[&str]) -> dynamic::Message {
    let m = AvpFlags::MANDATORY;
    let mut avps = vec![
        dynamic::Avp::new(
            263,
            m,
            0,
            &diameter_runtime::Utf8String::from("client.visited.net;1"),
        ),
        dynamic::Avp::new(264, m, 0, &DiameterIdentity::from("client.visited.net")),
        dynamic::Avp::new(296, m, 0, &DiameterIdentity::from("visited.net")),
        dynamic::Avp::new(283, m, 0, &DiameterIdentity::from(dest_realm)),
        dynamic::Avp::new(258, m, 0, &4u32),
    ];
    for r in route_records {
        avps.push(dynamic::Avp::new(282, m, 0, &DiameterIdentity::from(*r)));
    }
    dynamic::Message {
        header: Header::new(
            CommandFlags::REQUEST | CommandFlags::PROXIABLE,
            272,
            4,
            0,
            0,
        ),
        avps,
    }
}

fn rc(m: &dynamic::Message) -> u32 {
    m.find(268, 0).unwrap().get::<u32>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_chain_loop_and_no_route() {
    let seen: Seen = Arc::default();
    let home = home_server(seen.clone()).await;
    let relay = Node::builder()
        .origin_host("dra.visited.net")
        .origin_realm("visited.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .peer(&format!("127.0.0.1:{}", home.local_addrs()[0].port()))
        .route("home.net", Some(4), RouteAction::Relay, &["hss.home.net"])
        .start()
        .await
        .unwrap();
    let client = Node::builder()
        .origin_host("client.visited.net")
        .origin_realm("visited.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{}", relay.local_addrs()[0].port()))
        .start()
        .await
        .unwrap();
    client.wait_for_ready(4, T).await.unwrap();
    relay.wait_for_ready(4, T).await.unwrap();
    node_tests::wait_for_peers(&relay, 2).await;

    let answer = client
        .send_request(&request("home.net", &[]), T)
        .await
        .unwrap();
    assert_eq!(rc(&answer), 2001);
    assert_eq!(
        answer
            .find(264, 0)
            .unwrap()
            .get::<DiameterIdentity>()
            .unwrap(),
        "hss.home.net"
    );
    let (hbh, e2e, rr) = seen.lock().unwrap()[0].clone();
    assert_eq!(rr, ["dra.visited.net"], "the relay added its Route-Record");
    assert_eq!(
        e2e, answer.header.end_to_end,
        "the relay kept the end-to-end id"
    );
    assert_ne!(
        hbh, answer.header.hop_by_hop,
        "the relay used its own hop-by-hop id"
    );

    // The relay's identity already in Route-Record: a loop.
    let looped = client
        .send_request(&request("home.net", &["dra.visited.net"]), T)
        .await
        .unwrap();
    assert_eq!(rc(&looped), 3005);
    assert!(looped.header.flags.is_error());
    // A realm no route serves.
    let lost = client
        .send_request(&request("nowhere.net", &[]), T)
        .await
        .unwrap();
    assert_eq!(rc(&lost), 3002);
    assert!(lost.header.flags.is_error());
    assert_eq!(seen.lock().unwrap().len(), 1, "neither reached the server");
}

/// A home server, a redirect agent sending home.net to it (with this Redirect-Host-Usage
/// and cache time), and a client that reaches home.net through the agent and is also
/// connected to the home server, so it can follow the redirect.
async fn redirected(
    seen: Seen,
    usage: diameter_runtime::base::RedirectHostUsage,
    secs: u64,
) -> (Node, Node, Node) {
    let home = home_server(seen).await;
    let redirect = Node::builder()
        .origin_host("redirect.visited.net")
        .origin_realm("visited.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .route("home.net", None, RouteAction::Redirect, &["hss.home.net"])
        .redirect_usage(usage, Duration::from_secs(secs))
        .start()
        .await
        .unwrap();
    let client = Node::builder()
        .origin_host("client.visited.net")
        .origin_realm("visited.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{}", redirect.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{}", home.local_addrs()[0].port()))
        .route(
            "home.net",
            None,
            RouteAction::Relay,
            &["redirect.visited.net"],
        )
        .start()
        .await
        .unwrap();
    node_tests::wait_for_peers(&client, 2).await;
    (home, redirect, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_agent_and_the_client_follows() {
    let seen: Seen = Arc::default();
    let (_home, redirect, client) = redirected(
        seen.clone(),
        diameter_runtime::base::RedirectHostUsage::DontCache,
        0,
    )
    .await;
    let answer = client
        .send_request(&request("home.net", &[]), T)
        .await
        .unwrap();
    assert_eq!(
        rc(&answer),
        2001,
        "redirected to hss.home.net and answered there"
    );
    assert_eq!(
        answer
            .find(264, 0)
            .unwrap()
            .get::<DiameterIdentity>()
            .unwrap(),
        "hss.home.net"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    // A client that knows only the redirect agent gets its 3006 answer as it is.
    let lone = Node::builder()
        .origin_host("lone.visited.net")
        .origin_realm("visited.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{}", redirect.local_addrs()[0].port()))
        .start()
        .await
        .unwrap();
    lone.wait_for_ready(4, T).await.unwrap();
    let answer = lone
        .send_request(&request("home.net", &[]), T)
        .await
        .unwrap();
    assert_eq!(rc(&answer), 3006);
    assert!(answer.header.flags.is_error());
    let uri = answer
        .find(292, 0)
        .expect("Redirect-Host")
        .get::<diameter_runtime::DiameterUri>()
        .unwrap();
    assert_eq!((uri.host.as_str(), uri.port), ("hss.home.net", 3868));
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the redirect itself reached no server"
    );
}

/// How many CCRs the redirect agent received from its peers.
fn ccrs_received(node: &Node) -> u64 {
    node.stats()
        .iter()
        .flat_map(|p| p.commands.iter())
        .filter(|c| (c.application, c.command) == (4, 272))
        .map(|c| c.requests_received)
        .sum()
}

#[tokio::test]
async fn redirects_are_cached_as_redirect_host_usage_says() {
    use diameter_runtime::base::RedirectHostUsage as U;
    // (usage, cache time, requests reaching the redirect agent for three requests: two in
    // session 1, one in session 2).
    let cases = [
        (U::DontCache, 60, 3),
        (U::AllRealm, 60, 1),
        (U::AllSession, 60, 2),
        (U::AllApplication, 60, 1),
        (U::AllRealm, 0, 3), // cached for zero seconds: nothing kept
    ];
    for (usage, secs, expected) in cases {
        let seen: Seen = Arc::default();
        let (_home, redirect, client) = redirected(seen.clone(), usage, secs).await;
        for session in [1, 1, 2] {
            let mut r = request("home.net", &[]);
            r.avps[0] = dynamic::Avp::new(
                263,
                AvpFlags::MANDATORY,
                0,
                &diameter_runtime::Utf8String::from(
                    format!("client.visited.net;{session}").as_str(),
                ),
            );
            let answer = client.send_request(&r, T).await.unwrap();
            assert_eq!(rc(&answer), 2001, "{usage:?}");
        }
        assert_eq!(seen.lock().unwrap().len(), 3, "{usage:?}");
        assert_eq!(ccrs_received(&redirect), expected, "{usage:?} for {secs} s");
    }
}
