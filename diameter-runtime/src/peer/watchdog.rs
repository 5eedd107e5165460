//! The RFC 3539 transport watchdog as a sans-IO state machine.
//!
//! The driver feeds it events (connection up/down, a DWA or other message received, time
//! passing) and carries out the [`Action`]s it returns. Time is always passed in, so tests
//! run on a virtual clock: a 30 s watchdog is exercised in microseconds.

use std::time::{Duration, Instant};

/// Watchdog states (RFC 3539 §3.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchdogState {
    /// No connection has come up yet.
    Initial,
    /// The connection answers; requests may be sent.
    Okay,
    /// A DWR went unanswered: requests fail over elsewhere until traffic resumes.
    Suspect,
    /// The connection is gone.
    Down,
    /// A new connection must answer three DWRs before it is used again.
    Reopen,
}

/// What the driver must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a Device-Watchdog-Request.
    SendWatchdog,
    /// The peer is no longer usable: re-route its outstanding requests (with the T flag).
    Failover,
    /// The peer is usable again.
    Failback,
    /// Close the transport connection.
    CloseConnection,
    /// Try to open a new connection (persistent peers only).
    AttemptOpen,
}

/// Tw: the watchdog interval and its jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// Twinit: the base interval; RFC 3539 requires at least 6 s (default 30 s).
    pub interval: Duration,
    /// The timer is set to `interval` ± up to this much, uniformly (RFC 3539: ±2 s); at most
    /// half of `interval` is used.
    pub jitter: Duration,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            interval: Duration::from_secs(30),
            jitter: Duration::from_secs(2),
        }
    }
}

impl WatchdogConfig {
    /// RFC 3539's floor for Twinit.
    pub const MIN_INTERVAL: Duration = Duration::from_secs(6);

    /// A config with `interval` raised to 6 s if lower.
    pub fn new(interval: Duration) -> Self {
        WatchdogConfig {
            interval: interval.max(Self::MIN_INTERVAL),
            ..Default::default()
        }
    }
}

/// The watchdog of one peer.
#[derive(Clone, Debug)]
pub struct Watchdog {
    config: WatchdogConfig,
    state: WatchdogState,
    pending: bool,
    num_dwa: i32,
    deadline: Option<Instant>,
    rng: u64,
}

impl Watchdog {
    /// A watchdog in INITIAL; `seed` drives the jitter (any value; vary it per peer).
    pub fn new(config: WatchdogConfig, seed: u64) -> Self {
        Watchdog {
            config,
            state: WatchdogState::Initial,
            pending: false,
            num_dwa: 0,
            deadline: None,
            rng: seed | 1,
        }
    }

    /// The current state.
    pub fn state(&self) -> WatchdogState {
        self.state
    }

    /// Whether requests may be sent to the peer (OKAY only).
    pub fn is_okay(&self) -> bool {
        self.state == WatchdogState::Okay
    }

    /// When [`Watchdog::on_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Tw: the interval ± jitter (xorshift; no need for a cryptographic source).
    fn set_watchdog(&mut self, now: Instant) {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // A jitter over half the interval is cut to half: Tw stays positive.
        let jitter = self.config.jitter.min(self.config.interval / 2);
        let j = u64::try_from(jitter.as_millis()).map_or(u64::MAX / 4, |j| j.min(u64::MAX / 4));
        let offset = if j == 0 { 0 } else { self.rng % (2 * j + 1) };
        let tw = (self.config.interval - jitter).saturating_add(Duration::from_millis(offset));
        self.deadline = Some(super::later(now, tw));
    }

    /// The transport connection is up and capabilities were exchanged.
    pub fn on_connection_up(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            WatchdogState::Initial => {
                self.state = WatchdogState::Okay;
                self.pending = false;
                self.set_watchdog(now);
                vec![]
            }
            WatchdogState::Down => {
                self.state = WatchdogState::Reopen;
                self.num_dwa = 0;
                self.pending = true;
                self.set_watchdog(now);
                vec![Action::SendWatchdog]
            }
            _ => vec![],
        }
    }

    /// The transport connection went down.
    pub fn on_connection_down(&mut self, now: Instant) -> Vec<Action> {
        let actions = match self.state {
            WatchdogState::Okay => vec![Action::Failover],
            WatchdogState::Suspect | WatchdogState::Reopen => vec![Action::CloseConnection],
            WatchdogState::Initial | WatchdogState::Down => vec![],
        };
        if self.state != WatchdogState::Initial {
            self.state = WatchdogState::Down;
        }
        self.set_watchdog(now);
        actions
    }

    /// A Device-Watchdog-Answer arrived.
    pub fn on_dwa(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            WatchdogState::Okay => {
                self.pending = false;
                self.set_watchdog(now);
                vec![]
            }
            WatchdogState::Suspect => {
                self.pending = false;
                self.state = WatchdogState::Okay;
                self.set_watchdog(now);
                vec![Action::Failback]
            }
            WatchdogState::Reopen => {
                self.pending = false;
                self.num_dwa += 1;
                if self.num_dwa >= 3 {
                    self.state = WatchdogState::Okay;
                    self.set_watchdog(now);
                    vec![Action::Failback]
                } else {
                    vec![]
                }
            }
            _ => vec![],
        }
    }

    /// Any message other than a DWA arrived. In REOPEN it does not count (RFC 3539 throws it
    /// away; the driver still answers requests such as DWR).
    pub fn on_other_message(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            WatchdogState::Okay => {
                self.set_watchdog(now);
                vec![]
            }
            WatchdogState::Suspect => {
                self.state = WatchdogState::Okay;
                self.set_watchdog(now);
                vec![Action::Failback]
            }
            _ => vec![],
        }
    }

    /// Call when `now` has reached [`Watchdog::poll_timeout`]; earlier calls do nothing.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Action> {
        match self.deadline {
            Some(d) if now >= d => {}
            _ => return vec![],
        }
        match self.state {
            WatchdogState::Initial => {
                self.deadline = None;
                vec![]
            }
            WatchdogState::Okay if !self.pending => {
                self.pending = true;
                self.set_watchdog(now);
                vec![Action::SendWatchdog]
            }
            WatchdogState::Okay => {
                self.state = WatchdogState::Suspect;
                self.set_watchdog(now);
                vec![Action::Failover]
            }
            WatchdogState::Suspect => {
                self.state = WatchdogState::Down;
                self.set_watchdog(now);
                vec![Action::CloseConnection]
            }
            WatchdogState::Down => {
                self.set_watchdog(now);
                vec![Action::AttemptOpen]
            }
            WatchdogState::Reopen if !self.pending => {
                self.pending = true;
                self.set_watchdog(now);
                vec![Action::SendWatchdog]
            }
            WatchdogState::Reopen if self.num_dwa < 0 => {
                self.state = WatchdogState::Down;
                self.set_watchdog(now);
                vec![Action::CloseConnection]
            }
            WatchdogState::Reopen => {
                self.num_dwa = -1;
                self.set_watchdog(now);
                vec![]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use WatchdogState::*;

    fn wd() -> (Watchdog, Instant) {
        (
            Watchdog::new(WatchdogConfig::new(Duration::from_secs(30)), 42),
            Instant::now(),
        )
    }

    /// Advances the virtual clock to the next deadline and fires it.
    fn fire(w: &mut Watchdog, now: &mut Instant) -> Vec<Action> {
        *now = w.poll_timeout().expect("a timer is set");
        w.on_timeout(*now)
    }

    #[test]
    fn timer_has_jitter_within_two_seconds() {
        let (mut w, t0) = wd();
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let now = t0 + Duration::from_secs(i * 100);
            w.on_other_message(now);
            w.on_connection_up(now);
            let tw = w.poll_timeout().unwrap() - now;
            assert!(
                tw >= Duration::from_secs(28) && tw <= Duration::from_secs(32),
                "{tw:?}"
            );
            seen.insert(tw.as_millis());
        }
        assert!(seen.len() > 50, "jitter varies the timer");
    }

    #[test]
    fn interval_has_a_six_second_floor() {
        assert_eq!(
            WatchdogConfig::new(Duration::from_secs(1)).interval,
            Duration::from_secs(6)
        );
    }

    #[test]
    fn okay_sends_dwr_then_suspect_then_down() {
        let (mut w, mut now) = wd();
        assert_eq!(w.state(), Initial);
        assert_eq!(w.on_connection_up(now), vec![]);
        assert_eq!(w.state(), Okay);
        assert_eq!(fire(&mut w, &mut now), vec![SendWatchdog]);
        assert_eq!(w.state(), Okay);
        assert_eq!(fire(&mut w, &mut now), vec![Failover]);
        assert_eq!(w.state(), Suspect);
        assert_eq!(fire(&mut w, &mut now), vec![CloseConnection]);
        assert_eq!(w.state(), Down);
        assert_eq!(fire(&mut w, &mut now), vec![AttemptOpen]);
        assert_eq!(w.state(), Down);
    }

    #[test]
    fn dwa_keeps_okay() {
        let (mut w, mut now) = wd();
        w.on_connection_up(now);
        for _ in 0..5 {
            assert_eq!(fire(&mut w, &mut now), vec![SendWatchdog]);
            assert_eq!(w.on_dwa(now), vec![]);
            assert_eq!(w.state(), Okay);
        }
    }

    #[test]
    fn traffic_resets_the_timer_and_no_dwr_is_sent() {
        let (mut w, mut now) = wd();
        w.on_connection_up(now);
        for _ in 0..10 {
            now += Duration::from_secs(20);
            w.on_other_message(now);
            assert_eq!(w.on_timeout(now), vec![], "not due yet");
        }
        assert_eq!(w.state(), Okay);
    }

    #[test]
    fn suspect_fails_back_on_any_message_or_dwa() {
        let (mut w, mut now) = wd();
        w.on_connection_up(now);
        fire(&mut w, &mut now);
        fire(&mut w, &mut now);
        assert_eq!(w.state(), Suspect);
        assert_eq!(w.on_other_message(now), vec![Failback]);
        assert_eq!(w.state(), Okay);
        // A non-DWA message does not clear the pending DWR (RFC 3539), so the next
        // timeout goes straight back to SUSPECT.
        assert_eq!(fire(&mut w, &mut now), vec![Failover]);
        assert_eq!(w.state(), Suspect);
        assert_eq!(w.on_dwa(now), vec![Failback]);
        assert_eq!(w.state(), Okay);
    }

    #[test]
    fn connection_down_from_each_state() {
        let (mut w, now) = wd();
        w.on_connection_up(now);
        assert_eq!(w.on_connection_down(now), vec![Failover]);
        assert_eq!(w.state(), Down);
        let (mut w, mut now) = wd();
        w.on_connection_up(now);
        fire(&mut w, &mut now);
        fire(&mut w, &mut now);
        assert_eq!(w.on_connection_down(now), vec![CloseConnection]);
        assert_eq!(w.state(), Down);
    }

    #[test]
    fn reopen_needs_three_dwas() {
        let (mut w, mut now) = wd();
        w.on_connection_up(now);
        w.on_connection_down(now);
        assert_eq!(w.on_connection_up(now), vec![SendWatchdog]);
        assert_eq!(w.state(), Reopen);
        assert_eq!(w.on_dwa(now), vec![]);
        assert_eq!(w.state(), Reopen);
        assert_eq!(
            w.on_other_message(now),
            vec![],
            "non-DWA is thrown away in REOPEN"
        );
        assert_eq!(fire(&mut w, &mut now), vec![SendWatchdog]);
        assert_eq!(w.on_dwa(now), vec![]);
        assert_eq!(fire(&mut w, &mut now), vec![SendWatchdog]);
        assert_eq!(w.on_dwa(now), vec![Failback]);
        assert_eq!(w.state(), Okay);
    }

    #[test]
    fn reopen_gives_up_after_two_unanswered_timeouts() {
        let (mut w, mut now) = wd();
        w.on_connection_up(now);
        w.on_connection_down(now);
        w.on_connection_up(now);
        assert_eq!(fire(&mut w, &mut now), vec![], "first miss: NumDWA = -1");
        assert_eq!(w.state(), Reopen);
        assert_eq!(fire(&mut w, &mut now), vec![CloseConnection]);
        assert_eq!(w.state(), Down);
    }

    #[test]
    fn early_timeouts_do_nothing() {
        let (mut w, now) = wd();
        w.on_connection_up(now);
        assert_eq!(w.on_timeout(now + Duration::from_secs(1)), vec![]);
        assert_eq!(w.state(), Okay);
    }
}
