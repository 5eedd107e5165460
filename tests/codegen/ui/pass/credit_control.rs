// The generated credit-control module compiles on its own against the runtime.
include!("../../golden/credit_control.rs");

fn main() {
    use diameter_runtime::Message;
    assert_eq!(credit_control::CreditControlRequest::COMMAND_CODE, 272);
}
