//! Duplicate detection (RFC 6733 §5.5.4): answers already sent, by the Origin-Host and
//! End-to-End id of their request, so that a retransmission (T flag) is answered the same way
//! again instead of being handled twice.
//!
//! A ring: every answer is stored, in arrival order, so the cost per request is one hash, one
//! short lock and sequential writes (no random memory access); the lookup, needed only for a
//! request with the T flag, scans the ring's hashes. Bounded in entries, bytes and age; the
//! oldest entry goes first.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

/// Origin-Hosts up to this long are kept whole; longer ones are compared by hash and length.
const INLINE_HOST: usize = 64;

/// Who sent a request: its Origin-Host and End-to-End id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    hash: u64,
    end_to_end: u32,
    len: u16,
    host: [u8; INLINE_HOST],
}

impl Key {
    /// The key of a request from `origin_host` with this End-to-End id.
    pub(crate) fn new(origin_host: &[u8], end_to_end: u32) -> Key {
        // FNV-1a over the host, then the id mixed in.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in origin_host {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ end_to_end as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut host = [0u8; INLINE_HOST];
        let n = origin_host.len().min(INLINE_HOST);
        host[..n].copy_from_slice(&origin_host[..n]);
        Key {
            hash: h ^ (h >> 29),
            end_to_end,
            len: origin_host.len().min(u16::MAX as usize) as u16,
            host,
        }
    }
}

struct Entry {
    key: Key,
    at: Instant,
    answer: Bytes,
}

struct Ring {
    /// The hashes of `entries`, scanned on lookup (0 for an empty slot).
    hashes: Vec<u64>,
    entries: Vec<Option<Entry>>,
    next: usize,
    bytes: usize,
    /// Answers are copied into shared blocks: a copy and a reference count per answer instead
    /// of an allocation and a free.
    arena: BytesMut,
}

/// The size of one arena block: under glibc's mmap threshold (128 KiB), so blocks come from
/// the heap again instead of fresh zeroed pages.
const ARENA_BLOCK: usize = 64 * 1024;

/// The cache.
pub(crate) struct DupCache {
    ring: Mutex<Ring>,
    lifetime: Duration,
    max_bytes: usize,
}

impl DupCache {
    /// Room for `capacity` answers, each kept at most `lifetime`, `max_bytes` in all.
    pub(crate) fn new(capacity: usize, lifetime: Duration, max_bytes: usize) -> Self {
        let capacity = capacity.max(1);
        DupCache {
            ring: Mutex::new(Ring {
                hashes: vec![0; capacity],
                entries: (0..capacity).map(|_| None).collect(),
                next: 0,
                bytes: 0,
                arena: BytesMut::new(),
            }),
            lifetime,
            max_bytes,
        }
    }

    /// The answer to replay, if the request was answered within the lifetime.
    pub(crate) fn get(&self, key: &Key) -> Option<Bytes> {
        let r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        // Newest first: a request answered twice replays its latest answer.
        let n = r.hashes.len();
        (0..n)
            .map(|i| (r.next + n - 1 - i) % n)
            .filter(|&i| r.hashes[i] == key.hash)
            .filter_map(|i| r.entries[i].as_ref())
            .find(|e| e.key == *key && e.at.elapsed() < self.lifetime)
            .map(|e| e.answer.clone())
    }

    /// Keeps the answer to the request with this key, in place of the oldest entry.
    pub(crate) fn insert(&self, key: Key, answer: &[u8]) {
        let now = Instant::now();
        let mut guard = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let r = &mut *guard;
        if answer.len() > self.max_bytes {
            return;
        }
        // Free the slot, then older ones while the byte bound needs it.
        let mut i = r.next;
        loop {
            if let Some(old) = r.entries[i].take() {
                r.bytes -= old.answer.len();
                r.hashes[i] = 0;
            }
            if r.bytes + answer.len() <= self.max_bytes {
                break;
            }
            i = (i + 1) % r.hashes.len();
        }
        if r.arena.capacity() < answer.len() {
            r.arena = BytesMut::with_capacity(ARENA_BLOCK.max(answer.len()));
        }
        r.arena.extend_from_slice(answer);
        let answer = r.arena.split().freeze();
        let slot = r.next;
        r.bytes += answer.len();
        r.hashes[slot] = key.hash;
        r.entries[slot] = Some(Entry {
            key,
            at: now,
            answer,
        });
        r.next = (slot + 1) % r.hashes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_within_lifetime_and_bounds() {
        let c = DupCache::new(64, Duration::from_secs(60), 1 << 20);
        let k = Key::new(b"client.example.net", 7);
        assert!(c.get(&k).is_none());
        c.insert(k, b"answer");
        assert_eq!(c.get(&k).unwrap(), Bytes::from_static(b"answer"));
        assert!(c.get(&Key::new(b"client.example.net", 8)).is_none());
        assert!(c.get(&Key::new(b"other.example.net", 7)).is_none());
        // Thousands more: the cache stays within its entries.
        for i in 0..10_000u32 {
            c.insert(Key::new(b"client.example.net", 1000 + i), b"x");
        }
        let held = c.ring.lock().unwrap().entries.iter().flatten().count();
        assert_eq!(held, 64);
        assert!(c.get(&k).is_none(), "the oldest went first");
    }

    #[test]
    fn expired_and_oversized_answers_are_not_replayed() {
        let c = DupCache::new(64, Duration::ZERO, 1 << 20);
        let k = Key::new(b"a", 1);
        c.insert(k, b"answer");
        assert!(c.get(&k).is_none(), "lifetime 0");
        let c = DupCache::new(64, Duration::from_secs(60), 10);
        c.insert(k, &[0u8; 11]);
        assert!(c.get(&k).is_none(), "over the byte bound");
        c.insert(k, &[0u8; 6]);
        let k2 = Key::new(b"a", 2);
        c.insert(k2, &[0u8; 6]);
        assert!(c.get(&k).is_none(), "evicted for the byte bound");
        assert!(c.get(&k2).is_some());
    }

    #[test]
    fn long_hosts_are_told_apart() {
        let a = [b'a'; 100];
        let mut b = a;
        b[99] = b'b';
        assert!(Key::new(&a, 1) != Key::new(&b, 1));
    }
}
