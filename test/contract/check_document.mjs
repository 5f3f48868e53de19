// The contract tier's checks of the OpenAPI documents served at /: each
// validates with @apidevtools/swagger-parser as OpenAPI 3.1, and
// openapi-typescript generates types from the signed-in one in which no
// response with a body is `never`.  Prints TAP lines.
// Usage: node check_document.mjs TYPES_OUT DOCUMENT...
import { readFileSync, writeFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import openapiTS, { astToString } from 'openapi-typescript';

const [typesOut, ...documents] = process.argv.slice(2);
let failed = 0;
const report = (pass, what) => {
  console.log(`${pass ? 'ok' : 'not ok'} - ${what}`);
  if (!pass) failed++;
};

for (const file of documents) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  try {
    await SwaggerParser.validate(structuredClone(doc));
    report(/^3\.1\.\d+$/.test(doc.openapi), `${file}: valid OpenAPI ${doc.openapi}, ${Object.keys(doc.paths).length} paths`);
  } catch (e) {
    report(false, `${file}: swagger-parser: ${e.message.slice(0, 2000)}`);
  }
}

// Types from the last document (the signed-in one).
const doc = JSON.parse(readFileSync(documents[documents.length - 1], 'utf8'));
const ts = astToString(await openapiTS(doc));
writeFileSync(typesOut, ts);
// In the generated operations, a response is "never" when its status has no
// content (only a 204 may lack a body), or an operation has no responses.
const nevers = [];
let checked = 0;
const lines = ts.split('\n');
const operations = lines.findIndex((l) => l.startsWith('export interface operations'));
for (let i = Math.max(operations, 0); i < lines.length; i++) {
  if (/^\s+responses\??: never;/.test(lines[i])) nevers.push(`no responses at line ${i + 1}`);
  const status = lines[i].match(/^\s+(\d{3}): \{$/);
  if (!status) continue;
  checked++;
  for (let j = i + 1; j < Math.min(i + 40, lines.length); j++) {
    if (/^\s+content\??: never;/.test(lines[j])) {
      if (status[1] !== '204') nevers.push(`${status[1]} at line ${i + 1}`);
      break;
    }
    if (/^\s+content: \{/.test(lines[j])) break;
  }
}
report(operations >= 0 && checked > 0 && nevers.length === 0,
  `openapi-typescript: ${ts.length} bytes (${lines.length} lines) of types; ${checked} responses, typed never: ${nevers.length}` +
  (nevers.length ? ` (${nevers.slice(0, 10).join(', ')})` : ''));
process.exitCode = failed ? 1 : 0;
