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

use std::time::{Duration, Instant};

/// `now + d`, or a year on when `d` is too long for the clock: a timeout of `Duration::MAX`
/// means "never" instead of overflowing.
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400))
}

/// [`later`] on tokio's clock.
#[cfg(feature = "node")]
pub(crate) fn later_tokio(now: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    tokio::time::Instant::from_std(later(now.into_std(), d))
}
