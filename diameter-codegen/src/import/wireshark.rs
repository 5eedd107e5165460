//! Wireshark's Diameter dictionary XML.

use super::{Imported, Input};

/// Imports Wireshark dictionary files.
pub fn import(_inputs: &[Input<'_>]) -> Imported {
    Imported::default()
}
