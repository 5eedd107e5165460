//! The RFC 6733 §5.6 peer state machine, with the election of §5.6.4, as sans-IO code.
//!
//! One machine per peer (known by its Origin-Host). It tracks the two connections a peer can
//! have while both sides connect at once: the one we open (the *initiator* connection) and
//! the one the peer opens to us (the *responder* connection). The driver feeds it events and
//! the current time and carries out the [`PeerAction`]s it returns; nothing here does I/O or
//! reads a clock, so tests run on a virtual clock.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use diameter_runtime::peer::psm::{PeerAction, PeerEvent, PeerFsm, PeerState, PsmConfig};
//!
//! let now = Instant::now();
//! let mut p = PeerFsm::new("zz.example.net", "aa.example.net", PsmConfig::default());
//! assert_eq!(p.handle(PeerEvent::Start, now), [PeerAction::Connect]);
//! assert_eq!(p.handle(PeerEvent::ConnAck, now), [PeerAction::SendCer]);
//! // The peer connected to us at the same time; "zz…" > "aa…", so we win the election:
//! // our own connection goes, the peer's is answered.
//! assert_eq!(
//!     p.handle(PeerEvent::ResponderCer, now),
//!     [PeerAction::Disconnect(diameter_runtime::peer::psm::Side::Initiator), PeerAction::SendCea]
//! );
//! assert_eq!(p.state(), PeerState::ResponderOpen);
//! ```

use std::time::{Duration, Instant};

/// Which of a peer's two possible connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The connection we opened (we sent the CER).
    Initiator,
    /// The connection the peer opened (it sent the CER).
    Responder,
}

/// Peer states (RFC 6733 §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// No connection.
    Closed,
    /// Our transport connection is being opened.
    WaitConnAck,
    /// Our CER is sent; waiting for the CEA.
    WaitICea,
    /// Our connection is being opened and the peer's CER arrived on its own connection.
    WaitConnAckElect,
    /// Both CERs are out; the election decides which connection stays.
    WaitReturns,
    /// Open on the peer's connection.
    ResponderOpen,
    /// Open on our connection.
    InitiatorOpen,
    /// DPR sent; waiting for the DPA.
    Closing,
}

impl PeerState {
    /// Whether messages may flow (R-Open or I-Open).
    pub fn is_open(self) -> bool {
        matches!(self, PeerState::ResponderOpen | PeerState::InitiatorOpen)
    }

    /// The connection in use when open.
    pub fn open_side(self) -> Option<Side> {
        match self {
            PeerState::ResponderOpen => Some(Side::Responder),
            PeerState::InitiatorOpen => Some(Side::Initiator),
            _ => None,
        }
    }
}

/// Events (RFC 6733 §5.6 names in the docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// `Start`: the application wants the peer connected.
    Start,
    /// `I-Rcv-Conn-Ack`: our transport connection is up.
    ConnAck,
    /// `I-Rcv-Conn-Nack`: our transport connection failed.
    ConnNack,
    /// `R-Conn-CER`: the peer opened a connection and sent an acceptable CER.
    ResponderCer,
    /// `I-Rcv-CEA` with a success Result-Code.
    InitiatorCea,
    /// `I-Rcv-CEA` refusing us, or `I-Rcv-Non-CEA`: the initiator connection failed.
    InitiatorCeaFailed,
    /// `I-Peer-Disc` / `R-Peer-Disc`: that connection closed.
    PeerDisc(Side),
    /// `I-Rcv-DPR` / `R-Rcv-DPR`: the peer asks to disconnect.
    Dpr(Side),
    /// `I-Rcv-DPA` / `R-Rcv-DPA`.
    Dpa(Side),
    /// `Stop`: the application wants the peer disconnected.
    Stop,
    /// `Timeout`: the deadline of [`PeerFsm::poll_timeout`] passed.
    Timeout,
}

/// What the driver must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerAction {
    /// `I-Snd-Conn-Req`: open our transport connection.
    Connect,
    /// `I-Snd-CER` on our connection.
    SendCer,
    /// `R-Snd-CEA`: answer the peer's CER with success; its connection is in use.
    SendCea,
    /// `R-Reject`: refuse the peer's new connection (a CEA with 4003
    /// DIAMETER_ELECTION_LOST, then close it).
    Reject,
    /// `I-Disc` / `R-Disc`: close that connection. A responder connection whose CER was not
    /// answered yet gets a CEA with 4003 first.
    Disconnect(Side),
    /// `I-Snd-DPR` / `R-Snd-DPR` on the open connection.
    SendDpr(Side),
    /// `I-Snd-DPA` / `R-Snd-DPA` (the connection closes after it).
    SendDpa(Side),
    /// `Error` / `Cleanup`: a wait timed out or failed; every connection of the peer closes.
    Error,
}

/// Timers of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PsmConfig {
    /// How long the connection attempt, the CER/CEA exchange and the election may take.
    pub handshake_timeout: Duration,
    /// How long to wait for the DPA after sending DPR.
    pub dpa_timeout: Duration,
}

impl Default for PsmConfig {
    fn default() -> Self {
        PsmConfig {
            handshake_timeout: Duration::from_secs(10),
            dpa_timeout: Duration::from_secs(2),
        }
    }
}

/// The state machine of one peer.
#[derive(Clone, Debug)]
pub struct PeerFsm {
    local: Vec<u8>,
    peer: Vec<u8>,
    config: PsmConfig,
    state: PeerState,
    deadline: Option<Instant>,
}

impl PeerFsm {
    /// A machine in Closed for the peer `peer_host`, seen from `local_host`.
    pub fn new(local_host: &str, peer_host: &str, config: PsmConfig) -> Self {
        PeerFsm {
            local: local_host.as_bytes().to_vec(),
            peer: peer_host.as_bytes().to_vec(),
            config,
            state: PeerState::Closed,
            deadline: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// When [`PeerEvent::Timeout`] is due, if a wait is running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The election of RFC 6733 §5.6.4: we win when our Origin-Host, compared as octet
    /// strings, comes after the peer's.
    pub fn wins_election(&self) -> bool {
        self.local > self.peer
    }

    /// Feeds [`PeerEvent::Timeout`] if the deadline has passed; otherwise nothing.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<PeerAction> {
        match self.deadline {
            Some(d) if d <= now => self.handle(PeerEvent::Timeout, now),
            _ => Vec::new(),
        }
    }

    fn go(&mut self, state: PeerState, now: Instant) {
        self.state = state;
        self.deadline = match state {
            PeerState::WaitConnAck
            | PeerState::WaitICea
            | PeerState::WaitConnAckElect
            | PeerState::WaitReturns => Some(super::later(now, self.config.handshake_timeout)),
            PeerState::Closing => Some(super::later(now, self.config.dpa_timeout)),
            _ => None,
        };
    }

    /// Feeds one event; returns the actions, in order. Events the state does not expect are
    /// ignored (no action, no change), as a late event about a connection already gone.
    pub fn handle(&mut self, event: PeerEvent, now: Instant) -> Vec<PeerAction> {
        use PeerAction as A;
        use PeerEvent as E;
        use PeerState as S;
        use Side::{Initiator as I, Responder as R};
        // Entering a wait state restarts its timer; staying does not.
        let (next, actions): (S, Vec<A>) = match (self.state, event) {
            (S::Closed, E::Start) => (S::WaitConnAck, vec![A::Connect]),
            (S::Closed, E::ResponderCer) => (S::ResponderOpen, vec![A::SendCea]),

            (S::WaitConnAck, E::ConnAck) => (S::WaitICea, vec![A::SendCer]),
            (S::WaitConnAck, E::ConnNack) => (S::Closed, vec![]),
            (S::WaitConnAck, E::ResponderCer) => (S::WaitConnAckElect, vec![]),
            (S::WaitConnAck, E::Timeout) => (S::Closed, vec![A::Error]),
            (S::WaitConnAck, E::Stop) => (S::Closed, vec![A::Error]),

            (S::WaitICea, E::InitiatorCea) => (S::InitiatorOpen, vec![]),
            (S::WaitICea, E::ResponderCer) => {
                if self.wins_election() {
                    (S::ResponderOpen, vec![A::Disconnect(I), A::SendCea])
                } else {
                    (S::WaitReturns, vec![])
                }
            }
            (S::WaitICea, E::PeerDisc(I) | E::InitiatorCeaFailed) => {
                (S::Closed, vec![A::Disconnect(I)])
            }
            (S::WaitICea, E::Timeout | E::Stop) => (S::Closed, vec![A::Error]),

            (S::WaitConnAckElect, E::ConnAck) => {
                if self.wins_election() {
                    // I-Snd-CER, Elect, Win-Election: I-Disc, R-Snd-CEA. Our CER would go
                    // out only to be dropped, so the connection closes at once.
                    (S::ResponderOpen, vec![A::Disconnect(I), A::SendCea])
                } else {
                    (S::WaitReturns, vec![A::SendCer])
                }
            }
            (S::WaitConnAckElect, E::ConnNack) => (S::ResponderOpen, vec![A::SendCea]),
            (S::WaitConnAckElect, E::PeerDisc(R)) => (S::WaitConnAck, vec![A::Disconnect(R)]),
            (S::WaitConnAckElect, E::ResponderCer) => (S::WaitConnAckElect, vec![A::Reject]),
            (S::WaitConnAckElect, E::Timeout | E::Stop) => (S::Closed, vec![A::Error]),

            (S::WaitReturns, E::PeerDisc(I) | E::InitiatorCeaFailed) => {
                (S::ResponderOpen, vec![A::Disconnect(I), A::SendCea])
            }
            (S::WaitReturns, E::InitiatorCea) => (S::InitiatorOpen, vec![A::Disconnect(R)]),
            (S::WaitReturns, E::PeerDisc(R)) => (S::WaitICea, vec![A::Disconnect(R)]),
            (S::WaitReturns, E::ResponderCer) => (S::WaitReturns, vec![A::Reject]),
            (S::WaitReturns, E::Timeout | E::Stop) => (S::Closed, vec![A::Error]),

            (s @ (S::ResponderOpen | S::InitiatorOpen), e) => {
                let side = s.open_side().unwrap_or(R);
                match e {
                    E::ResponderCer => (s, vec![A::Reject]),
                    E::Stop => (S::Closing, vec![A::SendDpr(side)]),
                    E::Dpr(x) if x == side => (S::Closed, vec![A::SendDpa(side)]),
                    E::PeerDisc(x) if x == side => (S::Closed, vec![A::Disconnect(side)]),
                    _ => return Vec::new(),
                }
            }

            (S::Closing, E::Dpa(x) | E::PeerDisc(x)) => (S::Closed, vec![A::Disconnect(x)]),
            (S::Closing, E::Timeout) => (S::Closed, vec![A::Error]),
            (S::Closing, E::ResponderCer) => (S::Closing, vec![A::Reject]),

            _ => return Vec::new(),
        };
        if next != self.state {
            self.go(next, now);
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PeerAction as A;
    use PeerEvent as E;
    use PeerState as S;
    use Side::{Initiator as I, Responder as R};

    const HI: &str = "zz.example.net";
    const LO: &str = "aa.example.net";

    fn fsm(local: &str, peer: &str) -> (PeerFsm, Instant) {
        (
            PeerFsm::new(local, peer, PsmConfig::default()),
            Instant::now(),
        )
    }

    /// Drives a machine to `state` through the shortest path.
    fn at(local: &str, peer: &str, state: S) -> (PeerFsm, Instant) {
        let (mut p, t) = fsm(local, peer);
        let path: &[E] = match state {
            S::Closed => &[],
            S::WaitConnAck => &[E::Start],
            S::WaitICea => &[E::Start, E::ConnAck],
            S::WaitConnAckElect => &[E::Start, E::ResponderCer],
            S::WaitReturns => &[E::Start, E::ConnAck, E::ResponderCer],
            S::ResponderOpen => &[E::ResponderCer],
            S::InitiatorOpen => &[E::Start, E::ConnAck, E::InitiatorCea],
            S::Closing => &[E::ResponderCer, E::Stop],
        };
        for e in path {
            p.handle(*e, t);
        }
        assert_eq!(p.state(), state, "path to {state:?} (local {local})");
        (p, t)
    }

    #[test]
    fn initiator_path_to_open_and_dpr() {
        let (mut p, t) = fsm(LO, HI);
        assert_eq!(p.handle(E::Start, t), [A::Connect]);
        assert_eq!(p.state(), S::WaitConnAck);
        assert_eq!(p.handle(E::ConnAck, t), [A::SendCer]);
        assert_eq!(p.state(), S::WaitICea);
        assert!(p.handle(E::InitiatorCea, t).is_empty());
        assert_eq!(p.state(), S::InitiatorOpen);
        assert!(p.state().is_open());
        // A second connection from the peer while open is rejected.
        assert_eq!(p.handle(E::ResponderCer, t), [A::Reject]);
        assert_eq!(p.state(), S::InitiatorOpen);
        assert_eq!(p.handle(E::Dpr(I), t), [A::SendDpa(I)]);
        assert_eq!(p.state(), S::Closed);
    }

    #[test]
    fn responder_path_to_open_and_stop() {
        let (mut p, t) = fsm(LO, HI);
        assert_eq!(p.handle(E::ResponderCer, t), [A::SendCea]);
        assert_eq!(p.state(), S::ResponderOpen);
        assert_eq!(p.handle(E::Stop, t), [A::SendDpr(R)]);
        assert_eq!(p.state(), S::Closing);
        assert_eq!(p.handle(E::Dpa(R), t), [A::Disconnect(R)]);
        assert_eq!(p.state(), S::Closed);
    }

    #[test]
    fn open_connections_close_on_their_own_side_only() {
        let (mut p, t) = at(LO, HI, S::InitiatorOpen);
        // A stray event about a responder connection changes nothing.
        assert!(p.handle(E::PeerDisc(R), t).is_empty());
        assert_eq!(p.state(), S::InitiatorOpen);
        assert_eq!(p.handle(E::PeerDisc(I), t), [A::Disconnect(I)]);
        assert_eq!(p.state(), S::Closed);
        let (mut p, t) = at(LO, HI, S::ResponderOpen);
        assert!(p.handle(E::Dpr(I), t).is_empty());
        assert_eq!(p.handle(E::Dpr(R), t), [A::SendDpa(R)]);
        assert_eq!(p.state(), S::Closed);
    }

    #[test]
    fn connection_refused_or_cea_failed_goes_back_to_closed() {
        let (mut p, t) = at(LO, HI, S::WaitConnAck);
        assert!(p.handle(E::ConnNack, t).is_empty());
        assert_eq!(p.state(), S::Closed);
        let (mut p, t) = at(LO, HI, S::WaitICea);
        assert_eq!(p.handle(E::InitiatorCeaFailed, t), [A::Disconnect(I)]);
        assert_eq!(p.state(), S::Closed);
        let (mut p, t) = at(LO, HI, S::WaitICea);
        assert_eq!(p.handle(E::PeerDisc(I), t), [A::Disconnect(I)]);
        assert_eq!(p.state(), S::Closed);
    }

    #[test]
    fn election_in_wait_i_cea_won_keeps_the_peers_connection() {
        let (mut p, t) = at(HI, LO, S::WaitICea);
        assert!(p.wins_election());
        assert_eq!(p.handle(E::ResponderCer, t), [A::Disconnect(I), A::SendCea]);
        assert_eq!(p.state(), S::ResponderOpen);
        // Our own CEA arriving late on the dropped connection changes nothing.
        assert!(p.handle(E::InitiatorCea, t).is_empty());
        assert!(p.handle(E::PeerDisc(I), t).is_empty());
        assert_eq!(p.state(), S::ResponderOpen);
    }

    #[test]
    fn election_in_wait_i_cea_lost_waits_for_the_cea() {
        let (mut p, t) = at(LO, HI, S::WaitICea);
        assert!(!p.wins_election());
        assert!(p.handle(E::ResponderCer, t).is_empty());
        assert_eq!(p.state(), S::WaitReturns);
        // The winner answers our CER: the peer's connection goes.
        assert_eq!(p.handle(E::InitiatorCea, t), [A::Disconnect(R)]);
        assert_eq!(p.state(), S::InitiatorOpen);
    }

    #[test]
    fn wait_returns_every_event() {
        // The winner dropped its connection (ours to it) first.
        let (mut p, t) = at(LO, HI, S::WaitReturns);
        assert_eq!(p.handle(E::PeerDisc(R), t), [A::Disconnect(R)]);
        assert_eq!(p.state(), S::WaitICea);
        assert!(p.handle(E::InitiatorCea, t).is_empty());
        assert_eq!(p.state(), S::InitiatorOpen);
        // Our connection fails: the peer's is answered after all.
        let (mut p, t) = at(LO, HI, S::WaitReturns);
        assert_eq!(p.handle(E::PeerDisc(I), t), [A::Disconnect(I), A::SendCea]);
        assert_eq!(p.state(), S::ResponderOpen);
        let (mut p, t) = at(LO, HI, S::WaitReturns);
        assert_eq!(
            p.handle(E::InitiatorCeaFailed, t),
            [A::Disconnect(I), A::SendCea]
        );
        assert_eq!(p.state(), S::ResponderOpen);
        // A third connection is rejected.
        let (mut p, t) = at(LO, HI, S::WaitReturns);
        assert_eq!(p.handle(E::ResponderCer, t), [A::Reject]);
        assert_eq!(p.state(), S::WaitReturns);
    }

    #[test]
    fn wait_conn_ack_elect_every_event() {
        // We lose: our CER goes out and we wait for the returns.
        let (mut p, t) = at(LO, HI, S::WaitConnAckElect);
        assert_eq!(p.handle(E::ConnAck, t), [A::SendCer]);
        assert_eq!(p.state(), S::WaitReturns);
        // We win: our connection is dropped, the peer's answered.
        let (mut p, t) = at(HI, LO, S::WaitConnAckElect);
        assert_eq!(p.handle(E::ConnAck, t), [A::Disconnect(I), A::SendCea]);
        assert_eq!(p.state(), S::ResponderOpen);
        // Our connection fails: the peer's is answered.
        let (mut p, t) = at(LO, HI, S::WaitConnAckElect);
        assert_eq!(p.handle(E::ConnNack, t), [A::SendCea]);
        assert_eq!(p.state(), S::ResponderOpen);
        // The peer gives up its connection.
        let (mut p, t) = at(LO, HI, S::WaitConnAckElect);
        assert_eq!(p.handle(E::PeerDisc(R), t), [A::Disconnect(R)]);
        assert_eq!(p.state(), S::WaitConnAck);
        let (mut p, t) = at(LO, HI, S::WaitConnAckElect);
        assert_eq!(p.handle(E::ResponderCer, t), [A::Reject]);
        assert_eq!(p.state(), S::WaitConnAckElect);
    }

    #[test]
    fn election_compares_octets() {
        let e = |a: &str, b: &str| PeerFsm::new(a, b, PsmConfig::default()).wins_election();
        assert!(e("b.example.net", "a.example.net"));
        assert!(!e("a.example.net", "b.example.net"));
        // A longer identity with the same prefix comes after.
        assert!(e("node1.example.net", "node1.example"));
        // Octets, not case-folded: 'a' (0x61) comes after 'Z' (0x5a).
        assert!(e("a.example.net", "Z.example.net"));
        // The same identity never wins (it cannot be two peers).
        assert!(!e("same", "same"));
    }

    #[test]
    fn every_wait_times_out_to_closed_on_the_virtual_clock() {
        for s in [
            S::WaitConnAck,
            S::WaitICea,
            S::WaitConnAckElect,
            S::WaitReturns,
            S::Closing,
        ] {
            let (mut p, t) = at(LO, HI, s);
            let due = p.poll_timeout().expect("a wait has a deadline");
            let expected = if s == S::Closing {
                PsmConfig::default().dpa_timeout
            } else {
                PsmConfig::default().handshake_timeout
            };
            assert_eq!(due - t, expected, "{s:?}");
            // Early calls do nothing.
            assert!(p.on_timeout(due - Duration::from_millis(1)).is_empty());
            assert_eq!(p.state(), s);
            assert_eq!(p.on_timeout(due), [A::Error], "{s:?}");
            assert_eq!(p.state(), S::Closed);
            assert_eq!(p.poll_timeout(), None);
        }
    }

    #[test]
    fn open_and_closed_states_have_no_timer() {
        for s in [S::Closed, S::ResponderOpen, S::InitiatorOpen] {
            let (p, _) = at(LO, HI, s);
            assert_eq!(p.poll_timeout(), None, "{s:?}");
        }
    }

    #[test]
    fn the_timer_restarts_on_entering_a_wait_and_not_while_staying() {
        let (mut p, t0) = fsm(LO, HI);
        p.handle(E::Start, t0);
        let t1 = t0 + Duration::from_secs(4);
        p.handle(E::ConnAck, t1);
        assert_eq!(p.poll_timeout(), Some(t1 + Duration::from_secs(10)));
        let t2 = t1 + Duration::from_secs(3);
        p.handle(E::ResponderCer, t2); // → Wait-Returns
        assert_eq!(p.poll_timeout(), Some(t2 + Duration::from_secs(10)));
        p.handle(E::ResponderCer, t2 + Duration::from_secs(1)); // rejected, stays
        assert_eq!(p.poll_timeout(), Some(t2 + Duration::from_secs(10)));
    }

    #[test]
    fn stop_while_connecting_closes_everything() {
        for s in [
            S::WaitConnAck,
            S::WaitICea,
            S::WaitConnAckElect,
            S::WaitReturns,
        ] {
            let (mut p, t) = at(LO, HI, s);
            assert_eq!(p.handle(E::Stop, t), [A::Error], "{s:?}");
            assert_eq!(p.state(), S::Closed);
        }
    }

    #[test]
    fn unexpected_events_are_ignored() {
        let (mut p, t) = fsm(LO, HI);
        for e in [
            E::ConnAck,
            E::ConnNack,
            E::InitiatorCea,
            E::PeerDisc(I),
            E::PeerDisc(R),
            E::Dpr(R),
            E::Dpa(R),
            E::Stop,
            E::Timeout,
        ] {
            assert!(p.handle(e, t).is_empty(), "{e:?}");
            assert_eq!(p.state(), S::Closed);
        }
        let (mut p, t) = at(LO, HI, S::WaitConnAck);
        assert!(p.handle(E::Start, t).is_empty());
        assert_eq!(p.state(), S::WaitConnAck);
    }

    #[test]
    fn both_sides_connecting_at_once_end_on_the_same_connection() {
        // Two machines, one per node, each seeing the other's CER while waiting for the CEA
        // on its own connection. The winner's responder connection is the loser's
        // initiator connection: both must keep exactly that one.
        let t = Instant::now();
        let mut hi = PeerFsm::new(HI, LO, PsmConfig::default());
        let mut lo = PeerFsm::new(LO, HI, PsmConfig::default());
        for p in [&mut hi, &mut lo] {
            p.handle(E::Start, t);
            p.handle(E::ConnAck, t);
        }
        let hi_actions = hi.handle(E::ResponderCer, t);
        let lo_actions = lo.handle(E::ResponderCer, t);
        assert_eq!(hi_actions, [A::Disconnect(I), A::SendCea]);
        assert!(lo_actions.is_empty());
        // The winner's CEA reaches the loser on the loser's initiator connection, and the
        // winner closing its initiator connection reaches the loser as R-Peer-Disc: in
        // either order the loser ends in I-Open.
        let mut a = lo.clone();
        a.handle(E::InitiatorCea, t);
        a.handle(E::PeerDisc(R), t);
        let mut b = lo.clone();
        b.handle(E::PeerDisc(R), t);
        b.handle(E::InitiatorCea, t);
        assert_eq!(hi.state(), S::ResponderOpen);
        assert_eq!(a.state(), S::InitiatorOpen);
        assert_eq!(b.state(), S::InitiatorOpen);
    }
}
