#[derive(Clone, Copy, diameter_runtime::Enumerated)]
enum E {
    #[diameter(value = 1)]
    A,
}
fn main() {}
