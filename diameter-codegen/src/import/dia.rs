//! Erlang/OTP diameter's `.dia` dictionaries.

use super::{Imported, Input};

/// Imports a set of `.dia` files, `@inherits` resolved among them.
pub fn import(_inputs: &[Input<'_>]) -> Imported {
    Imported::default()
}
