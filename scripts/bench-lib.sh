# shellcheck shell=bash
# Helpers shared by the benchmark runners (sourced; brings lib.sh).
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Median of the arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
# a / b with 2 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# yes/no: is $1 <= $2 (op le) or >= $2 (op ge, the default)?
meets() { awk -v v="$1" -v t="$2" -v op="${3:-ge}" 'BEGIN {ok = (op == "le") ? (v <= t) : (v >= t); print ok ? "yes" : "no"}'; }
# Median of the numbers in one string of words.
median_of() {
    local -a a
    read -r -a a <<<"$1"
    median "${a[@]}"
}
fmt_ms() { awk -v v="$1" 'BEGIN {printf "%.0f ms", v}'; }
# Milliseconds of the last "Time: ..." line psql's \timing printed.
last_ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n1; }
# statement_ms NAME SQL: run one statement in the runner's database (psql_db,
# unaligned tuples only) with psql's \timing; prints its milliseconds, and
# leaves them in $statement_last_ms and its output in $statement_out (when
# not called in a subshell).  NAME is for the error message.
statement_out='' statement_last_ms=''
statement_ms() {
    statement_out=$(psql_db -tA <<SQL
\\timing on
$2;
SQL
)
    statement_last_ms=$(printf '%s\n' "$statement_out" | last_ms)
    [ -n "$statement_last_ms" ] || die "no timing for $1: $statement_out"
    echo "$statement_last_ms"
}

# What every runner shares.  The timed variants of run_variant_rounds and
# print_variants (below), which each runner fills in.
variants=()
declare -A v_ms=() v_med=() v_label=()
# shellcheck disable=SC2034 # used by the runners that source this file
BENCH="$ROOT/bench"
# The table scripts/bench.sh writes and the others add their rows to.
results="$ROOT/.task_api/bench-results.md"
APPEND=0
BENCH_AT_EXIT=() BENCH_PIDFILES=() BENCH_CONFS=() BENCH_DB=""

# bench_start STATE PORT [SETTING...]: every runner's prologue.  Installs
# what is missing, builds and installs the extension, then starts a fresh
# cluster in .task_api/STATE on 127.0.0.1:PORT with bench_tuning and the
# SETTINGs (postgresql.conf lines).  Sets dir, and logdir
# (.task_api/STATE-logs, emptied).  On exit: the functions given to
# bench_at_exit, the PostgREST instances of bench_postgrest stopped, then the
# cluster discarded (only stopped with TASK_API_KEEP_BENCH_CLUSTER=1).
bench_start() {
    BENCH_STATE=$1 BENCH_PORT=$2
    shift 2
    logdir="$ROOT/.task_api/$BENCH_STATE-logs"
    "$ROOT/scripts/deps.sh"
    build_and_install
    dir=$(state_dir "$BENCH_STATE")
    trap bench_exit EXIT
    rm -rf "$logdir" && mkdir -p "$logdir"
    cluster_recreate "$dir" "$BENCH_PORT"
    bench_tuning "$dir" "$@"
    cluster_start "$dir"
}

# bench_tuning DIR [SETTING...]: room for large statements without a
# checkpoint in the middle of one, and the runner's own settings.
bench_tuning() {
    local dir=$1
    shift
    {
        echo "# Benchmarks: room for the large inserts and deletes without a checkpoint in the middle."
        echo "shared_buffers = '512MB'"
        echo "max_wal_size = '8GB'"
        echo "checkpoint_timeout = '30min'"
        # They measure the cost per row and per request, not the bounds one
        # request is held to: statements of any size and length.
        echo "task_api.max_bulk_rows = 0"
        echo "task_api.statement_timeout = 0"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    } | as_pg tee "$dir/data/bench.conf" >/dev/null
    echo "include = 'bench.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# bench_at_exit FUNCTION: run FUNCTION on exit, before the cluster goes.
bench_at_exit() { BENCH_AT_EXIT+=("$1"); }

bench_exit() {
    local f p
    for f in "${BENCH_AT_EXIT[@]}"; do "$f" || true; done
    for p in "${BENCH_PIDFILES[@]}"; do postgrest_stop "$p" || true; done
    rm -f "${BENCH_CONFS[@]}"
    if [ -z "${TASK_API_KEEP_BENCH_CLUSTER:-}" ]; then
        cluster_discard "$dir"
        remove_state_dir "$BENCH_STATE"
    else
        cluster_stop "$dir" || true
    fi
}

# bench_psql DB [psql args...]: superuser psql on the bench cluster.
bench_psql() {
    local db=$1
    shift
    cluster_psql "$dir" "$BENCH_PORT" -d "$db" "$@"
}

# bench_database DB: database DB with the extension, PostgREST may log in;
# the first one made is psql_db's.
bench_database() {
    database_setup "$dir" "$BENCH_PORT" "$1"
    BENCH_DB=${BENCH_DB:-$1}
}
# psql_db [psql args...]: superuser psql on the runner's database.
psql_db() { bench_psql "$BENCH_DB" "$@"; }

# bench_postgrest NAME CONF API_PORT: PostgREST with CONF, logging to
# $logdir/postgrest-NAME.log; on exit it is stopped and CONF deleted.
bench_postgrest() {
    local pidfile="$ROOT/.task_api/postgrest-$BENCH_STATE-$1.pid"
    postgrest_stop "$pidfile"
    BENCH_PIDFILES+=("$pidfile")
    BENCH_CONFS+=("$2")
    postgrest_start "$2" "$logdir/postgrest-$1.log" "$pidfile" "$3"
}

# bench_report ROWS [STANDALONE]: with --append (APPEND=1) and an existing
# $results table, add ROWS after its last row; otherwise write a table of
# ROWS to STANDALONE (default .task_api/STATE-results.md).  Then print the
# table.
bench_report() {
    local file
    file=$(bench_results "$@")
    echo
    say "results (also in $file)"
    echo
    cat "$file"
    echo
}

# bench_results ROWS [STANDALONE]: bench_report's file; prints its name.
bench_results() {
    local rows=$1 standalone=${2:-"$ROOT/.task_api/$BENCH_STATE-results.md"} tmp pg_version
    if [ "$APPEND" = 1 ] && [ -f "$results" ]; then
        tmp=$(mktemp)
        awk -v rows="$rows" '
            /^\|/ {print; intable = 1; next}
            intable && !done {print rows; done = 1}
            {print}
            END {if (!done) print rows}' "$results" > "$tmp"
        mv "$tmp" "$results"
        chmod 644 "$results"
        echo "$results"
        return
    fi
    pg_version=$("$PGBIN/postgres" --version | awk '{print $3}')
    {
        echo "| Benchmark | Baseline | task_api | Ratio | Target | Met |"
        echo "|---|---|---|---|---|---|"
        echo "$rows"
        echo
        echo "Medians of $ROUNDS alternating rounds, $(date -u +%Y-%m-%d), PostgreSQL $pg_version, $(nproc) CPUs; \`scripts/$(basename "$0")\`."
    } > "$standalone"
    echo "$standalone"
}

# The runners time several variants of one statement per round; they keep
# v_ms[variant] (the times of every round), v_med[variant] (the medians),
# v_label[variant] and the list of variants in ${variants[@]}, with "bare"
# the baseline and "api" the subject.

# " 2.10x 2.31x ...": subject / baseline, round by round.
per_round_ratios() {
    local out="" i a_api a_bare
    read -r -a a_api <<<"${v_ms[api]}"
    read -r -a a_bare <<<"${v_ms[bare]}"
    for i in "${!a_api[@]}"; do out="$out $(ratio "${a_api[$i]}" "${a_bare[$i]}")x"; done
    echo "$out"
}

# One line per variant: median, ratio to the baseline, cost per row of N.
print_variants() {
    local n=$1 v
    for v in "${variants[@]}"; do
        printf '  %-72s %9s  %6sx  %6.1f us/row\n' "${v_label[$v]}" "$(fmt_ms "${v_med[$v]}")" \
            "$(ratio "${v_med[$v]}" "${v_med[bare]}")" "$(awk -v m="${v_med[$v]}" -v n="$n" 'BEGIN {print m * 1000 / n}')"
    done
}

# overhead_step A B N: what going from median B to median A costs per row of
# N, and its share of the subject's overhead over the baseline.
overhead_step() {
    awk -v a="$1" -v b="$2" -v n="$3" -v t="${v_med[api]}" -v base="${v_med[bare]}" \
        'BEGIN {d = a - b; printf "%6.1f us/row  (%4.1f%% of the overhead over the baseline)", d * 1000 / n, 100 * d / (t - base)}'
}

# bench_option "$@": APPEND=1 with --append (add rows to the table that
# scripts/bench.sh wrote), else 0.
bench_option() {
    APPEND=0
    case "${1:-}" in
        --append) APPEND=1 ;;
        "") ;;
        *) die "usage: $0 [--append]" ;;
    esac
}

# run_variant_rounds TIMER [ARGS...]: ROUNDS rounds of "TIMER VARIANT ARGS"
# (which prints milliseconds) over ${variants[@]}, in reverse order every
# other round so that no variant always runs first; fills v_ms and v_med
# (associative arrays the caller declares).
run_variant_rounds() {
    local timer=$1 r v ms line order i
    shift
    for r in $(seq 1 "$ROUNDS"); do
        order=()
        if [ $((r % 2)) = 1 ]; then
            order=("${variants[@]}")
        else
            for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[$i]}"); done
        fi
        line="round $r:"
        for v in "${order[@]}"; do
            ms=$("$timer" "$v" "$@") || exit 1
            v_ms[$v]="${v_ms[$v]:-} $ms"
            line="$line $v=$(fmt_ms "$ms")"
        done
        echo "  $line"
    done
    for v in "${variants[@]}"; do
        v_med[$v]=$(median_of "${v_ms[$v]}")
    done
}

# peer_setup WORK API_PORT PG_PORT: for the tools that compare with the
# hand-written peer (TASK_API_PEER_DIR): a copy of this checkout in
# WORK/copy serving the API ('make serve' on those ports), the peer's tables
# loaded (its setup.sql), one member's session on both sides, task_api's
# limits lifted (one user sends every request).  Sets PSQL, member, TOKEN
# and PROJECT.
peer_setup() {
    local work=$1
    say "copying the checkout to $work/copy"
    mkdir -p "$work/copy"
    tar -C "$ROOT" --exclude=./.task_api --exclude=./.git -cf - . | tar -C "$work/copy" -xf -
    PSQL="$work/copy/scripts/psql.sh"
    (cd "$work/copy" && TASK_API_PORT=$2 TASK_API_PG_PORT=$3 make -s serve >/dev/null)
    "$PSQL" -q -v ON_ERROR_STOP=1 -f "$TASK_API_PEER_DIR/setup.sql" >/dev/null 2>&1 \
        || die "the peer's setup.sql failed"
    member=01900000-0000-7000-8000-00000000b001
    # shellcheck disable=SC2034 # for the tools that source this file
    TOKEN=$("$PSQL" -tA -c "SELECT task_api.start_session('$member') ->> 'token'")
    "$PSQL" -q -c "INSERT INTO peer.sessions SELECT * FROM task_api.sessions s WHERE NOT EXISTS (SELECT FROM peer.sessions p WHERE p.id = s.id)" \
        -c "ALTER SYSTEM SET task_api.rate_limit_user = 100000000" -c "ALTER SYSTEM SET task_api.max_inflight_per_user = 0" \
        -c "SELECT pg_reload_conf()" >/dev/null
    # shellcheck disable=SC2034 # for the tools that source this file
    PROJECT=$("$PSQL" -tA -c "SELECT project_id FROM task_api.project_members WHERE user_id = '$member' ORDER BY project_id LIMIT 1")
}
