//! Call mechanics on cases with exact or derivable answers: stages, network
//! latency, timeouts that leave the callee working, thread-per-request
//! holding, balancers, retries, fallbacks and optional calls.

use super::common::*;

/// A topology from service blocks, with regions a and b 40 ms apart (constant).
fn mesh(entry: &str, services: &str) -> String {
    format!(
        "name = \"m\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
         [network]\nintra_region = 0\n[[network.links]]\nbetween = [\"a\", \"b\"]\nlatency = 40\n\
         [[flows]]\nname = \"job\"\nentry = \"{entry}\"\n{services}"
    )
}

fn in_a(rate: f64, duration_s: f64) -> String {
    format!(
        "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = {duration_s}\nreplications = 1\nseed = 5\n\
         [workload]\nrate_per_s = {{ a = {rate}, b = 0 }}\n"
    )
}

fn svc(name: &str, regions: &str, extra: &str) -> String {
    format!("[[services]]\nname = \"{name}\"\nregions = [{regions}]\nconcurrency = 100000\n{extra}\n")
}

#[test]
fn stages_run_in_order_and_calls_of_a_stage_in_parallel() {
    // Two 10 ms calls in one stage take 10 ms; in two stages, 20 ms (plus the caller's 1 ms).
    let callees = svc("x", "\"a\"", "service_time = 10") + &svc("y", "\"a\"", "service_time = 10");
    let parallel = svc(
        "gw",
        "\"a\"",
        "service_time = 1\n[[services.calls]]\nto = \"x\"\nstage = 1\n[[services.calls]]\nto = \"y\"\nstage = 1",
    );
    let serial = svc(
        "gw",
        "\"a\"",
        "service_time = 1\n[[services.calls]]\nto = \"x\"\n[[services.calls]]\nto = \"y\"",
    );
    for (gw, want) in [(parallel, 11_000_000), (serial, 21_000_000)] {
        let l = load(&mesh("gw", &(gw + &callees)), &in_a(50.0, 20.0));
        let h = &replicate(&l, 1)[0].recorder.flows[0].latency;
        assert_eq!((h.min(), h.max()), (want, want));
    }
}

#[test]
fn remote_calls_pay_the_link_both_ways() {
    // A callee only in region b costs 40 ms there and 40 ms back: 1 + 80 + 5 ms.
    let topo = mesh(
        "gw",
        &(svc("gw", "\"a\"", "service_time = 1\n[[services.calls]]\nto = \"remote\"")
            + &svc("remote", "\"b\"", "service_time = 5")),
    );
    let h = &replicate(&load(&topo, &in_a(50.0, 20.0)), 1)[0].recorder.flows[0].latency;
    assert_eq!((h.min(), h.max()), (86_000_000, 86_000_000));
}

#[test]
fn local_only_refuses_to_cross_regions() {
    // locality = "local_only" with no local replica: every call fails at once.
    let topo = mesh(
        "gw",
        &(svc("gw", "\"a\"", "service_time = 1\n[[services.calls]]\nto = \"remote\"")
            + &svc("remote", "\"b\"", "service_time = 5\nlocality = \"local_only\"")),
    );
    let o = &replicate(&load(&topo, &in_a(50.0, 20.0)), 1)[0];
    assert_eq!(o.recorder.flows[0].failed, o.recorder.flows[0].requests);
    assert_eq!(o.recorder.groups[3].requests, 0, "remote@b never reached");
}

#[test]
fn timed_out_work_still_loads_the_callee() {
    // The caller gives up after 1 ms on a 10 ms callee, yet the callee stays
    // busy λ·S = 50/s × 10 ms = 0.5 server (wasted work, as in real meshes).
    let topo = mesh(
        "gw",
        &(svc(
            "gw",
            "\"a\"",
            "service_time = 0\n[[services.calls]]\nto = \"slow\"\ntimeout_ms = 1",
        ) + &svc("slow", "\"a\"", "service_time = 10")
            .replace("concurrency = 100000", "concurrency = 1\nqueue = 100000")),
    );
    let outs = replicate(&load(&topo, &in_a(50.0, 400.0)), 10);
    assert!(
        outs.iter()
            .all(|o| o.recorder.flows[0].failed == o.recorder.flows[0].requests)
    );
    let util: Vec<f64> = outs.iter().map(|o| o.recorder.groups[2].utilization()).collect();
    assert_close("callee utilization", &util, 0.5, 4.0, 0.0);
}

#[test]
fn callers_hold_their_server_while_waiting() {
    // Thread-per-request: a caller with 0 own work waiting 20 ms on its callee
    // is busy λ·20 ms = 2 servers (Little's law on the caller).
    let topo = mesh(
        "gw",
        &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"db\"")
            + &svc("db", "\"a\"", "service_time = 20"))
            .replace("concurrency = 100000", "concurrency = 50"),
    );
    let outs = replicate(&load(&topo, &in_a(100.0, 400.0)), 10);
    // Utilization of gw@a is busy servers / 50.
    let busy: Vec<f64> = outs.iter().map(|o| o.recorder.groups[0].utilization() * 50.0).collect();
    assert_close("caller busy servers", &busy, 100.0 * 0.020, 4.0, 0.0);
}

#[test]
fn round_robin_spreads_evenly() {
    // Round robin over 4 replicas sends each exactly a quarter of the calls (±1).
    let topo = mesh(
        "gw",
        &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
            + &svc(
                "x",
                "\"a\"",
                "service_time = 1\nreplicas = 4\nbalancer = \"round_robin\"",
            )),
    );
    let l = load(&topo, &in_a(100.0, 50.0));
    // Each replica's share is visible through killing one: a quarter of calls fail.
    let f = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\nreplicas = 1\n";
    let scn = in_a(100.0, 50.0) + f;
    let k = load(&topo, &scn);
    let o = &replicate(&k, 1)[0];
    let (req, failed) = (o.recorder.flows[0].requests, o.recorder.flows[0].failed);
    assert!(failed.abs_diff(req / 4) <= 1, "{failed} of {req}");
    assert_eq!(replicate(&l, 1)[0].recorder.flows[0].failed, 0);
}

#[test]
fn least_outstanding_beats_random_on_queueing() {
    // Power-of-two-choices waits less than random assignment over the same replicas.
    let make = |b: &str| {
        let topo = mesh(
            "gw",
            &(svc("gw", "\"a\"", "service_time = 0\n[[services.calls]]\nto = \"x\"")
                + &svc(
                    "x",
                    "\"a\"",
                    &format!("service_time = {{ dist = \"exp\", mean_ms = 1 }}\nreplicas = 8\nbalancer = \"{b}\""),
                )
                .replace("concurrency = 100000", "concurrency = 1\nqueue = 100000")),
        );
        let outs = replicate(&load(&topo, &in_a(7000.0, 20.0)), 5);
        outs.iter().map(|o| o.recorder.groups[2].queue_wait.mean()).sum::<f64>() / 5.0
    };
    let (p2c, random) = (make("least_outstanding"), make("random"));
    // Random splitting makes 8 M/M/1 at ρ = 0.875: Wq = ρ/(μ−λ) = 7 ms; p2c is far lower.
    assert!(p2c < random / 3.0, "p2c {p2c} vs random {random}");
}

#[test]
fn retries_fail_p_to_the_n_and_multiply_load() {
    // Error rate p = 0.3 and 3 tries: P(fail) = p³ = 2.7%, and the callee sees
    // (1 − p³)/(1 − p) = 1.39 calls per request.
    let topo = mesh(
        "gw",
        &(svc(
            "gw",
            "\"a\"",
            "service_time = 0\n[[services.calls]]\nto = \"x\"\nretry = { attempts = 3, backoff_ms = 1 }",
        ) + &svc("x", "\"a\"", "service_time = 1\nerror_rate = 0.3")),
    );
    let outs = replicate(&load(&topo, &in_a(200.0, 200.0)), 20);
    let fail: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.flows[0].failed as f64 / o.recorder.flows[0].requests as f64)
        .collect();
    assert_close("retry failure", &fail, 0.027, 4.0, 0.0);
    let load_factor: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.groups[2].requests as f64 / o.recorder.flows[0].requests as f64)
        .collect();
    assert_close("retry load factor", &load_factor, (1.0 - 0.027) / 0.7, 4.0, 0.0);
}

#[test]
fn fallback_and_optional_calls_degrade_instead_of_failing() {
    // A call failing 30% of the time with fallback "degrade" (or required = false)
    // never fails the request and marks 30% of requests degraded.
    for how in ["fallback = \"degrade\"", "required = false"] {
        let topo = mesh(
            "gw",
            &(svc(
                "gw",
                "\"a\"",
                &format!("service_time = 0\n[[services.calls]]\nto = \"x\"\n{how}"),
            ) + &svc("x", "\"a\"", "service_time = 1\nerror_rate = 0.3")),
        );
        let outs = replicate(&load(&topo, &in_a(200.0, 200.0)), 20);
        assert!(outs.iter().all(|o| o.recorder.flows[0].failed == 0), "{how}");
        let degraded: Vec<f64> = outs
            .iter()
            .map(|o| o.recorder.flows[0].degraded as f64 / o.recorder.flows[0].requests as f64)
            .collect();
        assert_close(how, &degraded, 0.3, 4.0, 0.0);
    }
}

#[test]
fn fallback_service_takes_over() {
    // Primary always fails, the fallback service answers: no failures, all degraded,
    // and the fallback sees every request.
    let topo = mesh(
        "gw",
        &(svc(
            "gw",
            "\"a\"",
            "service_time = 0\n[[services.calls]]\nto = \"x\"\nfallback = \"y\"",
        ) + &svc("x", "\"a\"", "service_time = 1\nerror_rate = 1")
            + &svc("y", "\"a\"", "service_time = 1")),
    );
    let o = &replicate(&load(&topo, &in_a(200.0, 50.0)), 1)[0];
    let f = &o.recorder.flows[0];
    assert_eq!((f.failed, f.degraded), (0, f.requests));
    assert_eq!(o.recorder.groups[4].requests, f.requests);
}
