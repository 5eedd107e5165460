//! Loopback tests of the node: capabilities exchange outcomes, watchdog, disconnect, automatic answers.
