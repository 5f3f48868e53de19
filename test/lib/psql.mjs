// Superuser SQL over the test cluster's socket, for the node test files
// (test/http/lib.mjs, test/lib/fill.mjs): TASK_API_PSQL, TASK_API_PGHOST,
// TASK_API_PGPORT and TASK_API_PGDATABASE say where.  Variables are psql
// variables (:'name' in the SQL), never spliced into the text.  Resolves to
// stdout, trimmed.
import { spawn } from 'node:child_process';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through 'make test' (scripts/test.sh)`);
  return v;
}

export function psql(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', env('TASK_API_PGHOST'), '-p', env('TASK_API_PGPORT'),
    '-U', 'postgres', '-d', env('TASK_API_PGDATABASE')];
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[a-z_][a-z0-9_]*$/i.test(k)) throw new Error(`bad psql variable name ${k}`);
    args.push('-v', `${k}=${v}`);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(env('TASK_API_PSQL'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`psql failed (${code}): ${err}`));
    });
    child.stdin.end(sql);
  });
}
