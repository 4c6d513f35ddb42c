#!/usr/bin/env bash
# Speed of chaoscal against SimPy and Ciw on the same M/M/1 and M/M/4
# stations (benches/peers/peers.py), measured side by side in one run.
#
#   benches/peers.sh [ARRIVALS]        (default 1000000)
#
# Prints each engine's events per second (an event = an external arrival
# or a service completion, as `chaoscal bench` counts them), the
# ratio, and chaoscal's peak memory for a run 10x longer. Installs SimPy
# and Ciw into a throwaway virtualenv under target/ the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
peers=benches/peers
venv=target/peers-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet simpy ciw
fi
cargo build --release --quiet
bin=target/release/chaoscal

for model in mm1 mmc; do
  echo "== $model, $n arrivals"
  simpy=$("$venv/bin/python" "$peers/peers.py" simpy "$model" "$n")
  simpy_rate=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['loop_events_per_s'])" "$simpy")
  echo "SimPy:    $(printf '%.0f' "$simpy_rate") events/s"
  if [ "$model" = mmc ]; then
    ciw_n=$((n / 5))
    ciw=$("$venv/bin/python" "$peers/peers.py" ciw "$model" "$ciw_n")
    ciw_rate=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['loop_events_per_s'])" "$ciw")
    echo "Ciw:      $(printf '%.0f' "$ciw_rate") events/s ($ciw_n arrivals)"
  fi
  out=$("$bin" bench --model "$model" --arrivals "$n" --replications 2)
  echo "$out"
  ours=$(echo "$out" | awk '/threads 1:/ { gsub(/[(]/, "", $8); print $8 * 1e6 }')
  python3 -c "import sys; print(f'chaoscal/SimPy, one core: {float(sys.argv[1]) / float(sys.argv[2]):.0f}x')" "$ours" "$simpy_rate"
done

echo "== peak memory of one replication, 1x and 10x as long (M/M/4)"
for k in 1 10; do
  /usr/bin/time -f "  $((n * k)) arrivals: peak RSS %M KiB" "$bin" bench --model mmc --arrivals $((n * k)) --replications 1 --threads 1 > /dev/null
done
