//! The clock and the future-event list. It knows nothing of payments.
//!
//! # Ordering contract
//! Time is integer nanoseconds. Events pop in increasing `(time, seq)`
//! order, where `seq` counts pushes: two events due at the same time pop in
//! the order they were scheduled. A replication is therefore a pure function
//! of its inputs and its random streams.
//!
//! # The loop
//! [`Engine::next`] pops the earliest event, moves the clock to its time and
//! counts it; the model handles it and schedules what follows. The run stops
//! when the list is empty or the next event is due after the stop time (the
//! model's drain horizon).
//!
//! # The zero-delay rule
//! A consequence due *now* (a message with no network delay, an answer with
//! nothing between callee and caller) may be handled at once, inside the
//! event that caused it, instead of being scheduled: the model does so
//! wherever nothing could observe the difference, and it orders that
//! consequence before every other event due at the same time (which a
//! scheduled event would follow, by `seq`). The choice is made by the model
//! and is deterministic, so it changes cost, never reproducibility.
//!
//! # Lanes
//! Besides the binary heap, the queue keeps FIFO *lanes* for events that are
//! scheduled a fixed delay after "now" (a call site's timeout): such events
//! come due in the order they are pushed, so a lane stays sorted without a
//! heap. `pop` takes the smallest `(time, seq)` among the heap's top and the
//! lanes' fronts, so lanes change the cost, never the order.

use std::collections::VecDeque;

/// Simulation time in nanoseconds.
pub type Time = u64;

/// An event in a lane: its time, its scheduling number and the event.
#[derive(Clone, Copy)]
struct Entry<E> {
    time: Time,
    seq: u64,
    event: E,
}

/// A heap key: 16 bytes, so that moving keys around the heap is cheap and
/// four siblings share a cache line. The event and its scheduling number
/// wait in a slab slot; ties on time (rare with sampled delays) look the
/// numbers up there.
#[derive(Clone, Copy)]
struct Key {
    time: Time,
    slot: u32,
}

/// Children per heap node: a 4-ary heap is half as deep as a binary one, and
/// a node's four children are contiguous.
const ARITY: usize = 4;

/// A future-event list ordered by `(time, seq)`.
pub struct EventQueue<E> {
    /// A 4-ary min-heap of keys.
    heap: Vec<Key>,
    /// The scheduled events by slot: (scheduling number, event).
    slots: Vec<(u64, E)>,
    /// Free slots, reused last-freed first.
    free: Vec<u32>,
    lanes: Vec<VecDeque<Entry<E>>>,
    /// The lane whose front is the earliest `(time, seq)` of all lane fronts.
    first_lane: Option<usize>,
    seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::with_capacity(1024),
            slots: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            lanes: Vec::new(),
            first_lane: None,
            seq: 0,
        }
    }

    /// Whether key `a` comes before key `b` in `(time, seq)` order.
    #[inline(always)]
    fn before(&self, a: Key, b: Key) -> bool {
        a.time < b.time || (a.time == b.time && self.slots[a.slot as usize].0 < self.slots[b.slot as usize].0)
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
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = (self.seq, event);
                s
            }
            None => {
                self.slots.push((self.seq, event));
                (self.slots.len() - 1) as u32
            }
        };
        self.seq += 1;
        let key = Key { time, slot };
        // Sift up: move parents down until the key's place is found.
        let mut i = self.heap.len();
        self.heap.push(key);
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let p = self.heap[parent];
            if !self.before(key, p) {
                break;
            }
            self.heap[i] = p;
            i = parent;
        }
        self.heap[i] = key;
    }

    /// Removes the heap's root and returns its key.
    #[inline]
    fn pop_heap(&mut self) -> Key {
        let root = self.heap[0];
        let last = self.heap.pop().expect("pop_heap on a non-empty heap");
        let n = self.heap.len();
        if n > 0 {
            // Sift down: move the earliest child up until `last` fits.
            let mut i = 0;
            loop {
                let first = ARITY * i + 1;
                if first >= n {
                    break;
                }
                let mut best = first;
                for c in first + 1..(first + ARITY).min(n) {
                    if self.before(self.heap[c], self.heap[best]) {
                        best = c;
                    }
                }
                if !self.before(self.heap[best], last) {
                    break;
                }
                self.heap[i] = self.heap[best];
                i = best;
            }
            self.heap[i] = last;
        }
        root
    }

    /// The earliest event, removed.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        let lane = self.first_lane.and_then(|l| self.front_key(l).map(|k| (k, l)));
        let heap = self.heap.first().map(|k| (k.time, self.slots[k.slot as usize].0));
        match (lane, heap) {
            (Some((k, l)), h) if h.is_none_or(|h| k < h) => {
                let e = self.lanes[l].pop_front();
                self.rescan();
                e.map(|e| (e.time, e.event))
            }
            (_, Some(_)) => {
                let key = self.pop_heap();
                self.free.push(key.slot);
                Some((key.time, self.slots[key.slot as usize].1))
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(|q| q.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The clock and the future-event list of one simulation.
pub struct Engine<E> {
    queue: EventQueue<E>,
    /// The current simulated time (the time of the event being handled).
    pub now: Time,
    /// Events handled so far.
    pub events: u64,
}

impl<E: Copy> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> Engine<E> {
    pub fn new() -> Self {
        Engine {
            queue: EventQueue::new(),
            now: 0,
            events: 0,
        }
    }

    /// Adds a FIFO lane (see [`EventQueue::add_lane`]).
    pub fn add_lane(&mut self) -> usize {
        self.queue.add_lane()
    }

    /// Schedules `event` at `time` (not before now).
    #[inline]
    pub fn schedule(&mut self, time: Time, event: E) {
        debug_assert!(time >= self.now, "an event scheduled in the past");
        self.queue.push(time, event);
    }

    /// Schedules `event` at `time` in `lane` (see [`EventQueue::push_lane`]).
    #[inline]
    pub fn schedule_in_lane(&mut self, lane: usize, time: Time, event: E) {
        self.queue.push_lane(lane, time, event);
    }

    /// The next event due no later than `stop`, with the clock moved to it;
    /// `None` when nothing is left before `stop`.
    #[inline]
    pub fn next(&mut self, stop: Time) -> Option<E> {
        let (t, ev) = self.queue.pop()?;
        if t > stop {
            return None;
        }
        self.now = t;
        self.events += 1;
        Some(ev)
    }

    /// Events still scheduled.
    pub fn pending(&self) -> usize {
        self.queue.len()
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
    fn the_clock_follows_the_events_and_stops_at_the_horizon() {
        // next() moves the clock to each event's time and counts it; an
        // event due after the stop time ends the run.
        let mut e = Engine::new();
        e.schedule(30, 'c');
        e.schedule(10, 'a');
        e.schedule(20, 'b');
        assert_eq!(e.next(25), Some('a'));
        assert_eq!(e.now, 10);
        assert_eq!(e.next(25), Some('b'));
        assert_eq!((e.now, e.events), (20, 2));
        assert_eq!(e.next(25), None, "c is due after the horizon");
        assert_eq!(e.now, 20);
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

    #[test]
    fn random_schedules_pop_in_time_then_scheduling_order() {
        // Against a sorted reference: many pushes and pops interleaved, with
        // ties on time (few distinct times), pushes into lanes and out-of-order
        // lane pushes, always pop in (time, seq) order.
        let mut q = EventQueue::new();
        let lanes = [q.add_lane(), q.add_lane()];
        let mut reference: std::collections::BTreeSet<(u64, u64)> = Default::default();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let (mut now, mut seq) = (0u64, 0u64);
        let mut lane_back = [0u64; 2];
        for _ in 0..20_000 {
            if rand(3) > 0 {
                let t = now + rand(20);
                match rand(4) {
                    0 => {
                        let l = rand(2) as usize;
                        let t = t.max(lane_back[l]) + rand(2);
                        lane_back[l] = t;
                        q.push_lane(lanes[l], t, seq);
                        reference.insert((t, seq));
                    }
                    _ => {
                        q.push(t, seq);
                        reference.insert((t, seq));
                    }
                }
                seq += 1;
            } else if let Some((t, e)) = q.pop() {
                let first = reference.pop_first().expect("reference has it too");
                assert_eq!((t, e), first);
                now = t;
            }
        }
        while let Some(x) = q.pop() {
            assert_eq!(Some(x), reference.pop_first());
        }
        assert!(reference.is_empty());
    }
}
