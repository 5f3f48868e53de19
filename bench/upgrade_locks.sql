-- Rolling-upgrade benchmark (scripts/bench-upgrade.sh): which locks
-- ALTER EXTENSION task_api UPDATE holds at its end, in a scratch database at
-- 0.1.0 (rolled back).  Relation locks on user tables are held to the end of
-- the transaction, so they are all there; the catalogs' own short locks are
-- not.  Prints
--   lock|<locked object>|<mode>|<what the object is>
-- per lock on a relation or object of the extension (or the extension
-- itself), then at most one
--   blocker|<statement>|<the upgrade's lock it conflicts with>
-- a statement that, left open in another transaction, holds a lock that
-- conflicts with one the upgrade script takes, without itself blocking the
-- writer (an ACCESS SHARE reader for an ACCESS EXCLUSIVE lock, a writer for
-- SHARE or SHARE ROW EXCLUSIVE, COMMENT ON FUNCTION for a function the
-- script replaces...); none when the script takes no such lock.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;
ALTER EXTENSION task_api UPDATE;
SELECT coalesce(json_agg(json_build_object(
           'what', coalesce(l.relation::regclass::text, pg_describe_object(l.classid, l.objid, l.objsubid)),
           'locktype', l.locktype, 'classid', l.classid, 'objid', coalesce(l.relation, l.objid), 'mode', l.mode,
           'kind', CASE WHEN l.locktype = 'relation'
                        THEN CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'i' THEN 'index'
                                            WHEN 'S' THEN 'sequence' WHEN 'm' THEN 'materialized view' ELSE c.relkind::text END
                        ELSE (pg_identify_object(l.classid, l.objid, l.objsubid)).type END)), '[]') AS locks
  FROM pg_locks l
  LEFT JOIN pg_class c ON l.locktype = 'relation' AND c.oid = l.relation
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid = pg_backend_pid() AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND ((l.locktype = 'relation' AND n.nspname IN ('task_api', 'api'))
        OR (l.locktype = 'object' AND l.classid IN ('pg_proc'::regclass, 'pg_extension'::regclass, 'pg_type'::regclass,
                                                     'pg_class'::regclass, 'pg_trigger'::regclass, 'pg_policy'::regclass)))
\gset
ROLLBACK;

\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
WITH l AS (SELECT * FROM json_to_recordset(:'locks') AS (what text, locktype text, classid oid, objid oid, mode text, kind text))
SELECT 'lock', l.what, l.mode,
       l.kind || CASE WHEN l.classid = 'pg_extension'::regclass THEN ' (taken by ALTER EXTENSION before the script runs)'
                      WHEN l.locktype = 'object' AND pg_describe_object(l.classid, l.objid, 0) IS NULL THEN ' (created by the update)'
                      WHEN l.locktype = 'relation' AND NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = l.objid)
                           THEN ' (created by the update)'
                      ELSE '' END
  FROM l
 ORDER BY l.locktype DESC, l.mode, l.what;

-- The mildest lock another session can hold open that conflicts with the
-- upgrade's, preferring tables and views to functions and stronger modes.
WITH l AS (SELECT * FROM json_to_recordset(:'locks') AS (what text, locktype text, classid oid, objid oid, mode text, kind text)),
candidates AS (
    SELECT format('LOCK TABLE %s IN %s MODE', c.oid::regclass,
                  CASE l.mode WHEN 'AccessExclusiveLock' THEN 'ACCESS SHARE' WHEN 'ExclusiveLock' THEN 'ROW SHARE'
                              WHEN 'ShareUpdateExclusiveLock' THEN 'SHARE UPDATE EXCLUSIVE' ELSE 'ROW EXCLUSIVE' END) AS stmt,
           l.what || ' ' || l.mode AS conflicts_with,
           CASE c.relkind WHEN 'r' THEN 1 WHEN 'v' THEN 2 ELSE 3 END AS pref,
           CASE l.mode WHEN 'AccessExclusiveLock' THEN 1 WHEN 'ExclusiveLock' THEN 2 WHEN 'ShareRowExclusiveLock' THEN 3
                       WHEN 'ShareLock' THEN 4 ELSE 5 END AS strength
      FROM l JOIN pg_class c ON c.oid = l.objid
     WHERE l.locktype = 'relation' AND c.relkind IN ('r', 'v', 'm', 'p')
       AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock', 'ShareUpdateExclusiveLock')
    UNION ALL
    SELECT format('COMMENT ON FUNCTION %s IS NULL', p.oid::regprocedure), l.what || ' ' || l.mode, 4,
           CASE l.mode WHEN 'AccessExclusiveLock' THEN 1 ELSE 5 END
      FROM l JOIN pg_proc p ON p.oid = l.objid
     WHERE l.locktype = 'object' AND l.classid = 'pg_proc'::regclass
       AND l.mode IN ('AccessExclusiveLock', 'ShareUpdateExclusiveLock'))
SELECT 'blocker', stmt, conflicts_with FROM candidates ORDER BY pref, strength, stmt LIMIT 1;
