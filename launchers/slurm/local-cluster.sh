#!/bin/bash
# local-cluster.sh: a real Slurm cluster on this machine (two compute nodes by default), with accounting.
#
# What it is for: running the Slurm launcher (nmframe/launch/slurm.py) and its tests
# (tests/launchers/test_slurm_cluster.py, `pytest -m slurm`) against a real slurmctld/slurmd
# instead of mocks, on a laptop, a container or a CI runner. Accounting (slurmdbd + MariaDB) is
# part of it on purpose: the launcher reads job states with `sacct`, and without accounting a job
# that already left the queue has no state at all, so the client could wait forever.
#
# How to run it (as root, Debian bookworm, Slurm 22.05 from Debian packages, no systemd needed):
#   bash launchers/slurm/local-cluster.sh          # = start: install if needed, start daemons, wait until idle
#   bash launchers/slurm/local-cluster.sh status   # daemons, node state, partitions
#   bash launchers/slurm/local-cluster.sh stop     # stop all daemons (state and accounting db kept)
#
# `start` is idempotent: daemons that already run are left alone ("already up" when everything
# is), stale pid files from a previous boot/session are ignored, missing packages are installed
# with apt-get.
#
# Nodes: NMFRAME_SLURM_NODES compute nodes n1..nN (default 2), each its own slurmd on this host
# (`slurmd -N nK`, its own port 17000+K, spool, pid and log file), so that a multi-node job really
# goes sbatch -> srun -> one task per node: SLURM_JOB_NODELIST=n[1-2], SLURMD_NODENAME=n1 / n2.
# Every node has NodeAddr=127.0.0.1. NMFRAME_SLURM_NODES=1 gives the single node n1.
# Knobs (environment):
#   NMFRAME_SLURM_NODES   compute nodes (default 2)
#   NMFRAME_SLURM_CPUS    CPUs each node advertises (default: max(nproc, 16)); more than the
#                         machine has is allowed on purpose, so that tests can run tasks side by side
#   NMFRAME_SLURM_MEM_MB  RealMemory each node advertises (default: max(physical, 65536));
#                         memory is not a consumable resource here, it only bounds --mem requests
#   NMFRAME_SLURM_PARTITION  partition name (default: debug)
# The nodes have no GRES: jobs must not ask for GPUs (the launcher omits --gpus-per-node when 0).
# Logs: /var/log/slurm/{slurmctld,slurmd.nK,slurmdbd,mariadb}.log
set -euo pipefail

CMD=${1:-start}
PARTITION=${NMFRAME_SLURM_PARTITION:-debug}
NODES=${NMFRAME_SLURM_NODES:-2}
[[ "$NODES" =~ ^[1-9][0-9]*$ ]] || { echo "[local-cluster] ERROR: NMFRAME_SLURM_NODES=$NODES: must be a positive integer" >&2; exit 2; }
NODE_NAMES=$(seq -f 'n%g' 1 "$NODES" | tr '\n' ' ')
LOGDIR=/var/log/slurm
PKGS="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
T0=$(date +%s.%N)

say() { printf '[local-cluster] %s\n' "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# pid_alive PIDFILE NAME: the pid file names a live process whose command is NAME (a pid file
# left over from a previous boot may point at an unrelated process, or at nothing).
pid_alive() {
  local f=$1 name=$2 p
  [ -s "$f" ] || return 1
  p=$(cat "$f" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -r "/proc/$p/comm" ] && [ "$(cat "/proc/$p/comm")" = "$name" ] || return 1
  # a killed daemon can linger as a zombie where PID 1 does not reap (containers)
  [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds, or fail loudly.
wait_for() {
  local limit=$1 what=$2; shift 2
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "timed out after ${limit}s waiting for $what (see $LOGDIR/)"
    sleep 0.2
  done
}

# name|pidfile|process name, in start order; one slurmd per node, and the pid file of the
# single-node layout this script used before (stopped like the others)
DAEMONS="munged|/run/munge/munged.pid|munged
mariadbd|/run/mysqld/mysqld.pid|mariadbd
slurmdbd|/run/slurmdbd.pid|slurmdbd
slurmctld|/run/slurmctld.pid|slurmctld
slurmd|/run/slurmd.pid|slurmd"
for n in $NODE_NAMES; do DAEMONS="$DAEMONS
slurmd $n|/run/slurmd.$n.pid|slurmd"; done

# stop_daemon PIDFILE NAME: stop it if it runs, wait, then remove the pid file
stop_daemon() {
  local f=$1 name=$2 p
  if pid_alive "$f" "$name"; then
    p=$(cat "$f"); kill "$p" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && { say "$name did not stop, killing"; kill -9 "$p" 2>/dev/null || true; }
    say "stopped $name ($f)"
  fi
  rm -f "$f"
}

status() {
  local line name pf comm
  while IFS='|' read -r name pf comm; do
    if pid_alive "$pf" "$comm"; then say "$name: running (pid $(cat "$pf"))"
    elif [ "$pf" != /run/slurmd.pid ]; then say "$name: not running"; fi  # (the old single-node pid file)
  done <<<"$DAEMONS"
  if command -v sinfo >/dev/null && pid_alive /run/slurmctld.pid slurmctld; then
    sinfo -N -o '%N %P %T %c %m %G' || true
    sacctmgr -n list cluster format=cluster 2>/dev/null | sed 's/^ */accounting cluster: /' || true
  fi
}

stop() {
  local name pf comm
  # reverse start order: compute nodes and controller first, the database last
  while IFS='|' read -r name pf comm; do
    stop_daemon "$pf" "$comm"
  done < <(tac <<<"$DAEMONS")
  say "stopped in $(elapsed)s"
}

install_packages() {
  local missing=0 b
  for b in munged mariadbd slurmdbd slurmctld slurmd sbatch sacct; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing=1
  done
  if [ $missing = 1 ]; then
    say "installing $PKGS"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PKGS >/tmp/local-cluster-apt.log 2>&1 \
      || { tail -20 /tmp/local-cluster-apt.log; die "apt-get install failed"; }
    say "installed in $(elapsed)s"
  fi
}

write_slurm_conf() {
  local host=$1 cpus mem phys_mb n k
  cpus=${NMFRAME_SLURM_CPUS:-$(( $(nproc) > 16 ? $(nproc) : 16 ))}
  phys_mb=$(awk '/^MemTotal:/{printf "%d", $2/1024}' /proc/meminfo)
  mem=${NMFRAME_SLURM_MEM_MB:-$(( phys_mb > 65536 ? phys_mb : 65536 ))}
  cat >/etc/slurm/slurm.conf.new <<EOF
# Written by launchers/slurm/local-cluster.sh: $NODES-node cluster on one host for nmframe's Slurm tests.
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# schedule right away: tests wait on dependency chains of short jobs
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2,sched_min_interval=0
# a job whose dependency can never be satisfied (upstream failed/cancelled) is cancelled, not left pending
DependencyParameters=kill_invalid_depend
# the node may advertise more CPUs/memory than the machine has (see NMFRAME_SLURM_CPUS)
SlurmdParameters=config_overrides
KillWait=5
ReturnToService=2
MpiDefault=none
StateSaveLocation=/var/spool/slurmctld
# several slurmd on one host: each node (%n) its own spool, pid and log file, and its own Port below
SlurmdSpoolDir=/var/spool/slurmd.%n
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.%n.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.%n.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
EOF
  k=0
  for n in $NODE_NAMES; do
    k=$((k + 1))
    echo "NodeName=$n NodeHostname=$host NodeAddr=127.0.0.1 Port=$((17000 + k)) CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN" >>/etc/slurm/slurm.conf.new
  done
  echo "PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >>/etc/slurm/slurm.conf.new
  if cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then
    rm -f /etc/slurm/slurm.conf.new; return 1
  fi
  mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; return 0
}

start() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  install_packages
  mkdir -p /var/spool/slurmctld "$LOGDIR" /etc/slurm
  for n in $NODE_NAMES; do mkdir -p "/var/spool/slurmd.$n"; done
  local host; host=$(hostname)
  getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >>/etc/hosts

  local conf_changed=0; write_slurm_conf "$host" && conf_changed=1
  if [ $conf_changed = 1 ]; then
    say "slurm.conf changed: restarting slurmctld and every slurmd"
    for f in /run/slurmd.pid /run/slurmd.*.pid; do [ -e "$f" ] && stop_daemon "$f" slurmd; done
    stop_daemon /run/slurmctld.pid slurmctld
  fi

  local started=""
  # munge: authentication for every Slurm RPC
  [ -s /etc/munge/munge.key ] || { mungekey -c; chown munge: /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  if ! pid_alive /run/munge/munged.pid munged; then
    install -d -o munge -g munge -m 755 /run/munge
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
    runuser -u munge -- /usr/sbin/munged
    started="$started munged"
  fi
  wait_for 30 munge munge -n

  # MariaDB: the accounting store, local socket only
  if ! pid_alive /run/mysqld/mysqld.pid mariadbd; then
    install -d -o mysql -g mysql /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$LOGDIR/mariadb-install.log" 2>&1
    rm -f /run/mysqld/mysqld.pid
    (setsid mariadbd --user=mysql --skip-networking --pid-file=/run/mysqld/mysqld.pid \
        >"$LOGDIR/mariadb.log" 2>&1 </dev/null &)
    started="$started mariadbd"
  fi
  wait_for 60 MariaDB mariadb -e 'select 1'
  mariadb -e "CREATE USER IF NOT EXISTS slurm@localhost IDENTIFIED BY 'slurm';
              GRANT ALL ON slurm_acct_db.* TO slurm@localhost;"

  # slurmdbd: accounting daemon (sacct reads job states from it)
  printf '%s\n' "# Written by launchers/slurm/local-cluster.sh" DbdHost=localhost SlurmUser=root \
    StorageType=accounting_storage/mysql StorageHost=localhost StorageUser=slurm StoragePass=slurm \
    PidFile=/run/slurmdbd.pid "LogFile=$LOGDIR/slurmdbd.log" >/etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf
  if ! pid_alive /run/slurmdbd.pid slurmdbd; then
    rm -f /run/slurmdbd.pid; slurmdbd; started="$started slurmdbd"
  fi
  wait_for 60 slurmdbd sacctmgr -n list cluster

  # controller and the compute nodes (one slurmd each)
  if ! pid_alive /run/slurmctld.pid slurmctld; then
    rm -f /run/slurmctld.pid; slurmctld; started="$started slurmctld"
  fi
  wait_for 60 slurmctld scontrol ping
  local n
  for n in $NODE_NAMES; do
    if ! pid_alive "/run/slurmd.$n.pid" slurmd; then
      rm -f "/run/slurmd.$n.pid"; slurmd -N "$n"; started="$started slurmd($n)"
    fi
  done

  # Every node must come up schedulable; a drain/down left over from an earlier configuration is cleared.
  local end=$(( $(date +%s) + 60 )) st states=""
  for n in $NODE_NAMES; do
    while :; do
      st=$(sinfo -h -n "$n" -o %T 2>/dev/null | head -1)
      case "$st" in
        idle|mixed|allocated|completing) break ;;
        *drain*|down*|fail*) scontrol update nodename="$n" state=resume >/dev/null 2>&1 || true ;;
      esac
      [ "$(date +%s)" -lt "$end" ] || die "node $n is '$st', not schedulable (see $LOGDIR/slurmd.$n.log)"
      sleep 0.3
    done
    states="$states $n=$st"
  done
  # the controller registers the cluster in accounting on start; wait until sacct can see it
  wait_for 60 "cluster registration in slurmdbd" bash -c "sacctmgr -n -P list cluster format=cluster | grep -qx local"

  if [ -z "$started" ]; then
    say "already up (nodes:$states)"
  else
    say "started:$started; nodes:$states; up in $(elapsed)s"
  fi
}

case "$CMD" in
  start|up) start ;;
  stop|down) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) echo "usage: $0 [start|stop|status|restart]" >&2; exit 2 ;;
esac
