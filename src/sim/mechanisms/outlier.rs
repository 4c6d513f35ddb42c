//! Outlier detection, Envoy's consecutive-5xx ejection: a replica answering
//! `consecutive_errors` failures in a row is ejected from routing for
//! `base_ejection_ms` × its ejection count, unless `max_ejection_percent` of
//! the replicas in service (at least one) are ejected already.

use crate::model::Outlier;

/// One replica's outlier-detection state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutlierState {
    consecutive_errors: u32,
    ejections: u32,
}

impl OutlierState {
    /// Counts an answer; true when this failure completes a run of
    /// `consecutive_errors` (the run then starts again). A replica already
    /// ejected keeps counting but is not ejected twice.
    pub fn answered(&mut self, def: &Outlier, ok: bool, ejected: bool) -> bool {
        if ok {
            self.consecutive_errors = 0;
            return false;
        }
        self.consecutive_errors += 1;
        if self.consecutive_errors < def.consecutive_errors || ejected {
            return false;
        }
        self.consecutive_errors = 0;
        true
    }

    /// Ejects it: how long for (the base time × its ejection count).
    pub fn eject(&mut self, def: &Outlier) -> u64 {
        self.ejections += 1;
        def.base_ejection_ns.saturating_mul(self.ejections as u64)
    }
}

/// How many of `replicas` in service may be ejected at once.
pub fn max_ejected(def: &Outlier, replicas: u32) -> usize {
    if def.max_ejection_percent <= 0.0 {
        0
    } else {
        ((def.max_ejection_percent / 100.0 * replicas as f64).floor() as usize).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: Outlier = Outlier {
        consecutive_errors: 3,
        base_ejection_ns: 1000,
        max_ejection_percent: 50.0,
    };

    #[test]
    fn a_run_of_failures_ejects_for_longer_each_time() {
        // Three failures in a row eject (a success resets the run); the second
        // ejection lasts twice the base.
        let mut s = OutlierState::default();
        assert!(!s.answered(&DEF, false, false));
        assert!(!s.answered(&DEF, true, false), "a success resets the run");
        assert!(!s.answered(&DEF, false, false));
        assert!(!s.answered(&DEF, false, false));
        assert!(s.answered(&DEF, false, false));
        assert_eq!(s.eject(&DEF), 1000);
        // Failures while ejected keep counting; the run ejects again at the
        // first failure once it is back in rotation.
        for _ in 0..2 {
            s.answered(&DEF, false, true);
        }
        assert!(!s.answered(&DEF, false, true), "already ejected");
        assert!(s.answered(&DEF, false, false));
        assert_eq!(s.eject(&DEF), 2000);
    }

    #[test]
    fn at_most_the_percent_of_replicas_in_service_and_at_least_one() {
        // 50% of 5 is 2; of 1 it rounds to 0 but one may always go; 0% none.
        assert_eq!(max_ejected(&DEF, 5), 2);
        assert_eq!(max_ejected(&DEF, 1), 1);
        let none = Outlier {
            max_ejection_percent: 0.0,
            ..DEF
        };
        assert_eq!(max_ejected(&none, 10), 0);
    }
}
