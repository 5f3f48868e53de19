// Checks META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/)
// and against the repository: the version is task_api.control's, every
// provided file exists.  Prints one TAP line per problem class and exits
// non-zero on any problem.  Usage: node test/lib/meta_check.mjs [ROOT]
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] || '.';
const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$/;
const LICENSES = new Set(['agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd',
  'freebsd', 'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1', 'lgpl_3_0', 'mit',
  'mozilla_1_0', 'mozilla_1_1', 'openssl', 'perl_5', 'postgresql', 'qpl_1_0', 'ssleay', 'sun',
  'zlib', 'open_source', 'restricted', 'unrestricted', 'unknown']);
const PHASES = new Set(['configure', 'build', 'test', 'runtime', 'develop']);
const RELATIONS = new Set(['requires', 'recommends', 'suggests', 'conflicts']);
const TERM = /^[^\s/\\\p{Cc}]{2,}$/u;
const VERSION_RANGE = /^\s*(0|(?:(?:[<>]=?|[!=]=)\s*)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?)(\s*,\s*(?:[<>]=?|[!=]=)\s*(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?)*\s*$/;

const isString = (v) => typeof v === 'string' && v.length > 0;
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const custom = (k) => /^x_/i.test(k);
function stringOrList(v) {
  return isString(v) || (Array.isArray(v) && v.length > 0 && v.every(isString));
}
function onlyKeys(where, obj, allowed) {
  for (const k of Object.keys(obj)) if (!allowed.has(k) && !custom(k)) problem(where, `unknown key "${k}"`);
}

let meta;
try {
  meta = JSON.parse(readFileSync(join(root, 'META.json'), 'utf8'));
} catch (e) {
  problem('META.json', `not readable JSON: ${e.message}`);
}

if (meta) {
  onlyKeys('META.json', meta, new Set(['name', 'abstract', 'description', 'version', 'maintainer',
    'license', 'provides', 'prereqs', 'release_status', 'generated_by', 'no_index', 'tags',
    'resources', 'meta-spec']));
  for (const k of ['name', 'abstract', 'version', 'maintainer', 'license', 'provides', 'meta-spec'])
    if (!(k in meta)) problem('META.json', `required key "${k}" is missing`);
  if ('name' in meta && !(isString(meta.name) && TERM.test(meta.name))) problem('name', 'not a valid term');
  for (const k of ['abstract', 'description', 'generated_by'])
    if (k in meta && !isString(meta[k])) problem(k, 'must be a non-empty string');
  if ('version' in meta && !SEMVER.test(meta.version)) problem('version', 'not a semantic version');
  if ('maintainer' in meta && !stringOrList(meta.maintainer)) problem('maintainer', 'must be a string or a list of strings');
  if ('license' in meta) {
    const l = meta.license;
    const ok = (isString(l) && LICENSES.has(l)) ||
      (Array.isArray(l) && l.length > 0 && l.every((x) => LICENSES.has(x))) ||
      (isObject(l) && Object.keys(l).length > 0 && Object.values(l).every(isString));
    if (!ok) problem('license', 'not a license string of the spec, a list of them, or a name -> URL object');
  }
  if ('meta-spec' in meta) {
    const ms = meta['meta-spec'];
    if (!isObject(ms) || ms.version !== '1.0.0') problem('meta-spec', 'must be an object with version "1.0.0"');
    else onlyKeys('meta-spec', ms, new Set(['version', 'url']));
  }
  if ('provides' in meta) {
    if (!isObject(meta.provides) || Object.keys(meta.provides).length === 0) problem('provides', 'must name at least one extension');
    else for (const [ext, p] of Object.entries(meta.provides)) {
      const where = `provides.${ext}`;
      if (!TERM.test(ext)) problem(where, 'not a valid term');
      if (!isObject(p)) { problem(where, 'must be an object'); continue; }
      onlyKeys(where, p, new Set(['file', 'version', 'abstract', 'docfile']));
      if (!isString(p.file)) problem(where, '"file" is required');
      else if (!existsSync(join(root, p.file))) problem(where, `file ${p.file} does not exist`);
      if (!SEMVER.test(p.version || '')) problem(where, '"version" must be a semantic version');
      if ('docfile' in p && !(isString(p.docfile) && existsSync(join(root, p.docfile)))) problem(where, 'docfile does not exist');
      if ('abstract' in p && !isString(p.abstract)) problem(where, 'abstract must be a string');
    }
  }
  if ('prereqs' in meta) {
    if (!isObject(meta.prereqs)) problem('prereqs', 'must be an object');
    else for (const [phase, rels] of Object.entries(meta.prereqs)) {
      if (!PHASES.has(phase) && !custom(phase)) { problem('prereqs', `unknown phase "${phase}"`); continue; }
      if (!isObject(rels)) { problem(`prereqs.${phase}`, 'must be an object'); continue; }
      for (const [rel, exts] of Object.entries(rels)) {
        if (!RELATIONS.has(rel) && !custom(rel)) { problem(`prereqs.${phase}`, `unknown relation "${rel}"`); continue; }
        if (!isObject(exts)) { problem(`prereqs.${phase}.${rel}`, 'must be an object'); continue; }
        for (const [name, v] of Object.entries(exts))
          if (!(v === 0 || (typeof v === 'string' && VERSION_RANGE.test(v))))
            problem(`prereqs.${phase}.${rel}.${name}`, `"${v}" is not a version or version range`);
      }
    }
  }
  if ('release_status' in meta && !['stable', 'testing', 'unstable'].includes(meta.release_status))
    problem('release_status', 'must be stable, testing or unstable');
  if ('tags' in meta && !(Array.isArray(meta.tags) && meta.tags.length > 0 &&
      meta.tags.every((t) => isString(t) && t.length < 256 && !/[/\\\p{Cc}]/u.test(t))))
    problem('tags', 'must be a list of tags (no slash, backslash or control character, under 256 characters)');
  if ('no_index' in meta) {
    if (!isObject(meta.no_index)) problem('no_index', 'must be an object');
    else {
      onlyKeys('no_index', meta.no_index, new Set(['file', 'directory']));
      for (const [k, v] of Object.entries(meta.no_index)) if (!stringOrList(v)) problem(`no_index.${k}`, 'must be a string or a list of strings');
    }
  }
  if ('resources' in meta && !isObject(meta.resources)) problem('resources', 'must be an object');

  // The repository's own facts.
  const control = readFileSync(join(root, 'task_api.control'), 'utf8');
  const version = (control.match(/^default_version = '([^']*)'$/m) || [])[1];
  if (meta.version !== version) problem('version', `${meta.version} is not task_api.control's ${version}`);
  if (meta.provides?.task_api?.version !== version) problem('provides.task_api.version', `is not task_api.control's ${version}`);
}

if (problems.length === 0) {
  console.log('ok - META.json follows the PGXN Meta Spec 1.0.0 and names version ' + meta.version);
} else {
  console.log('not ok - META.json: ' + problems.length + ' problem(s)');
  for (const p of problems) console.log('#   ' + p);
  process.exitCode = 1;
}
