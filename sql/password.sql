-- task_api.password_hash() and task_api.password_verify()

SET task_api.password_iterations = 4096;

-- A SCRAM-SHA-256 verifier with the configured cost and a random salt.
SELECT task_api.password_hash('correct horse battery') ~ '^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' AS scram_format,
       task_api.password_hash('same') <> task_api.password_hash('same') AS salted;

CREATE TEMP TABLE h AS SELECT task_api.password_hash('correct horse battery') AS v;
SELECT task_api.password_verify('correct horse battery', v) AS right_password,
       task_api.password_verify('correct horse batterY', v) AS wrong_password,
       task_api.password_verify('', v) AS empty_password,
       task_api.password_verify(NULL, v) AS null_password,
       task_api.password_verify('correct horse battery', NULL) AS no_user
  FROM h;

-- Non-ASCII passwords are SASLprep-normalized as PostgreSQL does: the
-- composed and decomposed forms of the same text match.
SELECT task_api.password_verify(U&'caf\00e9 au lait!', task_api.password_hash(U&'cafe\0301 au lait!')) AS normalized;

-- Hashes made with another cost still verify; the count is in the verifier.
SET task_api.password_iterations = 5000;
SELECT task_api.password_verify('correct horse battery', v) AS old_cost_ok FROM h;

-- Malformed verifiers never match and never crash.
SELECT task_api.password_verify('x', 'not a verifier') AS garbage,
       task_api.password_verify('x', 'SCRAM-SHA-256$') AS truncated,
       task_api.password_verify('x', 'SCRAM-SHA-256$4096:$:') AS empty_parts,
       task_api.password_verify('x', 'SCRAM-SHA-256$-1:c2FsdA==$a:b') AS negative_count,
       task_api.password_verify('x', 'SCRAM-SHA-256$4096:!!!$a:b') AS bad_base64,
       task_api.password_verify('x', 'md5abcdef') AS md5;

-- Oversized input is refused before any work.
SELECT task_api.password_hash(repeat('x', 1025));
SELECT task_api.password_verify(repeat('x', 1025), NULL);
SELECT task_api.password_hash(NULL) IS NULL AS null_in_null_out;

-- The cost cannot be set below RFC 7677's minimum, nor by other roles.
SET task_api.password_iterations = 100;
SET ROLE task_api_user;
SET task_api.password_iterations = 5000;
SELECT task_api.password_hash('x');
RESET ROLE;
RESET task_api.password_iterations;
