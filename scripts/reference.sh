#!/usr/bin/env bash
# Write docs/reference.md from the catalogue of a database with task_api
# installed: every function of the schemas api and task_api (signature,
# attributes, EXECUTE grants, COMMENT), every view and column (COMMENT), the
# enum types, every task_api.* setting (pg_settings) and the roles the
# install script creates.
#
#   scripts/reference.sh [--check] [psql connection options]
#
# The connection comes from the options (e.g. -h SOCKET -p PORT -U postgres
# -d DB) or libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE).  Connect
# as a superuser to a database where CREATE EXTENSION task_api ran on a
# server that preloads task_api (task_api.rate_limit_buckets exists only
# then).  The output depends on nothing but the catalogue: objects are sorted
# by name in the C collation, defaults are boot values, owners are left out.
#
# --check writes nothing: it exits 1 (and shows the difference) when
# docs/reference.md is not what this script would write.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

check=""
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
target="$ROOT/docs/reference.md"
# The extension's roles: those its install script creates (roles are shared
# by the cluster, where tests and operators add roles of their own).
roles=$(sed -n 's/.*CREATE ROLE \([a-z_][a-z0-9_]*\).*/\1/p' "$ROOT"/sql/install/*.sql | sort -u | paste -sd, -)

generate() {
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v roles="$roles" -tA "$@" <<'SQL'
\pset footer off
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'task_api') AS missing \gset
\if :missing
DO $$ BEGIN RAISE EXCEPTION 'task_api is not installed in this database'; END $$;
\endif
WITH
fn AS (
    SELECT p.oid, n.nspname, p.proname,
           pg_get_function_identity_arguments(p.oid) AS ident,
           pg_get_function_arguments(p.oid) AS args,
           pg_get_function_result(p.oid) AS result,
           p.prosecdef, p.provolatile, p.prokind, p.proowner, p.proacl,
           obj_description(p.oid, 'pg_proc') AS descr
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('api', 'task_api')
),
fn_grants AS (
    SELECT f.oid,
           string_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END, ', '
                      ORDER BY CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END COLLATE "C") AS grantees
    FROM fn f
    CROSS JOIN LATERAL aclexplode(coalesce(f.proacl, acldefault('f', f.proowner))) a
    LEFT JOIN pg_roles r ON r.oid = a.grantee
    WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> f.proowner
    GROUP BY f.oid
),
fn_md AS (
    SELECT f.nspname, string_agg(
        format(E'### `%s.%s(%s)`\n\n', f.nspname, f.proname, f.ident)
        || format(E'Signature: `%s.%s(%s) → %s`\n\n', f.nspname, f.proname, f.args, f.result)
        || format(E'%s; %s; EXECUTE: %s.\n\n',
                  CASE f.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                                 WHEN 'w' THEN 'window function'
                                 ELSE CASE WHEN f.result = 'trigger' THEN 'trigger function' ELSE 'function' END END,
                  CASE WHEN f.prosecdef THEN 'SECURITY DEFINER' ELSE 'SECURITY INVOKER' END
                  || CASE f.provolatile WHEN 'i' THEN ', IMMUTABLE' WHEN 's' THEN ', STABLE' ELSE ', VOLATILE' END,
                  coalesce(g.grantees, 'the owner only'))
        || CASE WHEN f.descr IS NULL THEN E'(no comment)\n'
                ELSE format(E'```text\n%s\n```\n', f.descr) END,
        E'\n' ORDER BY f.proname COLLATE "C", f.ident COLLATE "C") AS md
    FROM fn f LEFT JOIN fn_grants g ON g.oid = f.oid
    GROUP BY f.nspname
),
views AS (
    SELECT c.oid, n.nspname, c.relname, obj_description(c.oid, 'pg_class') AS descr
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('api', 'task_api') AND c.relkind IN ('v', 'm')
),
view_md AS (
    SELECT v.nspname, string_agg(
        format(E'### `%s.%s`\n\n', v.nspname, v.relname)
        || CASE WHEN v.descr IS NULL THEN E'(no comment)\n\n'
                ELSE format(E'```text\n%s\n```\n\n', v.descr) END
        || E'| column | type | comment |\n|---|---|---|\n'
        || (SELECT string_agg(format(E'| `%s` | `%s` | %s |', a.attname,
                                     format_type(a.atttypid, a.atttypmod),
                                     coalesce(replace(replace(col_description(v.oid, a.attnum), '|', '\|'), E'\n', ' '), '')),
                              E'\n' ORDER BY a.attnum)
            FROM pg_attribute a
            WHERE a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped)
        || E'\n',
        E'\n' ORDER BY v.relname COLLATE "C") AS md
    FROM views v
    GROUP BY v.nspname
),
enums AS (
    SELECT string_agg(format(E'| `%s.%s` | %s | %s |', n.nspname, t.typname,
                             (SELECT string_agg(format('`%s`', e.enumlabel), ', ' ORDER BY e.enumsortorder)
                              FROM pg_enum e WHERE e.enumtypid = t.oid),
                             coalesce(replace(replace(obj_description(t.oid, 'pg_type'), '|', '\|'), E'\n', ' '), '')),
                      E'\n' ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C") AS md
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname IN ('api', 'task_api') AND t.typtype = 'e'
),
settings AS (
    SELECT string_agg(format(E'| `%s` | %s | %s | %s |', s.name,
                             CASE WHEN s.boot_val IS NULL OR s.boot_val = '' THEN '(empty)'
                                  ELSE s.boot_val || coalesce(' ' || s.unit, '') END,
                             s.context,
                             replace(s.short_desc || coalesce(' ' || nullif(s.extra_desc, ''), ''), '|', '\|')),
                      E'\n' ORDER BY s.name COLLATE "C") AS md
    FROM pg_settings s
    WHERE s.name LIKE 'task\_api.%'
),
roles AS (
    SELECT string_agg(format(E'| `%s` | %s | %s | %s | %s |', r.rolname,
                             CASE WHEN r.rolcanlogin THEN 'yes' ELSE 'no' END,
                             CASE WHEN r.rolinherit THEN 'yes' ELSE 'no' END,
                             coalesce((SELECT string_agg(format('`%s`', g.rolname), ', ' ORDER BY g.rolname COLLATE "C")
                                       FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                       WHERE m.member = r.oid AND g.rolname = ANY (string_to_array(:'roles', ','))), ''),
                             coalesce(replace(replace(shobj_description(r.oid, 'pg_authid'), '|', '\|'), E'\n', ' '), '')),
                      E'\n' ORDER BY r.rolname COLLATE "C") AS md
    FROM pg_roles r
    WHERE r.rolname = ANY (string_to_array(:'roles', ','))
)
SELECT format(E'# Reference\n\n'
    'Generated by `scripts/reference.sh` from the catalogue of a fresh install of\n'
    'task_api %s: do not edit by hand. After changing a function, view, column,\n'
    'comment, setting or role, run the script against a database where the new\n'
    'build was installed (see [contributing.md](contributing.md)); `scripts/reference.sh\n'
    '--check` fails while this file is stale. The guides explain what these\n'
    'objects are for: [README](../README.md), [the contract](contract.md).\n\n'
    '- [Functions of schema api](#functions-of-schema-api)\n'
    '- [Functions of schema task_api](#functions-of-schema-task_api)\n'
    '- [Views of schema api](#views-of-schema-api)\n'
    '- [Views of schema task_api](#views-of-schema-task_api)\n'
    '- [Enum types](#enum-types)\n'
    '- [Settings](#settings)\n'
    '- [Roles](#roles)\n\n'
    '## Functions of schema api\n\n'
    'What PostgREST serves as `/rpc/<name>`.\n\n%s\n'
    '## Functions of schema task_api\n\n'
    'Internal and reusable functions, trigger functions and the PostgREST hook;\n'
    'not exposed over HTTP.\n\n%s\n'
    '## Views of schema api\n\n'
    'The resources PostgREST serves (`/<view>`).\n\n%s\n'
    '## Views of schema task_api\n\n%s\n'
    '## Enum types\n\n| type | values | comment |\n|---|---|---|\n%s\n\n'
    '## Settings\n\n'
    'From `pg_settings`, with their built-in defaults. `task_api.jwt_secret` and\n'
    '`task_api.cursor_secret` are superuser-only and hidden from `pg_settings`\n'
    '(and `SHOW ALL`), so they are not listed here: see\n'
    '[operations.md](operations.md#settings). `task_api.*` is a reserved prefix: a\n'
    'misspelt setting is an error. Context `sighup` means a reload applies it,\n'
    '`postmaster` a restart, `superuser` that only a superuser may change it.\n\n'
    '| setting | default | context | description |\n|---|---|---|---|\n%s\n\n'
    '## Roles\n\n'
    'The roles the install script creates (`CREATE ROLE` in `sql/install/`), and\n'
    'which of them each is a member of.\n\n'
    '| role | login | inherit | member of | comment |\n|---|---|---|---|---|\n%s',
    (SELECT extversion FROM pg_extension WHERE extname = 'task_api'),
    coalesce((SELECT md FROM fn_md WHERE nspname = 'api'), '(none)'),
    coalesce((SELECT md FROM fn_md WHERE nspname = 'task_api'), '(none)'),
    coalesce((SELECT md FROM view_md WHERE nspname = 'api'), '(none)'),
    coalesce((SELECT md FROM view_md WHERE nspname = 'task_api'), '(none)'),
    coalesce((SELECT md FROM enums), ''),
    coalesce((SELECT md FROM settings), ''),
    coalesce((SELECT md FROM roles), ''));
SQL
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
generate "$@" >"$out"

if [ -n "$check" ]; then
    if diff -u "$target" "$out"; then
        echo "docs/reference.md is up to date"
    else
        echo "docs/reference.md is stale: run scripts/reference.sh and commit the result" >&2
        exit 1
    fi
else
    cp "$out" "$target"
    echo "wrote docs/reference.md"
fi
