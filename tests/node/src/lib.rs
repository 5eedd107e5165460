//! Loopback tests of the node: capabilities exchange outcomes, watchdog, disconnect, automatic
//! answers. The helpers here are shared by the test files.

use std::time::Duration;

use diameter_dictionaries::credit_control::CreditControlRequest;
use diameter_runtime::base::ResultCode;
use diameter_runtime::dynamic;
use diameter_runtime::node::{Node, Reply, Request};
use diameter_runtime::AvpFlags;

/// A TCP port on 127.0.0.1 that was free a moment ago (for daemons and listeners that need
/// a port named in advance).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (at most 5 s) until `node` has `n` connected peers; panics otherwise.
pub async fn wait_for_peers(node: &Node, n: usize) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while node.peers().len() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} peers up within 5 s"));
}

/// The AVPs a CCA echoes from its CCR: Auth-Application-Id (4), CC-Request-Type and
/// CC-Request-Number.
pub fn cca_echo(ccr: &CreditControlRequest) -> [dynamic::Avp; 3] {
    let m = AvpFlags::MANDATORY;
    [
        dynamic::Avp::new(258, m, 0, &4u32),
        dynamic::Avp::new(416, m, 0, &i32::from(ccr.cc_request_type)),
        dynamic::Avp::new(415, m, 0, &ccr.cc_request_number),
    ]
}

/// Answers a CCR with `rc` in a well-formed CCA; a request that does not decode as a CCR
/// gets the RFC 6733 error answer.
pub fn grant(req: &Request, rc: ResultCode) -> Reply {
    let ccr: CreditControlRequest = match req.decode() {
        Ok(c) => c,
        Err(e) => return req.error_answer(&e),
    };
    let mut a = req.generate_answer(rc);
    a.avps.extend(cca_echo(&ccr));
    Reply::Answer(a.encode())
}
