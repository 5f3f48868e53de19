// The README's getting started, run as written, twice in a row (issue 14,
// item 6): the second run logs in instead of signing up, and every variable
// it sets ($ALICE, $BOB, $PROJECT) is still usable.  The commands are taken
// from README.md itself, so this test follows the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { api, BASE_URL } from './lib.mjs';

const README = new URL('../../README.md', import.meta.url);

// The first ```sh block of the "## Getting started" section.
function gettingStarted() {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('\n## Getting started'));
  const match = section.match(/```sh\n([\s\S]*?)\n```/);
  assert.ok(match, 'README.md has a sh block under "## Getting started"');
  return match[1];
}

function run(script) {
  const out = spawnSync('bash', ['-c', `${script}\necho; echo "ALICE=$ALICE"; echo "BOB=$BOB"; echo "PROJECT=$PROJECT"`],
    { encoding: 'utf8', timeout: 120000 });
  assert.equal(out.status, 0, `the walkthrough failed: ${out.stderr}`);
  const vars = Object.fromEntries([...out.stdout.matchAll(/^(ALICE|BOB|PROJECT)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  return { vars, stdout: out.stdout };
}

test('getting started in the README runs twice in a row without breaking', async () => {
  const script = gettingStarted();
  assert.match(script, /^API=http:\/\/localhost:3000$/m, 'the walkthrough starts by setting API');
  // Against the test server, with addresses of this run (the same on both runs).
  const tag = randomUUID().slice(0, 8);
  const ours = script.replace(/^API=.*$/m, `API=${BASE_URL}`)
    .replaceAll('alice@example.com', `alice-${tag}@example.com`)
    .replaceAll('bob@example.com', `bob-${tag}@example.com`)
    .replaceAll('BOB@example.com', `BOB-${tag}@example.com`);
  for (const round of ['first', 'second']) {
    const { vars, stdout } = run(ours);
    assert.match(vars.ALICE, /^[\w-]+\.[\w-]+\.[\w-]+$/, `${round} run: $ALICE is a token: ${stdout}`);
    assert.match(vars.BOB, /^[\w-]+\.[\w-]+\.[\w-]+$/, `${round} run: $BOB is a token`);
    assert.match(vars.PROJECT, /^[0-9a-f-]{36}$/, `${round} run: $PROJECT is a project id`);
    const res = await api('GET', `/projects?id=eq.${vars.PROJECT}&select=name`, { token: vars.ALICE });
    assert.equal(res.status, 200, `${round} run: $ALICE works`);
    assert.deepEqual(res.body, [{ name: 'Launch' }]);
    // Bob logged out at the end of the walkthrough: his token no longer works.
    assert.equal((await api('GET', '/projects', { token: vars.BOB })).status, 401);
    assert.doesNotMatch(stdout, /"code":"(?!forbidden|validation_failed|unauthenticated|conflict|precondition_failed)/,
      `${round} run: only the errors the README shows: ${stdout}`);
  }
});
