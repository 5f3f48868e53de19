BEGIN;
SELECT plan(1);
SELECT ok(true, 'smoke');
SELECT * FROM finish();
ROLLBACK;
