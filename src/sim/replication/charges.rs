//! Duplicate charges: a charging call's executions at the callee, counted
//! until every try has ended.

use super::*;

/// Counts one charging call's executions until every try has ended.
///
/// A try carries a *charge tag*: the record's index, with the top bit set
/// for tries of the fallback target. Idempotency keys deduplicate charges at
/// one provider only: a primary that charged after its caller gave up and a
/// fallback provider that charged again are a duplicate either way.
#[derive(Clone, Debug, Default)]
pub(super) struct ChargeRecord {
    /// Tries delivered or on their way, not yet answered.
    pub(super) open_tries: u32,
    /// Tries the primary and the fallback target completed successfully
    /// (each one charged the card).
    pub(super) charged: [u32; 2],
    pub(super) call_done: bool,
    pub(super) site: u32,
    pub(super) idempotent: bool,
    pub(super) value: f64,
}

impl Replication<'_> {
    /// A charging call's try ended at the callee (`charged`: it succeeded there).
    pub(super) fn charge_try_ended(&mut self, tag: u32, charged: bool) {
        if tag == NONE {
            return;
        }
        let rec = tag & !(1 << 31);
        let r = &mut self.charges.slots[rec as usize];
        r.open_tries -= 1;
        r.charged[(tag >> 31) as usize] += charged as u32;
        self.settle_charge(rec);
    }
    /// Once the call and all its tries are over, counts repeated charges.
    pub(super) fn settle_charge(&mut self, charge: u32) {
        let r = &self.charges.slots[charge as usize];
        if !r.call_done || r.open_tries > 0 {
            return;
        }
        let all = (r.charged[0] + r.charged[1]) as u64;
        // With idempotency keys each provider charges at most once.
        let effective = if r.idempotent {
            (r.charged[0].min(1) + r.charged[1].min(1)) as u64
        } else {
            all
        };
        let (site, value) = (r.site as usize, r.value);
        self.charges.free.push(charge);
        if all > 0 && self.rec.counted(self.engine.now) {
            let s = &mut self.rec.sites[site];
            s.duplicates_prevented += all - effective;
            let extra = effective - 1;
            s.duplicate_charges += extra;
            s.duplicate_charge_cents += extra * crate::observe::cents(value);
        }
    }
}
