// A dictionary error is reported on the path literal, with its file, line and kind.
diameter_derive::dictionary!("../../../../tests/codegen/dict/broken.xml");
fn main() {}
