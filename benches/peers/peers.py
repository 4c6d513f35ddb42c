"""The M/M/1 and M/M/4 stations of `chaoscal bench --model mm1|mmc` in SimPy
and in Ciw, to quote chaoscal's speed as a ratio measured in one run.

    python peers.py simpy|ciw mm1|mmc ARRIVALS

Prints one JSON line: the engine, the model, the arrivals, the events (an
external arrival or a service completion, as chaoscal's bench counts
them), the seconds the event loop took and its events per second. Both
stations: exponential service with mean 1 ms per server; M/M/1 at 0.9
arrivals per ms (utilisation 0.9), M/M/4 at 3.2 per ms (0.8).
"""

import json
import random
import sys
import time

MODELS = {"mm1": (0.9, 1), "mmc": (3.2, 4)}


def run_simpy(lam, servers, n, seed):
    import simpy

    env = simpy.Environment()
    station = simpy.Resource(env, capacity=servers)
    rng = random.Random(seed)
    done = [0]

    def customer():
        with station.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0))
        done[0] += 1

    def source():
        for _ in range(n):
            yield env.timeout(rng.expovariate(lam))
            env.process(customer())

    env.process(source())
    start = time.perf_counter()
    env.run()
    return n + done[0], time.perf_counter() - start


def run_ciw(lam, servers, n, seed):
    import ciw

    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[servers],
    )
    sim = ciw.Simulation(network)
    start = time.perf_counter()
    sim.simulate_until_max_customers(n, method="Finish")
    elapsed = time.perf_counter() - start
    completed = len(sim.get_all_records())
    return n + completed, elapsed


def main():
    engine, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lam, servers = MODELS[model]
    run = {"simpy": run_simpy, "ciw": run_ciw}[engine]
    events, seconds = run(lam, servers, n, 1)
    print(json.dumps({
        "engine": engine,
        "model": model,
        "arrivals": n,
        "events": events,
        "seconds": seconds,
        "loop_events_per_s": events / seconds,
    }))


if __name__ == "__main__":
    main()
