//! The generated service trait, its handler and the typed client, over TCP: an OCS written
//! as an implementation of `CreditControlService`.

use std::time::Duration;

use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlAnswer, CreditControlClient, CreditControlRequest,
    CreditControlServer, CreditControlService, GrantedServiceUnit, MultipleServicesCreditControl,
};
use diameter_runtime::base::ResultCode;
use diameter_runtime::codec::dynamic;
use diameter_runtime::node::{Call, ErrorKind, Node, Request, ServiceError, ServiceResult};
use diameter_runtime::Message;

struct Ocs;

impl CreditControlService for Ocs {
    async fn credit_control(
        &self,
        req: Request<CreditControlRequest>,
    ) -> ServiceResult<CreditControlAnswer> {
        let who = req
            .subscription_id
            .first()
            .map(|s| s.subscription_id_data.as_str());
        if who == Some("000000000000") {
            return Err(ServiceError::new(ResultCode(4010)).with_message("end user service denied"));
        }
        let mut cca: CreditControlAnswer = req.answer();
        for m in &req.multiple_services_credit_control {
            cca.multiple_services_credit_control
                .push(MultipleServicesCreditControl {
                    granted_service_unit: Some(GrantedServiceUnit {
                        cc_total_octets: Some(1 << 20),
                        ..Default::default()
                    }),
                    rating_group: m.rating_group,
                    result_code: Some(ResultCode::DIAMETER_SUCCESS),
                    ..Default::default()
                });
        }
        Ok(cca)
    }
}

/// The OCS serving `Ocs` in `realm`, and a client node connected to it and ready.
async fn ocs_and_client(realm: &str) -> (Node, Node) {
    let server = Node::builder()
        .origin_host("ocs.example.net")
        .origin_realm(realm)
        .auth_application(4)
        .listen("127.0.0.1:0")
        .handler(CreditControlServer::new(Ocs))
        .start()
        .await
        .unwrap();
    let node = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{}", server.local_addrs()[0].port()))
        .start()
        .await
        .unwrap();
    node.wait_for_ready(4, Duration::from_secs(5))
        .await
        .unwrap();
    (server, node)
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_service_and_client() {
    let (_server, node) = ocs_and_client("example.net").await;
    let client = CreditControlClient::new(node.clone());

    let (_, mut ccr) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    let cca = client.credit_control(&ccr).await.unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(cca.origin_host, "ocs.example.net");
    assert_eq!(cca.origin_realm, "example.net");
    assert_eq!(cca.session_id, ccr.session_id);
    assert_eq!(cca.cc_request_type, ccr.cc_request_type);
    assert_eq!(cca.cc_request_number, ccr.cc_request_number);
    assert_eq!(cca.auth_application_id, 4);
    let gsu = cca.multiple_services_credit_control[0]
        .granted_service_unit
        .as_ref()
        .unwrap();
    assert_eq!(gsu.cc_total_octets, Some(1 << 20));
    assert_eq!(
        cca.multiple_services_credit_control[0].rating_group,
        Some(100)
    );

    // A service error becomes the answer's Result-Code and Error-Message. 4010 is not in
    // the CCA grammar's success shape, so read it through the dynamic view.
    ccr.subscription_id[0].subscription_id_data = "000000000000".into();
    let raw = node
        .send_request(
            &dynamic::Message::from_typed(&ccr, 0, 0),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(raw.find(268, 0).unwrap().get::<u32>().unwrap(), 4010);
    assert_eq!(
        raw.find(281, 0)
            .unwrap()
            .get::<diameter_runtime::Utf8String>()
            .unwrap(),
        "end user service denied"
    );

    // A request that fails its grammar is answered by the server, not passed to the service.
    let mut broken = dynamic::Message::from_typed(&ccr, 0, 0);
    broken.avps.retain(|a| a.code != 416);
    let raw = node
        .send_request(&broken, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(raw.find(268, 0).unwrap().get::<u32>().unwrap(), 5005);

    // Another command of the same application: 3001 with the E bit.
    let mut other = dynamic::Message::from_typed(&ccr, 0, 0);
    other.header.command_code = 8388999;
    let raw = node
        .send_request(&other, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(raw.header.flags.is_error());
    assert_eq!(raw.find(268, 0).unwrap().get::<u32>().unwrap(), 3001);
}

/// A request built from `Default` leaves the identity fields to the node: a fresh Session-Id
/// in the RFC 6733 §8.8 form, this node's Origin-Host and Origin-Realm, the Destination-Realm
/// of the peer that has the application, Auth-Application-Id 4. A required field left empty
/// is refused before anything is sent; a `Call` carries its own timeout.
#[tokio::test(flavor = "multi_thread")]
async fn the_node_fills_identity_fields_and_refuses_incomplete_requests() {
    let (_server, node) = ocs_and_client("ocs.example").await;
    let client = CreditControlClient::new(node.clone());

    let ccr = CreditControlRequest {
        service_context_id: "32251@3gpp.org".into(),
        cc_request_type: CcRequestType::InitialRequest,
        ..Default::default()
    };
    assert!(ccr.session_id.as_str().is_empty() && ccr.auth_application_id == 0);
    let first = client.credit_control(&ccr).await.unwrap();
    let second = client.credit_control(ccr.clone()).await.unwrap();
    assert_eq!(first.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(first.auth_application_id, 4);
    // <Origin-Host>;<high 32 bits>;<low 32 bits>, unique per request.
    let parts: Vec<&str> = first.session_id.as_str().split(';').collect();
    assert_eq!(parts.len(), 3, "{:?}", first.session_id);
    assert_eq!(parts[0], "pcef.example.net");
    assert!(parts[1].parse::<u32>().is_ok() && parts[2].parse::<u32>().is_ok());
    assert_ne!(first.session_id, second.session_id);
    assert_eq!(
        node.destination_realm(4, None).as_ref().map(|r| r.as_str()),
        Some("ocs.example")
    );

    // The server saw what the node filled in: the request's own bytes, decoded by the peer,
    // carried the identities (the answer copies Session-Id; Origin-Host is the server's).
    assert_eq!(first.origin_host, "ocs.example.net");

    // Service-Context-Id is required: an empty one is refused at the sender.
    let incomplete = CreditControlRequest {
        cc_request_type: CcRequestType::InitialRequest,
        ..Default::default()
    };
    let err = client.credit_control(incomplete).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Incomplete);
    assert!(err.to_string().contains("Service-Context-Id"), "{err}");
    // So is CC-Request-Type: its default (0) is not a value the dictionary names.
    let no_type = CreditControlRequest {
        service_context_id: "32251@3gpp.org".into(),
        ..Default::default()
    };
    let err = client.credit_control(no_type).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Incomplete);
    assert!(err.to_string().contains("CC-Request-Type"), "{err}");
    let sent: u64 = node.stats().iter().map(|s| s.requests_sent).sum();
    assert_eq!(sent, 2, "refused requests never reach the wire");

    // A per-call timeout: the answer comes well within it.
    let cca = client
        .credit_control(Call::new(ccr).timeout(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
}
