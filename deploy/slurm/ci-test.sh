#!/usr/bin/env bash
# CI: the shard contract on a real workload manager. Starts a one-node Slurm
# (Debian's slurmctld, slurmd and munge, installed when missing, started by
# hand without systemd, everything under a fresh temporary folder with its own
# ports, munge key and socket), submits the shards as a job array and the merge
# as an afterok job with deploy/slurm/submit.sh, and checks that the merged
# summary.json and CSVs are byte-identical to one run on this machine. Then
# checks that a failing shard task fails its job and cancels the merge instead
# of leaving it pending. Needs root (daemons, apt); stops what it started.
#   deploy/slurm/ci-test.sh        (CHAOSCAL: the binary, default target/release/chaoscal)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
bin="$(realpath "${CHAOSCAL:-target/release/chaoscal}")"
experiment=legacy-duplicate-charges # the quickest of the catalog: a small mesh, one fault
scenario="$repo/scenarios/$experiment.toml"
replications=7 # not a multiple of the shard count: the shards get 3, 2 and 2
shards=3
deadline_s=120 # for each wait on Slurm; the whole test takes well under it
started=$SECONDS

fail() {
  echo "slurm ci-test: $*" >&2
  exit 1
}
[[ -x "$bin" ]] || fail "no chaoscal binary at $bin (cargo build --release first)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
  ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "installing Slurm and munge from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

tmp="$(mktemp -d)"
chmod 755 "$tmp" # munged runs as the munge user and must reach its folder
stop() {
  # Cancel what is still queued or running (after a failure), then stop the
  # daemons this script started, by their PID files, and wait for them.
  local pidfile pid i
  if [[ -s "$tmp/slurmctld.pid" ]]; then
    scancel --full --user="$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [[ -z "$(squeue -h 2>/dev/null)" ]] && break
      sleep 0.2
    done
  fi
  for pidfile in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid"; do
    pid="$(cat "$pidfile" 2>/dev/null)" || continue
    kill "$pid" 2>/dev/null || continue
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  rm -rf "$tmp"
}
trap stop EXIT
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/work"

# munge: a key and a socket of our own, so a munged already on the machine is left alone.
head -c 1024 /dev/urandom >"$tmp/munge/munge.key"
chown -R munge:munge "$tmp/munge"
chmod 400 "$tmp/munge/munge.key"
runuser -u munge -- munged --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed" ||
  fail "munged did not start: $(cat "$tmp/munge/munged.log" 2>/dev/null)"

# Slurm: one node (this machine, as slurmd -C describes it), one partition,
# root as SlurmUser, no cgroups (proctrack/linuxproc, task/none), no
# accounting. Finished jobs stay visible to scontrol for MinJobAge seconds,
# longer than this test waits for them.
host="$(hostname -s)"
cat >"$tmp/slurm.conf" <<EOF
ClusterName=chaoscal-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=600
ReturnToService=2
$(slurmd -C | head -n 1) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 20 "$tmp/log/slurmctld.log")"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -n 20 "$tmp/log/slurmd.log")"

# Polls until "$@" prints something matching $want, for at most deadline_s.
wait_for() {
  local want="$1" what="$2" got="" end=$((SECONDS + deadline_s))
  shift 2
  while ((SECONDS < end)); do
    got="$("$@" 2>/dev/null || true)"
    [[ "$got" =~ $want ]] && return 0
    sleep 0.5
  done
  fail "timed out after ${deadline_s}s waiting for $what (last: '${got:-nothing}'); logs: $(tail -n 20 "$tmp"/log/*.log)"
}
wait_for '^idle' "node $host to be idle" sinfo -h -N -n "$host" -o %T
echo "slurm up in $((SECONDS - started))s"

# A job's state while scontrol still knows it (all we need: MinJobAge is 600 s).
state() { scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | tr '\n' ' '; }
terminal='COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED'

# The reference: the same scenario, seed and replication count on one machine.
"$bin" run "$scenario" --replications "$replications" --out "$tmp/single" --quiet --threads 2

# The array and its merge, submitted as a user would, from the catalog's folder.
cd "$tmp/work"
export CHAOSCAL="$bin" CHAOSCAL_PATHS="$scenario" SBATCH_OUTPUT="$tmp/work/slurm-%x-%j.out"
unset JOB_COMPLETION_INDEX # the tasks' shard index must come from SLURM_ARRAY_TASK_ID
submitted="$("$repo/deploy/slurm/submit.sh" "$shards" "$tmp/work/out" --replications "$replications")"
echo "$submitted"
read -r array merge < <(sed -n 's/.*shards as job \([0-9]*\).*merge as job \([0-9]*\).*/\1 \2/p' <<<"$submitted") || true
[[ -n "$merge" ]] || fail "could not read the job ids from submit.sh's output"
wait_for "^($terminal) $" "merge job $merge to finish" state "$merge"
[[ "$(state "$array")" == "COMPLETED " ]] || fail "shard array $array: $(state "$array"); $(cat slurm-*.out)"
[[ "$(state "$merge")" == "COMPLETED " ]] || fail "merge job $merge: $(state "$merge"); $(cat slurm-*.out)"
for k in $(seq 0 $((shards - 1))); do
  [[ -f "out/shards/$experiment/shard-$k-of-$shards.json" ]] || fail "no shard file from task $k"
done

# Byte-identical summary.json and CSVs (run.json holds wall-clock figures and differs).
single="$tmp/single/$experiment" merged="$tmp/work/out/merged/$experiment"
(cd "$single" && ls summary.json ./*.csv) >"$tmp/single.list"
(cd "$merged" && ls summary.json ./*.csv) >"$tmp/merged.list"
cmp -s "$tmp/single.list" "$tmp/merged.list" ||
  fail "different result files: $(diff "$tmp/single.list" "$tmp/merged.list")"
while read -r file; do
  cmp "$single/$file" "$merged/$file" || fail "$file differs between the Slurm merge and the single run"
done <"$tmp/single.list"
echo "slurm: $shards array tasks + afterok merge of $replications replications:" \
  "summary.json and $(($(wc -l <"$tmp/single.list") - 1)) CSVs byte-identical to one run"

# A shard that fails (here chaoscal exits 2: no such scenario) must fail its
# task and cancel the merge (merge.sbatch asks for --kill-on-invalid-dep), not
# leave it pending for ever.
broken="$(CHAOSCAL_PATHS="$tmp/no-such-scenario.toml" sbatch --parsable --array=0-1 \
  "$repo/deploy/slurm/shards.sbatch" 2 "$tmp/work/broken")"
orphan="$(sbatch --parsable --dependency="afterok:${broken%%;*}" "$repo/deploy/slurm/merge.sbatch" "$tmp/work/broken")"
wait_for "^($terminal) $" "merge job ${orphan%%;*} to end after a failed shard" state "${orphan%%;*}"
[[ "$(state "${orphan%%;*}")" == "CANCELLED " ]] ||
  fail "the merge after a failed shard ended $(state "${orphan%%;*}"), not CANCELLED"
[[ "$(state "${broken%%;*}")" == *FAILED* ]] || fail "the broken array did not fail: $(state "${broken%%;*}")"
echo "slurm: a failed shard task cancelled its merge"
echo "slurm ci-test passed in $((SECONDS - started))s"
