//! Timeouts in FIFO lanes: the timeouts of one duration come due in the order
//! they are set, so each duration has a lane of its own and only the lane's
//! earliest *live* timeout is in the event list at a time — scheduled under
//! the number it took when it was set, so it fires exactly where its own
//! event would have (see "Reserved numbers" in [`crate::sim::engine`]).
//! Most calls end long before their timeout; their timeouts are dropped from
//! the lane's front without ever becoming events.

use std::collections::VecDeque;

use super::*;

/// A timeout waiting in its lane.
#[derive(Clone, Copy, Debug)]
struct Pending {
    due: Time,
    seq: u64,
    ev: Ev,
}

#[derive(Clone, Debug, Default)]
struct Lane {
    entries: VecDeque<Pending>,
    /// An [`Ev::TimeoutDue`] for the front entry is in the event list.
    armed: bool,
}

/// One lane per distinct timeout duration of the topology.
pub(super) struct TimeoutLanes {
    durations: Vec<u64>,
    lanes: Vec<Lane>,
}

impl TimeoutLanes {
    /// A lane for every call timeout and per-try timeout of the topology.
    pub(super) fn new(topo: &Topology) -> Self {
        let mut durations: Vec<u64> = topo
            .services
            .iter()
            .flat_map(|s| s.calls.iter().flat_map(|c| [c.timeout_ns, c.per_try_timeout_ns]))
            .flatten()
            .collect();
        durations.sort_unstable();
        durations.dedup();
        TimeoutLanes {
            lanes: vec![Lane::default(); durations.len()],
            durations,
        }
    }
}

impl Replication<'_> {
    /// Sets a timeout: `ev` (a [`Ev::Timeout`] or [`Ev::TryTimeout`]) fires
    /// `after` ns from now unless the call or try it belongs to ends first.
    #[inline]
    pub(super) fn push_timeout(&mut self, after: u64, ev: Ev) {
        let due = self.engine.now + after;
        // The lane: durations are sorted and few, so count those below
        // `after` (a loop of fixed length, which the branch predictor
        // learns, where a search stopping at the match does not).
        let durations = &self.timeouts.durations;
        let l = durations.iter().filter(|&&d| d < after).count();
        if durations.get(l) != Some(&after) {
            self.engine.schedule(due, ev);
            return;
        }
        let seq = self.engine.reserve();
        let lane = &mut self.timeouts.lanes[l];
        lane.entries.push_back(Pending { due, seq, ev });
        if !lane.armed {
            lane.armed = true;
            self.engine.schedule_reserved(due, seq, Ev::TimeoutDue(l as u16));
        }
    }

    /// Whether a timeout still matters: its call (or try) has not ended.
    fn timeout_live(&self, ev: Ev) -> bool {
        match ev {
            Ev::Timeout { call, epoch } => {
                let c = &self.calls.slots[call as usize];
                c.live && c.epoch == epoch
            }
            Ev::TryTimeout { call, epoch, attempt } => self.awaits(call, epoch, attempt),
            _ => true,
        }
    }

    /// Lane `l`'s front timeout is due: it fires if it still matters; the
    /// lane drops the timeouts behind it that no longer do and schedules the
    /// next one that does.
    pub(super) fn on_timeout_due(&mut self, l: u16) {
        let lane = &mut self.timeouts.lanes[l as usize];
        let front = lane.entries.pop_front().expect("an armed lane has a front");
        lane.armed = false;
        while let Some(&next) = self.timeouts.lanes[l as usize].entries.front() {
            if self.timeout_live(next.ev) {
                self.timeouts.lanes[l as usize].armed = true;
                self.engine.schedule_reserved(next.due, next.seq, Ev::TimeoutDue(l));
                break;
            }
            self.timeouts.lanes[l as usize].entries.pop_front();
        }
        if self.timeout_live(front.ev) {
            self.handle(front.ev);
        }
    }
}
