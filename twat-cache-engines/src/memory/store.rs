//! One shard's entries: a dense slot vector, a hash index into it, and intrusive lists.
//!
//! Entries live in `slots` (no per-entry allocation, no `Option` tag: removal swaps the last slot
//! into the hole and patches its neighbours). `table` maps a key's hash to its slot index. Each
//! slot is on exactly one list — which one is the policy's business (`ListId`) — linked through
//! `prev`/`next` indices. All of this is mutated only under the shard's write lock; the two atomics
//! in a slot are what a reader holding the read lock may touch.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hashbrown::HashTable;

use super::sketch::FrequencySketch;

pub(crate) const NIL: u32 = u32::MAX;

/// Which list a slot is on. Lists 0 and 1 are fixed (LRU/FIFO order, W-TinyLFU window and main);
/// `COUNTED` slots are on the LFU bucket of their access count.
pub(crate) type ListId = u8;
pub(crate) const WINDOW: ListId = 0;
pub(crate) const MAIN: ListId = 1;
pub(crate) const COUNTED: ListId = 2;

// `repr(C)` puts what a hit reads and writes (key, value, meta) first, so that it usually sits
// in one cache line; links and the deadline follow.
#[repr(C)]
pub(crate) struct Slot<K, V> {
    pub key: K,
    pub value: V,
    /// Policy metadata: pending hits (W-TinyLFU), access count (LFU).
    pub meta: AtomicU32,
    list: ListId,
    /// How long computing the value took (early refresh; see `early.rs`), packed into the
    /// two bytes that padding would take anyway.
    pub delta: u16,
    prev: u32,
    next: u32,
    /// Deadline in clock nanoseconds; 0 = never. Atomic so a hit can slide it (`refresh`).
    pub expires: AtomicU64,
}

impl<K, V> Slot<K, V> {
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        let deadline = self.expires.load(Ordering::Relaxed);
        deadline != 0 && now >= deadline
    }

    #[inline]
    pub fn meta(&self) -> u32 {
        self.meta.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn set_meta(&self, value: u32) {
        self.meta.store(value, Ordering::Relaxed)
    }
}

/// When a new entry expires (clock nanoseconds, 0 = never) and how long computing it took
/// (packed, see `early.rs`; 0 = not measured).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stamp {
    pub expires: u64,
    pub delta: u16,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    /// Most recently linked.
    pub head: u32,
    /// Least recently linked: the next victim.
    pub tail: u32,
    pub len: usize,
}

impl Default for List {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

pub(crate) struct Store<K, V> {
    pub slots: Vec<Slot<K, V>>,
    table: HashTable<u32>,
    pub fixed: [List; 2],
    /// LFU buckets by access count (empty for other policies).
    pub counted: hashbrown::HashMap<u32, List, foldhash::fast::FixedState>,
    /// Smallest LFU bucket key (a hint: re-derived when its bucket is gone).
    pub lfu_min: u32,
    pub bytes: u64,
    pub sketch: Option<FrequencySketch>,
}

impl<K, V> Store<K, V> {
    pub fn with_capacity(entries: usize, sketch: Option<FrequencySketch>) -> Self {
        Self {
            slots: Vec::with_capacity(entries),
            table: HashTable::with_capacity(entries),
            fixed: [List::default(); 2],
            counted: Default::default(),
            lfu_min: 0,
            bytes: 0,
            sketch,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    #[inline(always)]
    pub fn find(&self, hash: u64, mut matches: impl FnMut(&K) -> bool) -> Option<u32> {
        self.table
            .find(hash, |&i| matches(&self.slots[i as usize].key))
            .copied()
    }

    #[inline(always)]
    pub fn slot(&self, index: u32) -> &Slot<K, V> {
        &self.slots[index as usize]
    }

    /// Adds an entry that is on no list yet; the caller links it.
    pub fn push(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        stamp: Stamp,
        hasher: impl Fn(&K) -> u64,
    ) -> u32 {
        let index = u32::try_from(self.slots.len()).expect("a shard holds < 2^32 entries");
        self.slots.push(Slot {
            key,
            value,
            expires: AtomicU64::new(stamp.expires),
            delta: stamp.delta,
            prev: NIL,
            next: NIL,
            meta: AtomicU32::new(0),
            list: WINDOW,
        });
        let slots = &self.slots;
        self.table
            .insert_unique(hash, index, |&i| hasher(&slots[i as usize].key));
        index
    }

    /// Removes the entry at `index` from its list, the index and the slots; returns it.
    pub fn remove(&mut self, index: u32, hasher: impl Fn(&K) -> u64) -> (K, V) {
        self.unlink(index);
        let hash = hasher(&self.slots[index as usize].key);
        match self.table.find_entry(hash, |&i| i == index) {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => unreachable!("every slot is indexed"),
        }
        let last = (self.slots.len() - 1) as u32;
        let removed = self.slots.swap_remove(index as usize);
        if index != last {
            self.relocated(last, index, &hasher);
        }
        (removed.key, removed.value)
    }

    /// The slot that lived at `from` now lives at `to`: repoint its neighbours and its index entry.
    fn relocated(&mut self, from: u32, to: u32, hasher: &impl Fn(&K) -> u64) {
        let (prev, next, list, meta) = {
            let s = &self.slots[to as usize];
            (s.prev, s.next, s.list, s.meta())
        };
        if prev == NIL {
            self.list_mut(list, meta).head = to;
        } else {
            self.slots[prev as usize].next = to;
        }
        if next == NIL {
            self.list_mut(list, meta).tail = to;
        } else {
            self.slots[next as usize].prev = to;
        }
        let hash = hasher(&self.slots[to as usize].key);
        *self
            .table
            .find_mut(hash, |&i| i == from)
            .expect("every slot is indexed") = to;
    }

    fn list_mut(&mut self, list: ListId, meta: u32) -> &mut List {
        if list == COUNTED {
            self.counted.entry(meta).or_default()
        } else {
            &mut self.fixed[list as usize]
        }
    }

    /// Links `index` at the head of `list` (for `COUNTED`, the bucket of its current `meta`).
    pub fn link_head(&mut self, index: u32, list: ListId) {
        let meta = self.slots[index as usize].meta();
        let l = self.list_mut(list, meta);
        let old_head = l.head;
        l.head = index;
        if old_head == NIL {
            l.tail = index;
        }
        l.len += 1;
        if old_head != NIL {
            self.slots[old_head as usize].prev = index;
        }
        let s = &mut self.slots[index as usize];
        s.prev = NIL;
        s.next = old_head;
        s.list = list;
    }

    /// Takes `index` off its list (no-op bookkeeping for an unlinked slot is not supported).
    pub fn unlink(&mut self, index: u32) {
        let (prev, next, list, meta) = {
            let s = &self.slots[index as usize];
            (s.prev, s.next, s.list, s.meta())
        };
        if prev == NIL {
            self.list_mut(list, meta).head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.list_mut(list, meta).tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let l = self.list_mut(list, meta);
        l.len -= 1;
        if list == COUNTED && l.len == 0 {
            self.counted.remove(&meta);
        }
        let s = &mut self.slots[index as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    /// Moves `index` to the head of the list it is on.
    pub fn move_to_head(&mut self, index: u32) {
        let list = self.slots[index as usize].list;
        self.unlink(index);
        self.link_head(index, list);
    }

    pub fn clear(&mut self) -> Vec<Slot<K, V>> {
        self.table.clear();
        self.fixed = [List::default(); 2];
        self.counted.clear();
        self.bytes = 0;
        if let Some(s) = &mut self.sketch {
            s.clear();
        }
        std::mem::take(&mut self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// δ (early refresh) lives in the padding after `list`: a slot is no larger for it.
    #[test]
    fn a_slot_of_u64_to_u64_is_40_bytes() {
        assert_eq!(size_of::<Slot<u64, u64>>(), 40);
    }
}
