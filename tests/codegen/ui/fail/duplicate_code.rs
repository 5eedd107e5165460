#[derive(diameter_runtime::Grouped)]
struct G {
    #[diameter(avp = 1)]
    a: u32,
    #[diameter(avp = 1)]
    b: Option<u32>,
}
fn main() {}
