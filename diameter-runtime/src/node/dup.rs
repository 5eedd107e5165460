//! Duplicate detection (RFC 6733 §5.5.4): answers already sent, by the Origin-Host and
//! End-to-End id of their request, so that a retransmission (T flag) is answered the same way
//! again instead of being handled twice.
//!
//! Every answer is stored, so storing must be cheap and lookups (needed only for a request
//! with the T flag) may be slow. The cache is a ring of generations, each an append-only log:
//! storing an answer appends its key hash, its place and the bytes of the host and answer to
//! the newest generation (sequential writes, nothing read, nothing freed); when that one is
//! full, the oldest generation is emptied (its buffers kept) and becomes the newest. A lookup
//! scans the hashes, newest first, and compares hosts only where a hash matches. Bounded in
//! entries, bytes and age.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;

/// How many generations the capacity is split into: when the newest is full the oldest
/// goes, so between 7/8 of the capacity and all of it is held.
const GENERATIONS: usize = 8;

/// Who sent a request: its Origin-Host and End-to-End id.
pub(crate) struct Key<'a> {
    hash: u64,
    end_to_end: u32,
    /// The Origin-Host, borrowed from the request.
    host: &'a [u8],
}

impl<'a> Key<'a> {
    /// The key of a request from `origin_host` with this End-to-End id.
    pub(crate) fn new(origin_host: &'a [u8], end_to_end: u32) -> Key<'a> {
        // Eight bytes at a time, each word multiplied in (a lookup compares hosts where the
        // hashes match, so only the spread matters), then the id mixed in.
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h: u64 = origin_host.len() as u64;
        let mut words = origin_host.chunks_exact(8);
        for w in &mut words {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
        h = (h ^ end_to_end as u64).wrapping_mul(K);
        Key {
            hash: h ^ (h >> 29),
            end_to_end,
            host: origin_host,
        }
    }
}

/// Where one stored answer is in its generation's `data`: the host, then the answer.
struct Span {
    start: u32,
    host_len: u16,
    answer_len: u32,
    end_to_end: u32,
    at: Instant,
}

/// One generation: parallel logs of hashes and spans, and the bytes they point into.
#[derive(Default)]
struct Generation {
    hashes: Vec<u64>,
    spans: Vec<Span>,
    data: Vec<u8>,
}

impl Generation {
    fn clear(&mut self) {
        self.hashes.clear();
        self.spans.clear();
        self.data.clear();
    }
}

struct Ring {
    gens: Vec<Generation>,
    /// The generation answers go into.
    newest: usize,
}

/// The cache.
pub(crate) struct DupCache {
    ring: Mutex<Ring>,
    lifetime: Duration,
    /// Entries and bytes of one generation.
    per_gen: usize,
    bytes_per_gen: usize,
}

impl DupCache {
    /// Room for `capacity` answers, each kept at most `lifetime`, `max_bytes` in all.
    pub(crate) fn new(capacity: usize, lifetime: Duration, max_bytes: usize) -> Self {
        let per_gen = capacity.div_ceil(GENERATIONS).max(1);
        DupCache {
            ring: Mutex::new(Ring {
                gens: (0..GENERATIONS).map(|_| Generation::default()).collect(),
                newest: 0,
            }),
            lifetime,
            per_gen,
            bytes_per_gen: (max_bytes / GENERATIONS).max(1),
        }
    }

    /// A copy of the answer to replay (for the caller to give its new Hop-by-Hop id), if the
    /// request was answered within the lifetime.
    pub(crate) fn get(&self, key: &Key<'_>) -> Option<BytesMut> {
        let r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        // Newest first: a request answered twice replays its latest answer.
        for age in 0..GENERATIONS {
            let g = &r.gens[(r.newest + GENERATIONS - age) % GENERATIONS];
            for (i, _) in g
                .hashes
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, &h)| h == key.hash)
            {
                let s = &g.spans[i];
                let host_at = s.start as usize;
                let answer_at = host_at + s.host_len as usize;
                if s.end_to_end == key.end_to_end
                    && g.data[host_at..answer_at] == *key.host
                    && s.at.elapsed() < self.lifetime
                {
                    let answer = &g.data[answer_at..answer_at + s.answer_len as usize];
                    return Some(BytesMut::from(answer));
                }
            }
        }
        None
    }

    /// Keeps the answer to the request with this key, answered at `at` (a time the caller
    /// already has, such as when the request was read: never later than the answer).
    pub(crate) fn insert(&self, key: &Key<'_>, answer: &[u8], at: Instant) {
        let origin_host = key.host;
        let size = origin_host.len() + answer.len();
        if size > self.bytes_per_gen || origin_host.len() > u16::MAX as usize {
            return;
        }
        let mut guard = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let r = &mut *guard;
        let full = {
            let g = &r.gens[r.newest];
            g.hashes.len() >= self.per_gen || g.data.len() + size > self.bytes_per_gen
        };
        if full {
            // The oldest generation goes: it becomes the newest, its buffers kept.
            r.newest = (r.newest + 1) % GENERATIONS;
            r.gens[r.newest].clear();
        }
        let g = &mut r.gens[r.newest];
        g.hashes.push(key.hash);
        g.spans.push(Span {
            start: g.data.len() as u32,
            host_len: origin_host.len() as u16,
            answer_len: answer.len() as u32,
            end_to_end: key.end_to_end,
            at,
        });
        g.data.extend_from_slice(origin_host);
        g.data.extend_from_slice(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &'static [u8], e2e: u32) -> Key<'static> {
        Key::new(host, e2e)
    }

    fn held(c: &DupCache) -> usize {
        c.ring
            .lock()
            .unwrap()
            .gens
            .iter()
            .map(|g| g.hashes.len())
            .sum()
    }

    #[test]
    fn replays_within_lifetime_and_bounds() {
        let c = DupCache::new(64, Duration::from_secs(60), 1 << 20);
        let k = key(b"client.example.net", 7);
        assert!(c.get(&k).is_none());
        c.insert(&k, b"answer", Instant::now());
        assert_eq!(&c.get(&k).unwrap()[..], b"answer");
        assert!(c.get(&key(b"client.example.net", 8)).is_none());
        assert!(c.get(&key(b"other.example.net", 7)).is_none());
        // Answered again: the latest answer is replayed.
        c.insert(&k, b"second", Instant::now());
        assert_eq!(&c.get(&k).unwrap()[..], b"second");
        // Thousands more: the cache stays within its entries, at least 7/8 of them held.
        for i in 0..10_000u32 {
            c.insert(&key(b"client.example.net", 1000 + i), b"x", Instant::now());
            assert!(held(&c) <= 64);
        }
        assert!(held(&c) >= 56, "{}", held(&c));
        assert!(c.get(&k).is_none(), "the oldest went first");
        assert!(c.get(&key(b"client.example.net", 1000 + 9_999)).is_some());
        assert!(c.get(&key(b"client.example.net", 1000 + 9_944)).is_some());
    }

    #[test]
    fn expired_and_oversized_answers_are_not_replayed() {
        let c = DupCache::new(64, Duration::ZERO, 1 << 20);
        let k = key(b"a", 1);
        c.insert(&k, b"answer", Instant::now());
        assert!(c.get(&k).is_none(), "lifetime 0");
        // 80 bytes in all: 10 per generation, host included.
        let c = DupCache::new(64, Duration::from_secs(60), 80);
        c.insert(&k, &[0u8; 10], Instant::now());
        assert!(c.get(&k).is_none(), "over the byte bound");
        for i in 0..100u32 {
            c.insert(&key(b"a", 100 + i), &[0u8; 6], Instant::now());
            let bytes: usize = c
                .ring
                .lock()
                .unwrap()
                .gens
                .iter()
                .map(|g| g.data.len())
                .sum();
            assert!(bytes <= 80);
        }
        assert!(
            c.get(&key(b"a", 100)).is_none(),
            "evicted for the byte bound"
        );
        assert!(c.get(&key(b"a", 199)).is_some());
    }

    #[test]
    fn long_hosts_are_told_apart() {
        let a = vec![b'a'; 100];
        let mut b = vec![b'a'; 100];
        b[99] = b'b';
        let c = DupCache::new(64, Duration::from_secs(60), 1 << 20);
        c.insert(&Key::new(&a, 1), b"answer", Instant::now());
        assert!(c.get(&Key::new(&a, 1)).is_some());
        assert!(c.get(&Key::new(&b, 1)).is_none());
    }
}
