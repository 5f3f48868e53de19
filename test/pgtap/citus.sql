-- Citus (docs/scaling.md): task_api.distribute() without Citus refuses
-- with citus_not_installed and changes nothing; only a superuser may call
-- it.  Distributing itself runs in make test-citus (scripts/test-citus.sh).
BEGIN;
SELECT plan(8);
\ir helpers/setup.psql

SELECT has_function('task_api', 'distribute', ARRAY[]::text[], 'task_api.distribute() exists');
SELECT is_empty($$SELECT r.rolname FROM pg_roles r
                   WHERE has_function_privilege(r.oid, 'task_api.distribute()', 'EXECUTE') AND NOT r.rolsuper$$,
                'no role but superusers may execute distribute()');

CREATE TEMP TABLE keys_before AS
    SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'task_api'::regnamespace;
SELECT is(tap.err('SELECT task_api.distribute()'), 'citus_not_installed 409',
          'without the citus extension: citus_not_installed (409)');
SELECT matches((tap.error_of('SELECT task_api.distribute()')) ->> 'hint', 'CREATE EXTENSION citus',
               'the refusal says how to install Citus');
SELECT set_eq($$SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                  FROM pg_constraint WHERE connamespace = 'task_api'::regnamespace$$,
              $$SELECT * FROM keys_before$$,
              'a refused distribute() leaves every key as installed');
SELECT ok(EXISTS (SELECT FROM pg_indexes WHERE schemaname = 'task_api' AND indexname = 'projects_owner_name_key'),
          'and the unique project names per owner');

-- citus_pre_request() plans the request afresh for its parameters: Citus
-- cannot plan a distributed query with unknown ones, and task_api_user's
-- force_generic_plan (which PostgREST sets per request) would ask for that.
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT task_api.citus_pre_request();
SELECT is(current_setting('plan_cache_mode'), 'auto', 'citus_pre_request() sets plan_cache_mode = auto for the transaction');

-- A non-superuser is refused by the grant before anything runs.
SELECT tap.act_as(tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a')) \gset
SELECT is(tap.err('SELECT task_api.distribute()'), '42501', 'task_api_user cannot execute distribute()');

SELECT * FROM finish();
ROLLBACK;
