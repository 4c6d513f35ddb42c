#!/usr/bin/env bash
# Submits chaoscal's shards as a Slurm job array of N tasks, and the merge as
# a job that starts once every task has succeeded (afterok).
#   deploy/slurm/submit.sh N OUT [run flags...]
#   e.g. deploy/slurm/submit.sh 16 results/slurm/nightly --replications 20000
# Run it from the folder holding scenarios/ and topologies/ (the jobs start
# there); OUT must be on storage every node sees. Results land in OUT/merged,
# shard files in OUT/shards, logs in slurm-chaoscal-*.out. CHAOSCAL (the
# binary), CHAOSCAL_PATHS (default scenarios/) and CHAOSCAL_BASELINE (run
# `check` after the merge) are passed on to the jobs; so are sbatch's own
# SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ... for your cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
n="${1:?usage: submit.sh N OUT [run flags...]}"
out="${2:?usage: submit.sh N OUT [run flags...]}"
shift 2
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: N must be a whole number ≥ 1, not '$n'" >&2
  exit 2
fi
# --parsable prints "jobid" or "jobid;cluster".
shards="$(sbatch --parsable --array="0-$((n - 1))" "$here/shards.sbatch" "$n" "$out" "$@")"
shards="${shards%%;*}"
merge="$(sbatch --parsable --dependency="afterok:$shards" "$here/merge.sbatch" "$out")"
merge="${merge%%;*}"
echo "submitted the shards as job $shards (array 0-$((n - 1))) and the merge as job $merge (after every shard succeeded)"
echo "results: $out/merged   progress: squeue -j $shards,$merge"
