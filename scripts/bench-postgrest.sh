#!/usr/bin/env bash
# PostgREST's own settings, measured (run by 'make bench' or alone), on a
# throw-away cluster: one PostgREST per variant (GHC runtime options, db-pool,
# db-prepared-statements, jwt-cache-max-lifetime, log level) serving the same
# database, GET /tasks?limit=25 with a JWT at concurrency 8, 32 and 128.
# Variants alternate within each round; the report gives medians of req/s,
# p99 and CPU per 1,000 requests (PostgREST + the backends of its own pool,
# told apart by application_name), each as a ratio to the first variant.
#   TASK_API_BENCH_PGRST_VARIANTS="name|GHCRTS|conf lines|CPUs;..."  other variants
#   TASK_API_BENCH_PGRST_PORTS="3971 3972 ..."                  their ports
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

PG_PORT=${TASK_API_BENCH_PGRST_PG_PORT:-5487}
read -r -a PORTS <<<"${TASK_API_BENCH_PGRST_PORTS:-3971 3972 3973 3974 3975 3976 3977 3978 3979 3980}"
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${TASK_API_BENCH_PGRST_SECONDS:-4}
read -r -a CONCS <<<"${TASK_API_BENCH_PGRST_CONCURRENCY:-8 32 128}"
# name|GHC runtime options (GHCRTS; empty: the binary's own -N -I0 -qg)|extra config lines (',' separated)
# [|the CPUs its threads may run on (a taskset list; default: any)]
VARIANTS=${TASK_API_BENCH_PGRST_VARIANTS:-"builtin||;A16m|-A16m|;A64m|-A64m|;N1_A16m|-N1 -A16m|;N1_A16m_cpu$(last_cpu)|-N1 -A16m||$(last_cpu);pool4_A16m|-A16m|db-pool = 4;pool20_A16m|-A16m|db-pool = 20;noprep_A16m|-A16m|db-prepared-statements = false;nojwtcache_A16m|-A16m|jwt-cache-max-lifetime = 0;logcrit_A16m|-A16m|log-level = \"crit\""}
IFS=';' read -r -a variants <<<"$VARIANTS"
[ "${#variants[@]}" -le "${#PORTS[@]}" ] || die "more variants than ports"

bench_start pgrst "$PG_PORT" "max_connections = 300"
bench_database bench_pgrst
MEMBER=01900000-0000-7000-8000-000000000013
bench_psql bench_pgrst -v owner=01900000-0000-7000-8000-000000000011 -v other=01900000-0000-7000-8000-000000000012 \
    -v member="$MEMBER" -v projects=10 -v member_of=3 -v tasks=100000 -f "$BENCH/setup_http.sql"
# Limits that never refuse (one user sends every request): the runtime's
# cost, not the limiters' answers.
bench_psql bench_pgrst -c "ALTER SYSTEM SET task_api.rate_limit_user = 100000000" \
    -c "ALTER SYSTEM SET task_api.max_inflight_per_user = 0" -c "SELECT pg_reload_conf()" >/dev/null
TOKEN=$(bench_psql bench_pgrst -tAc "SELECT task_api.start_session('$MEMBER') ->> 'token'")

base_conf=$(postgrest_config "$dir" "$PG_PORT" bench_pgrst "${PORTS[0]}")
names=() ports=()
for i in "${!variants[@]}"; do
    IFS='|' read -r name rts extra cpus <<<"${variants[$i]}"
    port=${PORTS[$i]}
    conf="$ROOT/.task_api/postgrest-pgrst-$name.conf"
    (
        umask 077
        # The pool's application_name, after the URI's other parameters (the
        # socket's host and port) when it has some.
        sed -e "s/^server-port = .*/server-port = $port/" \
            -e "/^db-uri = \"[^\"]*?/ s|^\(db-uri = \"[^\"]*\)\"|\1\&application_name=pgrst_$name\"|; t" \
            -e "s|^\(db-uri = \"[^\"]*\)\"|\1?application_name=pgrst_$name\"|" "$base_conf" > "$conf"
        IFS=',' read -r -a lines <<<"$extra"
        for l in "${lines[@]}"; do
            [ -n "$l" ] || continue
            key=${l%% = *}
            sed -i "/^$key = /d" "$conf"
            echo "$l" >> "$conf"
        done
    )
    if [ -n "$rts" ]; then export TASK_API_POSTGREST_RTS="$rts"; else export TASK_API_POSTGREST_RTS=" "; fi
    export TASK_API_POSTGREST_CPUS="$cpus"
    bench_postgrest "$name" "$conf" "$port"
    names+=("$name") ports+=("$port")
done
unset TASK_API_POSTGREST_RTS TASK_API_POSTGREST_CPUS

cpu_of() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU ticks of a variant's PostgREST and its pool's backends.
cpu_ticks() { # cpu_ticks NAME
    local total pid
    total=$(cpu_of "$(cat "$ROOT/.task_api/postgrest-pgrst-$1.pid")")
    for pid in $(bench_psql postgres -tAc "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgrst_$1'"); do
        total=$((total + $(cpu_of "$pid")))
    done
    echo "$total"
}
jfield() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }
hz=$(getconf CLK_TCK)

declare -A rps=() p99=() cpu=()
for c in "${CONCS[@]}"; do
    for i in "${!names[@]}"; do  # warm-up: opens the pools
        node "$BENCH/load.mjs" "http://127.0.0.1:${ports[$i]}/tasks?limit=25" --token "$TOKEN" \
            --requests 100000000 --concurrency "$c" --timeout 1 >/dev/null
    done
    for r in $(seq 1 "$ROUNDS"); do
        order=("${!names[@]}")
        [ $((r % 2)) = 1 ] || mapfile -t order < <(printf '%s\n' "${!names[@]}" | tac)
        line="c=$c round $r:"
        for i in "${order[@]}"; do
            n=${names[$i]}
            before=$(cpu_ticks "$n")
            out=$(node "$BENCH/load.mjs" "http://127.0.0.1:${ports[$i]}/tasks?limit=25" --token "$TOKEN" \
                --requests 100000000 --concurrency "$c" --timeout "$SECONDS_PER_RUN")
            after=$(cpu_ticks "$n")
            ok=$(jfield "$out" ok)
            [ "$(jfield "$out" failed)" = 0 ] || die "$n: requests failed: $out"
            rps[$c,$n]+=" $(jfield "$out" rps)"
            p99[$c,$n]+=" $(jfield "$out" p99_ms)"
            cpu[$c,$n]+=" $(awk -v t=$((after - before)) -v hz="$hz" -v ok="$ok" 'BEGIN {printf "%.3f", t / hz * 1000000 / ok}')"
            line="$line $n=$(jfield "$out" rps)"
        done
        echo "  $line  (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done

med() { local -a xs; read -r -a xs <<<"$1"; median "${xs[@]}"; }  # med "x y z"
echo
echo "GET /tasks?limit=25 through PostgREST variants, medians of $ROUNDS rounds of ${SECONDS_PER_RUN} s (ratios to ${names[0]}):"
printf '  %-18s %5s %10s %7s %9s %7s %12s %7s\n' variant conc req/s ratio p99_ms ratio cpu_ms/1000 ratio
for c in "${CONCS[@]}"; do
    b_rps=$(med "${rps[$c,${names[0]}]}") b_p99=$(med "${p99[$c,${names[0]}]}") b_cpu=$(med "${cpu[$c,${names[0]}]}")
    for n in "${names[@]}"; do
        m_rps=$(med "${rps[$c,$n]}") m_p99=$(med "${p99[$c,$n]}") m_cpu=$(med "${cpu[$c,$n]}")
        printf '  %-18s %5s %10.1f %7s %9.2f %7s %12.1f %7s\n' "$n" "$c" "$m_rps" "$(ratio "$m_rps" "$b_rps")" \
            "$m_p99" "$(ratio "$m_p99" "$b_p99")" "$m_cpu" "$(ratio "$m_cpu" "$b_cpu")"
    done
done
echo "  (cpu: PostgREST + its pool's backends, ms per 1,000 requests; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"

# What the statements PostgREST sends for one GET cost in the database, without
# HTTP or PostgREST (pgbench -M prepared, as PostgREST prepares them): the
# whole transaction (the request gate runs at the end of its settings
# statement), then with the gate as a statement of its own (db-pre-request:
# the search path on "public" keeps it out of the settings), then BEGIN +
# set_config + COMMIT alone, with and without the gate, then the query alone
# (as the superuser: no RLS, no claims).
JTI=$(bench_psql bench_pgrst -tAc "SELECT id FROM task_api.sessions WHERE user_id = '$MEMBER' ORDER BY created_at DESC LIMIT 1")
claims="{\"sub\": \"$MEMBER\", \"role\": \"task_api_user\", \"jti\": \"$JTI\"}"
settings="SELECT set_config('search_path', '\"api\", \"public\"', true), set_config('role', 'task_api_user', true), set_config('request.jwt.claims', '$claims', true), set_config('request.method', 'GET', true), set_config('request.path', '/tasks', true), set_config('request.headers', '{\"accept\": \"application/json\", \"host\": \"127.0.0.1\", \"authorization\": \"Bearer x\"}', true), set_config('request.cookies', '{}', true);"
query="WITH pgrst_source AS (SELECT \"api\".\"tasks\".* FROM \"api\".\"tasks\" LIMIT 25 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status, '' AS response_inserted FROM (SELECT * FROM pgrst_source) AS _postgrest_t;"
no_gate=${settings/\"api\", /}
printf 'BEGIN;\n%s\n%s\nCOMMIT;\n' "$settings" "$query" > "$logdir/full.sql"
printf 'BEGIN;\n%s\nSELECT task_api.pre_request();\n%s\nCOMMIT;\n' "$no_gate" "$query" > "$logdir/pre_request_statement.sql"
printf 'BEGIN;\n%s\nCOMMIT;\n' "$settings" > "$logdir/settings_gate.sql"
printf 'BEGIN;\n%s\nCOMMIT;\n' "$no_gate" > "$logdir/settings_only.sql"
printf '%s\n' "$query" > "$logdir/query_superuser.sql"
declare -A tps=()
scripts=(full pre_request_statement settings_gate settings_only query_superuser)
for r in $(seq 1 "$ROUNDS"); do
    for s in "${scripts[@]}"; do
        t=$("$PGBIN/pgbench" -n -M prepared -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -c 8 -j 2 \
                -T "$SECONDS_PER_RUN" -f "$logdir/$s.sql" bench_pgrst 2>&1 \
            | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
        [ -n "$t" ] || die "pgbench failed on $logdir/$s.sql"
        tps[$s]+=" $t"
    done
done
echo
echo "The statements of one GET in the database alone (pgbench -M prepared, 8 clients, medians of $ROUNDS rounds):"
for s in "${scripts[@]}"; do
    m=$(med "${tps[$s]}")
    printf '  %-16s %9.0f tx/s  %7.1f us per transaction of 8 clients on %s CPUs\n' "$s" "$m" \
        "$(awk -v t="$m" -v n="$(nproc)" 'BEGIN {print 1e6 * n / t}')" "$(nproc)"
done
