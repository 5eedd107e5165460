#[derive(diameter_runtime::Grouped)]
struct G {
    #[diameter(avp = 1, mandatroy)]
    a: u32,
}
fn main() {}
