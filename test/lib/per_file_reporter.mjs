// A node:test reporter (scripts/test-citus.sh): one line per test file,
// "FILE: N passed, N failed[, N skipped]", counting tests as the TAP
// reporter's "# pass", "# fail" and "# skipped" lines do (subtests
// included, suites not): a skipped test is not a pass.
import { basename } from 'node:path';

export default async function* perFile(source) {
  const counts = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue;
    const file = event.data.file ? basename(event.data.file) : '(file unknown)';
    const c = counts.get(file) ?? { pass: 0, fail: 0, skip: 0 };
    if (event.data.skip) c.skip += 1;
    else if (event.type === 'test:pass') c.pass += 1;
    else c.fail += 1;
    counts.set(file, c);
  }
  for (const [file, c] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    yield `${file}: ${c.pass} passed, ${c.fail} failed${c.skip ? `, ${c.skip} skipped` : ''}\n`;
  }
}
