#!/usr/bin/env bash
# The Indexed Job's contract, on one machine: N shard processes, each told its
# index through JOB_COMPLETION_INDEX exactly as Kubernetes does, then a merge.
#   deploy/local-shards.sh N OUT [run flags...]     e.g. deploy/local-shards.sh 4 /tmp/sharded --replications 40
# CHAOSCAL (the binary) and CHAOSCAL_PATHS (what to run, default scenarios/) may be set.
set -euo pipefail
n="${1:?number of shards}"; out="${2:?output folder}"; shift 2
bin="${CHAOSCAL:-target/release/chaoscal}"
paths="${CHAOSCAL_PATHS:-scenarios/}"
# SLURM_ARRAY_TASK_ID, when set (run inside a Slurm array task), wins over
# JOB_COMPLETION_INDEX: drop it so that every process here gets its own index.
unset SLURM_ARRAY_TASK_ID
pids=()
for ((k = 0; k < n; k++)); do
  JOB_COMPLETION_INDEX=$k "$bin" run $paths --shard "auto/$n" --out "$out/shards" --quiet --threads 1 "$@" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$bin" merge "$out/shards" --out "$out/merged" --quiet
echo "merged results in $out/merged"
