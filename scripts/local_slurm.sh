#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages, for the slow Slurm test
# (tests/test_slurm.py) and for trying `hydra/launcher=slurm` without a cluster:
#
#   scripts/local_slurm.sh start     # install what is missing (as root), start the daemons
#   export SLURM_CONF=/tmp/local-slurm/etc/slurm.conf   # then sbatch, squeue, sacct, run.py -m
#   scripts/local_slurm.sh status
#   scripts/local_slurm.sh stop      # cancel every job, stop the daemons (state and logs stay)
#
# Daemons: munged (authentication), MariaDB + slurmdbd (accounting: submitit reads job states
# with sacct, and only sacct tells it that a job was cancelled), slurmctld and slurmd, all on
# localhost. One partition, `debug` (the default), with this machine's CPUs and memory; no
# cgroups (proctrack/linuxproc, task/none); FIFO scheduling every 2 s; a requeued job may start
# again after 10 s (cred_expire); finished jobs leave squeue after 10 s (sacct keeps them).
# Config, state, logs and sockets live under $LOCAL_SLURM_DIR (default /tmp/local-slurm); no
# systemd needed. Ports: slurmctld 6817, slurmd 6818, slurmdbd 6819, MariaDB 3307 (localhost).
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin

DIR=${LOCAL_SLURM_DIR:-/tmp/local-slurm}
ETC=$DIR/etc RUN=$DIR/run LOG=$DIR/log
export SLURM_CONF=$ETC/slurm.conf
MUNGE_SOCKET=$RUN/munge.socket
DB_SOCKET=$RUN/mariadb.socket
DB_PORT=3307
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
COMMANDS=(slurmctld slurmd slurmdbd munged mungekey mariadbd mariadb-install-db sbatch sacct)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd) # in start order

fail() {
    echo "local_slurm: $*" >&2
    exit 1
}

missing_commands() {
    local name
    for name in "${COMMANDS[@]}"; do
        command -v "$name" >/dev/null || echo "$name"
    done
}

install_packages() {
    [[ -z $(missing_commands) ]] && return
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null ||
        fail "needs ${PACKAGES[*]} (missing: $(missing_commands | xargs)); run as root on Debian/Ubuntu to install them"
    echo "installing ${PACKAGES[*]} with apt-get ..."
    {
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${PACKAGES[@]}"
    } >"$DIR/apt.log" 2>&1 || fail "apt-get install ${PACKAGES[*]} failed, see $DIR/apt.log"
}

pid_of() { # the pid of a daemon that this script started and that still runs, else nothing
    local file=$RUN/$1.pid pid
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    [[ -r /proc/$pid/comm && $(</proc/"$pid"/comm) == "$1" ]] && echo "$pid"
    return 0
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
    local seconds=$1 what=$2
    shift 2
    for ((i = 0; i < seconds * 5; i++)); do
        "$@" >/dev/null 2>&1 && return
        sleep 0.2
    done
    tail -n 5 "$LOG"/*.log >&2 || true
    fail "$what did not come up within ${seconds}s (logs in $LOG)"
}

write_configs() {
    local host node password
    host=$(hostname -s)
    node=$(slurmd -C | head -n 1) # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
    password=$(sed -n 's/^StoragePass=//p' "$ETC/slurmdbd.conf" 2>/dev/null || true)
    [[ -n $password ]] || password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    cat >"$ETC/slurm.conf" <<EOF
# written by scripts/local_slurm.sh
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStoragePass=$MUNGE_SOCKET
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=10
KillWait=5
InactiveLimit=0
Waittime=0
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$ETC/slurmdbd.conf" <<EOF
# written by scripts/local_slurm.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$password
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$ETC/slurmdbd.conf"
}

start_munged() {
    [[ -s $ETC/munge.key ]] || mungekey --create --keyfile="$ETC/munge.key"
    munged --socket="$MUNGE_SOCKET" --key-file="$ETC/munge.key" --pid-file="$RUN/munged.pid" \
        --log-file="$LOG/munged.log" --seed-file="$DIR/state/munged.seed"
    wait_for 10 munged munge --socket="$MUNGE_SOCKET" --no-input
}

start_mariadbd() {
    local sql=(mariadb --no-defaults --socket="$DB_SOCKET") password
    [[ -d $DIR/mariadb/mysql ]] ||
        mariadb-install-db --no-defaults --datadir="$DIR/mariadb" --user=root \
            --auth-root-authentication-method=socket --skip-test-db >>"$LOG/mariadb-install.log"
    setsid mariadbd --no-defaults --datadir="$DIR/mariadb" --socket="$DB_SOCKET" --user=root \
        --pid-file="$RUN/mariadbd.pid" --log-error="$LOG/mariadbd.log" --bind-address=127.0.0.1 \
        --port=$DB_PORT --skip-name-resolve --innodb-buffer-pool-size=64M </dev/null &>/dev/null &
    wait_for 30 MariaDB "${sql[@]}" -e "select 1"
    password=$(sed -n 's/^StoragePass=//p' "$ETC/slurmdbd.conf")
    "${sql[@]}" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1';
        ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start_slurmdbd() {
    slurmdbd
    wait_for 30 slurmdbd sacctmgr --noheader list cluster
    [[ -n $(sacctmgr --noheader --parsable2 list cluster format=cluster) ]] ||
        sacctmgr --immediate add cluster local >/dev/null
}

start_slurmctld() {
    slurmctld
    wait_for 30 slurmctld bash -c "scontrol ping | grep -q UP"
}

start_slurmd() {
    slurmd
    wait_for 30 slurmd bash -c "sinfo --noheader --Node --format=%T | grep -Eq '^(idle|mixed|allocated)$'"
}

start() {
    [[ $(id -u) == 0 ]] || fail "start needs root (slurmd starts each job as its user)"
    mkdir -p "$DIR" "$ETC" "$RUN" "$LOG" "$DIR/state" "$DIR/spool"
    chmod 755 "$DIR" "$RUN" # munged wants its socket's directory reachable by everyone
    install_packages
    [[ -z $(pid_of slurmctld) || ! -s $ETC/slurm.conf ]] && write_configs
    local daemon
    for daemon in "${DAEMONS[@]}"; do
        [[ -n $(pid_of "$daemon") ]] || "start_$daemon"
    done
    echo "local Slurm cluster is up (partition debug); to use it: export SLURM_CONF=$SLURM_CONF"
}

stop() {
    local daemon pid
    if [[ -n $(pid_of slurmctld) ]]; then
        squeue --noheader --format=%i | xargs -r scancel || true
        for ((i = 0; i < 75; i++)); do
            [[ -z $(squeue --noheader 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    for ((n = ${#DAEMONS[@]} - 1; n >= 0; n--)); do
        daemon=${DAEMONS[n]}
        pid=$(pid_of "$daemon")
        [[ -n $pid ]] || continue
        kill "$pid"
        for ((i = 0; i < 75; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "stopped $daemon ($pid)"
    done
    return 0
}

status() {
    local daemon pid down=0
    for daemon in "${DAEMONS[@]}"; do
        pid=$(pid_of "$daemon")
        if [[ -n $pid ]]; then echo "$daemon: running ($pid)"; else echo "$daemon: stopped" && down=1; fi
    done
    if [[ -n $(pid_of slurmctld) ]]; then
        sinfo
        squeue
    fi
    echo "SLURM_CONF=$SLURM_CONF"
    return $down
}

case ${1:-} in
start | stop | status) "$1" ;;
*) fail "usage: $0 start|stop|status (directory: \$LOCAL_SLURM_DIR, now $DIR)" ;;
esac
