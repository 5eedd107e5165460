#[derive(diameter_runtime::Grouped)]
struct G {
    #[diameter(extra)]
    rest: Option<diameter_runtime::RawAvp>,
}
fn main() {}
