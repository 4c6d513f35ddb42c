//! `[[queues]]`: asynchronous hand-offs (brokers) in the regions listed,
//! delivering to their `consumer` service.
//!
//! Defaults (`defaults.rs`): `consumers = 1` (deliveries in flight per
//! region), `max_depth = 100000`; no `redeliver`: one try, then
//! dead-letter; `redeliver.backoff_ms = 1000`.

use serde::Deserialize;

use super::{Names, regions};
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::{NS_PER_MS, Queue, ServiceId};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub name: String,
    pub regions: Vec<String>,
    pub consumer: String,
    pub consumers: Option<i64>,
    pub max_depth: Option<i64>,
    pub redeliver: Option<RawRedeliver>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRedeliver {
    pub attempts: u32,
    pub backoff_ms: Option<f64>,
}

pub fn resolve(cx: &mut Ctx, raw: &[RawQueue], names: &Names) -> Vec<Queue> {
    let mut queues = Vec::new();
    for (qi, q) in raw.iter().enumerate() {
        let p = KeyPath::root().k("queues").i(qi);
        let present = regions::mask(cx, &p.k("regions"), &q.regions, &names.regions);
        let consumer = match names.service(&q.consumer) {
            Some(s) => ServiceId::from_index(s),
            None => {
                cx.err(
                    &p.k("consumer"),
                    format!("unknown service \"{}\" (known: {})", q.consumer, names.known_services()),
                );
                ServiceId(0)
            }
        };
        let consumers = cx.count_in_range(
            &p.k("consumers"),
            q.consumers,
            defaults::QUEUE_CONSUMERS,
            1,
            1_000_000,
            "consumers",
        );
        let max_depth = cx.count_in_range(
            &p.k("max_depth"),
            q.max_depth,
            defaults::QUEUE_MAX_DEPTH,
            1,
            1_000_000_000,
            "max_depth",
        );
        let (attempts, backoff) = match &q.redeliver {
            Some(r) => {
                let rp = p.k("redeliver");
                if r.attempts == 0 || r.attempts > 100 {
                    cx.err(&rp.k("attempts"), "attempts must be between 1 and 100");
                }
                let b = r.backoff_ms.unwrap_or(defaults::REDELIVER_BACKOFF_MS);
                cx.in_range(&rp.k("backoff_ms"), b, 0.0, 86_400_000.0, "backoff_ms");
                (r.attempts.max(1), b)
            }
            None => (defaults::REDELIVER_ATTEMPTS_NONE, defaults::REDELIVER_BACKOFF_MS_NONE),
        };
        queues.push(Queue {
            name: q.name.clone(),
            present,
            consumer,
            consumers,
            max_depth: max_depth as u64,
            redeliver_attempts: attempts,
            redeliver_backoff_ns: (backoff.max(0.0) * NS_PER_MS) as u64,
        });
    }
    queues
}
