// Issue 21, item 7: PostgREST never runs as root.  scripts/lib.sh
// postgrest_start, which 'make serve', 'make test' and the benchmarks share,
// runs it as the system user task_api when the scripts run as root, and as
// the invoking user otherwise; this checks the tier's own PostgREST, found
// by the port it listens on, and that its secrets are out of reach of other
// unprivileged users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const port = Number(new URL(process.env.TASK_API_URL).port);
const asRoot = process.getuid() === 0;

// The pid of the process listening on TCP port `port` (IPv4 or IPv6).
function listener() {
  const inodes = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && parseInt(f[1].split(':').pop(), 16) === port) inodes.add(f[9]);
    }
  }
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds;
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (m && inodes.has(m[1])) return Number(pid);
      } catch {
        // the fd closed meanwhile
      }
    }
  }
  return null;
}

// /proc/PID/status (or PID/task/TID's) as an object.
function status(pid) {
  return Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')
    .filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

test("the tier's PostgREST runs as an unprivileged OS user", () => {
  const pid = listener();
  assert.ok(pid, `no process listens on port ${port}`);
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /postgrest/, 'the listener is PostgREST');
  const s = status(pid);
  const uids = s.Uid.split(/\s+/).map(Number);
  const gids = s.Gid.split(/\s+/).map(Number);
  assert.ok(uids.every((u) => u !== 0), `real, effective, saved and file-system uids are not root: ${s.Uid}`);
  assert.ok(gids.every((g) => g !== 0), `nor the gids: ${s.Gid}`);
  assert.equal(BigInt(`0x${s.CapEff}`), 0n, 'no capabilities');
  assert.equal(BigInt(`0x${s.CapPrm}`), 0n, 'none it could raise');
  if (asRoot) {
    const name = execFileSync('id', ['-un', String(uids[0])], { encoding: 'utf8' }).trim();
    assert.equal(name, 'task_api', 'from root: its own system user, not postgres (who may use the cluster socket)');
    assert.equal(s.NoNewPrivs, '1', 'and it cannot gain privileges by exec');
  } else {
    assert.equal(uids[0], process.getuid(), 'run by a user: as that user');
  }
});

// A taskset list ("0-1", "0,2-3") as its CPUs' numbers.
function cpuList(list) {
  return list.split(',').flatMap((part) => {
    const [a, b = a] = part.split('-').map(Number);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

// docs/performance.md, "Its threads on one CPU".
test("on 2 CPUs or fewer, every PostgREST thread is kept on one CPU, the last it may use", () => {
  const pid = listener();
  assert.ok(pid, `no process listens on port ${port}`);
  const own = cpuList(status(process.pid).Cpus_allowed_list);
  const set = process.env.TASK_API_POSTGREST_CPUS;
  let want;
  if (set !== undefined) want = set === '' ? own : cpuList(set);
  else want = own.length <= 2 ? [own.at(-1)] : own;
  const threads = readdirSync(`/proc/${pid}/task`);
  assert.ok(threads.length > 1, 'PostgREST runs several threads');
  for (const tid of threads) {
    assert.deepEqual(cpuList(status(`${pid}/task/${tid}`).Cpus_allowed_list), want, `thread ${tid} of ${threads.length}`);
  }
});

test("PostgREST's secrets are private to it and to the user who started it", { skip: !asRoot && 'needs root' }, () => {
  const pid = listener();
  const environ = statSync(`/proc/${pid}/environ`);
  assert.equal(environ.mode & 0o077, 0, 'its environment (the settings) is readable by its own user only');
  // Another unprivileged user can read neither its environment nor the file
  // the settings came from.
  const conf = readdirSync(new URL('../../.task_api/', import.meta.url))
    .filter((f) => /^postgrest-.*\.conf$/.test(f)).map((f) => new URL(`../../.task_api/${f}`, import.meta.url).pathname);
  assert.ok(conf.length > 0, 'the configuration files are there');
  for (const path of [`/proc/${pid}/environ`, ...conf]) {
    assert.throws(() => execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'cat', path],
      { stdio: 'pipe' }), `nobody cannot read ${path}`);
  }
  for (const path of conf) assert.equal(statSync(path).mode & 0o077, 0, `${path} is private`);
});

// scripts/lib.sh cluster_auth: the socket's directory is open to other OS
// users so that PostgREST connects through it; over it, only the superuser
// logs in without a password, and only as the cluster's OS user or root.
function psqlAs(who, role, sql) {
  const e = process.env;
  const args = ['-X', '-q', '-A', '-t', '-w', '-h', e.TASK_API_PGHOST, '-p', e.TASK_API_PGPORT, '-U', role,
    '-d', e.TASK_API_PGDATABASE, '-c', sql];
  const [user, group] = (who ?? '').split(':');
  const [cmd, argv] = user
    ? ['setpriv', [`--reuid=${user}`, `--regid=${group ?? user}`, '--init-groups', e.TASK_API_PSQL, ...args]]
    : [e.TASK_API_PSQL, args];
  try {
    return { out: execFileSync(cmd, argv, { encoding: 'utf8', stdio: 'pipe', env: { ...e, PGPASSWORD: '' } }).trim() };
  } catch (err) {
    return { err: String(err.stderr) };
  }
}

test("PostgREST reaches the database over its Unix socket", () => {
  const r = psqlAs(null, 'postgres', "SELECT count(*) FILTER (WHERE client_addr IS NULL) || ' ' || count(*) FROM pg_stat_activity WHERE usename = 'task_api_authenticator' AND backend_type = 'client backend'");
  assert.ok(r.out, r.err);
  const [local, all] = r.out.split(' ').map(Number);
  assert.ok(all > 0, 'PostgREST is connected');
  assert.equal(local, all, 'every PostgREST connection is over the socket');
});

test("over the socket, PostgREST's OS user logs in as no role without its password", { skip: !asRoot && 'needs root' }, () => {
  for (const who of ['task_api', 'nobody:nogroup']) {
    const user = who.split(':')[0];
    const su = psqlAs(who, 'postgres', 'SELECT 1');
    assert.equal(su.out, undefined, `${user} is not the superuser`);
    assert.match(su.err, /Peer authentication failed for user "postgres"/);
    for (const role of ['task_api_authenticator', 'task_api_user', 'task_api_anon']) {
      const r = psqlAs(who, role, 'SELECT 1');
      assert.equal(r.out, undefined, `${user} cannot log in as ${role}`);
      assert.match(r.err, /no password supplied|password authentication failed/);
    }
  }
  // The cluster's OS user's map: root and postgres are the superuser.
  assert.equal(psqlAs(null, 'postgres', 'SELECT 1').out, '1');
  assert.equal(psqlAs('postgres', 'postgres', 'SELECT 1').out, '1');
});
