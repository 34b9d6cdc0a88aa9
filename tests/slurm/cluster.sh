#!/usr/bin/env bash
# A throw-away, single-node SLURM cluster on loopback, for the integration test of profiles/slurm.
#
#   tests/slurm/cluster.sh up     <statedir>   start munged, slurmctld, slurmd; wait until the node is idle
#   tests/slurm/cluster.sh down   <statedir>   cancel jobs, stop the daemons by PID, restore /etc/slurm
#   tests/slurm/cluster.sh status <statedir>   show daemons, node and queue
#
# Needs root on Linux.  Installs slurm-wlm (SLURM 22.05 on Debian bookworm) with apt-get if it is missing.
# The cluster has one node "localhost" with all CPUs, ~80 % of the available memory and one fake GPU
# (GRES gpu:1 backed by /dev/null; more with SLURM_TEST_GPUS), so that `sbatch --gpus=1` is scheduled
# and the job gets CUDA_VISIBLE_DEVICES=0.  No cgroups, no accounting (no slurmdbd: use `squeue` for job status).
#
# Everything the daemons write (state, spool, pid files, logs, munge socket/key) lives in <statedir>.
# The one exception: slurm.conf and gres.conf must be at /etc/slurm/ (the slurm-jobstep executor strips
# SLURM_CONF before its inner srun).  Existing files there are moved to <statedir>/backup and restored by
# `down`.  Daemons are stopped by the PIDs in their pid files (checked against /proc/<pid>/exe), never
# by process name.  munged is a private instance with its own socket (AuthInfo=socket=...), so a munged
# that already runs on the machine is neither used nor touched.
#
# Environment knobs (all optional):
#   SLURM_TEST_UP_TIMEOUT   seconds to wait for an idle node (default 60)
#   SLURM_TEST_PARTITION    partition name (default debug)
#   SLURM_TEST_MIN_JOB_AGE  MinJobAge in seconds (default 300; keep >= 3 x slurm-init-seconds-before-status-checks)
#   SLURM_TEST_GPUS         number of fake GPUs on the node, 1..5 (default 1; backed by /dev/null, /dev/zero, ...)
#   SLURM_TEST_CPUS         CPUs the node announces (default: nproc). More than nproc oversubscribes the
#                           machine (SlurmdParameters=config_overrides), to run more small jobs at once.
set -euo pipefail

ETC=/etc/slurm
MARK="# written by icdenoise tests/slurm/cluster.sh"
PARTITION="${SLURM_TEST_PARTITION:-debug}"
UP_TIMEOUT="${SLURM_TEST_UP_TIMEOUT:-60}"
MIN_JOB_AGE="${SLURM_TEST_MIN_JOB_AGE:-300}"
NGPUS="${SLURM_TEST_GPUS:-1}"
FAKE_GPU_DEVS=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom)

die() { echo "cluster.sh: ERROR: $*" >&2; exit 1; }
log() { echo "cluster.sh: $*" >&2; }

usage() {
    echo "usage: $0 {up|down|status} <statedir>" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
cmd="$1"
S="$2"
mkdir -p "$S"
S="$(cd "$S" && pwd)"
MSOCK="$S/munge/munge.socket.2"

# ---------------------------------------------------------------------------------------------- helpers
# pid of a daemon from its pid file, only if that process is alive and runs the expected binary.
alive_pid() { # <pidfile> <binary>
    local pidfile="$1" bin="$2" pid exe
    [[ -s "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" ]] || return 1
    [[ -d "/proc/$pid" ]] || return 1
    # /usr/sbin/slurmd etc. are symlinks (Debian alternatives) to slurmd-wlm: compare resolved paths
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    exe="${exe% (deleted)}"
    [[ -n "$exe" && "$exe" == "$(readlink -f "$bin")" ]] || return 1
    echo "$pid"
}

stop_pid() { # <pidfile> <binary> <name>
    local pidfile="$1" bin="$2" name="$3" pid i
    [[ -s "$pidfile" ]] || return 0
    if ! pid="$(alive_pid "$pidfile" "$bin")"; then
        pid="$(tr -dc '0-9' <"$pidfile")"
        if [[ -n "$pid" && -d "/proc/$pid" ]]; then
            log "WARNING: pid $pid in $pidfile is alive but is not $bin; not touching it"
        else
            rm -f "$pidfile"
        fi
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        [[ -d "/proc/$pid" ]] || break
        # a zombie whose parent is gone is as good as stopped
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" == Z ]] && break
        sleep 0.2
    done
    if [[ -d "/proc/$pid" && "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" != Z ]]; then
        log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
}

install_slurm() {
    local missing=0 b
    for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch /usr/bin/squeue; do
        [[ -x "$b" ]] || missing=1
    done
    [[ $missing -eq 0 ]] && return 0
    command -v apt-get >/dev/null || die "slurm-wlm is not installed and apt-get is not available"
    log "installing slurm-wlm with apt-get (non-interactive)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq >&2 || die "apt-get update failed"
    timeout 600 apt-get install -y -qq --no-install-recommends slurm-wlm >&2 \
        || die "apt-get install slurm-wlm failed"
    for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch /usr/bin/squeue; do
        [[ -x "$b" ]] || die "$b still missing after installing slurm-wlm"
    done
}

# Move an existing /etc/slurm/<f> aside (once), then write ours.
install_etc_file() { # <name> <content-file>
    local f="$1" src="$2"
    mkdir -p "$ETC" "$S/backup"
    if [[ -e "$ETC/$f" || -L "$ETC/$f" ]] && ! grep -qF "$MARK" "$ETC/$f" 2>/dev/null; then
        if [[ ! -e "$S/backup/$f" && ! -L "$S/backup/$f" ]]; then
            log "backing up existing $ETC/$f to $S/backup/$f"
            mv "$ETC/$f" "$S/backup/$f"
        else
            die "$ETC/$f is not ours and $S/backup/$f already exists; refusing to overwrite"
        fi
    fi
    cp "$src" "$ETC/$f"
    chmod 644 "$ETC/$f"
}

restore_etc_file() { # <name>
    local f="$1"
    if grep -qF "$MARK $S" "$ETC/$f" 2>/dev/null; then
        rm -f "$ETC/$f"
    elif [[ -e "$ETC/$f" ]] && grep -qF "$MARK" "$ETC/$f" 2>/dev/null; then
        log "WARNING: $ETC/$f was written for another statedir; leaving it"
    fi
    if [[ -e "$S/backup/$f" || -L "$S/backup/$f" ]]; then
        if [[ -e "$ETC/$f" ]]; then
            log "WARNING: $ETC/$f exists; keeping the backup at $S/backup/$f"
        else
            log "restoring $ETC/$f from backup"
            mv "$S/backup/$f" "$ETC/$f"
        fi
    fi
}

node_state() { timeout 5 sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -1 || true; }

dump_logs() {
    local f
    for f in "$S/log/slurmctld.log" "$S/log/slurmd.log" "$S/munge/munged.log"; do
        [[ -f "$f" ]] && { echo "----- tail $f" >&2; tail -n 30 "$f" >&2; }
    done
    return 0
}

# -------------------------------------------------------------------------------------------------- up
do_up() {
    [[ "$(uname -s)" == Linux ]] || die "needs Linux"
    [[ "$(id -u)" -eq 0 ]] || die "needs root"
    [[ "$NGPUS" =~ ^[1-5]$ ]] || die "SLURM_TEST_GPUS must be 1..5, got '$NGPUS'"
    local cpus="${SLURM_TEST_CPUS:-$(nproc)}"
    [[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "SLURM_TEST_CPUS must be a positive integer, got '$cpus'"
    install_slurm

    if alive_pid "$S/pid/slurmctld.pid" /usr/sbin/slurmctld >/dev/null; then
        die "a cluster from $S is already running; run '$0 down $S' first"
    fi
    mkdir -p "$S"/{ctld,spool,pid,log,munge}
    chmod 700 "$S/munge"

    # ---- munge: a private daemon with its own key and socket (--force: the socket dir may sit below
    # a 0700 temp dir; only root talks to it here).
    if [[ -s /etc/munge/munge.key ]]; then
        cp /etc/munge/munge.key "$S/munge/munge.key"
    else
        dd if=/dev/urandom of="$S/munge/munge.key" bs=1 count=1024 status=none
    fi
    chmod 600 "$S/munge/munge.key"
    timeout 20 /usr/sbin/munged --force --socket="$MSOCK" --key-file="$S/munge/munge.key" \
        --pid-file="$S/pid/munged.pid" --log-file="$S/munge/munged.log" \
        --seed-file="$S/munge/munged.seed" || { dump_logs; die "munged failed to start"; }
    timeout 10 munge -S "$MSOCK" -n | timeout 10 unmunge -S "$MSOCK" >/dev/null \
        || { dump_logs; do_down; die "munge round trip failed"; }

    # ---- slurm.conf / gres.conf
    local mem_avail realmem tmpconf overrides="" i
    if (( cpus > $(nproc) )); then overrides="SlurmdParameters=config_overrides"; fi
    mem_avail="$(awk '/^MemAvailable:/ {print int($2/1024)}' /proc/meminfo)"
    realmem=$(( mem_avail * 8 / 10 ))
    tmpconf="$S/slurm.conf"
    cat >"$tmpconf" <<EOF
$MARK $S
ClusterName=icdenoise-test
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MSOCK
SlurmUser=root
SlurmdUser=root
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( realmem / cpus > 1024 ? 1024 : realmem / cpus ))
GresTypes=gpu
$overrides
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/pid/slurmctld.pid
SlurmdPidFile=$S/pid/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$realmem Gres=gpu:$NGPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    {
        echo "$MARK $S"
        echo "AutoDetect=off"
        for (( i = 0; i < NGPUS; i++ )); do
            echo "NodeName=localhost Name=gpu File=${FAKE_GPU_DEVS[$i]}"
        done
    } >"$S/gres.conf"
    install_etc_file slurm.conf "$tmpconf"
    install_etc_file gres.conf "$S/gres.conf"

    # ---- daemons (both daemonise and write their pid files)
    log "starting slurmctld"
    timeout 30 /usr/sbin/slurmctld -i || { dump_logs; do_down; die "slurmctld failed to start"; }
    log "starting slurmd"
    timeout 30 /usr/sbin/slurmd -N localhost || { dump_logs; do_down; die "slurmd failed to start"; }

    # ---- bounded wait for an idle node
    local t0 st=""
    t0=$SECONDS
    while (( SECONDS - t0 < UP_TIMEOUT )); do
        st="$(node_state)"
        [[ "$st" == idle ]] && break
        # a node that came up DOWN (e.g. after an unclean stop) is resumed once
        if [[ "$st" == down* || "$st" == drain* ]]; then
            timeout 5 scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
        fi
        sleep 0.5
    done
    if [[ "$st" != idle ]]; then
        log "node did not become idle within ${UP_TIMEOUT}s (state: '${st:-no answer}')"
        dump_logs
        do_down
        exit 1
    fi
    log "cluster up in $(( SECONDS - t0 ))s: partition '$PARTITION', node localhost idle, $cpus CPUs, ${realmem} MB, gres gpu:$NGPUS"
    timeout 5 sinfo -N -o '%N %P %t %c %m %G' >&2 || true
}

# ------------------------------------------------------------------------------------------------ down
do_down() {
    local ids t0
    # 1. cancel every job (the cluster is private to this statedir) and wait, bounded, for them to go
    if alive_pid "$S/pid/slurmctld.pid" /usr/sbin/slurmctld >/dev/null; then
        ids="$(timeout 10 squeue -h -o '%i' 2>/dev/null || true)"
        if [[ -n "$ids" ]]; then
            log "cancelling jobs: ${ids//$'\n'/ }"
            # shellcheck disable=SC2086
            timeout 10 scancel $ids >/dev/null 2>&1 || true
            t0=$SECONDS
            while (( SECONDS - t0 < 30 )); do
                [[ -z "$(timeout 5 squeue -h -t PD,R,CG,S -o '%i' 2>/dev/null || true)" ]] && break
                sleep 0.5
            done
        fi
    fi
    # 2. daemons, by pid file
    stop_pid "$S/pid/slurmd.pid" /usr/sbin/slurmd slurmd
    stop_pid "$S/pid/slurmctld.pid" /usr/sbin/slurmctld slurmctld
    stop_pid "$S/pid/munged.pid" /usr/sbin/munged munged
    # 3. /etc/slurm back as it was
    restore_etc_file slurm.conf
    restore_etc_file gres.conf
    log "cluster in $S is down"
}

# ---------------------------------------------------------------------------------------------- status
do_status() {
    local d pid rc=0
    for d in munged:/usr/sbin/munged slurmctld:/usr/sbin/slurmctld slurmd:/usr/sbin/slurmd; do
        if pid="$(alive_pid "$S/pid/${d%%:*}.pid" "${d#*:}")"; then
            echo "${d%%:*}: running (pid $pid)"
        else
            echo "${d%%:*}: not running"
            rc=1
        fi
    done
    if [[ $rc -eq 0 ]]; then
        timeout 5 sinfo -N -o '%N %P %t %c %m %G' || rc=1
        timeout 5 squeue || rc=1
    fi
    return $rc
}

case "$cmd" in
    up) do_up ;;
    down) do_down ;;
    status) do_status ;;
    *) usage ;;
esac
