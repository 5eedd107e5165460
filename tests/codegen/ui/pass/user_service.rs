// Generated code as a user writes against it: messages from `..Default::default()`, an answer
// started from its request in one call, a service implemented with `Request<T>`, a client
// call with its own timeout.
include!("../../golden/credit_control.rs");

use std::time::Duration;

use credit_control::*;
use diameter_runtime::base::ResultCode;
use diameter_runtime::node::{Call, FromRequest, Request, ServiceResult};
use diameter_runtime::Message;

struct Ocs;

impl CreditControlService for Ocs {
    async fn credit_control(
        &self,
        req: Request<CreditControlRequest>,
    ) -> ServiceResult<CreditControlAnswer> {
        let mut cca: CreditControlAnswer = req.answer();
        if req.cc_request_type != CcRequestType::TerminationRequest {
            cca.granted_service_unit = Some(GrantedServiceUnit {
                cc_time: Some(3600),
                ..Default::default()
            });
        }
        Ok(cca)
    }
}

async fn reserve(client: &CreditControlClient) -> Option<u32> {
    let ccr = CreditControlRequest {
        service_context_id: "32251@3gpp.org".into(),
        cc_request_type: CcRequestType::InitialRequest,
        ..Default::default()
    };
    let cca = client
        .credit_control(Call::new(ccr).timeout(Duration::from_millis(500)))
        .await
        .ok()?;
    cca.granted_service_unit?.cc_time
}

fn main() {
    let _server = CreditControlServer::new(Ocs);
    let _ = reserve;
    let ccr = CreditControlRequest {
        session_id: "pcef.example;1;2".into(),
        cc_request_type: CcRequestType::UpdateRequest,
        cc_request_number: 7,
        auth_application_id: APPLICATION_ID,
        ..Default::default()
    };
    let cca = CreditControlAnswer::from_request(&ccr, &"ocs.example".into(), &"example".into());
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    assert_eq!(cca.session_id, ccr.session_id);
    assert_eq!(cca.origin_host, "ocs.example");
    assert_eq!(
        (cca.cc_request_type, cca.cc_request_number, cca.auth_application_id),
        (CcRequestType::UpdateRequest, 7, 4)
    );
    assert_eq!(CreditControlAnswer::NAME, "Credit-Control-Answer");
    assert_eq!(command::CREDIT_CONTROL, 272);
    assert_eq!(avp::CC_REQUEST_TYPE.code, 416);
}
