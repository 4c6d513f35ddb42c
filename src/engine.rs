//! The clock and the event queue. It knows nothing of payments.
//!
//! # Ordering contract
//! Time is integer nanoseconds. Events pop in increasing `(time, seq)`
//! order, where `seq` counts pushes: two events due at the same time pop in
//! the order they were scheduled. A replication is therefore a pure function
//! of its inputs and its random streams.
//!
//! # Lanes
//! Besides the binary heap, the queue keeps FIFO *lanes* for events that are
//! scheduled a fixed delay after "now" (a call site's timeout): such events
//! come due in the order they are pushed, so a lane stays sorted without a
//! heap. `pop` takes the smallest `(time, seq)` among the heap's top and the
//! lanes' fronts, so lanes change the cost, never the order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Simulation time in nanoseconds.
pub type Time = u64;

struct Entry<E> {
    time: Time,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap pops the earliest `(time, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.time.cmp(&self.time).then(other.seq.cmp(&self.seq))
    }
}

/// A future-event list ordered by `(time, seq)`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    lanes: Vec<VecDeque<Entry<E>>>,
    /// The lane whose front is the earliest `(time, seq)` of all lane fronts.
    first_lane: Option<usize>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(1024),
            lanes: Vec::new(),
            first_lane: None,
            seq: 0,
        }
    }

    fn front_key(&self, lane: usize) -> Option<(Time, u64)> {
        self.lanes[lane].front().map(|e| (e.time, e.seq))
    }

    /// Finds the lane with the earliest front (after that lane was popped).
    fn rescan(&mut self) {
        self.first_lane = None;
        let mut best: Option<(Time, u64)> = None;
        for i in 0..self.lanes.len() {
            if let Some(k) = self.front_key(i)
                && best.is_none_or(|b| k < b)
            {
                best = Some(k);
                self.first_lane = Some(i);
            }
        }
    }

    /// Adds a FIFO lane and returns its number.
    pub fn add_lane(&mut self) -> usize {
        self.lanes.push(VecDeque::new());
        self.lanes.len() - 1
    }

    /// Schedules `event` at `time` in `lane`. Events of a lane must be pushed
    /// in non-decreasing time; one that is not goes to the heap instead.
    #[inline]
    pub fn push_lane(&mut self, lane: usize, time: Time, event: E) {
        let q = &mut self.lanes[lane];
        if q.back().is_some_and(|b| b.time > time) {
            self.push(time, event);
            return;
        }
        let was_empty = q.is_empty();
        q.push_back(Entry {
            time,
            seq: self.seq,
            event,
        });
        // Only a push into an empty lane can change which front is earliest.
        if was_empty {
            let key = (time, self.seq);
            match self.first_lane {
                Some(f) if self.front_key(f).is_some_and(|k| k < key) => {}
                _ => self.first_lane = Some(lane),
            }
        }
        self.seq += 1;
    }

    /// Schedules `event` at `time`; ties pop in scheduling order.
    #[inline]
    pub fn push(&mut self, time: Time, event: E) {
        self.heap.push(Entry {
            time,
            seq: self.seq,
            event,
        });
        self.seq += 1;
    }

    /// The earliest event, removed.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        let lane = self.first_lane.and_then(|l| self.front_key(l).map(|k| (k, l)));
        let heap = self.heap.peek().map(|e| (e.time, e.seq));
        let from_lane = match (lane, heap) {
            (Some((k, l)), Some(h)) if k < h => Some(l),
            (Some((_, l)), None) => Some(l),
            _ => None,
        };
        let entry = match from_lane {
            Some(l) => {
                let e = self.lanes[l].pop_front();
                self.rescan();
                e
            }
            None => self.heap.pop(),
        };
        entry.map(|e| (e.time, e.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(|q| q.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_scheduling_order() {
        // The tie rule: same time → first scheduled pops first.
        let mut q = EventQueue::new();
        q.push(5, 'b');
        q.push(3, 'a');
        q.push(5, 'c');
        q.push(5, 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|x| x.1)).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
    }

    #[test]
    fn lanes_keep_the_global_order() {
        // Events in lanes and in the heap pop in one (time, seq) order, and a
        // lane push that would break its order falls back to the heap.
        let mut q = EventQueue::new();
        let l = q.add_lane();
        q.push_lane(l, 10, "lane-10");
        q.push(10, "heap-10");
        q.push_lane(l, 20, "lane-20");
        q.push(5, "heap-5");
        q.push_lane(l, 15, "late-15"); // earlier than the lane's back: heap
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|x| x.1)).collect();
        assert_eq!(order, vec!["heap-5", "lane-10", "heap-10", "late-15", "lane-20"]);
    }
}
