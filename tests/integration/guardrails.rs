//! Guardrails (burn-rate alerts and remediation) on cases whose timing can
//! be derived: a dead service at t = 100 s makes every request fail; an
//! alert on a 99% availability SLO with burn_rate 5 over 10 s holds at the
//! first check after the outage starts (1 s of failures in a 10 s window is
//! a 10% bad share, burn 10 ≥ 5), i.e. at 101 s, and acts 5 s later.

use super::common::*;

fn mesh(services: &str) -> String {
    format!(
        "name = \"m\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
         [network]\nintra_region = 0\n[[network.links]]\nbetween = [\"a\", \"b\"]\nlatency = 40\n\
         [[flows]]\nname = \"job\"\nentry = \"gw\"\n{services}"
    )
}

fn svc(name: &str, regions: &str, extra: &str) -> String {
    format!("[[services]]\nname = \"{name}\"\nregions = [{regions}]\nconcurrency = 100000\n{extra}\n")
}

fn scn(rate: f64, extra: &str) -> String {
    format!(
        "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = 200\nreplications = 1\nseed = 8\n\
         [workload]\nrate_per_s = {{ a = {rate}, b = 0 }}\n\
         [[slos]]\nname = \"avail\"\nkind = \"availability\"\nobjective = 0.99\n{extra}"
    )
}

const DEAD_X: &str = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\", region = \"a\" }\nstart_s = 100\n";

fn guard(action: &str) -> String {
    format!(
        "[[guardrails]]\nname = \"g\"\nwhen = {{ slo = \"avail\", burn_rate = 5, window_s = 10 }}\ndetect_delay_s = 5\naction = {action}\n"
    )
}

#[test]
fn failover_to_another_service_ends_the_outage_after_detection() {
    // Failing over from x to y at 106 s loses exactly the 6 s of arrivals
    // after the kill (600 at 100/s on average); the error budget burned
    // before mitigation is 600 / (1% of 20,000) = 3.
    let topo = mesh(
        &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
            + &svc("x", "\"a\"", "service_time = 1")
            + &svc("y", "\"a\"", "service_time = 1")),
    );
    let extra = format!("{DEAD_X}{}", guard("{ kind = \"failover\", from = \"x\", to = \"y\" }"));
    let l = load(&topo, &scn(100.0, &extra));
    let outs = replicate(&l, 30);
    for o in &outs {
        let g = o.guardrails[0];
        assert_eq!(g.fired_ns, Some(106_000_000_000));
        assert_eq!(g.mitigated_ns, Some(106_000_000_000));
    }
    let failed: Vec<f64> = outs.iter().map(|o| o.recorder.flows[0].failed as f64).collect();
    assert_close("requests lost before failover", &failed, 600.0, 4.0, 0.0);
    let budget: Vec<f64> = outs.iter().map(|o| o.guardrails[0].budget_before).collect();
    assert_close("budget burned before mitigation", &budget, 3.0, 4.0, 0.0);
}

#[test]
fn regional_failover_pins_calls_to_the_other_region() {
    // x dies in region a (no health checks: calls keep going there); failing
    // over to region b at 106 s fixes it, at the price of the 80 ms link.
    let topo = mesh(
        &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
            + &svc("x", "\"a\", \"b\"", "service_time = 1")),
    );
    let extra = format!("{DEAD_X}{}", guard("{ kind = \"failover\", from = \"x\", to = \"b\" }"));
    let o = &replicate(&load(&topo, &scn(100.0, &extra)), 1)[0];
    assert_eq!(o.guardrails[0].mitigated_ns, Some(106_000_000_000));
    assert_eq!(
        o.recorder.flows[0].latency.max(),
        81_000_000,
        "after failover calls cross the link"
    );
    assert!(o.recorder.groups[3].requests > 9000, "x@b took the traffic");
}

#[test]
fn kill_switch_sends_calls_to_their_fallback() {
    // With the kill switch on x, calls degrade to the rules service instead of failing.
    let topo = mesh(
        &(svc(
            "gw",
            "\"a\"",
            "service_time = 0\n[[services.calls]]\nto = \"x\"\nfallback = \"rules\"",
        ) + &svc("x", "\"a\"", "service_time = 1\nerror_rate = 1")
            + &svc("rules", "\"a\"", "service_time = 1")),
    );
    // x fails every call from the start, but the fallback absorbs it; an
    // availability SLO never burns. A latency SLO of 0.5 ms does (fallbacks
    // take 1 + 1 ms), and the kill switch skips x: 1 ms again.
    let extra = "[[slos]]\nname = \"fast\"\nkind = \"latency\"\nthreshold_ms = 1.5\nobjective = 0.99\n\
        [[guardrails]]\nname = \"g\"\nwhen = { slo = \"fast\", burn_rate = 5, window_s = 10 }\ndetect_delay_s = 5\n\
        action = { kind = \"kill_switch\", service = \"x\" }\n";
    let o = &replicate(&load(&topo, &scn(100.0, extra)), 1)[0];
    assert_eq!(
        o.guardrails[0].mitigated_ns,
        Some(6_000_000_000),
        "fires at the first check, acts 5 s later"
    );
    assert_eq!(o.recorder.flows[0].failed, 0);
    assert_eq!(
        o.recorder.flows[0].latency.min(),
        1_000_000,
        "after the switch x is skipped"
    );
}

#[test]
fn shedding_rejects_its_share_of_the_flow() {
    // After 106 s, shedding half of the traffic fails half of the arrivals
    // (and the dead service the rest): (94 s × 100/s) × 0.5 shed on average.
    let topo = mesh(
        &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
            + &svc("x", "\"a\"", "service_time = 1")),
    );
    let extra = format!("{DEAD_X}{}", guard("{ kind = \"shed\", share = 0.5 }"));
    let outs = replicate(&load(&topo, &scn(100.0, &extra)), 20);
    let shed: Vec<f64> = outs.iter().map(|o| o.guardrails[0].shed as f64).collect();
    assert_close("shed requests", &shed, 94.0 * 100.0 * 0.5, 4.0, 0.0);
}

#[test]
fn scaling_adds_capacity_after_its_provisioning_delay() {
    // An overloaded station (λ = 150/s, capacity 100/s) breaks a latency SLO
    // at once; scale adds a second replica 30 s after the alert: exactly the
    // provisioning delay, and the new replica's capacity counts from then.
    let topo = mesh(
        &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
            + &svc(
                "x",
                "\"a\"",
                "service_time = 10\nqueue = 1000000\nbalancer = \"round_robin\"",
            )
            .replace("concurrency = 100000", "concurrency = 1")),
    );
    let extra = "[[slos]]\nname = \"fast\"\nkind = \"latency\"\nthreshold_ms = 100\nobjective = 0.99\n\
        [[guardrails]]\nname = \"g\"\nwhen = { slo = \"fast\", burn_rate = 5, window_s = 10 }\ndetect_delay_s = 5\n\
        action = { kind = \"scale\", service = \"x\", replicas = 1, delay_s = 30 }\n";
    let o = &replicate(&load(&topo, &scn(150.0, extra)), 1)[0];
    let g = o.guardrails[0];
    let (fired, up) = (g.fired_ns.unwrap(), g.mitigated_ns.unwrap());
    assert_eq!(up - fired, 30_000_000_000);
    let cap = o.recorder.groups[2].capacity_ns;
    assert_eq!(
        cap,
        200_000_000_000 + (200_000_000_000 - up as u128),
        "one server all along, one from {up}"
    );
}

#[test]
fn a_scale_guardrail_that_never_fires_changes_nothing() {
    // Issue 16 (idle guardrail): replicas a `scale` guardrail holds in
    // reserve are not in service until it fires, so a guardrail that never
    // fires leaves every figure exactly as without it — with health checks
    // (whose phases are drawn per replica), panic routing and outlier
    // ejection (whose share counts replicas) all in play.
    //
    // Case 1: x has 2 replicas behind round robin, health-checked every 2 s
    // (one failed check marks a replica down); one dies at 100 s for 10 s.
    // Half the calls hit it until the first check after the kill, a
    // uniform(0, 2 s) wait: 100/s × ½ × 1 s = 50 failures on average.
    // Case 2: both of x's replicas die at 100 s; outlier detection may eject
    // half of the replicas in service, one of two. With the reserve counted
    // (2 of 5) it ejected both, and panic routing then sent calls to
    // dormant replicas.
    let x = |extra: &str| {
        mesh(
            &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
                + &svc(
                    "x",
                    "\"a\"",
                    &format!("service_time = 1\nbalancer = \"round_robin\"\n{extra}"),
                )),
        )
    };
    let idle = "[[slos]]\nname = \"never\"\nkind = \"latency\"\nthreshold_ms = 60000\nobjective = 0.5\n\
        [[guardrails]]\nname = \"idle\"\nwhen = { slo = \"never\", burn_rate = 1.5, window_s = 10 }\ndetect_delay_s = 5\n\
        action = { kind = \"scale\", service = \"x\", replicas = 3, delay_s = 30 }\n";
    let kill =
        "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\nreplicas = 1\nstart_s = 100\nduration_s = 10\n";
    let kill_all = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\npercent = 100\nstart_s = 100\n";
    let cases = [
        (
            x("replicas = 2\nhealth_check = { interval_ms = 2000, unhealthy_after = 1 }"),
            kill,
        ),
        (
            x("replicas = 2\noutlier_detection = { consecutive_errors = 5, max_ejection_percent = 50 }"),
            kill_all,
        ),
    ];
    for (case, (topo, fault)) in cases.iter().enumerate() {
        let plain = replicate(&load(topo, &scn(100.0, fault)), 20);
        let guarded = replicate(&load(topo, &scn(100.0, &format!("{fault}{idle}"))), 20);
        for (p, g) in plain.iter().zip(&guarded) {
            assert_eq!(g.guardrails[0].fired_ns, None, "case {case}: the guardrail stays idle");
            // (Compared whole, histograms included; the message stays short.)
            let failed = |o: &chaoscal::sim::ReplicationOutput| o.recorder.flows[0].failed;
            assert!(
                p.recorder.flows == g.recorder.flows && p.recorder.groups == g.recorder.groups,
                "case {case}, replication {}: {} failed without the guardrail, {} with it",
                p.index,
                failed(p),
                failed(g)
            );
        }
        if case == 0 {
            let failed: Vec<f64> = plain.iter().map(|o| o.recorder.flows[0].failed as f64).collect();
            assert_close(
                "calls lost to the dead replica before detection",
                &failed,
                50.0,
                4.0,
                0.0,
            );
        }
    }
}
