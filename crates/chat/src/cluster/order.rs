//! Delivering one room's numbered events in offset order, each once, from
//! whatever arrives: live events (in order on one subscription, but a
//! subscription may drop and come back), repair reads from the stream, and
//! the room's head from the periodic position check. Pure code, no I/O:
//! the bus feeds it and does what it says, so the ordering rules are
//! tested on their own (property tests below).
//!
//! Rules: delivery starts after the head the room had when this node
//! started watching it ([`RoomOrder::head`] on a room not started; what
//! came before is history, read by the replay). An offset at or below the
//! last delivered is a duplicate and dropped; the next one is delivered
//! with every waiting one that follows it; one further ahead waits in a
//! bounded buffer, and [`RoomOrder::missing`] names the range to read from
//! the stream. When the epoch changes (Redis lost its data) the buffer is
//! cleared, numbering starts again at 1 and the outcome says the history
//! was lost — once per change. Offsets a repair read passes over (the
//! stream was trimmed past them) are skipped, never waited for
//! ([`RoomOrder::repaired`]).

use std::collections::BTreeMap;
use std::sync::Arc;

/// What to do after a step: tell the room its history was lost (when
/// `lost`), then deliver `deliver` in order.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The epoch changed since the last step that knew it.
    pub lost: bool,
    /// Events to deliver now, in offset order.
    pub deliver: Vec<T>,
}

impl<T> Outcome<T> {
    fn merge(&mut self, other: Outcome<T>) {
        self.lost |= other.lost;
        self.deliver.extend(other.deliver);
    }
}

impl<T> Default for Outcome<T> {
    fn default() -> Self {
        Outcome { lost: false, deliver: Vec::new() }
    }
}

/// One room's delivery position.
#[derive(Debug)]
pub struct RoomOrder<T> {
    /// `None` until the start position is known.
    epoch: Option<Arc<str>>,
    /// The last offset delivered (or passed over as before the start).
    last: u64,
    /// The highest offset known to exist.
    head: u64,
    /// Events that arrived ahead of a missing one.
    ahead: BTreeMap<u64, T>,
    max_ahead: usize,
}

impl<T> RoomOrder<T> {
    /// A room whose start is not known yet; at most `max_ahead` events wait
    /// for a missing one (more are dropped and read back by the repair).
    pub fn new(max_ahead: usize) -> Self {
        RoomOrder { epoch: None, last: 0, head: 0, ahead: BTreeMap::new(), max_ahead: max_ahead.max(1) }
    }

    /// Whether the start position is known.
    pub fn started(&self) -> bool {
        self.epoch.is_some()
    }

    /// The last offset delivered.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// How many events wait for a missing one.
    pub fn waiting(&self) -> usize {
        self.ahead.len()
    }

    /// Takes note that `epoch` is current: true (and a fresh start at 0)
    /// if it replaced another.
    fn enter(&mut self, epoch: &Arc<str>) -> bool {
        if self.epoch.as_ref() == Some(epoch) {
            return false;
        }
        self.epoch = Some(epoch.clone());
        self.last = 0;
        self.head = 0;
        self.ahead.clear();
        true
    }

    /// The room's newest offset is `head` in `epoch` (the position check).
    /// On a room not started yet this is the start: delivery begins after
    /// `head`.
    pub fn head(&mut self, epoch: &Arc<str>, head: u64) -> Outcome<T> {
        if !self.started() {
            self.epoch = Some(epoch.clone());
            self.last = head;
            self.head = head;
            return Outcome::default();
        }
        let mut lost = self.enter(epoch);
        if head < self.last {
            // The counter went back in the same epoch (its key was evicted,
            // or a replica that missed writes took over): what this node
            // delivered is gone from Redis, as after an epoch change.
            self.last = 0;
            self.head = 0;
            self.ahead.clear();
            lost = true;
        }
        self.head = self.head.max(head);
        Outcome { lost, deliver: Vec::new() }
    }

    /// An event numbered `offset` in `epoch`, live or read back. Ignored
    /// before the start is known.
    pub fn offer(&mut self, epoch: &Arc<str>, offset: u64, item: T) -> Outcome<T> {
        if !self.started() {
            return Outcome::default();
        }
        let lost = self.enter(epoch);
        let mut out = Outcome { lost, deliver: Vec::new() };
        self.head = self.head.max(offset);
        if offset <= self.last {
            return out;
        }
        if offset == self.last + 1 {
            self.last = offset;
            out.deliver.push(item);
            self.drain(&mut out);
            return out;
        }
        self.ahead.insert(offset, item);
        if self.ahead.len() > self.max_ahead {
            // Keep the nearest; the farthest is read back later.
            self.ahead.pop_last();
        }
        out
    }

    /// A repair read covered everything up to `upto` in `epoch`: offsets
    /// still missing there are gone from the stream and are skipped.
    fn settle(&mut self, epoch: &Arc<str>, upto: u64) -> Outcome<T> {
        let mut out = Outcome::default();
        if self.epoch.as_ref() != Some(epoch) || upto <= self.last {
            return out;
        }
        // What did arrive up to there goes out in order; the holes between
        // are passed over.
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() > upto {
                break;
            }
            self.last = *entry.key();
            out.deliver.push(entry.remove());
        }
        self.last = upto;
        self.head = self.head.max(upto);
        self.drain(&mut out);
        out
    }

    /// The answer to a read of the stream up to `to` (at most: a read cut
    /// short by its count ends at its last entry): its `entries`, oldest
    /// first. An offset the read passed over is gone from the stream and
    /// is skipped, so what was read goes out at once, never waits behind it.
    pub fn repaired(&mut self, to: u64, entries: Vec<(Arc<str>, u64, T)>) -> Outcome<T> {
        let mut out = Outcome::default();
        let mut epoch = self.epoch.clone();
        for (e, offset, item) in entries {
            out.merge(self.settle(&e, offset.saturating_sub(1)));
            out.merge(self.offer(&e, offset, item));
            epoch = Some(e);
        }
        if let Some(e) = epoch {
            out.merge(self.settle(&e, to));
        }
        out
    }

    /// The range to read from the stream, if any is missing: from after
    /// the last delivered up to the first waiting event, or up to the head.
    pub fn missing(&self) -> Option<(u64, u64)> {
        if !self.started() {
            return None;
        }
        let to = match self.ahead.keys().next() {
            Some(&first) => first - 1,
            None => self.head,
        };
        (to > self.last).then_some((self.last + 1, to))
    }

    fn drain(&mut self, out: &mut Outcome<T>) {
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() != self.last + 1 {
                break;
            }
            self.last += 1;
            out.deliver.push(entry.remove());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ep(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn in_order_after_the_start() {
        let e = ep("a");
        let mut o = RoomOrder::new(100);
        assert!(o.offer(&e, 1, 1).deliver.is_empty(), "ignored before the start");
        o.head(&e, 5);
        assert!(o.offer(&e, 5, 5).deliver.is_empty(), "before the start: history");
        assert_eq!(o.offer(&e, 6, 6).deliver, [6]);
        assert_eq!(o.missing(), None);
        assert!(o.offer(&e, 8, 8).deliver.is_empty());
        assert_eq!(o.missing(), Some((7, 7)));
        assert_eq!(o.offer(&e, 7, 7).deliver, [7, 8]);
        assert!(o.offer(&e, 7, 7).deliver.is_empty(), "duplicate");
        o.head(&e, 10);
        assert_eq!(o.missing(), Some((9, 10)));
    }

    #[test]
    fn a_new_epoch_is_told_once_and_starts_at_one() {
        let (a, b) = (ep("a"), ep("b"));
        let mut o = RoomOrder::new(100);
        o.head(&a, 3);
        assert_eq!(o.offer(&a, 4, 4).deliver, [4]);
        let out = o.offer(&b, 2, 2);
        assert!(out.lost && out.deliver.is_empty());
        assert_eq!(o.missing(), Some((1, 1)));
        let out = o.offer(&b, 1, 1);
        assert!(!out.lost);
        assert_eq!(out.deliver, [1, 2]);
        assert!(!o.head(&b, 2).lost);
        assert!(o.head(&a, 9).lost, "another change is told again");
    }

    #[test]
    fn a_counter_that_went_back_counts_as_lost_history() {
        let e = ep("a");
        let mut o = RoomOrder::new(100);
        o.head(&e, 0);
        for i in 1..=5 {
            o.offer(&e, i, i);
        }
        assert!(!o.head(&e, 5).lost);
        assert!(o.head(&e, 2).lost, "5 delivered, Redis says 2");
        assert_eq!(o.missing(), Some((1, 2)));
        assert_eq!(o.offer(&e, 1, 1).deliver, [1]);
    }

    #[test]
    fn trimmed_offsets_are_skipped() {
        let e = ep("a");
        let mut o = RoomOrder::new(100);
        o.head(&e, 0);
        o.offer(&e, 5, 5);
        assert_eq!(o.missing(), Some((1, 4)));
        // The read found only 3 and 4 (1 and 2 were trimmed).
        assert_eq!(o.repaired(4, vec![(e.clone(), 3, 3), (e.clone(), 4, 4)]).deliver, [3, 4, 5]);
        assert_eq!(o.last(), 5);
    }

    #[test]
    fn the_wait_is_bounded() {
        let e = ep("a");
        let mut o = RoomOrder::new(3);
        o.head(&e, 0);
        for i in (2..10).rev() {
            o.offer(&e, i, i);
        }
        assert_eq!(o.waiting(), 3);
        assert_eq!(o.offer(&e, 1, 1).deliver, [1, 2, 3, 4]);
        assert_eq!(o.missing(), Some((5, 9)));
    }

    proptest! {
        /// Offsets 1..=n arrive in any order, some twice, some not at all
        /// (lost with a dropped subscription); every time a range is
        /// missing the "stream" answers it, except offsets below `trimmed`.
        /// Each offset from `trimmed` on is delivered exactly once, in order.
        #[test]
        fn each_once_in_order(
            n in 1u64..200,
            seed in proptest::collection::vec((any::<u64>(), any::<bool>(), any::<bool>()), 200),
            trimmed in 0u64..20,
            max_ahead in 1usize..50,
        ) {
            let e = ep("x");
            let mut o = RoomOrder::new(max_ahead);
            o.head(&e, 0);
            let mut live: Vec<u64> = (1..=n).collect();
            // A shuffle, duplicates and losses from the seed.
            let mut arrivals = Vec::new();
            for (i, &off) in live.iter().enumerate() {
                let (r, dup, drop) = seed[i % seed.len()];
                if !drop {
                    arrivals.push((r, off));
                }
                if dup {
                    arrivals.push((r.rotate_left(7), off));
                }
            }
            arrivals.sort();
            live.clear();
            let mut got = Vec::new();
            let stream = |from: u64, to: u64| (from.max(trimmed)..=to).collect::<Vec<u64>>();
            let repair = |o: &mut RoomOrder<u64>, got: &mut Vec<u64>| {
                let mut rounds = 0;
                while let Some((from, to)) = o.missing() {
                    rounds += 1;
                    assert!(rounds < 1000);
                    let read = stream(from, to).into_iter().map(|off| (e.clone(), off, off)).collect();
                    got.extend(o.repaired(to, read).deliver);
                }
            };
            for (i, (_, off)) in arrivals.into_iter().enumerate() {
                got.extend(o.offer(&e, off, off).deliver);
                if i % 7 == 0 {
                    repair(&mut o, &mut got);
                }
            }
            // The position check learns the head, then repairs.
            o.head(&e, n);
            repair(&mut o, &mut got);
            let want: Vec<u64> = (1..=n).filter(|&x| x >= trimmed).collect();
            let mut sorted = got.clone();
            sorted.dedup();
            prop_assert_eq!(&sorted, &got, "no duplicates");
            // Anything below `trimmed` that arrived live may be delivered;
            // from `trimmed` on, everything, in order.
            let tail: Vec<u64> = got.iter().copied().filter(|&x| x >= trimmed).collect();
            prop_assert_eq!(tail, want);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
            prop_assert_eq!(o.last(), n);
        }
    }
}
