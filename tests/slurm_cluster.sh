#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on this host, for tests/test_slurm.py and for trying the
# job scripts in jobscripts/ by hand (Debian 12: apt-get install slurmctld slurmd slurm-client munge).
#
#   bash tests/slurm_cluster.sh start DIR   # writes DIR/slurm.conf, starts slurmctld and slurmd,
#                                           # waits until the node is idle, prints SLURM_CONF=...
#   export SLURM_CONF=DIR/slurm.conf        # for sbatch, srun, squeue, ... (and lfpk_hpc submit)
#   bash tests/slurm_cluster.sh stop DIR    # cancels the jobs, shuts the daemons down
#
# Config, state, logs and pid files all live in DIR. Authentication is auth/none (no munged).
# Slurm's ports 6817/6818 are fixed, so there is one such cluster per host at a time.
# Exit codes of start: 0 running; 3 Slurm is not installed; 4 this machine cannot host it (not
# root, ports busy, no cgroup filesystem for slurmd, a daemon stopping for want of cgroups);
# 1 a daemon did not start or the node did not come up. The reason is printed in every case,
# and whatever was started is stopped again.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf

cannot() { echo "cannot start Slurm here: $*"; exit 3; }
unable() { echo "cannot start Slurm on this machine: $*"; exit 4; }

# a pid is alive unless it is gone or a zombie (state Z in /proc/PID/stat)
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local prog
  for prog in slurmctld slurmd sinfo sbatch srun squeue scontrol scancel; do
    command -v "$prog" >/dev/null 2>&1 ||
      cannot "$prog is not installed (Debian: apt-get install slurmctld slurmd slurm-client munge)"
  done
  [[ $(id -u) -eq 0 ]] || unable "slurmd must run as root (this is uid $(id -u))"
  # slurmd stops with "No filesystem mounted on /sys/fs/cgroup" without one (some containers)
  grep -qE '^[^ ]+ /sys/fs/cgroup(/[^ ]*)? cgroup2? ' /proc/mounts ||
    unable "no cgroup filesystem is mounted on /sys/fs/cgroup, which slurmd needs"
  local port
  for port in 6817 6818; do
    ! port_busy "$port" || unable "port $port is in use (another Slurm cluster is running on this host)"
  done
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  mkdir -p "$dir/state/ctld" "$dir/state/d" "$dir/run" "$dir/log"
  cat >"$conf" <<EOF
ClusterName=lfpktest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
EnforcePartLimits=ALL
MailProg=/bin/true
MinJobAge=300
KillWait=5
StateSaveLocation=$dir/state/ctld
SlurmdSpoolDir=$dir/state/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  local daemon
  for daemon in slurmctld slurmd; do
    local args=(-f "$conf")
    [[ $daemon == slurmctld ]] && args=(-c "${args[@]}") || args=(-N "$host" "${args[@]}")
    if ! "$daemon" "${args[@]}" </dev/null >"$dir/log/$daemon.out" 2>&1; then
      # say why (the daemon's own words), stop what was started, and tell a machine that
      # cannot host Slurm (exit 4: the tests skip) from a broken start (exit 1)
      local why
      why=$(tail -n 5 "$dir/log/$daemon.log" "$dir/log/$daemon.out" 2>/dev/null | grep -v '^==>' |
        grep -v '^$' | tail -n 3 | tr '\n' ' ')
      stop
      if grep -qsE 'No filesystem mounted on /sys/fs/cgroup|cgroup' "$dir/log/$daemon.log" "$dir/log/$daemon.out"; then
        unable "$daemon did not start: ${why:-no message}"
      fi
      echo "cannot start Slurm: $daemon did not start: ${why:-no message} (logs in $dir/log)"
      exit 1
    fi
  done
  local i state=""
  for ((i = 0; i < 300; i++)); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.1
  done
  if [[ $state != idle ]]; then
    echo "Slurm did not come up within 30 s (node state: '${state:-no answer}')"
    tail -n 20 "$dir"/log/*.log "$dir"/log/*.out 2>/dev/null || true
    stop
    exit 1
  fi
  echo "SLURM_CONF=$conf"
}

stop() {
  [[ -f $conf ]] || return 0
  local i pid pids=()
  if timeout 5 squeue -h -o %i >/dev/null 2>&1; then
    scancel --quiet --full "$(id -un)" 2>/dev/null || scancel --quiet -u "$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.1
    done
    timeout 10 scontrol shutdown >/dev/null 2>&1 || true
  fi
  for f in "$dir/run/slurmctld.pid" "$dir/run/slurmd.pid"; do
    [[ -f $f ]] && pids+=("$(cat "$f")")
  done
  for ((i = 0; i < 100; i++)); do
    local left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  return 0
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
