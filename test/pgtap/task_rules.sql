-- Task rules in one place (sql/install/40_tasks.sql, task_api.task_rule()):
-- the boundary values of every rule are written through api.tasks (POST and
-- PATCH: the C validation of src/task_insert.c) and straight into
-- task_api.tasks (the CHECK constraints).  Both must accept or refuse the
-- same value, the API by validation_failed on that field (never by the
-- constraint behind it), and the column comments must state the rules: a
-- bound changed in one place only fails here.
BEGIN;
SELECT plan(33);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('rita', 'a0000000-0000-4000-8000-0000000000a1');
SELECT tap.make_project('Rules', tap.id('rita'));
SELECT tap.make_task('rule target', tap.id('Rules'), tap.id('rita'));

-- The probes: each rule's bounds and the values just outside them.
CREATE TABLE tap.probes (field text, label text, value text, by_table text, by_post text, by_patch text);
GRANT ALL ON tap.probes TO PUBLIC;
INSERT INTO tap.probes (field, label, value)
SELECT 'title', l, repeat('x', n) FROM (VALUES
    ('title_min - 1 characters', task_api.task_rule('title_min') - 1),
    ('title_min characters', task_api.task_rule('title_min')),
    ('title_max characters', task_api.task_rule('title_max')),
    ('title_max + 1 characters', task_api.task_rule('title_max') + 1)) AS v(l, n)
UNION ALL
SELECT 'description', l, left(repeat('abcd ', n), n) FROM (VALUES
    ('description_max characters', task_api.task_rule('description_max')),
    ('description_max + 1 characters', task_api.task_rule('description_max') + 1)) AS v(l, n)
UNION ALL
SELECT 'priority', l, n::text FROM (VALUES
    ('priority_min - 1', task_api.task_rule('priority_min') - 1),
    ('priority_min', task_api.task_rule('priority_min')),
    ('priority_max', task_api.task_rule('priority_max')),
    ('priority_max + 1', task_api.task_rule('priority_max') + 1)) AS v(l, n);

-- A task with the probe's value in its field and valid values elsewhere.
CREATE FUNCTION tap.probe_values(field text, value text, OUT title text, OUT description text, OUT priority smallint)
    LANGUAGE sql AS $$
    SELECT CASE field WHEN 'title' THEN value ELSE 'a title' END,
           CASE field WHEN 'description' THEN value END,
           CASE field WHEN 'priority' THEN value::smallint ELSE 2::smallint END
$$;

-- accepted, refused (through the API: validation_failed naming the field;
-- straight into the table, field 'constraint': a CHECK constraint), or the
-- error it was.
CREATE FUNCTION tap.outcome(stmt text, field text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    e jsonb := tap.error_of(stmt);
BEGIN
    IF e IS NULL THEN
        RETURN 'accepted';
    ELSIF e ->> 'sqlstate' = '23514' AND field = 'constraint' THEN
        RETURN 'refused';  -- straight into the table: by a CHECK constraint
    ELSIF e ->> 'code' = 'validation_failed'
          AND EXISTS (SELECT FROM jsonb_array_elements((e ->> 'details')::jsonb) p WHERE p ->> 'field' = field) THEN
        RETURN 'refused';
    END IF;
    RETURN 'error ' || coalesce(e ->> 'code', e ->> 'sqlstate');
END
$$;
\o

-- Straight into the table, as its owner would: the constraints alone.
UPDATE tap.probes p SET by_table = (SELECT tap.outcome(format(
    'INSERT INTO task_api.tasks (project_id, title, description, priority, created_by) VALUES (%L, %L, %L, %L, %L)',
    tap.id('Rules'), v.title, v.description, v.priority, tap.id('rita')), 'constraint')
  FROM tap.probe_values(p.field, p.value) v);

SELECT tap.act_as(tap.id('rita'));
UPDATE tap.probes p SET by_post = (SELECT tap.outcome(format(
    'INSERT INTO api.tasks (project_id, title, description, priority) VALUES (%L, %L, %L, %L)',
    tap.id('Rules'), v.title, v.description, v.priority), p.field)
  FROM tap.probe_values(p.field, p.value) v);
UPDATE tap.probes p SET by_patch = (SELECT tap.outcome(format(
    'UPDATE api.tasks SET title = %L, description = %L, priority = %L WHERE id = %L',
    v.title, v.description, v.priority, tap.id('rule target')), p.field)
  FROM tap.probe_values(p.field, p.value) v);
SELECT tap.act_as_admin();

SELECT is(by_table, CASE WHEN label ~ '[-+] 1' THEN 'refused' ELSE 'accepted' END,
          format('task_api.tasks: %s %s by the constraint, as task_rule() says', field, label))
  FROM tap.probes ORDER BY field, label;
SELECT is(by_post, by_table, format('POST /tasks: %s %s, as the table', field, label))
  FROM tap.probes ORDER BY field, label;
SELECT is(by_patch, by_table, format('PATCH /tasks: %s %s, as the table', field, label))
  FROM tap.probes ORDER BY field, label;

-- The comments of api.tasks state the same rules.
SELECT is(col_description('api.tasks'::regclass, 4),
          format('Title, %s to %s characters after trimming.', task_api.task_rule('title_min'), task_api.task_rule('title_max')),
          'the comment on api.tasks.title states the title rule');
SELECT is(col_description('api.tasks'::regclass, 5),
          format('Free text, at most %s characters.', task_api.task_rule('description_max')),
          'the comment on api.tasks.description states the description rule');
SELECT is(col_description('api.tasks'::regclass, 7),
          format('Priority from %s to %s (default 2).', task_api.task_rule('priority_min'), task_api.task_rule('priority_max')),
          'the comment on api.tasks.priority states the priority rule');

SELECT * FROM finish();
ROLLBACK;
