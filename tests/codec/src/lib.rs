//! Tests of the codec: round trips, malformed input, tshark.
