//! Drives one [`PeerFsm`] per peer Origin-Host for the connection tasks: a connection waits
//! here while the election of RFC 6733 §5.6.4 decides which of a peer's two connections
//! stays, and the machine's `I-Disc`/`R-Disc`/`R-Snd-CEA` reach the task they concern
//! through one-shot channels.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::codec::DiameterIdentity;
use crate::peer::{PeerAction, PeerEvent, PeerFsm, PeerState, PsmConfig, Side};

/// A peer's machine and the connections it speaks for.
struct Slot {
    fsm: PeerFsm,
    /// Our connection and how to tell its handshake to give up.
    initiator: Option<(u64, Option<oneshot::Sender<()>>)>,
    /// The peer's connection and how to tell its handshake the outcome (CEA success or not).
    responder: Option<(u64, Option<oneshot::Sender<bool>>)>,
    /// Origin-State-Id of the open connection's peer.
    origin_state_id: Option<u32>,
}

/// The machines of every peer seen or configured.
pub(crate) struct Elections {
    local: String,
    config: PsmConfig,
    slots: Mutex<HashMap<DiameterIdentity, Slot>>,
}

/// What a connection event did.
#[derive(Debug)]
pub(crate) struct Fed {
    pub state: PeerState,
    pub actions: Vec<PeerAction>,
}

impl Fed {
    pub fn has(&self, a: PeerAction) -> bool {
        self.actions.contains(&a)
    }
}

impl Elections {
    pub fn new(local: &str, config: PsmConfig) -> Self {
        Elections {
            local: local.to_string(),
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, host: &DiameterIdentity, f: impl FnOnce(&mut Slot) -> R) -> R {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(host.clone()).or_insert_with(|| Slot {
            fsm: PeerFsm::new(&self.local, host.as_str(), self.config),
            initiator: None,
            responder: None,
            origin_state_id: None,
        });
        f(slot)
    }

    /// The peer's state.
    pub fn state(&self, host: &DiameterIdentity) -> PeerState {
        self.with(host, |s| s.fsm.state())
    }

    /// Feeds `event` and carries out the actions that concern a waiting handshake.
    fn feed(slot: &mut Slot, event: PeerEvent) -> Fed {
        let actions = slot.fsm.handle(event, Instant::now());
        Self::carry_out(slot, &actions);
        Fed {
            state: slot.fsm.state(),
            actions,
        }
    }

    fn carry_out(slot: &mut Slot, actions: &[PeerAction]) {
        for a in actions {
            match a {
                PeerAction::SendCea => {
                    if let Some((_, tx)) = &mut slot.responder {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(true);
                        }
                    }
                }
                PeerAction::Disconnect(Side::Responder) => {
                    if let Some((_, Some(tx))) = slot.responder.take() {
                        let _ = tx.send(false);
                    }
                }
                PeerAction::Disconnect(Side::Initiator) => {
                    if let Some((_, Some(tx))) = slot.initiator.take() {
                        let _ = tx.send(());
                    }
                }
                PeerAction::Error => {
                    if let Some((_, Some(tx))) = slot.responder.take() {
                        let _ = tx.send(false);
                    }
                    if let Some((_, Some(tx))) = slot.initiator.take() {
                        let _ = tx.send(());
                    }
                }
                _ => {}
            }
        }
        if slot.fsm.state() == PeerState::Closed {
            slot.initiator = None;
            slot.responder = None;
        }
    }

    /// `Start`: whether to connect now (the peer is Closed).
    pub fn start(&self, host: &DiameterIdentity) -> bool {
        self.with(host, |s| Self::feed(s, PeerEvent::Start))
            .has(PeerAction::Connect)
    }

    /// `I-Rcv-Conn-Ack` for our connection `conn`; `abort` fires if the election drops it.
    /// True when the CER may be sent.
    pub fn conn_ack(&self, host: &DiameterIdentity, conn: u64, abort: oneshot::Sender<()>) -> bool {
        self.with(host, |s| {
            s.initiator = Some((conn, Some(abort)));
            Self::feed(s, PeerEvent::ConnAck)
        })
        .has(PeerAction::SendCer)
    }

    /// `I-Rcv-Conn-Nack`.
    pub fn conn_nack(&self, host: &DiameterIdentity) {
        self.with(host, |s| Self::feed(s, PeerEvent::ConnNack));
    }

    /// A connection we opened without knowing the peer (an address, not an identity) got a
    /// successful CEA from `host`: the machine goes Start, Conn-Ack, CEA at once. True when
    /// the peer is now open on it (false: the peer already has a connection).
    pub fn adopt_initiator(&self, host: &DiameterIdentity, conn: u64, osi: Option<u32>) -> bool {
        self.with(host, |s| {
            if s.fsm.state() != PeerState::Closed {
                return false;
            }
            Self::feed(s, PeerEvent::Start);
            s.initiator = Some((conn, None));
            Self::feed(s, PeerEvent::ConnAck);
            let open = Self::feed(s, PeerEvent::InitiatorCea).state == PeerState::InitiatorOpen;
            s.origin_state_id = osi;
            open
        })
    }

    /// `I-Rcv-CEA` (success) on `conn`. True when the peer is now open on it.
    pub fn initiator_cea(&self, host: &DiameterIdentity, conn: u64, osi: Option<u32>) -> bool {
        self.with(host, |s| {
            if s.initiator.as_ref().map(|i| i.0) != Some(conn) {
                return false;
            }
            let open = Self::feed(s, PeerEvent::InitiatorCea).state == PeerState::InitiatorOpen;
            if open {
                s.origin_state_id = osi;
            }
            open
        })
    }

    /// Our connection `conn` failed before it opened (refused CEA, timeout, closed).
    pub fn initiator_failed(&self, host: &DiameterIdentity, conn: u64) {
        self.with(host, |s| {
            if s.initiator.as_ref().map(|i| i.0) == Some(conn) {
                Self::feed(s, PeerEvent::InitiatorCeaFailed);
            }
        });
    }

    /// `R-Conn-CER` on the peer's connection `conn`. The answer arrives on the returned
    /// channel: true to answer the CER with success, false to refuse it (4003). A peer that
    /// is open with another Origin-State-Id restarted: its old connection is forgotten (the
    /// caller closes it; see [`Elections::restarted`]) and the new one accepted.
    /// Also returns the connection to close when the peer restarted.
    pub fn responder_cer(
        &self,
        host: &DiameterIdentity,
        conn: u64,
        osi: Option<u32>,
    ) -> (oneshot::Receiver<bool>, Option<u64>) {
        let (tx, rx) = oneshot::channel();
        let stale = self.with(host, |s| {
            let mut stale = None;
            if s.fsm.state().is_open() && osi.is_some() && s.origin_state_id != osi {
                let side = s.fsm.state().open_side().unwrap_or(Side::Responder);
                stale = match side {
                    Side::Initiator => s.initiator.as_ref().map(|i| i.0),
                    Side::Responder => s.responder.as_ref().map(|r| r.0),
                };
                Self::feed(s, PeerEvent::PeerDisc(side));
            }
            let before = s.fsm.state();
            let actions = s.fsm.handle(PeerEvent::ResponderCer, Instant::now());
            if actions.contains(&PeerAction::Reject) {
                let _ = tx.send(false);
                return stale;
            }
            s.responder = Some((conn, Some(tx)));
            Self::carry_out(s, &actions);
            if s.fsm.state() == PeerState::ResponderOpen && before != PeerState::ResponderOpen {
                s.origin_state_id = osi;
            }
            stale
        });
        (rx, stale)
    }

    /// A held responder connection waited too long, or closed: `Timeout` / `R-Peer-Disc`.
    pub fn responder_gone(&self, host: &DiameterIdentity, conn: u64, timed_out: bool) {
        self.with(host, |s| {
            if s.responder.as_ref().map(|r| r.0) != Some(conn) {
                return;
            }
            let event = if timed_out {
                PeerEvent::Timeout
            } else {
                PeerEvent::PeerDisc(Side::Responder)
            };
            Self::feed(s, event);
        });
    }

    /// The open connection `conn` of `host` closed (`I-Peer-Disc` / `R-Peer-Disc`). Events
    /// about a connection the machine no longer speaks for are ignored.
    pub fn closed(&self, host: &DiameterIdentity, conn: u64, side: Side) {
        self.with(host, |s| {
            let mine = match side {
                Side::Initiator => s.initiator.as_ref().map(|i| i.0),
                Side::Responder => s.responder.as_ref().map(|r| r.0),
            };
            if mine == Some(conn) {
                Self::feed(s, PeerEvent::PeerDisc(side));
            }
        });
    }
}
