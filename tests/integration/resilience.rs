//! Resilience mechanisms on cases whose right answer can be derived by hand:
//! backoff and jitter, retry budgets, per-try timeouts, retryable errors,
//! circuit breakers, health checks and regional failover, outlier
//! detection, bulkheads, rate limits, queue deadlines, asynchronous queues,
//! retry storms and duplicate charges.

use super::common::*;

/// Regions a and b, 0 ms apart inside, 40 ms between; arrivals only where `rate` says.
fn mesh(entry: &str, services: &str) -> String {
    format!(
        "name = \"m\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
         [network]\nintra_region = 0\n[[network.links]]\nbetween = [\"a\", \"b\"]\nlatency = 40\n\
         [[flows]]\nname = \"job\"\nentry = \"{entry}\"\n{services}"
    )
}

fn svc(name: &str, extra: &str) -> String {
    format!("[[services]]\nname = \"{name}\"\nregions = [\"a\"]\nconcurrency = 100000\n{extra}\n")
}

fn run_a(rate: f64, duration_s: f64, extra: &str) -> String {
    format!(
        "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = {duration_s}\nreplications = 1\nseed = 9\n\
         [workload]\nrate_per_s = {{ a = {rate}, b = 0 }}\n{extra}"
    )
}

/// A gateway in region a calling `x` with the given call options.
fn gw_calls(call: &str, x: &str) -> String {
    mesh(
        "gw",
        &(svc(
            "gw",
            &format!("service_time = 0\n[[services.calls]]\nto = \"x\"\n{call}"),
        ) + &svc("x", x)),
    )
}

fn flow(o: &chaoscal::sim::ReplicationOutput) -> &chaoscal::observe::FlowStats {
    &o.recorder.flows[0]
}

#[test]
fn backoff_without_jitter_is_exact() {
    // Three tries against an always-failing 1 ms callee, backoff 10 ms doubling,
    // no jitter: 1 + 10 + 1 + 20 + 1 = 33 ms for every request.
    let topo = gw_calls(
        "retry = { attempts = 3, backoff_ms = 10, max_backoff_ms = 1000, jitter = \"none\" }",
        "service_time = 1\nerror_rate = 1",
    );
    let o = &replicate(&load(&topo, &run_a(20.0, 30.0, "")), 1)[0];
    let h = &flow(o).latency;
    assert_eq!((h.min(), h.max()), (33_000_000, 33_000_000));
    // Two retries per request (those of requests arriving in the last 33 ms
    // fall after the horizon and are not counted).
    let retries = o.recorder.sites[0].retries;
    assert!(
        retries <= 2 * flow(o).requests && retries + 4 >= 2 * flow(o).requests,
        "{retries}"
    );
}

#[test]
fn jitter_policies_have_their_mean() {
    // Mean waits for retries after 10 and 20 ms: full jitter halves them (15 ms),
    // equal jitter keeps three quarters (22.5 ms); plus 3 ms of service.
    for (jitter, want_ms) in [("full", 3.0 + 15.0), ("equal", 3.0 + 22.5)] {
        let topo = gw_calls(
            &format!("retry = {{ attempts = 3, backoff_ms = 10, max_backoff_ms = 1000, jitter = \"{jitter}\" }}"),
            "service_time = 1\nerror_rate = 1",
        );
        let outs = replicate(&load(&topo, &run_a(50.0, 100.0, "")), 20);
        let means: Vec<f64> = outs.iter().map(|o| flow(o).latency.mean() / 1e6).collect();
        assert_close(jitter, &means, want_ms, 4.0, 0.0);
    }
}

#[test]
fn retry_budget_caps_retries() {
    // Against a dead callee, 3 tries would add 2 retries per call; a 20% budget
    // holds retries to at most a fifth of first tries (and close to it).
    let topo = gw_calls(
        "retry = { attempts = 3, backoff_ms = 1, budget = 0.2 }",
        "service_time = 1\nerror_rate = 1",
    );
    let o = &replicate(&load(&topo, &run_a(200.0, 120.0, "")), 1)[0];
    let s = &o.recorder.sites[0];
    let ratio = s.retries as f64 / s.calls as f64;
    assert!(ratio <= 0.2 + 1e-9 && ratio > 0.18, "retries per call {ratio}");
    assert!(s.budget_denied > 0);
}

#[test]
fn per_try_timeouts_bound_each_try() {
    // A 100 ms callee behind a 30 ms per-try timeout: three tries time out at
    // 30, 60 and 90 ms (no backoff), the callee sees all three.
    let topo = gw_calls(
        "timeout_ms = 1000\nper_try_timeout_ms = 30\nretry = { attempts = 3, backoff_ms = 0, jitter = \"none\" }",
        "service_time = 100",
    );
    let o = &replicate(&load(&topo, &run_a(20.0, 30.0, "")), 1)[0];
    let f = flow(o);
    assert_eq!(f.failed, f.requests);
    assert_eq!((f.latency.min(), f.latency.max()), (90_000_000, 90_000_000));
    // Tries and timeouts after the end of the horizon are not counted: allow
    // those of the requests arriving in its last 90 ms (a handful at 20/s).
    let g = &o.recorder.groups[2];
    assert!(
        g.requests <= 3 * f.requests && g.requests + 9 >= 3 * f.requests,
        "{}",
        g.requests
    );
    assert!(
        g.timeouts <= 3 * f.requests && g.timeouts + 9 >= 3 * f.requests,
        "{}",
        g.timeouts
    );
}

#[test]
fn client_errors_are_not_retried() {
    // An injected 429 is a client error: no retries, every call fails once.
    let topo = gw_calls("retry = { attempts = 3, backoff_ms = 1 }", "service_time = 1");
    let fault = "[[faults]]\nkind = \"abort\"\ntarget = { service = \"x\" }\nerror = 429\n";
    let o = &replicate(&load(&topo, &run_a(50.0, 30.0, fault)), 1)[0];
    assert_eq!(o.recorder.sites[0].retries, 0);
    assert_eq!(flow(o).failed, flow(o).requests);
}

#[test]
fn breaker_on_a_dead_dependency_lets_through_min_calls_then_probes() {
    // A dead callee (refuses at once): the breaker lets through min_calls = 10
    // tries, then half_open_calls = 3 probes per open period.
    let topo = gw_calls(
        "circuit_breaker = { failure_rate = 0.5, window = 10, min_calls = 10, open_ms = 1000, half_open_calls = 3 }\nfallback = \"degrade\"",
        "service_time = 1",
    );
    let kill = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\n";
    let o = &replicate(&load(&topo, &run_a(100.0, 60.0, kill)), 1)[0];
    let opens = o.recorder.sites[0].breaker_opens;
    let reached = o.recorder.groups[2].requests;
    // Each reopening follows 3 failed probes; the last half-open period may be unfinished.
    let expected = 10 + 3 * (opens - 1);
    assert!(
        reached >= expected && reached <= expected + 3,
        "reached {reached}, opens {opens}"
    );
    // About one opening per second (open 1 s, then the probes' arrival gaps).
    assert!((55..=60).contains(&opens), "opens {opens}");
    assert_eq!(flow(o).failed, 0, "the fallback degrades instead");
    assert_eq!(o.recorder.sites[0].short_circuited + reached, o.recorder.sites[0].tries);
}

#[test]
fn breaker_closes_after_recovery() {
    // The callee is down from 10 s to 20 s: the breaker opens in that window and
    // closes after the first probes following the restart, never reopening.
    let topo = gw_calls(
        "circuit_breaker = { failure_rate = 0.5, window = 20, min_calls = 10, open_ms = 2000, half_open_calls = 5 }",
        "service_time = 1",
    );
    let kill = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\nstart_s = 10\nduration_s = 10\n";
    let o = &replicate(&load(&topo, &run_a(100.0, 60.0, kill)), 1)[0];
    let t = &o.recorder.transitions;
    use chaoscal::observe::BreakerPhase::*;
    assert_eq!(t.first().map(|x| x.to), Some(Open));
    assert!(t[0].time_ns >= 10_000_000_000 && t[0].time_ns < 10_200_000_000);
    let last = t.last().unwrap();
    assert_eq!(last.to, Closed);
    assert!(
        last.time_ns >= 20_000_000_000 && last.time_ns < 22_100_000_000,
        "closed at {}",
        last.time_ns
    );
    // Requests after the close all succeed: the failures are confined to the outage.
    assert!(t.iter().all(|x| x.time_ns <= last.time_ns));
}

#[test]
fn slow_calls_open_the_breaker() {
    // Every call takes 200 ms ≥ slow_call_ms = 100: the slow-call rate opens it.
    let topo = gw_calls(
        "circuit_breaker = { slow_call_rate = 0.5, slow_call_ms = 100, window = 10, min_calls = 5, open_ms = 1000, half_open_calls = 2 }\nfallback = \"degrade\"",
        "service_time = 200",
    );
    let o = &replicate(&load(&topo, &run_a(50.0, 30.0, "")), 1)[0];
    assert!(o.recorder.sites[0].breaker_opens > 5);
    assert!(o.recorder.sites[0].short_circuited > 0);
    assert_eq!(flow(o).failed, 0);
}

/// Service `x` in both regions (1 replica each), arrivals in both, health-checked every second.
fn regional(locality: &str) -> String {
    format!(
        "name = \"m\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
         [network]\nintra_region = 0\n[[network.links]]\nbetween = [\"a\", \"b\"]\nlatency = 40\n\
         [[flows]]\nname = \"job\"\nentry = \"x\"\n\
         [[services]]\nname = \"x\"\nregions = [\"a\", \"b\"]\nconcurrency = 100000\nservice_time = 1\n\
         locality = \"{locality}\"\nhealth_check = {{ interval_ms = 1000, unhealthy_after = 3 }}\n"
    )
}

#[test]
fn local_only_loses_the_dead_region_prefer_local_only_until_detection() {
    // Region a dies at 100 s of 200 s. local_only loses all of a's later
    // arrivals (100 s × 100/s); prefer_local only those before the third
    // failed check (uniform phase + 2 intervals: 2.5 s on average, 250 requests).
    let scn = "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = 200\nreplications = 1\nseed = 3\n\
        [workload]\nrate_per_s = { a = 100, b = 100 }\n\
        [[faults]]\nkind = \"kill\"\ntarget = { service = \"x\", region = \"a\" }\nstart_s = 100\n";
    let lost = |locality: &str| -> Vec<f64> {
        replicate(&load(&regional(locality), scn), 30)
            .iter()
            .map(|o| flow(o).failed as f64)
            .collect()
    };
    assert_close("local_only loss", &lost("local_only"), 100.0 * 100.0, 4.0, 0.0);
    assert_close("prefer_local loss", &lost("prefer_local"), 100.0 * 2.5, 4.0, 0.0);
}

#[test]
fn outlier_detection_ejects_the_failing_replica() {
    // One of two round-robin replicas is dead: each ejection follows exactly
    // 5 consecutive failures on it, so failed requests = 5 × ejections (+ at
    // most 4 still counting at the end).
    let topo = gw_calls(
        "",
        "service_time = 1\nreplicas = 2\nbalancer = \"round_robin\"\noutlier_detection = { consecutive_errors = 5, base_ejection_ms = 5000, max_ejection_percent = 50 }",
    );
    let kill = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"x\" }\nreplicas = 1\n";
    let o = &replicate(&load(&topo, &run_a(100.0, 120.0, kill)), 1)[0];
    let ejections = o.recorder.groups[2].ejections;
    let failed = flow(o).failed;
    assert!(ejections >= 4, "ejections {ejections}");
    assert!(
        failed >= 5 * ejections && failed <= 5 * ejections + 4,
        "failed {failed}, ejections {ejections}"
    );
}

/// Erlang B blocking probability B(c, a).
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

#[test]
fn bulkhead_is_an_erlang_loss_system() {
    // max_in_flight = 5 in front of a 100 ms callee offered 100 calls/s is an
    // M/D/5/5 loss system: it rejects B(5, 10) = 56.4% of calls (Erlang B is
    // insensitive to the holding-time distribution).
    let topo = gw_calls("max_in_flight = 5", "service_time = 100");
    let outs = replicate(&load(&topo, &run_a(100.0, 200.0, "")), 20);
    let rejected: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.sites[0].bulkhead_rejected as f64 / o.recorder.sites[0].calls as f64)
        .collect();
    assert_close("bulkhead rejection", &rejected, erlang_b(5, 10.0), 4.0, 0.0);
}

#[test]
fn token_bucket_with_burst_one_admits_a_third() {
    // Tokens at 50/s, burst 1, Poisson arrivals at 100/s: after each admission
    // the bucket needs 20 ms to refill, then waits 10 ms on average for the
    // next arrival, so 1/(1 + 100/50) = 1/3 of arrivals get through.
    let topo = mesh(
        "x",
        &svc("x", "service_time = 1\nrate_limit = { per_s = 50, burst = 1 }"),
    );
    let outs = replicate(&load(&topo, &run_a(100.0, 100.0, "")), 20);
    let admitted: Vec<f64> = outs
        .iter()
        .map(|o| 1.0 - flow(o).failed as f64 / flow(o).requests as f64)
        .collect();
    assert_close("admitted", &admitted, 1.0 / 3.0, 4.0, 0.0);
    assert!(outs.iter().all(|o| o.recorder.groups[0].rate_limited == flow(o).failed));
}

#[test]
fn queue_deadline_bounds_the_wait() {
    // Overloaded single server (λ = 2μ) with queue_timeout_ms = 50: nobody who
    // starts service waited more than 50 ms, and the rest expire.
    let topo = mesh(
        "x",
        &svc(
            "x",
            "service_time = { dist = \"exp\", mean_ms = 10 }\nqueue = 100000\nqueue_timeout_ms = 50",
        )
        .replace("concurrency = 100000", "concurrency = 1"),
    );
    let o = &replicate(&load(&topo, &run_a(200.0, 60.0, "")), 1)[0];
    let g = &o.recorder.groups[0];
    assert!(g.queue_wait.max() <= 50_000_000, "max wait {}", g.queue_wait.max());
    assert!(g.expired > 1000);
    assert_eq!(flow(o).failed, g.expired);
}

/// A publisher in front of queue `q` consumed by `worker`.
fn queued(worker: &str, queue: &str) -> String {
    mesh(
        "pub",
        &(svc("pub", "service_time = 0\n[[services.calls]]\nto = \"q\"")
            + &svc("worker", worker)
            + &format!("[[queues]]\nname = \"q\"\nregions = [\"a\"]\nconsumer = \"worker\"\n{queue}\n")),
    )
}

#[test]
fn queue_with_one_consumer_is_mm1() {
    // One consumer at a time, exponential 1 ms work, 700 messages/s: message age
    // is the M/M/1 sojourn 1/(μ−λ) = 3.33 ms; publishers never wait.
    let topo = queued(
        "service_time = { dist = \"exp\", mean_ms = 1 }",
        "consumers = 1\nmax_depth = 1000000",
    );
    let outs = replicate(&load(&topo, &run_a(700.0, 100.0, "")), 30);
    let age: Vec<f64> = outs.iter().map(|o| o.recorder.queues[0].age.mean() / 1e6).collect();
    assert_close("message age", &age, 1.0 / 0.3, 4.0, 0.0);
    assert!(outs.iter().all(|o| flow(o).failed == 0 && flow(o).latency.max() == 0));
    // Little's law on the backlog (messages waiting): λ·Wq = 0.7 × 0.7/0.3 ≈ 1.63.
    let depth: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.queues[0].depth_ns as f64 / 100e9)
        .collect();
    assert_close("mean backlog", &depth, 0.7 * 0.7 / 0.3, 4.0, 0.0);
}

#[test]
fn k_tries_dead_letter_p_to_the_k() {
    // Deliveries fail with p = 0.3; three tries in all dead-letter p³ = 2.7%.
    let topo = queued(
        "service_time = 1\nerror_rate = 0.3",
        "consumers = 50\nredeliver = { attempts = 3, backoff_ms = 100 }",
    );
    let outs = replicate(&load(&topo, &run_a(200.0, 100.0, "")), 20);
    let dead: Vec<f64> = outs
        .iter()
        .map(|o| o.recorder.queues[0].dead_lettered as f64 / o.recorder.queues[0].published as f64)
        .collect();
    assert_close("dead-lettered", &dead, 0.027, 4.0, 0.0);
}

#[test]
fn full_queue_refuses_publishes() {
    // With no consumer capacity to speak of, a queue of depth 100 refuses the rest.
    let topo = queued("service_time = 10000", "consumers = 1\nmax_depth = 100");
    let o = &replicate(&load(&topo, &run_a(100.0, 20.0, "")), 1)[0];
    let q = &o.recorder.queues[0];
    assert_eq!(q.depth_max, 100);
    assert!(q.rejected > 1500);
    assert_eq!(flow(o).failed, q.rejected);
}

#[test]
fn retry_storm_collapses_goodput_a_budget_holds_it() {
    // A dependency at 80% load behind a 50 ms per-try timeout is pushed over
    // by a 10 s slowdown. Without a budget, five tries per call turn the
    // timeouts into load and the overload outlives the fault (metastable
    // failure); a 5% budget lets it drain and recover.
    let run = |budget: &str| {
        let topo = gw_calls(
            &format!(
                "timeout_ms = 2000\nper_try_timeout_ms = 50\nretry = {{ attempts = 5, backoff_ms = 10, jitter = \"full\"{budget} }}"
            ),
            "service_time = { dist = \"exp\", mean_ms = 10 }\nqueue = 100000",
        )
        .replace("concurrency = 100000\nservice_time = { dist", "concurrency = 10\nservice_time = { dist");
        let fault = "[[faults]]\nkind = \"slowdown\"\ntarget = { service = \"x\" }\nstart_s = 20\nduration_s = 10\nfactor = 2\n";
        let o = &replicate(&load(&topo, &run_a(800.0, 120.0, fault)), 1)[0];
        flow(o).succeeded as f64 / flow(o).requests as f64
    };
    let (storm, held) = (run(""), run(", budget = 0.05"));
    eprintln!("goodput: no budget {storm:.3}, budget {held:.3}");
    assert!(storm < 0.2, "goodput without budget {storm}");
    // With the budget the outage is the fault plus draining its backlog: 10 s at
    // ρ = 1.6 queues 6000 requests, drained at 200/s in 30 s, so about 40 s of
    // 120 are lost (goodput ≈ 0.67); without it the mesh never recovers.
    assert!(held > 0.6, "goodput with budget {held}");
}

#[test]
fn timeouts_without_idempotency_charge_twice() {
    // A PSP taking U(50, 150) ms behind a 100 ms per-try timeout and 2 tries:
    // half the first tries time out yet charge, and the retry charges again,
    // so 0.5 duplicate charges per request; idempotency keys remove them all.
    let run = |idempotency: bool| {
        let topo = gw_calls(
            &format!(
                "timeout_ms = 1000\nper_try_timeout_ms = 100\nretry = {{ attempts = 2, backoff_ms = 0, jitter = \"none\" }}\nidempotency = {idempotency}"
            ),
            "service_time = { dist = \"uniform\", min_ms = 50, max_ms = 150 }",
        )
        .replace("[[flows]]\nname = \"job\"\nentry = \"gw\"", "[[flows]]\nname = \"job\"\nentry = \"gw\"\nvalue = 80");
        replicate(&load(&topo, &run_a(100.0, 200.0, "")), 20)
    };
    let plain = run(false);
    let per_request: Vec<f64> = plain
        .iter()
        .map(|o| o.recorder.sites[0].duplicate_charges as f64 / flow(o).requests as f64)
        .collect();
    assert_close("duplicate charges per request", &per_request, 0.5, 4.0, 0.0);
    let s = &plain[0].recorder.sites[0];
    assert_eq!(s.duplicate_charge_cents, 8000 * s.duplicate_charges);
    let keyed = run(true);
    assert!(keyed.iter().all(|o| o.recorder.sites[0].duplicate_charges == 0));
    let prevented: Vec<f64> = keyed
        .iter()
        .map(|o| o.recorder.sites[0].duplicates_prevented as f64 / flow(o).requests as f64)
        .collect();
    assert_close("duplicates prevented per request", &prevented, 0.5, 4.0, 0.0);
}

#[test]
fn retry_budget_is_not_charged_for_retries_the_deadline_forbids() {
    // Issue 16 (retry budget): an always-failing 1 ms callee, call timeout
    // 15 ms, one retry after a full-jitter wait U(0, 20 ms): the retry fits
    // before the deadline when the wait is under 14 ms, 70% of the time. A
    // budget of 0.2 is the binding limit (0.2 < 0.7), so retries per call are
    // 0.2; the budget refuses the fitting retries beyond it, 0.7 − 0.2 = 0.5
    // per call. (Charging the budget before the deadline check gave
    // 0.7 × 0.2 = 0.14 retries per call.)
    let topo = gw_calls(
        "timeout_ms = 15\nretry = { attempts = 2, backoff_ms = 20, jitter = \"full\", budget = 0.2 }",
        "service_time = 1\nerror_rate = 1",
    );
    let scn = run_a(500.0, 200.0, "").replace("duration_s = 200", "duration_s = 200\nwarmup_s = 20");
    let outs = replicate(&load(&topo, &scn), 4);
    let per_call = |f: &dyn Fn(&chaoscal::observe::SiteStats) -> u64| -> Vec<f64> {
        outs.iter()
            .map(|o| f(&o.recorder.sites[0]) as f64 / o.recorder.sites[0].calls as f64)
            .collect()
    };
    // About 90,000 calls a replication: binomial noise on the fits is ~0.002.
    assert_close("retries per call", &per_call(&|s| s.retries), 0.2, 4.0, 0.005);
    assert_close(
        "budget refusals per call",
        &per_call(&|s| s.budget_denied),
        0.5,
        4.0,
        0.01,
    );
}
