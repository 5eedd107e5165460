//! Any text as a freeDiameter dictionary (legacy XML, JSON or CSV, chosen by the first byte): the importer and then the loader report what they cannot read but
//! never panic, and whatever loads generates.
#![no_main]

#[path = "common/import.rs"]
mod common;

use diameter_codegen::import::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let formats = [
        Format::FreeDiameterXml,
        Format::FreeDiameterJson,
        Format::FreeDiameterCsv,
    ];
    common::run(formats[selector as usize % formats.len()], "fuzz.txt", text);
});
