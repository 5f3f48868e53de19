#!/usr/bin/env bash
# Cost of one password check, per candidate hash (issue 21: Argon2id or
# PBKDF2-SHA-256 at 600,000 rounds), on a throw-away cluster on 127.0.0.1:
# N calls of task_api.password_verify() with the right password in one server
# backend; wall time from clock_timestamp(), CPU from the backend's
# /proc/<pid>/stat (user + system).  A login costs one such check (plus a
# re-hash when the stored hash is of another kind or cost).
#   scripts/bench-password.sh          (TASK_API_BENCH_PASSWORD_CALLS, default 20)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

PG_PORT=${TASK_API_BENCH_PASSWORD_PG_PORT:-5494}
CALLS=${TASK_API_BENCH_PASSWORD_CALLS:-20}
PASSWORD='correct horse battery staple'
DB=bench_password

bench_start bench-password "$PG_PORT"
bench_database "$DB"
q() { psql_db -At "$@"; }

# A SCRAM-SHA-256 verifier of the password with N PBKDF2 rounds, the format
# of 0.1.0 (PostgreSQL's own; PostgreSQL 15 cannot be told the round count).
scram_verifier() {
    python3 - "$PASSWORD" "$1" <<'PY'
import base64, hashlib, hmac, os, sys
pw, rounds, salt = sys.argv[1].encode(), int(sys.argv[2]), os.urandom(16)
salted = hashlib.pbkdf2_hmac('sha256', pw, salt, rounds)
client = hmac.new(salted, b'Client Key', 'sha256').digest()
server = hmac.new(salted, b'Server Key', 'sha256').digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"SCRAM-SHA-256${rounds}:{b64(salt)}${b64(hashlib.sha256(client).digest())}:{b64(server)}")
PY
}

# measure NAME HASH: "NAME | wall ms | CPU ms" per check, over $CALLS checks.
measure() {
    q -v name="$1" -v hash="$2" -v pw="$PASSWORD" -v calls="$CALLS" -v tck="$(getconf CLK_TCK)" <<'SQL'
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS w, pg_read_file('/proc/' || pg_backend_pid() || '/stat') AS st;
SELECT count(*) FILTER (WHERE task_api.password_verify(:'pw', :'hash')) = :calls AS all_matched
  FROM generate_series(1, :calls) \gset
\if :all_matched
\else
\echo the password did not match :name
\quit
\endif
WITH a AS (SELECT w, split_part(st, ') ', 2) AS s FROM t0),
     b AS (SELECT clock_timestamp() AS w, split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2) AS s)
SELECT format('| %s | %s ms | %s ms |', :'name',
              round((extract(epoch FROM b.w - a.w) * 1000 / :calls)::numeric, 1),
              round(((split_part(b.s, ' ', 12)::bigint + split_part(b.s, ' ', 13)::bigint
                      - split_part(a.s, ' ', 12)::bigint - split_part(a.s, ' ', 13)::bigint) * 1000.0 / :tck / :calls)::numeric, 1))
  FROM a, b;
SQL
}

argon=$(q -v pw="$PASSWORD" <<< "SELECT task_api.password_hash(:'pw')")
settings=$(q -c "SELECT current_setting('task_api.password_memory') || ', ' || current_setting('task_api.password_time_cost') || ' passes'")
echo "password checks: $CALLS per candidate, one backend, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| hash | wall per check | CPU per check |"
echo "|---|---|---|"
measure "Argon2id ($settings; the default)" "$argon"
measure "PBKDF2-SHA-256, 600000 rounds (SCRAM-SHA-256)" "$(scram_verifier 600000)"
measure "PBKDF2-SHA-256, 100000 rounds (0.1.0's default)" "$(scram_verifier 100000)"
