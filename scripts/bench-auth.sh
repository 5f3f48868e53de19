#!/usr/bin/env bash
# Authentication benchmarks (run by 'make bench' after scripts/bench.sh, or
# alone), on their own throw-away cluster, connecting as PostgREST does
# (scripts/lib.sh postgrest_db_host: over the Unix socket, with the
# authenticator's password; TASK_API_BENCH_AUTH_HOST=127.0.0.1 for TCP):
#   1. The database side of a cookie-authenticated GET: the transaction
#      PostgREST runs (BEGIN, its settings with the anonymous role, COMMIT;
#      the request gate, src/pre_request.c, runs at the end of the settings
#      statement: it verifies the session cookie's JWT in C, looks the
#      session up for revocation and becomes task_api_user), replayed by
#      pgbench, vs the same statements passing no gate; for reference, the
#      gate as a statement of its own (db-pre-request) and SELECT 1.
#   2. Verifying one HS256 token 100k times in one statement: the C
#      task_api.jwt_verify() vs a PL/pgSQL + pgcrypto verifier, and the
#      floor of that query (bench/jwt_floor.c: the same call, no work).
# Baseline and subject alternate in every round; the report gives medians and
# ratios.  Targets are reported, never enforced.  See bench/README.md.
#
#   scripts/bench-auth.sh            report, and a results table of its own
#   scripts/bench-auth.sh --append   also add the rows to the table
#                                    scripts/bench.sh just wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_AUTH_PG_PORT:-5495}
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
CLIENTS=${TASK_API_BENCH_AUTH_CLIENTS:-8}
DURATION=${TASK_API_BENCH_AUTH_DURATION:-10}
WARMUP=${TASK_API_BENCH_AUTH_WARMUP:-2}
CALLS=${TASK_API_BENCH_AUTH_CALLS:-100000}
LOOP_CALLS=${TASK_API_BENCH_AUTH_LOOP_CALLS:-20000}
SESSIONS=${TASK_API_BENCH_AUTH_SESSIONS:-10000}
# Targets of the per-request cost work (docs/performance.md): the hook in
# its transaction >= 0.85x of SELECT 1 there; jwt_verify() >= 8x faster than
# PL/pgSQL + pgcrypto and at most 1.5 us a call.
E2E_TARGET=0.85
VERIFY_TARGET=8
VERIFY_US_TARGET=1.5

DB=bench_auth

bench_start bench-auth "$PG_PORT"
bench_database "$DB"
PASSWORD=$(as_pg cat "$dir/authenticator.password")
HOST=${TASK_API_BENCH_AUTH_HOST:-$(socket_dir "$dir")}

# psql as PostgREST's login role, with its password (scram-sha-256).
psql_auth() {
    PGPASSWORD=$PASSWORD "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" \
        -U task_api_authenticator -d "$DB" "$@"
}

us_per() { awk -v ms="$1" -v n="$2" 'BEGIN {printf "%.2f", ms * 1000 / n}'; }

say "auth benchmark setup: database $DB, $SESSIONS other sessions"
USER_ID=01900000-0000-7000-8000-0000000000c1
psql_db -v user="$USER_ID" -v sessions="$SESSIONS" -f "$BENCH/setup_auth.sql"
psql_db -f "$BENCH/jwt_verify_plpgsql.sql"
# A real login: the session row and its signed cookie token.
TOKEN=$(psql_db -tAc "SELECT task_api.start_session('$USER_ID') ->> 'token'")
JTI=$(psql_db -tAc "SELECT (task_api.jwt_verify('$TOKEN')).claims ->> 'jti'")
{ [ -n "$TOKEN" ] && [ -n "$JTI" ]; } || die "could not start a session"

# ---------------------------------------------------------------------------
# 1. A cookie-authenticated GET, database side
# ---------------------------------------------------------------------------
# The statements PostgREST 12 sends for GET /projects with only the session
# cookie (prepared, in a read-only transaction): its settings, with the
# anonymous role as the request's role; the gate runs at their end.  With
# the search path on "public" instead of "api" the same statement passes no
# gate (src/request.c, ta_request_for_api()).
HEADERS='{"accept": "application/json", "host": "127.0.0.1:3000", "user-agent": "bench", "accept-encoding": "gzip"}'
settings_sql() { # settings_sql COOKIES_JSON [SCHEMA]
    echo "SELECT set_config('search_path', '\"${2:-api}\", \"public\"', true), set_config('role', 'task_api_anon', true), set_config('request.jwt.claims', '{\"role\":\"task_api_anon\"}', true), set_config('request.method', 'GET', true), set_config('request.path', '/projects', true), set_config('request.headers', '$HEADERS', true), set_config('request.cookies', '$1', true)"
}
COOKIES="{\"__Host-task_api_session\": \"$TOKEN\"}"
{
    echo "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;"
    echo "$(settings_sql "$COOKIES");"
    echo "COMMIT;"
} > "$logdir/subject.sql"
# Control: the same transaction and settings, passing no gate.
{
    echo "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;"
    echo "$(settings_sql "$COOKIES" public);"
    echo "COMMIT;"
} > "$logdir/control-tx.sql"
# References: SELECT 1 and the gate as a statement of its own (PostgREST's
# db-pre-request), the two sides of this benchmark before the gate moved
# into the settings statement.
{
    echo "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;"
    echo "$(settings_sql "$COOKIES" public);"
    echo "SELECT 1;"
    echo "COMMIT;"
} > "$logdir/control-select1.sql"
{
    echo "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;"
    echo "$(settings_sql "$COOKIES" public);"
    echo "SELECT task_api.pre_request();"
    echo "COMMIT;"
} > "$logdir/statement.sql"
echo "SELECT 1;" > "$logdir/select1.sql"

# The subject must really authenticate: it ends as task_api_user with the
# cookie's claims, and a revoked session is refused.
got=$(psql_auth -tA <<SQL
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
$(settings_sql "$COOKIES") \\g /dev/null
SELECT current_user || ' ' || (current_setting('request.jwt.claims')::json ->> 'sub') || ' ' || (current_setting('request.jwt.claims')::json ->> 'jti');
COMMIT;
SQL
)
[ "$got" = "task_api_user $USER_ID $JTI" ] || die "the gate did not authenticate the cookie: $got"
REVOKED=$(psql_db -tAc "SELECT task_api.start_session('$USER_ID') ->> 'token'")
psql_db -c "UPDATE task_api.sessions SET revoked_at = now() WHERE id = ((task_api.jwt_verify('$REVOKED')).claims ->> 'jti')::uuid"
if out=$(psql_auth -tA 2>&1 <<SQL
BEGIN;
$(settings_sql "{\"__Host-task_api_session\": \"$REVOKED\"}") \\g /dev/null
SQL
); then
    die "the gate accepted a revoked session"
fi
grep -q 'the session has ended' <<<"$out" || die "unexpected error for a revoked session: $out"

say "auth benchmark 1: cookie-authenticated GET, database side (pgbench -M prepared, $CLIENTS clients as task_api_authenticator over $HOST, -T $DURATION, $ROUNDS rounds)"
pgbench_run() { # pgbench_run NAME SECONDS [CLIENTS]: tps
    local name=$1 secs=$2 clients=${3:-$CLIENTS} out log="$logdir/pgbench-$1-c${3:-$CLIENTS}.log"
    if ! PGPASSWORD=$PASSWORD "$PGBIN/pgbench" -n -M prepared -h "$HOST" -p "$PG_PORT" \
        -U task_api_authenticator -c "$clients" -j $((clients < 2 ? clients : 2)) -T "$secs" \
        -f "$logdir/$name.sql" "$DB" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "pgbench $name failed; see $log"
    fi
    out=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$log")
    grep -q '^number of failed transactions: 0 ' "$log" || die "pgbench $name: failed transactions; see $log"
    [ -n "$out" ] || die "pgbench $name: no tps; see $log"
    echo "$out"
}
for v in select1 control-tx subject statement control-select1; do pgbench_run "$v" "$WARMUP" >/dev/null; done
t_sel=() t_ctl=() t_sub=() t_stm=() t_cs1=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(select1 control-tx subject statement control-select1); else order=(control-select1 statement subject control-tx select1); fi
    line="round $r:"
    for v in "${order[@]}"; do
        tps=$(pgbench_run "$v" "$DURATION")
        case $v in
            select1) t_sel+=("$tps") ;;
            control-tx) t_ctl+=("$tps") ;;
            subject) t_sub+=("$tps") ;;
            statement) t_stm+=("$tps") ;;
            control-select1) t_cs1+=("$tps") ;;
        esac
        line="$line $v=$(printf '%.0f' "$tps") tps"
    done
    echo "  $line"
done
sel_tps=$(median "${t_sel[@]}")
ctl_tps=$(median "${t_ctl[@]}")
sub_tps=$(median "${t_sub[@]}")
stm_tps=$(median "${t_stm[@]}")
cs1_tps=$(median "${t_cs1[@]}")
e2e_ratio=$(ratio "$sub_tps" "$ctl_tps")
e2e_met=$(meets "$e2e_ratio" "$E2E_TARGET")
sel_ratio=$(ratio "$sub_tps" "$sel_tps")
per_round="" per_round_sel=""
for i in "${!t_sub[@]}"; do
    per_round="$per_round $(ratio "${t_sub[$i]}" "${t_ctl[$i]}")x"
    per_round_sel="$per_round_sel $(ratio "${t_sub[$i]}" "${t_sel[$i]}")x"
done
# CPUs / tps: with the CPUs saturated, the CPU time one transaction costs
# (pgbench's share and anything else running on the machine included).
per_tx() { awk -v t="$1" -v c="$(nproc)" 'BEGIN {printf "%.1f", 1e6 * c / t}'; }

echo
echo "Cookie-authenticated GET, database side: median of $ROUNDS rounds of ${DURATION} s, $CLIENTS clients, $(nproc) CPUs:"
printf '  %-74s %9.0f tps  %6s us/tx x CPUs\n' \
    "SELECT 1, one statement, autocommit (reference)" "$sel_tps" "$(per_tx "$sel_tps")" \
    "PostgREST's transaction: BEGIN, settings, COMMIT; no gate (CONTROL)" "$ctl_tps" "$(per_tx "$ctl_tps")" \
    "PostgREST's transaction: BEGIN, settings + the gate, COMMIT (SUBJECT)" "$sub_tps" "$(per_tx "$sub_tps")" \
    "the gate as a statement: BEGIN, settings, pre_request(), COMMIT (reference)" "$stm_tps" "$(per_tx "$stm_tps")" \
    "BEGIN, settings, SELECT 1, COMMIT; no gate (reference)" "$cs1_tps" "$(per_tx "$cs1_tps")"
echo "  the gate added per request: $(awk -v s="$sub_tps" -v c="$ctl_tps" -v n="$(nproc)" 'BEGIN {printf "%.1f", 1e6 * n * (1 / s - 1 / c)}') us of CPU (subject - control above; noisy on a shared machine)"
echo "  subject / control (same statements, the gate vs none): ${e2e_ratio}x (per round:$per_round); target >= ${E2E_TARGET}x: $e2e_met"
echo "  subject / the gate as a statement of its own:          $(ratio "$sub_tps" "$stm_tps")x (what dropping db-pre-request gives)"
echo "  the gate as a statement / SELECT 1 in its place:       $(ratio "$stm_tps" "$cs1_tps")x (this benchmark's ratio before the gate moved)"
echo "  subject / SELECT 1 (3 statements vs 1):                ${sel_ratio}x (per round:$per_round_sel); a reference: the target is the line above"

# Breakdown: each piece of the hook's work repeated in one transaction
# (a DO loop, as the superuser; the hook itself switches to the anonymous
# role first, like the request).  Per call, loop overhead subtracted.
say "pre_request() breakdown: $LOOP_CALLS calls of each piece in a DO loop (not part of the ratio)"
loop_ms() { # loop_ms SETTINGS_SQL BODY: milliseconds of the DO loop
    local out ms
    out=$(psql_db <<SQL
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
$1
\\timing on
DO \$\$ DECLARE ok boolean; BEGIN FOR i IN 1..$LOOP_CALLS LOOP $2; END LOOP; END \$\$;
\\timing off
COMMIT;
SQL
)
    ms=$(printf '%s\n' "$out" | last_ms)
    [ -n "$ms" ] || die "no timing for the loop $2: $out"
    echo "$ms"
}
# The search path on "public": the settings pass no gate, so each
# pre_request() in the loop runs it (after the gate it would do nothing).
SET_COOKIE="$(settings_sql "$COOKIES" public) \\g /dev/null"
# pre_request() verifies a cookie's signature once per transaction (the
# rate limiter and the authentication share it), and the loop is one
# transaction: it alternates two tokens of the same session (the same
# claims signed again, spaced otherwise), so that each call verifies its
# cookie as each request does, and the session's memo holds as it does
# between requests.  The swap is in the subtracted baseline too.
TOKEN2=$(psql_db -tAc "SELECT task_api.jwt_sign((task_api.jwt_verify('$TOKEN')).claims::text)")
{ [ -n "$TOKEN2" ] && [ "$TOKEN2" != "$TOKEN" ]; } || die "could not sign the session's claims again"
SWAP="PERFORM set_config('request.cookies', CASE WHEN i % 2 = 0 THEN '$COOKIES' ELSE '{\"__Host-task_api_session\": \"$TOKEN2\"}' END, true)"
SET_ANON="$(settings_sql '{}' public) \\g /dev/null"
SESSION_LOOKUP="SELECT s.user_id = '$USER_ID'::uuid AND s.revoked_at IS NULL AND s.expires_at > now() INTO ok FROM task_api.sessions s WHERE s.id = '$JTI'::uuid"
# Each call of the hook appends its headers to response.headers, which the
# next call reads and rewrites: the loop clears them first (one request's
# worth, as PostgREST's transaction has), and that clearing is subtracted.
CLEAR="PERFORM set_config('response.headers', '[]', true)"
declare -A b_ms=()
for r in 1 2 3; do
    b_ms[empty]="${b_ms[empty]:-} $(loop_ms "" "PERFORM 1")"
    b_ms[clear]="${b_ms[clear]:-} $(loop_ms "" "$CLEAR")"
    b_ms[swap]="${b_ms[swap]:-} $(loop_ms "$SET_COOKIE" "$SWAP; $CLEAR")"
    b_ms[anon]="${b_ms[anon]:-} $(loop_ms "$SET_ANON" "$CLEAR; PERFORM task_api.pre_request()")"
    b_ms[cookie]="${b_ms[cookie]:-} $(loop_ms "$SET_COOKIE" "$SWAP; $CLEAR; PERFORM task_api.pre_request()")"
    b_ms[verify]="${b_ms[verify]:-} $(loop_ms "" "PERFORM task_api.jwt_verify('$TOKEN')")"
    b_ms[session]="${b_ms[session]:-} $(loop_ms "" "$SESSION_LOOKUP")"
done
declare -A b_us=()
empty_ms=$(median_of "${b_ms[empty]}")
clear_ms=$(median_of "${b_ms[clear]}")
swap_ms=$(median_of "${b_ms[swap]}")
for k in anon cookie verify session; do
    base=$empty_ms
    case $k in anon) base=$clear_ms ;; cookie) base=$swap_ms ;; esac
    b_us[$k]=$(awk -v m="$(median_of "${b_ms[$k]}")" -v e="$base" -v n="$LOOP_CALLS" 'BEGIN {printf "%.2f", (m - e) * 1000 / n}')
done
echo "  per call, median of 3, loop overhead ($(us_per "$empty_ms" "$LOOP_CALLS") us) subtracted:"
printf '    %-70s %7s us\n' \
    "pre_request(), cookie: the whole hook" "${b_us[cookie]}" \
    "  task_api.jwt_verify() of the cookie (C: HMAC, exp, claims to JSON)" "${b_us[verify]}" \
    "  the session row lookup, as plain PL/pgSQL SQL (pre_request: its index)" "${b_us[session]}" \
    "pre_request(), no cookie (anonymous: header and cookie lookups only)" "${b_us[anon]}"
echo "    rest of the cookie path (the index probe, role and claims settings, identity check):" \
    "$(awk -v a="${b_us[cookie]}" -v b="${b_us[verify]}" -v c="${b_us[session]}" 'BEGIN {printf "%.2f", a - b - c}') us"

# ---------------------------------------------------------------------------
# 2. Verifying one token, per call
# ---------------------------------------------------------------------------
say "auth benchmark 2: $CALLS verifications of one HS256 token in one statement ($ROUNDS rounds)"
psql_db -q <<SQL
CREATE TABLE bench.tokens AS SELECT g AS id, '$TOKEN'::text AS token FROM generate_series(1, $CALLS) AS g;
VACUUM (ANALYZE) bench.tokens;
SQL
# The floor: bench/jwt_floor.c, a C function of jwt_verify()'s signature that
# verifies nothing and returns a constant row of the same shape.  Called in
# the same query, it costs the SQL machinery of a row-returning function in
# FROM, under which no verifier can go.  Built here, loaded by its path.
PGC="$PGBIN/pg_config"
# shellcheck disable=SC2046 # pg_config's flags are lists of words
"$("$PGC" --cc)" $("$PGC" --cppflags) $("$PGC" --cflags) $("$PGC" --cflags_sl) -I"$("$PGC" --includedir-server)" \
    -shared -o "$logdir/jwt_floor.so" "$BENCH/jwt_floor.c" || die "could not build bench/jwt_floor.c"
as_pg tee "$dir/jwt_floor.so" <"$logdir/jwt_floor.so" >/dev/null
psql_db -q -c "CREATE FUNCTION bench.jwt_floor(token text, OUT valid boolean, OUT reason text, OUT claims json)
                   LANGUAGE c STRICT AS '$dir/jwt_floor.so', 'jwt_floor'"
declare -A q_sql=(
    [scan]="SELECT count(*) FROM bench.tokens t WHERE t.token IS NOT NULL"
    [floor]="SELECT count(*) FROM bench.tokens t, LATERAL bench.jwt_floor(t.token) v WHERE v.valid"
    [c]="SELECT count(*) FROM bench.tokens t, LATERAL task_api.jwt_verify(t.token) v WHERE v.valid"
    [plpgsql]="SELECT count(*) FROM bench.tokens t, LATERAL bench.jwt_verify_plpgsql(t.token) v WHERE v.valid")
declare -A q_fn=([c]=jwt_verify [plpgsql]=jwt_verify_plpgsql)

# Both verifiers must really verify: every call made, each token valid, and
# a bad signature and an expired token refused with the same reason.
for v in c plpgsql; do
    got=$(psql_db -tA <<SQL
BEGIN;
SET LOCAL track_functions = 'all';
${q_sql[$v]};
SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = '${q_fn[$v]}';
COMMIT;
SQL
)
    [ "$(printf '%s' "$got" | tr '\n' ' ')" = "$CALLS $CALLS" ] || die "$v: expected $CALLS valid of $CALLS calls, got: $got"
done
BAD_SIG=$(awk -F. '{s = $3; c = substr(s, 1, 1) == "A" ? "B" : "A"; print $1 "." $2 "." c substr(s, 2)}' <<<"$TOKEN")
EXPIRED=$(psql_db -tAc "SELECT task_api.jwt_sign(json_build_object('sub', '$USER_ID', 'role', 'task_api_user', 'jti', '$JTI', 'iat', floor(extract(epoch FROM now())) - 7200, 'exp', floor(extract(epoch FROM now())) - 3600)::text)")
checks=$(psql_db -tA <<SQL
SELECT (task_api.jwt_verify(tok)).reason || ' | ' || (bench.jwt_verify_plpgsql(tok)).reason
  FROM unnest(ARRAY['$TOKEN', '$BAD_SIG', '$EXPIRED']) AS tok;
SQL
)
expected="valid | valid
the token's signature does not match | the token's signature does not match
the token has expired | the token has expired"
[ "$checks" = "$expected" ] || die "the verifiers disagree on valid, tampered or expired tokens: $checks"
echo "  both verifiers: $CALLS of $CALLS calls valid; a tampered signature and an expired token refused"

time_query() { # time_query KEY: milliseconds
    statement_ms "$1" "${q_sql[$1]}" >/dev/null
    [ "$(printf '%s\n' "$statement_out" | head -n1)" = "$CALLS" ] || die "$1 did not count $CALLS: $statement_out"
    echo "$statement_last_ms"
}
for v in scan floor c plpgsql; do time_query "$v" >/dev/null; done   # warm-up
declare -A q_ms=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(scan floor plpgsql c); else order=(c plpgsql floor scan); fi
    line="round $r:"
    for v in "${order[@]}"; do
        ms=$(time_query "$v")
        q_ms[$v]="${q_ms[$v]:-} $ms"
        line="$line $v=$(printf '%.0f' "$ms") ms"
    done
    echo "  $line"
done
declare -A q_med=()
for v in scan floor c plpgsql; do
    q_med[$v]=$(median_of "${q_ms[$v]}")
done
verify_ratio=$(ratio "${q_med[plpgsql]}" "${q_med[c]}")
verify_met=$(meets "$verify_ratio" "$VERIFY_TARGET")
per_round=""
read -r -a a_c <<<"${q_ms[c]}"
read -r -a a_p <<<"${q_ms[plpgsql]}"
for i in "${!a_c[@]}"; do per_round="$per_round $(ratio "${a_p[$i]}" "${a_c[$i]}")x"; done
c_us=$(us_per "${q_med[c]}" "$CALLS")
p_us=$(us_per "${q_med[plpgsql]}" "$CALLS")
us_met=$(meets "$c_us" "$VERIFY_US_TARGET" le)
[ "$verify_met" = yes ] && [ "$us_met" = yes ] || verify_met=no
echo
echo "Verify one HS256 token $CALLS times in one statement, median of $ROUNDS rounds:"
printf '  %-60s %8.0f ms  %7s us/call\n' \
    "scan of the $CALLS token rows only (reference)" "${q_med[scan]}" "$(us_per "${q_med[scan]}" "$CALLS")" \
    "the floor: a C function of the same row that verifies nothing" "${q_med[floor]}" "$(us_per "${q_med[floor]}" "$CALLS")" \
    "PL/pgSQL + pgcrypto verifier (BASELINE)" "${q_med[plpgsql]}" "$p_us" \
    "task_api.jwt_verify(), C (SUBJECT)" "${q_med[c]}" "$c_us"
echo "  without the scan: PL/pgSQL $(awk -v m="${q_med[plpgsql]}" -v s="${q_med[scan]}" -v n="$CALLS" 'BEGIN {printf "%.2f", (m - s) * 1000 / n}') us/call," \
    "C $(awk -v m="${q_med[c]}" -v s="${q_med[scan]}" -v n="$CALLS" 'BEGIN {printf "%.2f", (m - s) * 1000 / n}') us/call"
echo "  jwt_verify() above the floor (its own work): $(awk -v m="${q_med[c]}" -v f="${q_med[floor]}" -v n="$CALLS" 'BEGIN {printf "%.2f", (m - f) * 1000 / n}') us/call"
echo "  C speed-up over PL/pgSQL: ${verify_ratio}x (per round:$per_round); target >= ${VERIFY_TARGET}x and <= ${VERIFY_US_TARGET} us/call: $verify_met"

# ---------------------------------------------------------------------------
# Results table rows (same format as scripts/bench.sh's table)
# ---------------------------------------------------------------------------
rows=$(
    printf '| Cookie-authenticated GET, database side: the gate in PostgREST'\''s transaction (pgbench, %s clients, %s s) | same statements, no gate: %.0f tps | %.0f tps | %sx | >= %sx | %s |\n' \
        "$CLIENTS" "$DURATION" "$ctl_tps" "$sub_tps" "$e2e_ratio" "$E2E_TARGET" "$e2e_met"
    printf '| The same, against the gate as a statement of its own (db-pre-request; a reference) | pre_request() statement: %.0f tps | %.0f tps | %sx | - | - |\n' \
        "$stm_tps" "$sub_tps" "$(ratio "$sub_tps" "$stm_tps")"
    printf '| The gate as a statement of its own (db-pre-request) against SELECT 1 in its place (this row before the gate moved; a reference) | SELECT 1: %.0f tps | %.0f tps | %sx | - | - |\n' \
        "$cs1_tps" "$stm_tps" "$(ratio "$stm_tps" "$cs1_tps")"
    printf '| The same, against a bare SELECT 1 (1 statement vs 3; a reference) | SELECT 1: %.0f tps | %.0f tps | %sx | - | - |\n' \
        "$sel_tps" "$sub_tps" "$sel_ratio"
    printf '| Verify an HS256 token (%s calls in one statement; speed-up) | PL/pgSQL + pgcrypto: %s us/call | jwt_verify() in C: %s us/call (floor: %s) | %sx faster | >= %sx, <= %s us | %s |\n' \
        "$CALLS" "$p_us" "$c_us" "$(us_per "${q_med[floor]}" "$CALLS")" "$verify_ratio" "$VERIFY_TARGET" "$VERIFY_US_TARGET" "$verify_met"
)
bench_report "$rows"
