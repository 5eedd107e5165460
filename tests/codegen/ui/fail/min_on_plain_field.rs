#[derive(diameter_runtime::Grouped)]
struct G {
    #[diameter(avp = 1, min = 2)]
    a: u32,
}
fn main() {}
