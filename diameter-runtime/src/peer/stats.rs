//! Statistics of a peer connection: counters updated by the connection as messages pass (the
//! per-command ones once per batch), read by the node's `stats()` from any thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use crate::codec::avp::AvpReader;
use crate::codec::HEADER_LEN;
use crate::peer::WatchdogState;

/// The Result-Code of an encoded answer (top level), if it has a well-formed one.
pub fn result_code(answer: &Bytes) -> Option<u32> {
    AvpReader::within(answer, HEADER_LEN, answer.len())
        .flatten()
        .find(|a| a.code == 268 && a.vendor_id == 0 && a.end - a.start == 4)
        .map(|a| {
            let d = &answer[a.start..a.end];
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        })
}

/// Live counters of one connection, updated by the connection.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent.
    pub requests_sent: AtomicU64,
    /// Answers received to them.
    pub answers_received: AtomicU64,
    /// Application requests received.
    pub requests_received: AtomicU64,
    /// Requests that got no answer in time.
    pub timeouts: AtomicU64,
    /// Requests moved to another peer.
    pub failed_over: AtomicU64,
    /// Requests waiting for their answer.
    pub outstanding: AtomicU64,
    /// Answers received by Result-Code class: 1xxx … 5xxx, then none or other.
    pub results: [AtomicU64; 6],
    /// Messages by application and command, both directions, as last published by the
    /// connection (see [`CommandTally`]).
    commands: Mutex<Vec<CommandStats>>,
}

/// The Result-Code class of an answer: 0 for 1xxx … 4 for 5xxx, 5 without or other.
fn result_class(answer: &Bytes) -> usize {
    match result_code(answer) {
        Some(rc @ 1000..=5999) => (rc / 1000 - 1) as usize,
        _ => 5,
    }
}

/// A connection's own per-command counts, kept without a lock as messages pass and added to
/// the shared [`Counters`] by [`CommandTally::publish`] once per batch of messages.
#[derive(Debug, Default)]
pub struct CommandTally {
    counts: Vec<CommandStats>,
    /// Whether anything was counted since the last publish.
    dirty: bool,
}

impl CommandTally {
    fn entry(&mut self, m: &[u8]) -> Option<(&mut CommandStats, bool)> {
        if m.len() < HEADER_LEN {
            return None;
        }
        let command = u32::from_be_bytes([0, m[5], m[6], m[7]]);
        let application = u32::from_be_bytes([m[8], m[9], m[10], m[11]]);
        self.dirty = true;
        let s = CommandStats::find_or_add(&mut self.counts, application, command);
        Some((s, m[4] & 0x80 != 0))
    }

    /// A message written to the peer.
    pub fn sent(&mut self, m: &Bytes) {
        if let Some((s, request)) = self.entry(m) {
            if request {
                s.requests_sent += 1;
            } else {
                s.answers_sent += 1;
                s.results_sent[result_class(m)] += 1;
            }
        }
    }

    /// A message read from the peer; for an answer, its Result-Code class.
    pub fn received(&mut self, m: &Bytes) -> Option<usize> {
        let (s, request) = self.entry(m)?;
        if request {
            s.requests_received += 1;
            None
        } else {
            let class = result_class(m);
            s.answers_received += 1;
            s.results_received[class] += 1;
            Some(class)
        }
    }

    /// Adds what was counted since the last publish to `to` (one lock), and starts again
    /// from zero.
    pub fn publish(&mut self, to: &Counters) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        let mut shared = to.commands.lock().unwrap_or_else(|p| p.into_inner());
        for c in &mut self.counts {
            CommandStats::find_or_add(&mut shared, c.application, c.command).add(c);
            *c = CommandStats::zero(c.application, c.command);
        }
    }
}

impl CommandStats {
    /// No messages yet of this command of this application.
    fn zero(application: u32, command: u32) -> CommandStats {
        CommandStats {
            application,
            command,
            ..Default::default()
        }
    }

    /// The entry of this command in `v` (a handful of entries: a linear search beats
    /// hashing), added at zero when missing.
    fn find_or_add(v: &mut Vec<CommandStats>, application: u32, command: u32) -> &mut Self {
        let i = match v
            .iter()
            .position(|s| (s.application, s.command) == (application, command))
        {
            Some(i) => i,
            None => {
                v.push(CommandStats::zero(application, command));
                v.len() - 1
            }
        };
        &mut v[i]
    }

    /// Adds `o`'s counts to these.
    fn add(&mut self, o: &CommandStats) {
        self.requests_sent += o.requests_sent;
        self.answers_received += o.answers_received;
        self.requests_received += o.requests_received;
        self.answers_sent += o.answers_sent;
        for (a, b) in self.results_received.iter_mut().zip(o.results_received) {
            *a += b;
        }
        for (a, b) in self.results_sent.iter_mut().zip(o.results_sent) {
            *a += b;
        }
    }
}

impl Counters {
    /// An answer to one of our requests arrived, of this Result-Code class (see
    /// [`CommandTally::received`]).
    pub fn answered(&self, class: usize) {
        self.answers_received.fetch_add(1, Ordering::Relaxed);
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.results[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Both directions, ordered by application then command, as last published.
    pub fn commands(&self) -> Vec<CommandStats> {
        let mut all = self
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        all.sort_by_key(|s| (s.application, s.command));
        all
    }
}

/// Messages of one command of one application exchanged with a peer, both directions,
/// base protocol included (CER/CEA, DWR/DWA, DPR/DPA on application 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandStats {
    /// Application-Id of the header.
    pub application: u32,
    /// Command code.
    pub command: u32,
    /// Requests we sent.
    pub requests_sent: u64,
    /// Answers we received.
    pub answers_received: u64,
    /// Requests we received.
    pub requests_received: u64,
    /// Answers we sent.
    pub answers_sent: u64,
    /// Answers received by Result-Code class: 1xxx, 2xxx, 3xxx, 4xxx, 5xxx, without or other.
    pub results_received: [u64; 6],
    /// Answers sent by Result-Code class, as `results_received`.
    pub results_sent: [u64; 6],
}

/// Statistics of one connected peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Its Origin-Host.
    pub host: String,
    /// Watchdog state.
    pub state: Option<WatchdogState>,
    /// Requests sent to it.
    pub requests_sent: u64,
    /// Answers to them.
    pub answers_received: u64,
    /// Requests it sent us (applications, not base protocol).
    pub requests_received: u64,
    /// Requests that got no answer in time.
    pub timeouts: u64,
    /// Requests moved to another peer by failover.
    pub failed_over: u64,
    /// Requests waiting for their answer now.
    pub outstanding: u64,
    /// Answers by Result-Code class: 1xxx, 2xxx, 3xxx, 4xxx, 5xxx, without or other.
    pub results: [u64; 6],
    /// By application and command (both directions), ordered by application then command.
    pub commands: Vec<CommandStats>,
}
