-- task_api.password_hash(), password_verify() and password_needs_rehash()

SET task_api.password_memory = 64;
SET task_api.password_time_cost = 1;

-- An Argon2id hash (PHC string) with the configured cost and a random salt.
SELECT task_api.password_hash('correct horse battery') ~ '^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$' AS argon2id_format,
       task_api.password_hash('same') <> task_api.password_hash('same') AS salted;

CREATE TEMP TABLE h AS SELECT task_api.password_hash('correct horse battery') AS v;
SELECT task_api.password_verify('correct horse battery', v) AS right_password,
       task_api.password_verify('correct horse batterY', v) AS wrong_password,
       task_api.password_verify('', v) AS empty_password,
       task_api.password_verify(NULL, v) AS null_password,
       task_api.password_verify('correct horse battery', NULL) AS no_user,
       task_api.password_needs_rehash(v) AS needs_rehash
  FROM h;

-- Non-ASCII passwords are SASLprep-normalized as PostgreSQL does: the
-- composed and decomposed forms of the same text match.
SELECT task_api.password_verify(U&'caf\00e9 au lait!', task_api.password_hash(U&'cafe\0301 au lait!')) AS normalized;

-- Hashes made with another cost still verify (the cost is in the hash), and
-- need a rehash.
SET task_api.password_time_cost = 2;
SELECT task_api.password_verify('correct horse battery', v) AS old_cost_ok,
       task_api.password_needs_rehash(v) AS old_cost_rehash FROM h;
RESET task_api.password_time_cost;
SET task_api.password_time_cost = 1;

-- Release 0.1.0's SCRAM-SHA-256 verifiers still verify, and need a rehash.
SET password_encryption = 'scram-sha-256';
CREATE ROLE regress_task_api_scram PASSWORD 'correct horse battery';
SELECT task_api.password_verify('correct horse battery', rolpassword) AS scram_ok,
       task_api.password_verify('correct horse batterY', rolpassword) AS scram_wrong,
       task_api.password_needs_rehash(rolpassword) AS scram_rehash
  FROM pg_authid WHERE rolname = 'regress_task_api_scram';
DROP ROLE regress_task_api_scram;

-- Malformed hashes never match and never crash.
SELECT task_api.password_verify('x', 'not a verifier') AS garbage,
       task_api.password_verify('x', 'SCRAM-SHA-256$') AS truncated,
       task_api.password_verify('x', 'SCRAM-SHA-256$4096:$:') AS empty_parts,
       task_api.password_verify('x', 'SCRAM-SHA-256$-1:c2FsdA==$a:b') AS negative_count,
       task_api.password_verify('x', 'SCRAM-SHA-256$4096:!!!$a:b') AS bad_base64,
       task_api.password_verify('x', '$argon2id$') AS argon2_truncated,
       task_api.password_verify('x', '$argon2id$v=19$m=64,t=1,p=1$!!!$!!!') AS argon2_bad_base64,
       task_api.password_verify('x', '$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') AS argon2i,
       task_api.password_verify('x', 'md5abcdef') AS md5,
       task_api.password_needs_rehash('not a verifier') AS garbage_rehash;

-- Oversized input is refused before any work.
SELECT task_api.password_hash(repeat('x', 1025));
SELECT task_api.password_verify(repeat('x', 1025), NULL);
SELECT task_api.password_hash(NULL) IS NULL AS null_in_null_out;

-- The costs cannot be set below their minimums, nor by other roles.
SET task_api.password_memory = 4;
SET task_api.password_time_cost = 0;
SET task_api.password_iterations = 100;
SET ROLE task_api_user;
SET task_api.password_memory = 128;
SET task_api.password_time_cost = 3;
SELECT task_api.password_hash('x');
RESET ROLE;
RESET task_api.password_memory;
RESET task_api.password_time_cost;
