#[derive(diameter_runtime::Grouped)]
struct G {
    #[diameter(must)]
    a: u32,
}
fn main() {}
