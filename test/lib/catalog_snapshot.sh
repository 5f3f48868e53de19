#!/usr/bin/env bash
# The catalogue of a database's task_api extension as text, so that an
# upgraded database can be compared with a fresh install (test/upgrade/).
# pg_dump --binary-upgrade writes every member of the extension (tables,
# columns in order, views, functions and their bodies, types, triggers,
# policies, indexes, constraints, grants, comments); what differs between
# any two databases (OIDs, frozen xids, the restrict key, the positions of
# the sequences whose values pg_dump carries) is blanked out,
# and the extension's configuration tables are listed by name.
# Usage: catalog_snapshot.sh PGHOST PGPORT DATABASE   (as the superuser)
set -euo pipefail
host=$1 port=$2 db=$3
PGBIN=${TASK_API_PGBIN:-/usr/lib/postgresql/15/bin}

"$PGBIN/pg_dump" --schema-only --binary-upgrade -h "$host" -p "$port" -U postgres -d "$db" |
    sed -E -e '/^--/d' -e '/^\\(un)?restrict /d' \
        -e '/binary_upgrade_set_next_|binary_upgrade_set_record_init_privs/d' \
        -e "s/relfrozenxid = '[0-9]+', relminmxid = '[0-9]+'/relfrozenxid = ?, relminmxid = ?/" \
        -e "s/WHERE oid = '[0-9]+'/WHERE oid = ?/" \
        -e "s/(pg_catalog.setval\('[^']*'), [0-9]+, (true|false)\)/\1, ?)/" \
        -e "s/(binary_upgrade_create_empty_extension\('task_api', '[^']*', (true|false), '[^']*'), '\{[0-9,]*\}', '\{[^}]*\}'/\1, ?, ?/"
echo "-- configuration tables (pg_extension_config_dump) and their conditions"
"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres -d "$db" -c "
    SELECT c.oid::regclass::text || ' ' || quote_literal(x.cond)
      FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(oid, cond)
      JOIN pg_class c ON c.oid = x.oid
     WHERE e.extname = 'task_api' ORDER BY 1"
