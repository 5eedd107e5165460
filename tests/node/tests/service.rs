//! The generated service trait, its handler and the typed client, over TCP: an OCS written
//! as an implementation of `CreditControlService`.

use std::time::Duration;

use diameter_dictionaries::credit_control::{
    CreditControlAnswer, CreditControlClient, CreditControlRequest, CreditControlServer,
    CreditControlService, GrantedServiceUnit,
};
use diameter_runtime::base::ResultCode;
use diameter_runtime::codec::dynamic;
use diameter_runtime::node::{Node, Request, ServiceError, ServiceResult};
use diameter_runtime::Message;

struct Ocs;

impl CreditControlService for Ocs {
    async fn credit_control(
        &self,
        req: CreditControlRequest,
        ctx: Request,
    ) -> ServiceResult<CreditControlAnswer> {
        let who = req
            .subscription_id
            .first()
            .map(|s| s.subscription_id_data.to_string())
            .unwrap_or_default();
        if who == "000000000000" {
            return Err(ServiceError::new(ResultCode(4010)).with_message("end user service denied"));
        }
        let mut mscc = req.multiple_services_credit_control.clone();
        for m in &mut mscc {
            m.requested_service_unit = None;
            m.granted_service_unit = Some(GrantedServiceUnit {
                tariff_time_change: None,
                cc_time: None,
                cc_money: None,
                cc_total_octets: Some(1 << 20),
                cc_input_octets: None,
                cc_output_octets: None,
                cc_service_specific_units: None,
                avps: vec![],
            });
            m.result_code = Some(ResultCode::DIAMETER_SUCCESS);
        }
        let skeleton = ctx.generate_answer(ResultCode::DIAMETER_SUCCESS);
        let origin_host = skeleton.find(264, 0).unwrap().get().unwrap();
        let origin_realm = skeleton.find(296, 0).unwrap().get().unwrap();
        Ok(CreditControlAnswer {
            session_id: req.session_id,
            result_code: ResultCode::DIAMETER_SUCCESS,
            origin_host,
            origin_realm,
            auth_application_id: 4,
            cc_request_type: req.cc_request_type,
            cc_request_number: req.cc_request_number,
            user_name: None,
            cc_session_failover: None,
            cc_sub_session_id: None,
            acct_multi_session_id: None,
            origin_state_id: None,
            event_timestamp: None,
            granted_service_unit: None,
            multiple_services_credit_control: mscc,
            cost_information: None,
            final_unit_indication: None,
            qos_final_unit_indication: None,
            check_balance_result: None,
            credit_control_failure_handling: None,
            direct_debiting_failure_handling: None,
            validity_time: None,
            redirect_host: vec![],
            redirect_host_usage: None,
            redirect_max_cache_time: None,
            proxy_info: vec![],
            route_record: vec![],
            failed_avp: vec![],
            avps: vec![],
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_service_and_client() {
    let server = Node::builder()
        .origin_host("ocs.example.net")
        .origin_realm("example.net")
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
    let client = CreditControlClient::new(node.clone());

    let (_, mut ccr) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    let cca = client.credit_control(&ccr).await.unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(cca.origin_host, "ocs.example.net");
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
