//! Shared helpers for the codec tests and benchmarks.

use bytes::Bytes;

/// The shared benchmark Credit-Control-Request (260 bytes), from `shared/bench-data/ccr-260.hex`.
pub const CCR_260_HEX: &str = "01000104c0000110000000047a3c00015f1e0001000001074000002b72732d62656e63682e636c69656e742e6c61623b313733323237353230303b34323b3700000001084000001b72732d62656e63682e636c69656e742e6c616200000001284000000b6c6162000000011b4000000b6c616200000001024000000c00000004000001cd40000016333232353140336770702e6f72670000000001a04000000c000000010000019f4000000c00000000000001bb40000028000001c24000000c00000000000001bc40000014343931373131323334353637000001c84000002c000001b540000018000001a5400000100000000000100000000001b04000000c00000064";

/// Hex to bytes; panics on bad hex (test data only).
pub fn unhex(s: &str) -> Bytes {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// The benchmark CCR as bytes.
pub fn ccr_260() -> Bytes {
    unhex(CCR_260_HEX)
}

/// Bytes to lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
