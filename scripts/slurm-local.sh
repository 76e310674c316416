#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm test (test/cli/slurm.test.ts) and for trying
# `simreg sweep --slurm` and sharded `simreg cache-teacher` before a real cluster:
#   bash scripts/slurm-local.sh start [STATE_DIR]   installs slurm-wlm and munge (setup-system.sh --slurm), writes
#                                                   STATE_DIR/slurm.conf for this host, starts munged, slurmctld
#                                                   and slurmd, waits until the node takes jobs; prints
#                                                   SLURM_CONF=... for the client commands (sbatch, squeue)
#   bash scripts/slurm-local.sh stop [STATE_DIR]    stops the three daemons it started
# STATE_DIR defaults to /tmp/simreg-slurm. Needs root (slurmd runs jobs as their submitter).
# The ports (SIMREG_SLURM_PORT, default 16817, and the next one) stay clear of a real Slurm's 6817/6818.
set -euo pipefail
cmd=${1:-}
state=${2:-/tmp/simreg-slurm}
here=$(cd "$(dirname "$0")" && pwd)
port=${SIMREG_SLURM_PORT:-16817}

stop() {
  local f pid
  for f in slurmd slurmctld munged; do
    if [ -f "$state/$f.pid" ]; then
      pid=$(cat "$state/$f.pid" 2>/dev/null || true)
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$state/$f.pid"
    fi
  done
}

case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: bash scripts/slurm-local.sh start|stop [STATE_DIR]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "slurm-local: needs root (slurmd starts every job as its submitter); run as root, or use a real cluster" >&2
  exit 1
fi
bash "$here/setup-system.sh" --slurm
for b in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$b" >/dev/null 2>&1 || { echo "slurm-local: $b is missing after setup (apt-get install slurm-wlm munge)" >&2; exit 1; }
done

stop
mkdir -p "$state/ctld" "$state/spool" "$state/munge"
chmod 700 "$state/munge"
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

# MUNGE: a key of this cluster's own, and its socket under STATE_DIR (the packaged service is not used).
key="$state/munge/munge.key"
[ -s "$key" ] || { dd if=/dev/urandom of="$key" bs=1024 count=1 2>/dev/null; chmod 400 "$key"; }
sock="$state/munge/munge.socket"
munged --force --key-file="$key" --socket="$sock" --pid-file="$state/munged.pid" \
  --log-file="$state/munged.log" --seed-file="$state/munge/seed" 2>>"$state/munged.log"

cat > "$state/slurm.conf" <<CONF
# One-node Slurm for simreg's tests (written by scripts/slurm-local.sh).
ClusterName=simreg-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$state/slurm.conf"

slurmctld -f "$SLURM_CONF" -i 2>>"$state/slurmctld.log"
slurmd -f "$SLURM_CONF" 2>>"$state/slurmd.log"

# Wait for the node to take jobs.
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
    echo "SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.3
done
echo "slurm-local: the node did not come up; the daemons' logs:" >&2
tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" "$state/munged.log" >&2 || true
sinfo >&2 || true
stop
exit 1
