#[derive(diameter_runtime::Message)]
struct M {
    #[diameter(avp = 263)]
    session_id: diameter_runtime::Utf8String,
}
fn main() {}
