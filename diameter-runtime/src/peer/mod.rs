//! Sans-IO peer logic: the RFC 6733 peer state machine with its election, the RFC 3539
//! watchdog and the capabilities exchange. No I/O and no clock here: drivers pass events
//! and the current time in, and carry out what comes back.

pub mod capabilities;
pub mod connection;
pub mod psm;
pub mod stats;
pub mod watchdog;

pub use capabilities::{common_applications, negotiate, AppId, Capabilities, PeerInfo, Refusal};
pub use connection::{Connection, ConnectionConfig, Event, Outcome, Phase, Received};
pub use psm::{PeerAction, PeerEvent, PeerFsm, PeerState, PsmConfig, Side};
pub use watchdog::{Action, Watchdog, WatchdogConfig, WatchdogState};
