//! Every fault kind of the catalog, random faults, composition, blast
//! radius and the correctness and backlog SLOs, each on a case whose answer
//! can be derived. Horizon H = 500 s (no warm-up) and window w = [100, 300)
//! unless a test says otherwise: a fault that fails every request in its
//! window fails w/H = 40% of requests.

use super::common::*;
use chaoscal::sim::ReplicationOutput;

const WINDOW: &str = "start_s = 100\nduration_s = 200\n";

/// Regions a and b, 0 ms inside, 40 ms between (constant).
fn mesh(flows: &str, services: &str) -> String {
    format!(
        "name = \"m\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
         [network]\nintra_region = 0\n[[network.links]]\nbetween = [\"a\", \"b\"]\nlatency = 40\n{flows}{services}"
    )
}

fn flow(entry: &str) -> String {
    format!("[[flows]]\nname = \"job\"\nentry = \"{entry}\"\n")
}

fn svc(name: &str, regions: &str, extra: &str) -> String {
    format!("[[services]]\nname = \"{name}\"\nregions = [{regions}]\nconcurrency = 100000\n{extra}\n")
}

fn scn(rate: &str, duration_s: f64, extra: &str) -> String {
    format!(
        "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = {duration_s}\nreplications = 1\nseed = 21\n\
         [workload]\nrate_per_s = {rate}\n{extra}"
    )
}

fn failed_share(outs: &[ReplicationOutput]) -> Vec<f64> {
    outs.iter()
        .map(|o| o.recorder.flows[0].failed as f64 / o.recorder.flows[0].requests as f64)
        .collect()
}

/// A gateway in a calling `x` (in `x_regions`) with a 200 ms timeout.
fn gw_to_x(x_regions: &str, x_extra: &str) -> String {
    mesh(
        &flow("gw"),
        &(svc(
            "gw",
            "\"a\"",
            "service_time = 0\n[[services.calls]]\nto = \"x\"\ntimeout_ms = 200",
        ) + &svc("x", x_regions, &format!("service_time = 1\n{x_extra}"))),
    )
}

#[test]
fn blackhole_hangs_until_the_timeout() {
    // A black-holed callee never answers: every call in the window fails at
    // exactly the caller's 200 ms timeout.
    let f = format!("[[faults]]\nkind = \"blackhole\"\ntarget = {{ service = \"x\" }}\n{WINDOW}");
    let outs = replicate(&load(&gw_to_x("\"a\"", ""), &scn("{ a = 100, b = 0 }", 500.0, &f)), 20);
    assert_close("blackhole", &failed_share(&outs), 0.4, 4.0, 0.0);
    let h = &outs[0].recorder.flows[0].latency;
    assert_eq!(h.max(), 200_000_000, "failures take exactly the timeout");
}

#[test]
fn region_outage_loses_the_region_until_failover() {
    // Region a goes down for the window. Its half of the traffic fails for
    // the whole window with local_only (0.5 × 0.4 = 20%); with health checks
    // and prefer_local only until detection (3 checks, 2.5 s on average).
    let topo = |locality: &str| {
        mesh(
            &flow("x"),
            &svc(
                "x",
                "\"a\", \"b\"",
                &format!(
                    "service_time = 1\nlocality = \"{locality}\"\nhealth_check = {{ interval_ms = 1000, unhealthy_after = 3 }}"
                ),
            ),
        )
    };
    let f = format!("[[faults]]\nkind = \"region_outage\"\ntarget = {{ region = \"a\" }}\n{WINDOW}");
    let s = scn("{ a = 100, b = 100 }", 500.0, &f);
    assert_close(
        "outage local_only",
        &failed_share(&replicate(&load(&topo("local_only"), &s), 20)),
        0.2,
        4.0,
        0.0,
    );
    let lost: Vec<f64> = replicate(&load(&topo("prefer_local"), &s), 30)
        .iter()
        .map(|o| o.recorder.flows[0].failed as f64)
        .collect();
    assert_close("outage prefer_local (lost requests)", &lost, 100.0 * 2.5, 4.0, 0.0);
}

#[test]
fn partition_fails_cross_region_calls() {
    // The callee lives only in b: across a partition every call times out.
    let f = format!("[[faults]]\nkind = \"partition\"\ntarget = {{ between = [\"a\", \"b\"] }}\n{WINDOW}");
    let outs = replicate(&load(&gw_to_x("\"b\"", ""), &scn("{ a = 100, b = 0 }", 500.0, &f)), 20);
    assert_close("partition", &failed_share(&outs), 0.4, 4.0, 0.0);
}

#[test]
fn packet_loss_on_a_link_loses_either_way() {
    // 30% loss each way across the link: a call survives with 0.7² = 0.49,
    // so 0.51 × 0.4 = 20.4% of requests fail.
    let f =
        format!("[[faults]]\nkind = \"packet_loss\"\ntarget = {{ between = [\"a\", \"b\"] }}\npercent = 30\n{WINDOW}");
    let outs = replicate(&load(&gw_to_x("\"b\"", ""), &scn("{ a = 100, b = 0 }", 500.0, &f)), 20);
    assert_close("link loss", &failed_share(&outs), 0.51 * 0.4, 4.0, 0.0);
}

#[test]
fn packet_loss_on_a_service_loses_its_answers() {
    // 30% of the callee's answers lost in the window: 0.3 × 0.4 = 12% fail.
    let f = format!("[[faults]]\nkind = \"packet_loss\"\ntarget = {{ service = \"x\" }}\npercent = 30\n{WINDOW}");
    let outs = replicate(&load(&gw_to_x("\"a\"", ""), &scn("{ a = 100, b = 0 }", 500.0, &f)), 20);
    assert_close("answer loss", &failed_share(&outs), 0.12, 4.0, 0.0);
}

#[test]
fn link_latency_is_paid_both_ways() {
    // +50 ms on the link for the whole run: a cross-region call costs
    // 2 × (40 + 50) + 1 = 181 ms, exactly.
    let f = "[[faults]]\nkind = \"latency\"\ntarget = { between = [\"a\", \"b\"] }\ndelay = 50\n";
    let o = &replicate(&load(&gw_to_x("\"b\"", ""), &scn("{ a = 50, b = 0 }", 30.0, f)), 1)[0];
    let h = &o.recorder.flows[0].latency;
    assert_eq!((h.min(), h.max()), (181_000_000, 181_000_000));
}

#[test]
fn overlapping_faults_compose() {
    // Two overlapping delays add (1 + 50 + 30 ms); two 50% aborts combine to 75%.
    let f = "[[faults]]\nkind = \"latency\"\ntarget = { service = \"x\" }\ndelay = 50\n\
             [[faults]]\nkind = \"latency\"\ntarget = { service = \"x\" }\ndelay = 30\n";
    let o = &replicate(&load(&gw_to_x("\"a\"", ""), &scn("{ a = 50, b = 0 }", 30.0, f)), 1)[0];
    let h = &o.recorder.flows[0].latency;
    assert_eq!((h.min(), h.max()), (81_000_000, 81_000_000));
    let f = "[[faults]]\nkind = \"abort\"\ntarget = { service = \"x\" }\npercent = 50\n\
             [[faults]]\nkind = \"abort\"\ntarget = { service = \"x\" }\npercent = 50\n";
    let outs = replicate(&load(&gw_to_x("\"a\"", ""), &scn("{ a = 100, b = 0 }", 100.0, f)), 20);
    assert_close("two aborts", &failed_share(&outs), 0.75, 4.0, 0.0);
}

/// gw → ai (quality from `ai_extra`) then → guard (`guard_extra`), order value 100.
fn checkout(ai_extra: &str, guard: Option<&str>) -> String {
    let calls = match guard {
        Some(_) => "[[services.calls]]\nto = \"ai\"\n[[services.calls]]\nto = \"guard\"",
        None => "[[services.calls]]\nto = \"ai\"",
    };
    let mut services = svc("gw", "\"a\"", &format!("service_time = 0\n{calls}"))
        + &svc("ai", "\"a\"", &format!("service_time = 1\n{ai_extra}"));
    if let Some(g) = guard {
        services += &svc("guard", "\"a\"", &format!("service_time = 1\n{g}"));
    }
    mesh("[[flows]]\nname = \"job\"\nentry = \"gw\"\nvalue = 100\n", &services)
}

#[test]
fn drift_produces_r_n_wrong_outputs_at_value_times_discount() {
    // Drift at r = 0.2 with a 50% discount in the window: 0.2 × (requests in
    // the window) wrong outputs, each costing 100 × 0.5 = 50.
    let f = format!(
        "[[faults]]\nkind = \"drift\"\ntarget = {{ service = \"ai\" }}\nwrong_rate = 0.2\nwrong_effect = {{ discount = 0.5 }}\n{WINDOW}"
    );
    let topo = checkout(
        "quality = { wrong_rate = 0.0, wrong_effect = { discount = 0.1 } }",
        None,
    );
    let outs = replicate(&load(&topo, &scn("{ a = 100, b = 0 }", 500.0, &f)), 20);
    let share: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.flows[0].wrong_outputs as f64 / o.recorder.flows[0].requests as f64)
        .collect();
    assert_close("wrong outputs", &share, 0.2 * 0.4, 4.0, 0.0);
    for o in &outs {
        let f = &o.recorder.flows[0];
        assert_eq!(f.wrong_output_cents, 5000 * f.wrong_outputs);
    }
}

#[test]
fn a_validating_service_catches_its_share() {
    // Quality r = 0.1 and a price guard called after the AI catching 90%:
    // 1% of requests carry a wrong output to the customer, 9% are caught and
    // degraded; a correctness SLO at 99.9% is violated.
    let topo = checkout(
        "quality = { wrong_rate = 0.1, wrong_effect = { discount = 0.5 } }",
        Some("validates = { catches = 0.9, on_catch = \"degrade\" }"),
    );
    let slo = "[[slos]]\nname = \"correct\"\nkind = \"correctness\"\nobjective = 0.999\n";
    let outs = replicate(&load(&topo, &scn("{ a = 100, b = 0 }", 200.0, slo)), 20);
    let uncaught: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.flows[0].wrong_outputs as f64 / o.recorder.flows[0].requests as f64)
        .collect();
    assert_close("uncaught", &uncaught, 0.01, 4.0, 0.0);
    let caught: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.wrong_caught as f64 / o.recorder.flows[0].requests as f64)
        .collect();
    assert_close("caught", &caught, 0.09, 4.0, 0.0);
    let l = load(&topo, &scn("{ a = 100, b = 0 }", 200.0, slo));
    assert!(outs.iter().all(|o| o.recorder.slo_outcomes(&l.scenario)[0].violated));
}

#[test]
fn queue_stall_backs_up_and_drains() {
    // Consumers stop for 20 s at 100 messages/s: the backlog peaks near 2000
    // and a backlog SLO (age under 1 s, 99%) is violated; after the stall
    // everything is delivered.
    let topo = mesh(
        &flow("pub"),
        &(svc("pub", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"q\"")
            + &svc("worker", "\"a\"", "service_time = 1")
            + "[[queues]]\nname = \"q\"\nregions = [\"a\"]\nconsumer = \"worker\"\nconsumers = 50\n"),
    );
    let extra = "[[faults]]\nkind = \"queue_stall\"\ntarget = { queue = \"q\" }\nstart_s = 40\nduration_s = 20\n\
                 [[slos]]\nname = \"fresh\"\nkind = \"backlog\"\nqueue = \"q\"\nthreshold_ms = 1000\nobjective = 0.99\n";
    let l = load(&topo, &scn("{ a = 100, b = 0 }", 100.0, extra));
    for o in replicate(&l, 5) {
        let q = &o.recorder.queues[0];
        assert!(q.depth_max > 1800 && q.depth_max < 2200, "peak {}", q.depth_max);
        assert_eq!(q.delivered, q.published);
        assert!(q.age.max() > 19_000_000_000, "oldest message waited the stall out");
        assert!(o.recorder.slo_outcomes(&l.scenario)[0].violated);
    }
}

#[test]
fn uniform_start_gives_the_overlap_probability() {
    // A 20 s total outage starting at U(0, 200) s in a 100 s horizon violates
    // a 90% availability SLO when more than 10 s of it fall inside: start <
    // 90 s, probability 90/200 = 0.45.
    let f = "[[faults]]\nkind = \"abort\"\ntarget = { service = \"x\" }\nstart_s = { dist = \"uniform\", min = 0, max = 200 }\nduration_s = 20\n\
             [[slos]]\nname = \"avail\"\nkind = \"availability\"\nobjective = 0.9\n";
    let l = load(&gw_to_x("\"a\"", ""), &scn("{ a = 50, b = 0 }", 100.0, f));
    let n = 400;
    let violations = replicate(&l, n)
        .iter()
        .filter(|o| o.recorder.slo_outcomes(&l.scenario)[0].violated)
        .count();
    // Binomial(400, 0.45): 4 standard deviations are ±0.0995.
    let p = violations as f64 / n as f64;
    let sd = (0.45f64 * 0.55 / n as f64).sqrt();
    assert!((p - 0.45).abs() < 4.0 * sd, "violation share {p}");
}

#[test]
fn random_kills_follow_mtbf_and_mttr() {
    // One replica failing with MTBF 50 s and MTTR 10 s from an up start is
    // down (λ/(λ+μ))(1 − (1 − e^{−(λ+μ)H})/((λ+μ)H)) of a 1000 s horizon.
    let f = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\nrandom = { mtbf_s = 50, mttr_s = 10 }\n";
    let l = load(&gw_to_x("\"a\"", ""), &scn("{ a = 20, b = 0 }", 1000.0, f));
    let outs = replicate(&l, 30);
    let (lam, mu, h) = (1.0 / 50.0, 1.0 / 10.0, 1000.0f64);
    let down = lam / (lam + mu) * (1.0 - (1.0 - (-(lam + mu) * h).exp()) / ((lam + mu) * h));
    assert_close("random kill unavailability", &failed_share(&outs), down, 4.0, 0.0);
    assert!(outs.iter().all(|o| o.fault_windows.len() > 5));
}

#[test]
fn blast_radius_on_a_chain() {
    // gw → a → b → c and gw → d: aborting b degrades its callers a and gw and
    // b itself (3 services, 1 region), never c (b fails before calling it) or
    // d. Declared max 2 services: breached in every replication.
    let topo = mesh(
        &flow("gw"),
        &(svc(
            "gw",
            "\"a\"",
            "service_time = 0\n[[services.calls]]\nto = \"a\"\n[[services.calls]]\nto = \"d\"",
        ) + &svc("a", "\"a\"", "service_time = 1\n[[services.calls]]\nto = \"b\"")
            + &svc("b", "\"a\"", "service_time = 1\n[[services.calls]]\nto = \"c\"")
            + &svc("c", "\"a\"", "service_time = 1")
            + &svc("d", "\"a\"", "service_time = 1")),
    );
    let extra = format!(
        "[[faults]]\nkind = \"abort\"\ntarget = {{ service = \"b\" }}\n{WINDOW}[blast_radius]\nmax_services = 2\nmax_regions = 1\n"
    );
    let l = load(&topo, &scn("{ a = 100, b = 0 }", 500.0, &extra));
    for o in replicate(&l, 3) {
        let blast = o.recorder.blast(&l.scenario, 2);
        let names: Vec<&str> = blast
            .pairs
            .iter()
            .map(|g| l.topology.services[g / 2].name.as_str())
            .collect();
        assert_eq!(names, vec!["gw", "a", "b"]);
        assert_eq!((blast.services, blast.regions, blast.breach), (3, 1, true));
        // Every failed request is attributed to the fault.
        assert_eq!(o.recorder.attributed[0], o.recorder.flows[0].failed);
    }
    let statics: Vec<usize> = chaoscal::observe::static_blast_radius(&l.topology, &l.scenario);
    let names: Vec<&str> = statics.iter().map(|&s| l.topology.services[s].name.as_str()).collect();
    assert_eq!(names, vec!["gw", "a", "b"]);
}

#[test]
fn kill_attribution_is_per_replica() {
    // Issue 16 (random-kill attribution): x has 4 replicas behind round
    // robin and no health checks, so a call to a dead replica fails and
    // every other call succeeds. Every failure is the kill's own and no
    // success met it: failed = touched = attributed, exactly — for a
    // scheduled kill of one replica (calls to the three survivors are not
    // touched: about ¼ of the window's 20,000 calls are) and for random
    // per-replica churn (whose windows overlap, and one replica's restart
    // must not clear the others' attribution).
    let x = "replicas = 4\nbalancer = \"round_robin\"";
    let scheduled =
        format!("[[faults]]\nname = \"one\"\nkind = \"kill\"\ntarget = {{ service = \"x\" }}\nreplicas = 1\n{WINDOW}");
    let churn = "[[faults]]\nname = \"churn\"\nkind = \"kill\"\ntarget = { service = \"x\" }\nrandom = { mtbf_s = 20, mttr_s = 10 }\n";
    for (name, fault) in [("scheduled", scheduled.as_str()), ("churn", churn)] {
        let l = load(&gw_to_x("\"a\"", x), &scn("{ a = 100, b = 0 }", 500.0, fault));
        for o in replicate(&l, 5) {
            let f = &o.recorder.flows[0];
            assert!(f.failed > 0, "{name}: the kill fails calls");
            assert_eq!(
                f.touched, f.failed,
                "{name}: touched requests are exactly the failed ones"
            );
            assert_eq!(
                o.recorder.attributed[0], f.failed,
                "{name}: every failure is the kill's"
            );
            if name == "scheduled" {
                let share = f.touched as f64 / 20_000.0;
                assert!(
                    (share - 0.25).abs() < 0.03,
                    "{name}: a quarter of the window's calls, not all: {share}"
                );
            }
        }
    }
}

#[test]
fn attribution_follows_breakers_fallbacks_and_bulkheads() {
    // Issue 16 (attribution through mitigation paths): gw calls x with a
    // breaker (opens at 50% failures over 20 calls, stays open 5 s) and
    // falls back to y, which fails 10% of its calls; x never fails on its
    // own. An abort fault on x in [100, 300) sends every call to y — first
    // after x's aborts, then straight from the open breaker — so 10% of the
    // window's 20,000 requests fail, 2,000 on average, all of them because
    // of the fault. The breaker's refusals carry the faults that opened it,
    // and the fallback keeps them: every failure is attributed to the fault.
    // The same holds for a bulkhead: x slowed by 1 s (latency fault) fills
    // gw's 20-call bulkhead, and the calls it turns away fall back to y.
    let topo = |call: &str| {
        mesh(
            &flow("gw"),
            &(svc(
                "gw",
                "\"a\"",
                &format!("service_time = 0\n[[services.calls]]\nto = \"x\"\nfallback = \"y\"\n{call}"),
            ) + &svc("x", "\"a\"", "service_time = 1")
                + &svc("y", "\"a\"", "service_time = 1\nerror_rate = 0.1")),
        )
    };
    let breaker = topo(
        "circuit_breaker = { failure_rate = 0.5, window = 20, min_calls = 20, open_ms = 5000, half_open_calls = 2 }",
    );
    let bulkhead = topo("max_in_flight = 20");
    let abort = format!("[[faults]]\nkind = \"abort\"\ntarget = {{ service = \"x\" }}\n{WINDOW}");
    let slow = format!("[[faults]]\nkind = \"latency\"\ntarget = {{ service = \"x\" }}\ndelay = 1000\n{WINDOW}");
    for (name, topo, fault, share_to_y) in [
        ("breaker", breaker, abort, 1.0),
        // λ = 100/s, 1 s each: 20 in flight serve 20/s; 80/s go to y.
        ("bulkhead", bulkhead, slow, 0.8),
    ] {
        let l = load(&topo, &scn("{ a = 100, b = 0 }", 500.0, &fault));
        let outs = replicate(&l, 20);
        let failed: Vec<f64> = outs.iter().map(|o| o.recorder.flows[0].failed as f64).collect();
        assert_close(
            &format!("{name}: failures in the window"),
            &failed,
            20_000.0 * share_to_y * 0.1,
            4.0,
            0.0,
        );
        for o in &outs {
            assert_eq!(
                o.recorder.attributed[0], o.recorder.flows[0].failed,
                "{name}: all attributed"
            );
        }
    }
}

#[test]
fn counterfactual_twin_measures_what_the_fault_did() {
    // Issue 16 (attribution): the twin is the same replication with the
    // faults off. Case 1, a mitigation path: an abort on x sends every call
    // of the window to the fallback y (10% errors) through x's open breaker:
    // 20,000 × 10% = 2,000 excess failures per replication, none in the twin,
    // and gw, x and y are degraded against it. Case 2, a coincidence: x fails
    // 5% of calls on its own (y then fails 10% of those) and a harmless 1 ms
    // delay on x touches every request of the window: path attribution
    // blames the fault for the ~100 failures it merely met, the twin shows an
    // excess of 0.
    let topo = |x: &str| {
        mesh(
            &flow("gw"),
            &(svc(
                "gw",
                "\"a\"",
                "service_time = 0\n[[services.calls]]\nto = \"x\"\nfallback = \"y\"\n\
                 circuit_breaker = { failure_rate = 0.5, window = 20, min_calls = 20, open_ms = 5000, half_open_calls = 2 }",
            ) + &svc("x", "\"a\"", &format!("service_time = 1\n{x}"))
                + &svc("y", "\"a\"", "service_time = 1\nerror_rate = 0.1")),
        )
    };
    let twin_of =
        |l: &chaoscal::input::LoadedScenario, n: u64| -> Vec<(ReplicationOutput, chaoscal::observe::TwinOutcome)> {
            replicate(l, n)
                .into_iter()
                .map(|o| {
                    let twin = chaoscal::sim::run_twin(&l.topology, &l.scenario, l.scenario.seed, o.index);
                    assert_eq!(twin.fault_windows, o.fault_windows, "the twin draws the same timeline");
                    let t = o.recorder.versus_twin(&twin.recorder, &l.scenario, 2);
                    (o, t)
                })
                .collect()
        };
    let abort = format!("[[faults]]\nkind = \"abort\"\ntarget = {{ service = \"x\" }}\n{WINDOW}");
    let l = load(&topo(""), &scn("{ a = 100, b = 0 }", 500.0, &abort));
    let pairs = twin_of(&l, 20);
    let excess: Vec<f64> = pairs.iter().map(|(_, t)| t.excess_failed_total() as f64).collect();
    assert_close(
        "excess failures through the breaker's fallback",
        &excess,
        2000.0,
        4.0,
        0.0,
    );
    for (_, t) in &pairs {
        let names: Vec<&str> = t
            .pairs
            .iter()
            .map(|g| l.topology.services[g / 2].name.as_str())
            .collect();
        assert_eq!(names, vec!["gw", "x", "y"]);
    }

    let delay = format!("[[faults]]\nkind = \"latency\"\ntarget = {{ service = \"x\" }}\ndelay = 1\n{WINDOW}");
    let l = load(&topo("error_rate = 0.05"), &scn("{ a = 100, b = 0 }", 500.0, &delay));
    let pairs = twin_of(&l, 20);
    let attributed: Vec<f64> = pairs.iter().map(|(o, _)| o.recorder.attributed[0] as f64).collect();
    let excess: Vec<f64> = pairs.iter().map(|(_, t)| t.excess_failed_total() as f64).collect();
    // y's 10% of x's 5% fail: 20,000 × 0.005 = 100 in the window, all "met" the delay.
    assert_close("failures that merely met the delay", &attributed, 100.0, 4.0, 0.0);
    assert_close("excess failures of a harmless delay", &excess, 0.0, 4.0, 0.0);
}
