#!/usr/bin/env bash
# Revocation is immediate, on the primary and on a hot standby (run by
# scripts/test.sh, tier "revocation"): the request gate (src/pre_request.c)
# reads the session or API key behind a token from its primary-key index
# under the request's snapshot (src/credential_lookup.c), so a revocation is
# seen by the very next request of a session that has already checked the
# credential.  Each request is PostgREST's own first statement, the gate
# running at its end as it does behind PostgREST, and then again through
# task_api.pre_request() (a db-pre-request, for a library not preloaded):
#   1. on the primary: one database session (as PostgREST's pooled
#      connection) authenticates a session token and an API key, another
#      session logs out / revokes the key / deletes the user, and the first
#      session's next request is refused;
#   2. on a hot standby made with pg_basebackup -R: the same, the revocation
#      arriving by WAL replay; the request that follows the replay is refused;
#   3. a database of the same server without task_api, with an api schema of
#      its own: its requests pass no gate.
# Prints TAP lines ("ok N - ...", "not ok N - ...").  Environment:
# TASK_API_CLUSTER_DIR (the test cluster's directory), TASK_API_TEST_PG_PORT,
# TASK_API_TEST_STANDBY_PORT (default: the test port + 10).
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
set +e
# shellcheck source=SCRIPTDIR/../lib/tap.sh
source "$ROOT/test/lib/tap.sh"
# shellcheck source=SCRIPTDIR/../lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

DB=task_api_revocation
standby="$dir/standby-revocation"
work=$(mktemp -d)
chmod 755 "$work"

cleanup() {
    standby_remove "$standby"
    rm -rf -- "$work"
}
trap cleanup EXIT

cluster_psql "$dir" "$PG_PORT" -d postgres -qc "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
cluster_psql "$dir" "$PG_PORT" -d "$DB" -qc "SET client_min_messages = warning" -c "CREATE EXTENSION task_api" >/dev/null

# One request as PostgREST runs it (a read-only GET in its own transaction):
# 'admitted' or the error's message.
psql_at "$PG_PORT" >/dev/null <<'SQL'
CREATE SCHEMA rv_test;
CREATE FUNCTION rv_test.request(claims text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.method', 'GET', true);
    PERFORM set_config('request.path', '/projects', true);
    PERFORM set_config('request.headers', '{"accept": "application/json"}', true);
    PERFORM set_config('request.cookies', '{}', true);
    PERFORM set_config('request.jwt.claims', claims, true);
    PERFORM task_api.pre_request();
    RETURN 'admitted';
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
    RETURN SQLERRM::json ->> 'message';
END
$$;
SQL

# A user with a session and an API key: the claims PostgREST passes for each.
new_user() { # new_user NAME: "user_id|session_claims|key_claims"
    psql_at "$PG_PORT" <<SQL
WITH u AS (INSERT INTO task_api.users (email, display_name) VALUES ('$1@example.test', '$1') RETURNING id),
     s AS (SELECT u.id, (task_api.jwt_verify(task_api.start_session(u.id) ->> 'token')).claims ->> 'jti' AS jti FROM u),
     k AS (INSERT INTO task_api.api_keys (user_id, name) SELECT id, 'key' FROM u RETURNING id, user_id)
SELECT s.id || '|' || json_build_object('sub', s.id, 'role', 'task_api_user', 'jti', s.jti)::text
            || '|' || json_build_object('sub', k.user_id, 'role', 'task_api_user', 'key_id', k.id)::text
  FROM s, k;
SQL
}

# Run on the primary, then wait until the standby (if any) has replayed it.
cat > "$work/revoke.sh" <<SH
#!/usr/bin/env bash
"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d "$DB" -c "\$1" >/dev/null || exit 1
[ "\$2" = primary ] && exit 0
lsn=\$("$PGBIN/psql" -X -q -A -t -h "$sock" -p "$PG_PORT" -U postgres -d "$DB" -c "SELECT pg_current_wal_lsn()")
for _ in \$(seq 1 300); do
    [ "\$("$PGBIN/psql" -X -q -A -t -h "$sock" -p "$STANDBY_PORT" -U postgres -d "$DB" -c "SELECT pg_last_wal_replay_lsn() >= '\$lsn'")" = t ] && exit 0
    sleep 0.1
done
exit 1
SH
chmod 755 "$work/revoke.sh"

# One request as PostgREST 12 sends it, the gate running at the end of its
# first statement: "admitted" or the refusal's message.
request_sql() { # request_sql CLAIMS
    cat <<SQL
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT set_config('search_path', '"api", "public"', true), set_config('request.jwt.claims', '$1', true),
       set_config('request.method', 'GET', true), set_config('request.path', '/projects', true),
       set_config('request.headers', '{"accept": "application/json"}', true),
       set_config('request.cookies', '{}', true) \\g /dev/null
\\if :ERROR
ROLLBACK;
SELECT :'LAST_ERROR_MESSAGE'::json ->> 'message';
\\else
SELECT 'admitted';
ROLLBACK;
\\endif
SQL
}

# In ONE database session on PORT: a request with the credential, the
# revocation (by another session, on the primary), the next request; each
# request as PostgREST sends it (hook) or through pre_request().
# Prints "before | after".
revoke_between() { # revoke_between PORT WHERE CLAIMS REVOKE_SQL hook|pre_request
    local request
    if [ "$5" = hook ]; then
        request=$(request_sql "$3")
    else
        request="BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT rv_test.request('$3');
COMMIT;"
    fi
    psql_at "$1" -v ON_ERROR_STOP=0 2>/dev/null <<SQL | tr '\n' '|' | sed 's/|$//; s/|/ | /g'
$request
\\! "$work/revoke.sh" "$4" $2
$request
SQL
}

run_cases() { # run_cases PORT WHERE LABEL
    local port=$1 where=$2 label=$3 id s k how
    for how in hook pre_request; do
        IFS='|' read -r id s k <<<"$(new_user "$label-$how-a")"
        [ "$where" = primary ] || "$work/revoke.sh" "SELECT 1" standby
        check "$label ($how): a session revoked (logout) by another session: the same connection's next request is refused" \
            "admitted | the session has ended" \
            "$(revoke_between "$port" "$where" "$s" "UPDATE task_api.sessions SET revoked_at = now() WHERE user_id = '$id'" $how)"
        check "$label ($how): an API key revoked by another session: the next request is refused" \
            "admitted | the API key is not valid" \
            "$(revoke_between "$port" "$where" "$k" "UPDATE task_api.api_keys SET revoked_at = now() WHERE user_id = '$id'" $how)"
        IFS='|' read -r id s k <<<"$(new_user "$label-$how-b")"
        [ "$where" = primary ] || "$work/revoke.sh" "SELECT 1" standby
        check "$label ($how): a user deleted by another session: the next request with their session token is refused" \
            "admitted | the token's user does not exist" \
            "$(revoke_between "$port" "$where" "$s" "DELETE FROM task_api.users WHERE id = '$id'" $how)"
    done
}

# ---------------------------------------------------------------------------
# 1. The primary
# ---------------------------------------------------------------------------
run_cases "$PG_PORT" primary primary

# ---------------------------------------------------------------------------
# 2. A hot standby
# ---------------------------------------------------------------------------
as_root rm -rf -- "$standby"
standby_start "$standby" "$dir/standby-revocation.log"
check "the standby runs in recovery (hot standby)" "t" "$(psql_at "$STANDBY_PORT" -c "SELECT pg_is_in_recovery()" 2>&1)"
run_cases "$STANDBY_PORT" standby standby

# ---------------------------------------------------------------------------
# 3. Another database of the server, without task_api, serving its own api
#    schema: PostgREST's first statement there passes no gate.
# ---------------------------------------------------------------------------
other=${DB}_other
cluster_psql "$dir" "$PG_PORT" -d postgres -qc "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $other" -c "CREATE DATABASE $other" >/dev/null
cluster_psql "$dir" "$PG_PORT" -d "$other" -qc "CREATE SCHEMA api" >/dev/null
check "a database without task_api: a request to its own api schema passes no gate" "admitted" \
    "$(DB=$other psql_at "$PG_PORT" -v ON_ERROR_STOP=0 2>&1 <<SQL
$(request_sql '{"role": "task_api_user", "sub": "01900000-0000-7000-8000-000000000001", "jti": "01900000-0000-7000-8000-000000000002"}')
SQL
)"
cluster_psql "$dir" "$PG_PORT" -d postgres -qc "DROP DATABASE $other" >/dev/null

echo "1..$n"
# The last command's status is the script's.
[ "$failures" -eq 0 ]
