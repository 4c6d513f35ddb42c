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
//! # Reserved numbers
//! A model may take a scheduling number now and schedule the event later
//! under it ([`Engine::reserve`], [`Engine::schedule_reserved`]): the event
//! then pops exactly where it would have had it been scheduled when the
//! number was taken. The replication uses this for timeouts, which it keeps
//! in FIFO lanes of its own and only puts in the event list one at a time,
//! so that the timeouts of calls that ended in time never become events.

/// Simulation time in nanoseconds.
pub type Time = u64;

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
    /// The next scheduling number.
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
            seq: 0,
        }
    }

    /// Whether key `a` comes before key `b` in `(time, seq)` order.
    #[inline(always)]
    fn before(&self, a: Key, b: Key) -> bool {
        a.time < b.time || (a.time == b.time && self.slots[a.slot as usize].0 < self.slots[b.slot as usize].0)
    }

    /// Takes the next scheduling number, for an event scheduled later
    /// with [`EventQueue::push_reserved`].
    #[inline]
    pub fn reserve(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    /// Schedules `event` at `time`; ties pop in scheduling order.
    #[inline]
    pub fn push(&mut self, time: Time, event: E) {
        let seq = self.reserve();
        self.push_reserved(time, seq, event);
    }

    /// Schedules `event` at `time` under a number taken with [`EventQueue::reserve`].
    #[inline]
    pub fn push_reserved(&mut self, time: Time, seq: u64, event: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = (seq, event);
                s
            }
            None => {
                self.slots.push((seq, event));
                (self.slots.len() - 1) as u32
            }
        };
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
        if self.heap.is_empty() {
            return None;
        }
        let key = self.pop_heap();
        self.free.push(key.slot);
        Some((key.time, self.slots[key.slot as usize].1))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
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

    /// Takes the next scheduling number (see "Reserved numbers").
    #[inline]
    pub fn reserve(&mut self) -> u64 {
        self.queue.reserve()
    }

    /// Schedules `event` at `time` (not before now).
    #[inline]
    pub fn schedule(&mut self, time: Time, event: E) {
        debug_assert!(time >= self.now, "an event scheduled in the past");
        self.queue.push(time, event);
    }

    /// Schedules `event` at `time` under a number taken with [`Engine::reserve`].
    #[inline]
    pub fn schedule_reserved(&mut self, time: Time, seq: u64, event: E) {
        debug_assert!(time >= self.now, "an event scheduled in the past");
        self.queue.push_reserved(time, seq, event);
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
    fn a_reserved_number_pops_where_it_was_taken() {
        // A number taken before others are scheduled orders its event before
        // theirs at the same time, wherever it is scheduled later.
        let mut q = EventQueue::new();
        let early = q.reserve();
        q.push(10, "b");
        q.push(5, "a");
        q.push_reserved(10, early, "reserved");
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|x| x.1)).collect();
        assert_eq!(order, vec!["a", "reserved", "b"]);
    }

    #[test]
    fn random_schedules_pop_in_time_then_scheduling_order() {
        // Against a sorted reference: many pushes and pops interleaved, with
        // ties on time (few distinct times) and numbers reserved early and
        // used late, always pop in (time, seq) order.
        let mut q = EventQueue::new();
        let mut reference: std::collections::BTreeSet<(u64, u64)> = Default::default();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut now = 0u64;
        let mut held: Vec<u64> = Vec::new();
        for _ in 0..20_000 {
            match rand(6) {
                0 => held.push(q.reserve()),
                1 if !held.is_empty() => {
                    let seq = held.swap_remove(rand(held.len() as u64) as usize);
                    let t = now + rand(20);
                    q.push_reserved(t, seq, seq);
                    reference.insert((t, seq));
                }
                2 | 3 => {
                    let t = now + rand(20);
                    let seq = q.reserve();
                    q.push_reserved(t, seq, seq);
                    reference.insert((t, seq));
                }
                _ => {
                    if let Some((t, e)) = q.pop() {
                        assert_eq!((t, e), reference.pop_first().expect("reference has it too"));
                        now = t;
                    }
                }
            }
        }
        while let Some(x) = q.pop() {
            assert_eq!(Some(x), reference.pop_first());
        }
        assert!(reference.is_empty());
    }
}
