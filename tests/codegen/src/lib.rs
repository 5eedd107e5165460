//! Tests of the generator: golden files, compile tests, dictionary errors.
