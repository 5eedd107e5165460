//! Generates the typed modules of the bundled dictionaries selected by cargo features.

/// (feature, file) in the order they are generated: libraries before the applications
/// that inherit them.
const FILES: &[(&str, &str)] = &[
    ("credit-control", "credit_control.xml"),
    ("lib-ietf", "pack/ietf.xml"),
    ("lib-etsi", "pack/etsi.xml"),
    ("lib-3gpp2", "pack/3gpp2.xml"),
    ("lib-3gpp", "pack/3gpp.xml"),
    ("nasreq", "pack/nasreq.xml"),
    ("mobile-ipv4", "pack/mobile_ipv4.xml"),
    ("eap", "pack/eap.xml"),
    ("sip", "pack/sip.xml"),
    ("mip6i", "pack/mip6i.xml"),
    ("mip6a", "pack/mip6a.xml"),
    ("cx", "pack/cx.xml"),
    ("sh", "pack/sh.xml"),
    ("gx", "pack/gx.xml"),
    ("rx", "pack/rx.xml"),
    ("sta", "pack/sta.xml"),
    ("s6a", "pack/s6a.xml"),
    ("s13", "pack/s13.xml"),
    ("slg", "pack/slg.xml"),
    ("swm", "pack/swm.xml"),
    ("swx", "pack/swx.xml"),
    ("gxx", "pack/gxx.xml"),
    ("s9", "pack/s9.xml"),
    ("s6b", "pack/s6b.xml"),
    ("slh", "pack/slh.xml"),
    ("s7a", "pack/s7a.xml"),
    ("s6c", "pack/s6c.xml"),
    ("sgd", "pack/sgd.xml"),
    ("sd", "pack/sd.xml"),
    ("st", "pack/st.xml"),
    ("s15", "pack/s15.xml"),
    ("sy", "pack/sy.xml"),
    ("np", "pack/np.xml"),
    ("gq", "pack/gq.xml"),
    ("s6t", "pack/s6t.xml"),
    ("t6a", "pack/t6a.xml"),
    ("nt", "pack/nt.xml"),
    ("s6m", "pack/s6m.xml"),
    ("tsp", "pack/tsp.xml"),
    ("pc4a", "pack/pc4a.xml"),
    ("gmb", "pack/gmb.xml"),
    ("sgmb", "pack/sgmb.xml"),
    ("mb2c", "pack/mb2c.xml"),
    ("zh", "pack/zh.xml"),
    ("zn", "pack/zn.xml"),
    ("qos", "pack/qos.xml"),
    ("nat", "pack/nat.xml"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for (feature, file) in FILES {
        let var = format!("CARGO_FEATURE_{}", feature.to_uppercase().replace('-', "_"));
        if std::env::var_os(var).is_some() {
            files.push(*file);
        }
    }
    println!("cargo:rerun-if-changed=base.xml");
    println!("cargo:rerun-if-changed=accounting.xml");
    diameter_build::configure().compile(&files)?;
    Ok(())
}
