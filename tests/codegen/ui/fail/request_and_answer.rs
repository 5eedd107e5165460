#[derive(diameter_runtime::Message)]
#[diameter(command = 272, request, answer)]
struct M {
    #[diameter(avp = 263)]
    session_id: diameter_runtime::Utf8String,
}
fn main() {}
