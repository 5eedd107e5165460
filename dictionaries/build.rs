//! Generates the typed modules of the bundled dictionaries selected by cargo features.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    if std::env::var_os("CARGO_FEATURE_CREDIT_CONTROL").is_some() {
        files.push("credit_control.xml");
    }
    println!("cargo:rerun-if-changed=base.xml");
    diameter_build::configure().compile(&files)?;
    Ok(())
}
