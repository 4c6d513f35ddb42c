//! The mesh skeleton: a yardstick, not part of the simulator.
//!
//! It runs a scenario's *event structure* and nothing else: Poisson
//! arrivals at the workload's base rates, each request's calls stage by
//! stage as the topology plans them for its flow, FIFO stations with the
//! services' replicas, servers and service times, and the network's
//! latencies both ways — three events per hop (the try arrives, the work is
//! done, the answer arrives), on the simulator's own event list and random
//! generator. It has no mechanisms (no timeouts, retries, breakers,
//! bulkheads, balancers beyond round-robin, health checks, faults), no
//! waiting-room limits, no recording and no telemetry.
//!
//! Timed beside the floor loop ([`crate::sim::floor`]), it says what any
//! simulator that keeps the scenario's hops and latencies must spend per
//! request before it models a single mechanism: the floor under the engine's
//! own cost (`chaoscal bench --model SCENARIO` prints both).

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};

use super::engine::{Engine, Time};
use super::slab::Slab;
use crate::model::{CallTarget, RegionId, Scenario, Topology};

/// What a skeleton run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkeletonRun {
    /// Customer requests that arrived.
    pub requests: u64,
    /// Customer requests answered.
    pub answered: u64,
    /// Events handled.
    pub events: u64,
}

/// Who waits for a try's answer.
const CUSTOMER: u32 = u32::MAX;
/// A queue message: nobody waits for the consumer's answer.
const NOBODY: u32 = u32::MAX - 1;

#[derive(Clone, Copy)]
enum Ev {
    Arrival {
        region: u16,
    },
    Deliver {
        replica: u32,
        parent: u32,
        from: u16,
        flow: u16,
    },
    Done {
        task: u32,
    },
    Answer {
        parent: u32,
    },
}

struct Replica {
    service: u32,
    region: u16,
    servers: u32,
    busy: u32,
    waiting: VecDeque<u32>,
}

#[derive(Clone, Copy, Default)]
struct Task {
    replica: u32,
    parent: u32,
    from: u16,
    flow: u16,
    stage: u16,
    pending: u16,
}

struct Skeleton<'a> {
    topo: &'a Topology,
    scn: &'a Scenario,
    engine: Engine<Ev>,
    rng: ChaCha8Rng,
    replicas: Vec<Replica>,
    /// `at[service * regions + region]`: the service's replicas there.
    at: Vec<Vec<u32>>,
    /// Round-robin position per service and region.
    next: Vec<usize>,
    tasks: Slab<Task>,
    flow_cum: Vec<f64>,
    run: SkeletonRun,
}

/// Runs the skeleton of `scn` on `topo` for the scenario's duration, and
/// lets the requests in flight finish.
pub fn skeleton_loop(topo: &Topology, scn: &Scenario, seed: u64) -> SkeletonRun {
    let nr = topo.regions.len();
    let (mut replicas, mut at) = (Vec::new(), vec![Vec::new(); topo.services.len() * nr]);
    for (s, svc) in topo.services.iter().enumerate() {
        for r in (0..nr).filter(|&r| svc.present[r]) {
            for _ in 0..svc.replicas {
                at[s * nr + r].push(replicas.len() as u32);
                replicas.push(Replica {
                    service: s as u32,
                    region: r as u16,
                    servers: svc.concurrency.max(1),
                    busy: 0,
                    waiting: VecDeque::new(),
                });
            }
        }
    }
    let mut sk = Skeleton {
        topo,
        scn,
        engine: Engine::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        replicas,
        next: vec![0; at.len()],
        at,
        tasks: Slab::new(),
        flow_cum: topo.cumulative_shares(),
        run: SkeletonRun {
            requests: 0,
            answered: 0,
            events: 0,
        },
    };
    for r in 0..nr {
        sk.schedule_arrival(r as u16);
    }
    while let Some(ev) = sk.engine.next(Time::MAX) {
        match ev {
            Ev::Arrival { region } => sk.arrival(region),
            Ev::Deliver {
                replica,
                parent,
                from,
                flow,
            } => sk.deliver(replica, parent, from, flow),
            Ev::Done { task } => sk.advance(task),
            Ev::Answer { parent } => sk.answer(parent),
        }
    }
    sk.run.events = sk.engine.events;
    sk.run
}

impl Skeleton<'_> {
    fn schedule_arrival(&mut self, region: u16) {
        let rate = self.scn.rate_per_s[region as usize];
        if rate <= 0.0 {
            return;
        }
        let gap: f64 = Exp1.sample(&mut self.rng);
        let t = self.engine.now + (gap / rate * 1e9) as Time;
        if t < self.scn.duration_ns {
            self.engine.schedule(t, Ev::Arrival { region });
        }
    }

    fn net(&mut self, from: usize, to: usize) -> Time {
        let link = self.topo.link(RegionId::from_index(from), RegionId::from_index(to));
        link.map_or(0, |d| d.sample_ns(&mut self.rng))
    }

    /// Sends a try to a replica of `service`: the caller's region first,
    /// else the nearest region that runs it; round-robin among its replicas.
    /// Whether it was sent: with no replica within reach, the try is
    /// dropped and nobody waits for it (the engine fails such a call at once).
    fn send(&mut self, service: usize, from: u16, parent: u32, flow: u16) -> bool {
        let nr = self.topo.regions.len();
        let Some(k) = self.topo.nearest[from as usize]
            .iter()
            .map(|r| service * nr + r.index())
            .find(|&k| !self.at[k].is_empty())
        else {
            return false;
        };
        let replica = self.at[k][self.next[k] % self.at[k].len()];
        self.next[k] += 1;
        let to = self.replicas[replica as usize].region as usize;
        let t = self.engine.now + self.net(from as usize, to);
        let ev = Ev::Deliver {
            replica,
            parent,
            from,
            flow,
        };
        self.engine.schedule(t, ev);
        true
    }

    fn arrival(&mut self, region: u16) {
        self.run.requests += 1;
        let u: f64 = self.rng.random();
        let flow = self
            .flow_cum
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.flow_cum.len() - 1);
        let entry = self.topo.flows[flow].entry.index();
        self.send(entry, region, CUSTOMER, flow as u16);
        self.schedule_arrival(region);
    }

    fn deliver(&mut self, replica: u32, parent: u32, from: u16, flow: u16) {
        let task = Task {
            replica,
            parent,
            from,
            flow,
            stage: 0,
            pending: 0,
        };
        let t = self.tasks.alloc();
        self.tasks.slots[t as usize] = task;
        let r = &mut self.replicas[replica as usize];
        if r.busy < r.servers {
            r.busy += 1;
            self.start(t);
        } else {
            r.waiting.push_back(t);
        }
    }

    fn start(&mut self, t: u32) {
        let service = self.replicas[self.tasks.slots[t as usize].replica as usize].service as usize;
        let work = self.topo.services[service].service_time.sample_ns(&mut self.rng);
        self.engine.schedule(self.engine.now + work, Ev::Done { task: t });
    }

    /// Runs the task's next stage with calls, or answers when none is left.
    fn advance(&mut self, t: u32) {
        let task = self.tasks.slots[t as usize];
        let rep = &self.replicas[task.replica as usize];
        let (service, region) = (rep.service as usize, rep.region);
        let svc = &self.topo.services[service];
        let plan = &svc.plan[(task.flow as usize).min(svc.plan.len() - 1)];
        let mut stage = task.stage as usize;
        while stage < plan.len() {
            let mut pending = 0;
            for &ci in &plan[stage] {
                let call = &svc.calls[ci as usize];
                if call.p < 1.0 && self.rng.random::<f64>() >= call.p {
                    continue;
                }
                match call.to {
                    CallTarget::Service(to) => {
                        if self.send(to.index(), region, t, task.flow) {
                            pending += 1;
                        }
                    }
                    CallTarget::Queue(q) => {
                        let consumer = self.topo.queues[q.index()].consumer.index();
                        self.send(consumer, region, NOBODY, task.flow);
                    }
                }
            }
            if pending > 0 {
                let task = &mut self.tasks.slots[t as usize];
                task.stage = stage as u16;
                task.pending = pending;
                return;
            }
            stage += 1;
        }
        self.finish(t);
    }

    /// The task answers its parent and frees its server.
    fn finish(&mut self, t: u32) {
        let task = self.tasks.slots[t as usize];
        self.tasks.free.push(t);
        let r = &mut self.replicas[task.replica as usize];
        let region = r.region as usize;
        match r.waiting.pop_front() {
            Some(next) => self.start(next),
            None => r.busy -= 1,
        }
        if task.parent == NOBODY {
            return;
        }
        let t_back = self.engine.now + self.net(region, task.from as usize);
        self.engine.schedule(t_back, Ev::Answer { parent: task.parent });
    }

    fn answer(&mut self, parent: u32) {
        match parent {
            CUSTOMER => self.run.answered += 1,
            NOBODY => {}
            t => {
                let task = &mut self.tasks.slots[t as usize];
                task.pending -= 1;
                if task.pending == 0 {
                    task.stage += 1;
                    self.advance(t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input;
    use std::path::Path;

    fn load(topo: &str, scn: &str) -> (std::sync::Arc<Topology>, Scenario) {
        let (l, _) = input::scenario_from_str(Path::new("t.toml"), topo, Path::new("s.toml"), scn)
            .unwrap_or_else(|d| panic!("{d:?}"));
        (l.topology, l.scenario)
    }

    const SCN: &str = "[experiment]\nname = \"s\"\ntopology = \"t.toml\"\n[run]\nduration_s = 200\nseed = 1\n\
                       [workload]\nrate_per_s = 50\n";

    #[test]
    fn a_chain_of_two_hops_costs_seven_events_per_request() {
        // Customer → gateway → leaf, one region, latencies that are never
        // zero: the arrival, then per hop the try arriving, the work done
        // and the answer arriving. Every request is answered.
        let topo = "name = \"t\"\n[[regions]]\nname = \"r\"\n\
                    [network]\nintra_region = { dist = \"lognormal\", median_ms = 0.3, p99_ms = 1.5 }\n\
                    [[flows]]\nname = \"f\"\nentry = \"gw\"\n\
                    [[services]]\nname = \"gw\"\nregions = [\"r\"]\nconcurrency = 4\n\
                    service_time = { dist = \"exp\", mean_ms = 1 }\n\
                    [[services.calls]]\nto = \"leaf\"\n\
                    [[services]]\nname = \"leaf\"\nregions = [\"r\"]\nconcurrency = 1\n\
                    service_time = { dist = \"exp\", mean_ms = 10 }\n";
        let (t, s) = load(topo, SCN);
        let run = skeleton_loop(&t, &s, 7);
        // 50 per second for 200 s: 10,000 expected, sd 100.
        assert!((run.requests as f64 - 10_000.0).abs() < 500.0, "{run:?}");
        assert_eq!(run.answered, run.requests);
        assert_eq!(run.events, 7 * run.requests);
    }

    #[test]
    fn stages_in_parallel_and_queues_add_their_hops() {
        // The gateway calls two services in one stage, a third in the next,
        // and publishes to a queue whose consumer answers nobody: 1 + 4 hops
        // × 3 events + the consumer's try and work = 15 events.
        let topo = "name = \"t\"\n[[regions]]\nname = \"r\"\n\
                    [network]\nintra_region = { dist = \"const\", ms = 0.5 }\n\
                    [[flows]]\nname = \"f\"\nentry = \"gw\"\n\
                    [[services]]\nname = \"gw\"\nregions = [\"r\"]\nconcurrency = 64\n\
                    service_time = { dist = \"exp\", mean_ms = 1 }\n\
                    [[services.calls]]\nto = \"a\"\nstage = 1\n\
                    [[services.calls]]\nto = \"b\"\nstage = 1\n\
                    [[services.calls]]\nto = \"a\"\nstage = 2\n\
                    [[services.calls]]\nto = \"q\"\nstage = 3\n\
                    [[services]]\nname = \"a\"\nregions = [\"r\"]\nconcurrency = 8\n\
                    service_time = { dist = \"lognormal\", median_ms = 2, p99_ms = 9 }\n\
                    [[services]]\nname = \"b\"\nregions = [\"r\"]\nconcurrency = 8\n\
                    service_time = { dist = \"exp\", mean_ms = 3 }\n\
                    [[services]]\nname = \"c\"\nregions = [\"r\"]\nconcurrency = 8\n\
                    service_time = { dist = \"exp\", mean_ms = 3 }\n\
                    [[queues]]\nname = \"q\"\nregions = [\"r\"]\nconsumer = \"c\"\n";
        let (t, s) = load(topo, SCN);
        let run = skeleton_loop(&t, &s, 3);
        assert_eq!(run.answered, run.requests);
        assert_eq!(run.events, 15 * run.requests);
    }

    #[test]
    fn a_call_out_of_reach_is_not_waited_for() {
        // The leaf runs only in region b, which no link joins to a: the
        // gateway's call cannot be sent, so the gateway answers after its
        // own work. Arrival, the gateway's try and work, the answer: 4.
        let topo = "name = \"t\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
                    [network]\nintra_region = { dist = \"const\", ms = 0.5 }\n\
                    [[flows]]\nname = \"f\"\nentry = \"gw\"\n\
                    [[services]]\nname = \"gw\"\nregions = [\"a\"]\nconcurrency = 4\n\
                    service_time = { dist = \"exp\", mean_ms = 1 }\n\
                    [[services.calls]]\nto = \"leaf\"\n\
                    [[services]]\nname = \"leaf\"\nregions = [\"b\"]\nconcurrency = 1\n\
                    service_time = { dist = \"exp\", mean_ms = 10 }\n";
        let scn = SCN.replace("rate_per_s = 50", "rate_per_s = { a = 50, b = 0 }");
        let (t, s) = load(topo, &scn);
        let run = skeleton_loop(&t, &s, 5);
        assert!(run.requests > 0);
        assert_eq!(run.answered, run.requests);
        assert_eq!(run.events, 4 * run.requests);
    }

    #[test]
    fn the_bundled_mesh_costs_its_flows_hops() {
        // eu-us-payments: a checkout (85%) is the arrival, the gateway's hop
        // and its five calls (pricing and fraud, the price guard, the PSP,
        // then the ledger queue, whose consumer answers nobody): 1 + 5 × 3
        // + 2 = 18 events; a refund calls only the PSP and the ledger:
        // 1 + 3 × 3 = 10. The mean is 16.8, with a standard deviation of
        // 8·√(0.85·0.15/n) over n requests (about 0.03 here).
        let topo = include_str!("../../topologies/eu-us-payments.toml");
        let scn = "[experiment]\nname = \"s\"\ntopology = \"t.toml\"\n[run]\nduration_s = 60\nseed = 1\n\
                   [workload]\nrate_per_s = { eu-west = 120, us-east = 80 }\n";
        let (t, s) = load(topo, scn);
        let run = skeleton_loop(&t, &s, 11);
        assert_eq!(run.answered, run.requests);
        let n = run.requests as f64;
        let per_request = run.events as f64 / n;
        let sd = 8.0 * (0.85f64 * 0.15 / n).sqrt();
        assert!(
            (per_request - 16.8).abs() < 5.0 * sd,
            "{per_request} events per request over {n}"
        );
    }
}
