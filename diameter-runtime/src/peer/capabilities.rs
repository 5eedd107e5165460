//! Capabilities exchange (RFC 6733 §5.3): what a node advertises, and what two nodes share.

use std::net::IpAddr;

use crate::base::{
    CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest, InbandSecurityId, ResultCode,
    VendorSpecificApplicationId,
};
use crate::codec::{Address, DiameterIdentity, Utf8String};

/// The Relay application id: a relay advertises it and supports every application.
pub const RELAY_APPLICATION_ID: u32 = 0xffff_ffff;

/// One application a node supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppId {
    /// An authentication/authorization application (Auth-Application-Id).
    Auth(u32),
    /// An accounting application (Acct-Application-Id).
    Acct(u32),
    /// A vendor-specific authentication application.
    VendorAuth(u32, u32),
    /// A vendor-specific accounting application.
    VendorAcct(u32, u32),
}

impl AppId {
    /// The application id, whatever its kind.
    pub fn id(self) -> u32 {
        match self {
            AppId::Auth(i) | AppId::Acct(i) | AppId::VendorAuth(_, i) | AppId::VendorAcct(_, i) => {
                i
            }
        }
    }
}

/// The capabilities of one node, as sent in CER/CEA.
#[derive(Clone, Debug, PartialEq)]
pub struct Capabilities {
    /// Origin-Host.
    pub origin_host: DiameterIdentity,
    /// Origin-Realm.
    pub origin_realm: DiameterIdentity,
    /// Host-IP-Address (at least one).
    pub host_ip_addresses: Vec<IpAddr>,
    /// Vendor-Id.
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: Utf8String,
    /// Origin-State-Id.
    pub origin_state_id: Option<u32>,
    /// Supported-Vendor-Id.
    pub supported_vendor_ids: Vec<u32>,
    /// The applications.
    pub applications: Vec<AppId>,
    /// Inband-Security-Id; empty means NO_INBAND_SECURITY only.
    pub inband_security_ids: Vec<InbandSecurityId>,
    /// Firmware-Revision.
    pub firmware_revision: Option<u32>,
}

impl Capabilities {
    /// Capabilities with the identity and no application yet.
    pub fn new(origin_host: &str, origin_realm: &str) -> Self {
        Capabilities {
            origin_host: origin_host.into(),
            origin_realm: origin_realm.into(),
            host_ip_addresses: vec![IpAddr::from([127, 0, 0, 1])],
            vendor_id: 0,
            product_name: Utf8String::from_static("diameter-rs"),
            origin_state_id: None,
            supported_vendor_ids: Vec::new(),
            applications: Vec::new(),
            inband_security_ids: Vec::new(),
            firmware_revision: None,
        }
    }

    fn split_apps(&self) -> (Vec<u32>, Vec<u32>, Vec<VendorSpecificApplicationId>) {
        let (mut auth, mut acct, mut vsa) = (Vec::new(), Vec::new(), Vec::new());
        for a in &self.applications {
            match *a {
                AppId::Auth(i) => auth.push(i),
                AppId::Acct(i) => acct.push(i),
                AppId::VendorAuth(v, i) => vsa.push(VendorSpecificApplicationId {
                    vendor_id: v,
                    auth_application_id: Some(i),
                    acct_application_id: None,
                }),
                AppId::VendorAcct(v, i) => vsa.push(VendorSpecificApplicationId {
                    vendor_id: v,
                    auth_application_id: None,
                    acct_application_id: Some(i),
                }),
            }
        }
        (auth, acct, vsa)
    }

    /// A CER advertising these capabilities.
    pub fn cer(&self) -> CapabilitiesExchangeRequest {
        let (auth, acct, vsa) = self.split_apps();
        CapabilitiesExchangeRequest {
            origin_host: self.origin_host.clone(),
            origin_realm: self.origin_realm.clone(),
            host_ip_address: self
                .host_ip_addresses
                .iter()
                .map(|ip| Address::from(*ip))
                .collect(),
            vendor_id: self.vendor_id,
            product_name: self.product_name.clone(),
            origin_state_id: self.origin_state_id,
            supported_vendor_id: self.supported_vendor_ids.clone(),
            auth_application_id: auth,
            inband_security_id: self.inband_security_ids.clone(),
            acct_application_id: acct,
            vendor_specific_application_id: vsa,
            firmware_revision: self.firmware_revision,
            avps: Vec::new(),
        }
    }

    /// A CEA with these capabilities and `result_code`.
    pub fn cea(
        &self,
        result_code: ResultCode,
        error_message: Option<&str>,
    ) -> CapabilitiesExchangeAnswer {
        let (auth, acct, vsa) = self.split_apps();
        CapabilitiesExchangeAnswer {
            result_code,
            origin_host: self.origin_host.clone(),
            origin_realm: self.origin_realm.clone(),
            host_ip_address: self
                .host_ip_addresses
                .iter()
                .map(|ip| Address::from(*ip))
                .collect(),
            vendor_id: self.vendor_id,
            product_name: self.product_name.clone(),
            origin_state_id: self.origin_state_id,
            error_message: error_message.map(Utf8String::from),
            failed_avp: None,
            supported_vendor_id: self.supported_vendor_ids.clone(),
            auth_application_id: auth,
            inband_security_id: self.inband_security_ids.clone(),
            acct_application_id: acct,
            vendor_specific_application_id: vsa,
            firmware_revision: self.firmware_revision,
            avps: Vec::new(),
        }
    }
}

fn apps_of(auth: &[u32], acct: &[u32], vsa: &[VendorSpecificApplicationId]) -> Vec<AppId> {
    let mut out: Vec<AppId> = auth.iter().map(|&i| AppId::Auth(i)).collect();
    out.extend(acct.iter().map(|&i| AppId::Acct(i)));
    for v in vsa {
        if let Some(i) = v.auth_application_id {
            out.push(AppId::VendorAuth(v.vendor_id, i));
        }
        if let Some(i) = v.acct_application_id {
            out.push(AppId::VendorAcct(v.vendor_id, i));
        }
    }
    out
}

/// What a peer advertised, from its CER or CEA.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerInfo {
    /// Origin-Host of the peer.
    pub origin_host: DiameterIdentity,
    /// Origin-Realm of the peer.
    pub origin_realm: DiameterIdentity,
    /// Host-IP-Address values.
    pub host_ip_addresses: Vec<Address>,
    /// Vendor-Id.
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: Utf8String,
    /// Origin-State-Id.
    pub origin_state_id: Option<u32>,
    /// The applications advertised.
    pub applications: Vec<AppId>,
    /// Inband-Security-Id values.
    pub inband_security_ids: Vec<InbandSecurityId>,
}

impl PeerInfo {
    /// From a received CER.
    pub fn from_cer(c: &CapabilitiesExchangeRequest) -> Self {
        PeerInfo {
            origin_host: c.origin_host.clone(),
            origin_realm: c.origin_realm.clone(),
            host_ip_addresses: c.host_ip_address.clone(),
            vendor_id: c.vendor_id,
            product_name: c.product_name.clone(),
            origin_state_id: c.origin_state_id,
            applications: apps_of(
                &c.auth_application_id,
                &c.acct_application_id,
                &c.vendor_specific_application_id,
            ),
            inband_security_ids: c.inband_security_id.clone(),
        }
    }

    /// From a received CEA.
    pub fn from_cea(c: &CapabilitiesExchangeAnswer) -> Self {
        PeerInfo {
            origin_host: c.origin_host.clone(),
            origin_realm: c.origin_realm.clone(),
            host_ip_addresses: c.host_ip_address.clone(),
            vendor_id: c.vendor_id,
            product_name: c.product_name.clone(),
            origin_state_id: c.origin_state_id,
            applications: apps_of(
                &c.auth_application_id,
                &c.acct_application_id,
                &c.vendor_specific_application_id,
            ),
            inband_security_ids: c.inband_security_id.clone(),
        }
    }
}

/// Why a capabilities exchange failed, with the Result-Code to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 5010, 5017, 3010 …
    pub result_code: ResultCode,
    /// Why, for Error-Message and logs.
    pub reason: String,
    /// The AVP at fault, for Failed-AVP.
    pub failed_avp: Option<crate::codec::RawAvp>,
}

/// The applications both sides support: ids equal and kinds matching (vendor-specific ones
/// match on the id, whatever the vendor, as most stacks do), or every application of the
/// other side when one advertises the Relay application.
pub fn common_applications(local: &[AppId], remote: &[AppId]) -> Vec<AppId> {
    let relay = |apps: &[AppId]| apps.iter().any(|a| a.id() == RELAY_APPLICATION_ID);
    if relay(local) {
        return remote.to_vec();
    }
    if relay(remote) {
        return local.to_vec();
    }
    let is_acct = |a: &AppId| matches!(a, AppId::Acct(_) | AppId::VendorAcct(..));
    let mut out: Vec<AppId> = local
        .iter()
        .filter(|l| {
            remote
                .iter()
                .any(|r| r.id() == l.id() && is_acct(r) == is_acct(l))
        })
        .copied()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Checks a peer's capabilities against ours: 5010 without a common application (the base
/// application 0 does not count), 5017 when the peer insists on TLS in band that we do not
/// offer. Returns the common applications.
pub fn negotiate(local: &Capabilities, peer: &PeerInfo) -> Result<Vec<AppId>, Refusal> {
    let common = common_applications(&local.applications, &peer.applications);
    if common.iter().all(|a| a.id() == 0) {
        return Err(Refusal {
            result_code: ResultCode::DIAMETER_NO_COMMON_APPLICATION,
            reason: format!(
                "no common application (we support {:?}, the peer {:?})",
                local.applications, peer.applications
            ),
            failed_avp: None,
        });
    }
    let no_security = |ids: &[InbandSecurityId]| {
        ids.is_empty() || ids.contains(&InbandSecurityId::NO_INBAND_SECURITY)
    };
    if !no_security(&peer.inband_security_ids) && no_security(&local.inband_security_ids) {
        return Err(Refusal {
            result_code: ResultCode::DIAMETER_NO_COMMON_SECURITY,
            reason: "the peer requires in-band TLS, which this node does not offer".into(),
            failed_avp: None,
        });
    }
    if !no_security(&local.inband_security_ids) && !inband_tls(local, peer) {
        return Err(Refusal {
            result_code: ResultCode::DIAMETER_NO_COMMON_SECURITY,
            reason: "this node requires in-band TLS, which the peer does not offer".into(),
            failed_avp: None,
        });
    }
    Ok(common)
}

/// Whether both sides offer TLS in band (Inband-Security-Id 1, RFC 3588 §6.10): the
/// connection then turns to TLS right after the capabilities exchange.
pub fn inband_tls(local: &Capabilities, peer: &PeerInfo) -> bool {
    local.inband_security_ids.contains(&InbandSecurityId::TLS)
        && peer.inband_security_ids.contains(&InbandSecurityId::TLS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(apps: &[AppId]) -> Capabilities {
        let mut c = Capabilities::new("a.example", "example");
        c.applications = apps.to_vec();
        c
    }

    fn peer(apps: &[AppId]) -> PeerInfo {
        PeerInfo::from_cer(&caps(apps).cer())
    }

    #[test]
    fn intersection_by_id_and_kind() {
        let local = caps(&[
            AppId::Auth(4),
            AppId::Acct(3),
            AppId::VendorAuth(10415, 16777238),
        ]);
        let p = peer(&[
            AppId::Auth(4),
            AppId::Auth(3),
            AppId::VendorAuth(10415, 16777238),
        ]);
        assert_eq!(
            negotiate(&local, &p).unwrap(),
            vec![AppId::Auth(4), AppId::VendorAuth(10415, 16777238)]
        );
    }

    #[test]
    fn relay_matches_everything() {
        let local = caps(&[AppId::Auth(RELAY_APPLICATION_ID)]);
        let p = peer(&[AppId::Auth(4), AppId::Acct(3)]);
        assert_eq!(
            negotiate(&local, &p).unwrap(),
            vec![AppId::Auth(4), AppId::Acct(3)]
        );
        let local = caps(&[AppId::Auth(4)]);
        let p = peer(&[AppId::Auth(RELAY_APPLICATION_ID)]);
        assert_eq!(negotiate(&local, &p).unwrap(), vec![AppId::Auth(4)]);
    }

    #[test]
    fn no_common_application_5010() {
        let e = negotiate(&caps(&[AppId::Auth(4)]), &peer(&[AppId::Auth(1)])).unwrap_err();
        assert_eq!(e.result_code, ResultCode::DIAMETER_NO_COMMON_APPLICATION);
        let e = negotiate(&caps(&[AppId::Auth(0)]), &peer(&[AppId::Auth(0)])).unwrap_err();
        assert_eq!(
            e.result_code,
            ResultCode(5010),
            "the base application alone is not enough"
        );
    }

    #[test]
    fn no_common_security_5017() {
        let mut c = caps(&[AppId::Auth(4)]);
        c.inband_security_ids = vec![InbandSecurityId::TLS];
        let p = PeerInfo::from_cer(&c.cer());
        let e = negotiate(&caps(&[AppId::Auth(4)]), &p).unwrap_err();
        assert_eq!(e.result_code, ResultCode::DIAMETER_NO_COMMON_SECURITY);
        // A peer that also accepts no in-band security is fine.
        c.inband_security_ids
            .push(InbandSecurityId::NO_INBAND_SECURITY);
        assert!(negotiate(&caps(&[AppId::Auth(4)]), &PeerInfo::from_cer(&c.cer())).is_ok());
    }

    #[test]
    fn cer_round_trips_through_the_codec() {
        use crate::Message;
        let c = caps(&[AppId::Auth(4), AppId::VendorAcct(10415, 7)]);
        let cer = c.cer();
        let (_, back) = CapabilitiesExchangeRequest::decode(cer.encode(1, 1)).unwrap();
        assert_eq!(PeerInfo::from_cer(&back).applications, c.applications);
    }
}
