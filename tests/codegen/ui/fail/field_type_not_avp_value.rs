#[derive(diameter_runtime::Grouped)]
struct G {
    #[diameter(avp = 1)]
    a: std::time::Duration,
}
fn main() {}
