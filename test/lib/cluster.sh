# Sourced by the cluster tiers' scripts (test/cluster/*.sh) after
# scripts/lib.sh: the test cluster, its ports, a superuser psql on the
# script's database $DB, and hot standbys made from the cluster.
# Environment: TASK_API_CLUSTER_DIR (the test cluster's directory),
# TASK_API_TEST_PG_PORT, TASK_API_TEST_STANDBY_PORT (default: the test port + 10).
# shellcheck shell=bash
dir=${TASK_API_CLUSTER_DIR:?}
PG_PORT=${TASK_API_TEST_PG_PORT:-5498}
STANDBY_PORT=${TASK_API_TEST_STANDBY_PORT:-$((PG_PORT + 10))}
sock=$(socket_dir "$dir")

psql_at() { # psql_at PORT SQL...: superuser psql on $DB, unaligned, tuples only
    local port=$1
    shift
    "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d "$DB" "$@"
}

standby_start() { # standby_start DIR LOG [SETTINGS]: a hot standby (pg_basebackup -R) on STANDBY_PORT
    as_root rm -rf -- "$1"
    as_pg "$PGBIN/pg_basebackup" -h "$sock" -p "$PG_PORT" -U postgres -D "$1" -R -X stream -c fast >/dev/null 2>&1
    as_pg "$PGBIN/pg_ctl" -D "$1" -l "$2" -w -t 60 -o "-c port=$STANDBY_PORT ${3:-}" start >/dev/null 2>&1
}

standby_remove() { # standby_remove DIR: stop the standby made in DIR, if any, and delete it
    if as_pg test -f "$1/PG_VERSION"; then
        as_pg "$PGBIN/pg_ctl" -D "$1" -m immediate -w stop >/dev/null 2>&1
    fi
    as_root rm -rf -- "$1"
}
