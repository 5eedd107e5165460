//! freeDiameter's dictionary formats: legacy XML, JSON and CSV.

use super::{Imported, Input};

/// Imports freeDiameter legacy XML files.
pub fn import_xml(_inputs: &[Input<'_>]) -> Imported {
    Imported::default()
}

/// Imports freeDiameter JSON files.
pub fn import_json(_inputs: &[Input<'_>]) -> Imported {
    Imported::default()
}

/// Imports freeDiameter CSV files.
pub fn import_csv(_inputs: &[Input<'_>]) -> Imported {
    Imported::default()
}
