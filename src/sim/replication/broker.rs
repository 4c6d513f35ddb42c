//! Asynchronous queues: a publish is acknowledged by the broker (in the
//! caller's region, or the nearest region that has the queue); up to
//! `consumers` messages per region are delivered to the consumer service at
//! once; a failed delivery is retried after `redeliver.backoff_ms` until
//! `redeliver.attempts` tries in all, then dead-lettered. A queue at
//! `max_depth` refuses publishes. Depth and message age (publish to end of
//! successful processing) are measured.

use std::collections::VecDeque;

use super::{Ev, NONE, Parent, Replication};
use crate::model::{QueueId, ServiceId, Topology};
use crate::observe::{Outcome, Recorder};
use crate::sim::engine::Time;

/// A message on its way through a queue.
#[derive(Clone, Copy, Debug)]
pub(super) struct Msg {
    pub publish: Time,
    pub attempt: u16,
    pub flow: u16,
}

#[derive(Default)]
struct QueueState {
    msgs: VecDeque<Msg>,
    in_flight: u32,
    /// Messages waiting out their redelivery backoff, in due order.
    delayed: VecDeque<(Time, Msg)>,
    depth_since: Time,
    dispatching: bool,
    /// Consumers stopped (a queue_stall fault).
    pub stalled: bool,
}

pub(super) struct Broker {
    queues: Vec<QueueState>,
}

impl Broker {
    pub(super) fn new(topo: &Topology) -> Self {
        Broker {
            queues: (0..topo.queues.len() * topo.regions.len())
                .map(|_| QueueState::default())
                .collect(),
        }
    }

    /// Messages waiting in queue × region `qr` (in backoff included), and
    /// the publish time of the oldest.
    pub(super) fn depth_and_oldest(&self, qr: usize) -> (u64, Option<Time>) {
        let q = &self.queues[qr];
        let oldest = q
            .msgs
            .iter()
            .chain(q.delayed.iter().map(|(_, m)| m))
            .map(|m| m.publish)
            .min();
        ((q.msgs.len() + q.delayed.len()) as u64, oldest)
    }

    pub(super) fn close(&mut self, now: Time, rec: &mut Recorder) {
        for (i, q) in self.queues.iter_mut().enumerate() {
            depth_touch(q, &mut rec.queues[i], now, rec.warmup_ns, rec.end_ns);
        }
    }
}

/// Accumulates depth × time up to `now` within the counted horizon.
fn depth_touch(q: &mut QueueState, stats: &mut crate::observe::QueueStats, now: Time, warmup: Time, end: Time) {
    let to = now.min(end);
    let from = q.depth_since.max(warmup);
    if to > from {
        stats.depth_ns += q.msgs.len() as u128 * (to - from) as u128;
    }
    q.depth_since = now.max(q.depth_since);
}

impl Replication<'_> {
    fn queue_touch(&mut self, qr: usize) {
        let (w, e) = (self.rec.warmup_ns, self.rec.end_ns);
        depth_touch(
            &mut self.broker.queues[qr],
            &mut self.rec.queues[qr],
            self.engine.now,
            w,
            e,
        );
    }

    /// A task publishes to queue `q`: call `call` completes with the broker's ack.
    pub(super) fn publish(&mut self, call: u32, q: QueueId, from: usize, flow: u16) {
        let queue = &self.topo.queues[q.index()];
        let Some(region) = self.topo.nearest[from]
            .iter()
            .map(|r| r.index())
            .find(|&r| queue.present[r])
        else {
            self.tel_publish(call, None);
            self.complete_call(call, Outcome::Failed, -1.0, false);
            return;
        };
        let qr = q.index() * self.nr + region;
        self.tel_publish(call, Some(qr));
        let counted = self.rec.counted(self.engine.now);
        if self.broker.queues[qr].msgs.len() as u64 >= queue.max_depth {
            if counted {
                self.rec.queues[qr].rejected += 1;
            }
            self.complete_call(call, Outcome::Failed, -1.0, false);
            return;
        }
        self.queue_touch(qr);
        self.broker.queues[qr].msgs.push_back(Msg {
            publish: self.engine.now,
            attempt: 0,
            flow,
        });
        if counted {
            let s = &mut self.rec.queues[qr];
            s.published += 1;
            s.depth_max = s.depth_max.max(self.broker.queues[qr].msgs.len() as u64);
        }
        let rtt = self.net(from, region) + self.net(region, from);
        if rtt == 0 {
            self.complete_call(call, Outcome::Succeeded, -1.0, false);
        } else {
            let c = &mut self.calls.slots[call as usize];
            c.waiting = true;
            let (epoch, attempt) = (c.epoch, c.attempt);
            self.engine.schedule(
                self.engine.now + rtt,
                Ev::Response {
                    call,
                    epoch,
                    attempt,
                    reply: super::Reply::OK,
                },
            );
        }
        self.dispatch(qr);
    }

    /// Hands messages to free consumers.
    fn dispatch(&mut self, qr: usize) {
        if self.broker.queues[qr].dispatching {
            return; // the outer call's loop picks up where this one would
        }
        self.broker.queues[qr].dispatching = true;
        let q = &self.topo.queues[qr / self.nr];
        let (consumer, consumers) = (q.consumer, q.consumers);
        let region = (qr % self.nr) as u16;
        loop {
            let st = &self.broker.queues[qr];
            if st.stalled || st.in_flight >= consumers || st.msgs.is_empty() {
                break;
            }
            self.queue_touch(qr);
            let st = &mut self.broker.queues[qr];
            let msg = st.msgs.pop_front().expect("queue is not empty");
            st.in_flight += 1;
            self.deliver(qr, msg, consumer, region);
        }
        self.broker.queues[qr].dispatching = false;
    }

    fn deliver(&mut self, qr: usize, msg: Msg, consumer: ServiceId, region: u16) {
        let call = self.new_call(
            Parent::Message { queue: qr as u32, msg },
            consumer,
            region,
            NONE,
            NONE,
            None,
        );
        self.calls.slots[call as usize].flow = msg.flow;
        self.send_try(call);
    }

    /// A delivery ended: the message is done, redelivered later, or dead-lettered.
    pub(super) fn message_done(&mut self, queue: u32, msg: Msg, ok: bool) {
        let qr = queue as usize;
        self.broker.queues[qr].in_flight -= 1;
        let counted = self.rec.counted(msg.publish);
        let q = &self.topo.queues[qr / self.nr];
        if ok {
            if counted {
                let s = &mut self.rec.queues[qr];
                s.delivered += 1;
                s.age.record(self.engine.now - msg.publish);
                self.rec
                    .message_done((qr / self.nr) as u32, msg.publish, Some(self.engine.now - msg.publish));
            }
        } else if (msg.attempt as u32) + 1 < q.redeliver_attempts {
            if counted {
                self.rec.queues[qr].redelivered += 1;
            }
            let due = self.engine.now + q.redeliver_backoff_ns;
            let next = Msg {
                attempt: msg.attempt + 1,
                ..msg
            };
            self.broker.queues[qr].delayed.push_back((due, next));
            self.engine.schedule(due, Ev::Redeliver { queue });
        } else if counted {
            self.rec.queues[qr].dead_lettered += 1;
            self.rec.message_done((qr / self.nr) as u32, msg.publish, None);
        }
        self.dispatch(qr);
    }

    /// A message's backoff is over: back into the queue (at its tail).
    pub(super) fn on_redeliver(&mut self, queue: u32) {
        let qr = queue as usize;
        let Some((_, msg)) = self.broker.queues[qr].delayed.pop_front() else {
            return;
        };
        self.queue_touch(qr);
        self.broker.queues[qr].msgs.push_back(msg);
        self.dispatch(qr);
    }

    /// At the end of the run, messages still queued, in backoff or in
    /// flight count as not processed in time for backlog SLOs.
    pub(super) fn unfinished_messages(&mut self) {
        for qr in 0..self.broker.queues.len() {
            let q = (qr / self.nr) as u32;
            let st = &self.broker.queues[qr];
            let waiting: Vec<Time> = st
                .msgs
                .iter()
                .map(|m| m.publish)
                .chain(st.delayed.iter().map(|(_, m)| m.publish))
                .collect();
            for publish in waiting {
                if self.rec.counted(publish) {
                    self.rec.message_done(q, publish, None);
                }
            }
        }
        for i in 0..self.calls.slots.len() {
            if let (true, Parent::Message { queue, msg }) = (self.calls.slots[i].live, self.calls.slots[i].parent)
                && self.rec.counted(msg.publish)
            {
                self.rec.message_done(queue / self.nr as u32, msg.publish, None);
            }
        }
    }

    /// Stops or restarts a queue's consumers (queue_stall).
    pub(super) fn set_stalled(&mut self, qr: usize, stalled: bool) {
        self.broker.queues[qr].stalled = stalled;
        if !stalled {
            self.dispatch(qr);
        }
    }
}
