//! One shard's entries: a dense slot vector, a hash index into it, and intrusive lists.
//!
//! Entries live in `slots` (no per-entry allocation, no `Option` tag: removal swaps the last slot
//! into the hole and patches its neighbours). `table` maps a key's hash to its slot index. Each
//! slot is on exactly one list — which one is the policy's business (`ListId`) — linked through
//! `prev`/`next` indices. All of this is mutated only under the shard's write lock; the atomics
//! (a slot's `meta`, an entry's deadline) are what a reader holding the read lock may touch.
//!
//! Deadlines live beside the slots (`deadlines`, index for index), not in them, and only once an
//! entry has one: a cache without TTLs keeps 32-byte slots for `u64 → u64` — two per cache line,
//! none straddling two (a 40-byte slot made one hit in four touch a second line). What each
//! entry was charged against the byte bound lives beside them too, and only for a custom
//! weigher (`Charges`).

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
}

impl<K, V> Slot<K, V> {
    #[inline]
    pub fn meta(&self) -> u32 {
        self.meta.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn set_meta(&self, value: u32) {
        self.meta.store(value, Ordering::Relaxed)
    }
}

/// When a new entry expires (clock nanoseconds, 0 = never), how long computing it took
/// (packed, see `early.rs`; 0 = not measured), and its [`Cap`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stamp {
    pub expires: u64,
    pub delta: u16,
    pub cap: Cap,
}

/// The bounds of a copy of an entry another tier holds, in a cache that slides deadlines
/// (`refresh`): a hit never slides it past `until` (that entry's deadline when the copy was
/// made), and one from `renew_at` on renews the copy from that tier. Zeros: no cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cap {
    pub until: u64,
    pub renew_at: u64,
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

/// What each entry was charged against the byte bound when it was stored. A weigher may read
/// state that changes later (a length behind an `Arc`), so taking an entry out subtracts its
/// charge, never a fresh estimate (which underflowed the byte count when the value had grown).
pub(crate) enum Charges {
    /// Every entry weighs the same (the default weigher, `size_of::<K>() + size_of::<V>()`):
    /// nothing to remember per slot, and slots keep their size.
    Uniform(u64),
    /// A custom weigher: each slot's charge, index for index with `slots` (as `deadlines`).
    PerSlot(Vec<u64>),
}

impl Charges {
    /// Charges for a cache with a custom weigher, or else with the default one, whose every
    /// entry weighs `uniform`.
    pub fn new(custom_weigher: bool, uniform: u64) -> Self {
        if custom_weigher {
            Self::PerSlot(Vec::new())
        } else {
            Self::Uniform(uniform)
        }
    }
}

pub(crate) struct Store<K, V> {
    pub slots: Vec<Slot<K, V>>,
    /// Each slot's deadline in clock nanoseconds (0 = never), atomic so a hit can slide it
    /// (`refresh`); empty until an entry with a deadline arrives, then as long as `slots`.
    deadlines: Vec<AtomicU64>,
    /// Each slot's [`Cap`], like `deadlines`: empty until a capped entry arrives.
    caps: Vec<Cap>,
    table: HashTable<u32>,
    pub fixed: [List; 2],
    /// LFU buckets by access count (empty for other policies).
    pub counted: hashbrown::HashMap<u32, List, foldhash::fast::FixedState>,
    /// Smallest LFU bucket key (a hint: re-derived when its bucket is gone).
    pub lfu_min: u32,
    /// The sum of the entries' charges (kept by `push`, `replace` and `remove`).
    pub bytes: u64,
    charges: Charges,
    pub sketch: Option<FrequencySketch>,
}

impl<K, V> Store<K, V> {
    pub fn with_capacity(
        entries: usize,
        sketch: Option<FrequencySketch>,
        charges: Charges,
    ) -> Self {
        Self {
            slots: Vec::with_capacity(entries),
            deadlines: Vec::new(),
            caps: Vec::new(),
            table: HashTable::new(),
            fixed: [List::default(); 2],
            counted: Default::default(),
            lfu_min: 0,
            bytes: 0,
            charges,
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

    /// The entry's deadline in clock nanoseconds; 0 = never.
    #[inline]
    pub fn deadline(&self, index: u32) -> u64 {
        self.deadlines
            .get(index as usize)
            .map_or(0, |d| d.load(Ordering::Relaxed))
    }

    #[inline]
    pub fn is_expired(&self, index: u32, now: u64) -> bool {
        let deadline = self.deadline(index);
        deadline != 0 && now >= deadline
    }

    /// Slides the entry's deadline (`refresh`), under the read lock, never past its cap. An
    /// entry that had none keeps none: `refresh` comes with a TTL, so every entry of that
    /// cache has one.
    #[inline]
    pub fn slide_deadline(&self, index: u32, deadline: u64) {
        let deadline = match self.caps.get(index as usize) {
            Some(cap) if cap.until != 0 => deadline.min(cap.until),
            _ => deadline,
        };
        if let Some(d) = self.deadlines.get(index as usize) {
            d.store(deadline, Ordering::Relaxed);
        }
    }

    /// The entry's [`Cap`] (zeros: none).
    #[inline]
    pub fn cap(&self, index: u32) -> Cap {
        self.caps.get(index as usize).copied().unwrap_or_default()
    }

    /// What the entry at `index` was charged when it was stored.
    #[cfg(test)]
    pub fn charge(&self, index: u32) -> u64 {
        match &self.charges {
            Charges::Uniform(weight) => *weight,
            Charges::PerSlot(charges) => charges[index as usize],
        }
    }

    /// Adds an entry that is on no list yet, charging it `weight`; the caller links it.
    pub fn push(
        &mut self,
        hash: u64,
        (key, value, stamp): (K, V, Stamp),
        weight: u64,
        hasher: impl Fn(&K) -> u64,
    ) -> u32 {
        let index = u32::try_from(self.slots.len()).expect("a shard holds < 2^32 entries");
        if stamp.expires != 0 || !self.deadlines.is_empty() {
            // The first deadline gives every earlier entry one of "never".
            self.deadlines
                .resize_with(self.slots.len(), || AtomicU64::new(0));
            self.deadlines.push(AtomicU64::new(stamp.expires));
        }
        if stamp.cap != Cap::default() || !self.caps.is_empty() {
            self.caps.resize_with(self.slots.len(), Cap::default);
            self.caps.push(stamp.cap);
        }
        self.slots.push(Slot {
            key,
            value,
            delta: stamp.delta,
            prev: NIL,
            next: NIL,
            meta: AtomicU32::new(0),
            list: WINDOW,
        });
        match &mut self.charges {
            Charges::Uniform(uniform) => debug_assert_eq!(weight, *uniform),
            Charges::PerSlot(charges) => charges.push(weight),
        }
        self.bytes += weight;
        let slots = &self.slots;
        self.table
            .insert_unique(hash, index, |&i| hasher(&slots[i as usize].key));
        index
    }

    /// Puts a new entry of `weight` into the slot at `index` (taken off its list and out of
    /// the index), returning the entry that was there and its charge; the caller links the
    /// slot again. Cheaper than [`Store::remove`] then [`Store::push`]: no other slot moves
    /// into a hole.
    pub fn replace(
        &mut self,
        index: u32,
        hash: u64,
        (key, value, stamp): (K, V, Stamp),
        weight: u64,
        hasher: impl Fn(&K) -> u64,
    ) -> (K, V, u64) {
        self.unlink_and_unindex(index, &hasher);
        if stamp.expires != 0 || !self.deadlines.is_empty() {
            // As in `push`: the first deadline gives every other entry one of "never".
            self.deadlines
                .resize_with(self.slots.len(), || AtomicU64::new(0));
            *self.deadlines[index as usize].get_mut() = stamp.expires;
        }
        if stamp.cap != Cap::default() || !self.caps.is_empty() {
            self.caps.resize_with(self.slots.len(), Cap::default);
            self.caps[index as usize] = stamp.cap;
        }
        let slot = &mut self.slots[index as usize];
        let old_key = std::mem::replace(&mut slot.key, key);
        let old_value = std::mem::replace(&mut slot.value, value);
        slot.delta = stamp.delta;
        *slot.meta.get_mut() = 0;
        let old_charge = match &mut self.charges {
            Charges::Uniform(uniform) => *uniform,
            Charges::PerSlot(charges) => std::mem::replace(&mut charges[index as usize], weight),
        };
        self.bytes = self.bytes - old_charge + weight;
        let slots = &self.slots;
        self.table
            .insert_unique(hash, index, |&i| hasher(&slots[i as usize].key));
        (old_key, old_value, old_charge)
    }

    /// Removes the entry at `index` from its list, the index and the slots; returns it and
    /// its charge.
    pub fn remove(&mut self, index: u32, hasher: impl Fn(&K) -> u64) -> (K, V, u64) {
        self.unlink_and_unindex(index, &hasher);
        let last = (self.slots.len() - 1) as u32;
        let removed = self.slots.swap_remove(index as usize);
        if !self.deadlines.is_empty() {
            self.deadlines.swap_remove(index as usize);
        }
        if !self.caps.is_empty() {
            self.caps.swap_remove(index as usize);
        }
        let charge = match &mut self.charges {
            Charges::Uniform(uniform) => *uniform,
            Charges::PerSlot(charges) => charges.swap_remove(index as usize),
        };
        self.bytes -= charge;
        if index != last {
            self.relocated(last, index, &hasher);
        }
        (removed.key, removed.value, charge)
    }

    /// Takes the slot at `index` off its list and out of the hash index (it stays in `slots`).
    fn unlink_and_unindex(&mut self, index: u32, hasher: &impl Fn(&K) -> u64) {
        self.unlink(index);
        let hash = hasher(&self.slots[index as usize].key);
        match self.table.find_entry(hash, |&i| i == index) {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => unreachable!("every slot is indexed"),
        }
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

    #[inline(always)]
    fn list_mut(&mut self, list: ListId, meta: u32) -> &mut List {
        if list == COUNTED {
            self.counted_list(meta)
        } else {
            // `list` is WINDOW or MAIN: the mask only spares a bounds check.
            &mut self.fixed[usize::from(list & 1)]
        }
    }

    /// The LFU bucket of access count `meta` (out of line: only LFU caches have buckets).
    #[inline(never)]
    fn counted_list(&mut self, meta: u32) -> &mut List {
        self.counted.entry(meta).or_default()
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
        self.deadlines.clear();
        self.caps.clear();
        if let Charges::PerSlot(charges) = &mut self.charges {
            charges.clear();
        }
        std::mem::take(&mut self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// δ (early refresh) lives in the padding after `list` and deadlines beside the slots: a
    /// `u64 → u64` slot is half a cache line.
    #[test]
    fn a_slot_of_u64_to_u64_is_32_bytes() {
        assert_eq!(size_of::<Slot<u64, u64>>(), 32);
    }

    #[test]
    fn a_replaced_slot_holds_the_new_entry_under_its_key_only() {
        let mut store: Store<u64, u64> =
            Store::with_capacity(4, None, Charges::PerSlot(Vec::new()));
        let hash = |k: &u64| k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for k in 1..=3 {
            let i = store.push(hash(&k), (k, k * 10, Stamp::default()), k, hash);
            store.link_head(i, WINDOW);
        }
        let two = store.find(hash(&2), |x| *x == 2).unwrap();
        let stamp = Stamp {
            expires: 500,
            delta: 7,
            ..Stamp::default()
        };
        let old = store.replace(two, hash(&9), (9, 90, stamp), 9, hash);
        store.link_head(two, MAIN);
        assert_eq!(old, (2, 20, 2));
        assert_eq!((store.charge(two), store.bytes), (9, 1 + 9 + 3));
        assert_eq!(store.find(hash(&2), |x| *x == 2), None);
        assert_eq!(store.find(hash(&9), |x| *x == 9), Some(two));
        assert_eq!(store.slot(two).value, 90);
        assert_eq!(store.slot(two).delta, 7);
        assert_eq!(store.deadline(two), 500);
        for k in [1, 3] {
            let i = store.find(hash(&k), |x| *x == k).unwrap();
            assert_eq!((store.slot(i).value, store.deadline(i)), (k * 10, 0));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(
            (
                store.fixed[WINDOW as usize].len,
                store.fixed[MAIN as usize].len
            ),
            (2, 1)
        );
    }

    #[test]
    fn deadlines_follow_their_slots() {
        let mut store: Store<u64, u64> =
            Store::with_capacity(4, None, Charges::PerSlot(Vec::new()));
        let hash = |k: &u64| k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for (k, expires) in [(1, 0), (2, 0), (3, 300), (4, 0)] {
            let stamp = Stamp {
                expires,
                ..Stamp::default()
            };
            let i = store.push(hash(&k), (k, k, stamp), k * 100, hash);
            store.link_head(i, WINDOW);
        }
        let deadline_of = |store: &Store<u64, u64>, k: u64| {
            store.deadline(store.find(hash(&k), |x| *x == k).unwrap())
        };
        assert_eq!(
            (1..=4).map(|k| deadline_of(&store, k)).collect::<Vec<_>>(),
            [0, 0, 300, 0]
        );
        // Removing key 1 moves the last slot (key 4) into its place.
        let (_, _, charge) = store.remove(store.find(hash(&1), |x| *x == 1).unwrap(), hash);
        assert_eq!((charge, store.bytes), (100, 900));
        assert_eq!(deadline_of(&store, 3), 300);
        let four = store.find(hash(&4), |x| *x == 4).unwrap();
        assert_eq!(store.charge(four), 400, "a charge follows its slot");
        assert_eq!(deadline_of(&store, 4), 0);
        let three = store.find(hash(&3), |x| *x == 3).unwrap();
        assert!(store.is_expired(three, 300) && !store.is_expired(three, 299));
        store.slide_deadline(three, 900);
        assert_eq!(deadline_of(&store, 3), 900);
    }

    /// A copy's cap moves with its slot, and a slide never passes it.
    #[test]
    fn caps_follow_their_slots_and_bound_slides() {
        let mut store: Store<u64, u64> =
            Store::with_capacity(4, None, Charges::PerSlot(Vec::new()));
        let hash = |k: &u64| k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let cap = Cap {
            until: 400,
            renew_at: 200,
        };
        for (k, cap) in [(1, Cap::default()), (2, Cap::default()), (3, cap)] {
            let stamp = Stamp {
                expires: 100,
                cap,
                ..Stamp::default()
            };
            let i = store.push(hash(&k), (k, k, stamp), 1, hash);
            store.link_head(i, WINDOW);
        }
        store.remove(store.find(hash(&1), |x| *x == 1).unwrap(), hash);
        let three = store.find(hash(&3), |x| *x == 3).unwrap();
        assert_eq!(store.cap(three), cap, "moved into the hole with its slot");
        store.slide_deadline(three, 900);
        assert_eq!(store.deadline(three), 400, "never past the cap");
        let two = store.find(hash(&2), |x| *x == 2).unwrap();
        assert_eq!(store.cap(two), Cap::default());
        store.slide_deadline(two, 900);
        assert_eq!(
            store.deadline(two),
            900,
            "an entry without a cap slides freely"
        );
    }
}
