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

/// A scheduled event with its ordering key.
#[derive(Clone, Copy)]
struct Entry<E> {
    time: Time,
    seq: u64,
    event: E,
}

/// Buckets of the radix heap: bucket 0 and one per bit of a [`Time`], the
/// two highest bits sharing the last, so that the occupancy mask is a `u64`
/// (shifts of a `u128` cost several instructions each). Sharing keeps the
/// one property the heap needs, that every event of a lower bucket is
/// earlier than every event of a higher one.
const BUCKETS: usize = 64;

/// A future-event list ordered by `(time, seq)`: a radix heap.
///
/// Simulated time never goes back, so the list is *monotone*: nothing is
/// scheduled before the last event popped (`last`). A radix heap uses that.
/// An event due at `t` waits in bucket `b = bits(t XOR last)`, the position
/// of the highest bit where `t` and `last` differ (bucket 0: `t == last`).
/// A push is a few instructions. When bucket 0 is empty, the pop takes the
/// first non-empty bucket, makes its earliest time the new `last` and deals
/// its events out again: each lands in a lower bucket (their times share
/// more high bits with the new `last`; only the shared top bucket can take
/// some back), so an event moves only a few times in its life. Bucket 0 then holds exactly the events
/// due at `last`; of those the lowest scheduling number pops first.
///
/// On a game day (100–300 pending events, due from microseconds to minutes
/// ahead) an event is dealt out 2.5 times on average, and most pops find a
/// bucket of one event and take it straight away. Against the 4-ary heap
/// of 16-byte keys it replaced, a game-day replication runs about 15% fewer
/// instructions and over 40% fewer mispredicted branches (cachegrind).
pub struct EventQueue<E> {
    buckets: [Vec<Entry<E>>; BUCKETS],
    /// Bit `b` is set when bucket `b` is not empty.
    occupied: u64,
    /// The earliest time in each bucket (`Time::MAX` when empty), so that a
    /// refill need not look for it. Bucket 0 is never dealt out (its events
    /// are all due at `last`), so its entry is not read.
    mins: [Time; BUCKETS],
    /// The time of the last event popped (0 before the first).
    last: Time,
    /// Events scheduled.
    len: usize,
    /// The next scheduling number.
    seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of time `t` when the last event popped was at `last`.
#[inline(always)]
fn bucket(t: Time, last: Time) -> usize {
    ((64 - (t ^ last).leading_zeros()) as usize).min(BUCKETS - 1)
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            buckets: std::array::from_fn(|_| Vec::new()),
            occupied: 0,
            mins: [Time::MAX; BUCKETS],
            last: 0,
            len: 0,
            seq: 0,
        }
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
    /// `time` must not be before the last event popped.
    #[inline]
    pub fn push_reserved(&mut self, time: Time, seq: u64, event: E) {
        debug_assert!(time >= self.last, "an event scheduled before the last one popped");
        let b = bucket(time, self.last);
        self.buckets[b].push(Entry { time, seq, event });
        self.occupied |= 1 << b;
        self.mins[b] = self.mins[b].min(time);
        self.len += 1;
    }

    /// Refills bucket 0 from the first non-empty bucket: its earliest time
    /// becomes `last` and its events are dealt out to lower buckets.
    #[inline(never)]
    fn refill(&mut self, b: usize) {
        let mut moving = std::mem::take(&mut self.buckets[b]);
        self.occupied &= !(1 << b);
        let last = std::mem::replace(&mut self.mins[b], Time::MAX);
        self.last = last;
        for e in moving.drain(..) {
            let nb = bucket(e.time, last);
            self.buckets[nb].push(e);
            self.occupied |= 1 << nb;
            self.mins[nb] = self.mins[nb].min(e.time);
        }
        // Keep the allocation for the next time this bucket fills, unless
        // the shared top bucket took some of its events back.
        if self.buckets[b].is_empty() {
            self.buckets[b] = moving;
        }
    }

    /// The earliest event, removed.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        if self.len == 0 {
            return None;
        }
        if self.occupied & 1 == 0 {
            let b = self.occupied.trailing_zeros() as usize;
            if self.buckets[b].len() == 1 {
                // The only event of the first non-empty bucket is the
                // earliest: it pops without being dealt out.
                let e = self.buckets[b].pop().expect("a bucket of one event");
                self.occupied &= !(1 << b);
                self.mins[b] = Time::MAX;
                self.last = e.time;
                self.len -= 1;
                return Some((e.time, e.event));
            }
            self.refill(b);
        }
        let now = &mut self.buckets[0];
        let mut at = now.len() - 1;
        if at > 0 {
            // Several events due at `last`: the lowest number first.
            for (i, e) in now.iter().enumerate() {
                if e.seq < now[at].seq {
                    at = i;
                }
            }
        }
        let e = now.swap_remove(at);
        if now.is_empty() {
            self.occupied &= !1;
        }
        self.len -= 1;
        Some((e.time, e.event))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// A queue checked against a sorted reference at every pop: the event
    /// is its own scheduling number, so each pop must give the reference's
    /// first `(time, seq)`.
    struct Checked {
        q: EventQueue<u64>,
        reference: std::collections::BTreeSet<(u64, u64)>,
    }

    impl Checked {
        fn new() -> Self {
            Checked {
                q: EventQueue::new(),
                reference: Default::default(),
            }
        }

        /// Schedules at `time` under a new number.
        fn push(&mut self, time: u64) {
            let seq = self.q.reserve();
            self.push_reserved(time, seq);
        }

        fn push_reserved(&mut self, time: u64, seq: u64) {
            self.q.push_reserved(time, seq, seq);
            self.reference.insert((time, seq));
        }

        /// Pops from both and compares; the time popped, if any.
        fn pop(&mut self) -> Option<u64> {
            let got = self.q.pop();
            assert_eq!(got, self.reference.pop_first());
            assert_eq!(self.q.len(), self.reference.len());
            got.map(|(t, _)| t)
        }

        /// Pops everything left, in the reference's order.
        fn drain(mut self) {
            while self.pop().is_some() {}
            assert!(self.q.is_empty());
        }
    }

    /// A xorshift64 stream for the randomised schedules.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn events_due_across_every_time_scale_pop_in_order() {
        // Against a sorted reference, with due times from nanoseconds to
        // days ahead (every bucket of the radix heap in use) and ties on
        // time: the order is (time, seq) whatever the spread.
        let mut c = Checked::new();
        let mut rand = xorshift(0x2545_F491_4F6C_DD1D);
        let mut now = 0u64;
        for _ in 0..50_000 {
            let r = rand();
            if !r.is_multiple_of(3) || c.q.is_empty() {
                // A delay of up to 2^(0..47) ns; a tenth due exactly now.
                let ahead = if r % 10 == 1 {
                    0
                } else {
                    (r >> 8) & ((1 << (r >> 58 & 47)) - 1)
                };
                c.push(now + ahead);
            } else {
                now = c.pop().expect("not empty");
            }
        }
        c.drain();
    }

    #[test]
    fn events_due_beyond_two_to_the_sixty_two_pop_in_order() {
        // The two highest bits share the top bucket: events whose times
        // differ from the last popped in bit 62 or 63 wait together and
        // some return to the same bucket when it is dealt out.
        let mut c = Checked::new();
        for t in [
            1u64 << 62,
            (1 << 63) + 5,
            (1 << 62) + 7,
            u64::MAX,
            (1 << 63) + 5,
            3 << 62,
            (1 << 62) + 1,
            u64::MAX - 1,
        ] {
            c.push(t);
        }
        // Pop half, push more at and after the clock, then drain.
        for _ in 0..4 {
            c.pop();
        }
        let now = c.reference.first().expect("four left").0;
        for t in [now, now + 3, u64::MAX, now] {
            c.push(t);
        }
        c.drain();
    }

    #[test]
    fn random_schedules_pop_in_time_then_scheduling_order() {
        // Against a sorted reference: many pushes and pops interleaved, with
        // ties on time (few distinct times) and numbers reserved early and
        // used late, always pop in (time, seq) order.
        let mut c = Checked::new();
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut rand = move |n: u64| next() % n;
        let mut now = 0u64;
        let mut held: Vec<u64> = Vec::new();
        for _ in 0..20_000 {
            match rand(6) {
                0 => held.push(c.q.reserve()),
                1 if !held.is_empty() => {
                    let seq = held.swap_remove(rand(held.len() as u64) as usize);
                    c.push_reserved(now + rand(20), seq);
                }
                2 | 3 => c.push(now + rand(20)),
                _ => {
                    if let Some(t) = c.pop() {
                        now = t;
                    }
                }
            }
        }
        c.drain();
    }
}
