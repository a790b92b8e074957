/**
 * The NATS subject namespace (src/protocol/subjects.ts) against the table in its header, and a
 * check that no other module builds subjects or storage keys by hand.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { clusterName, nodeId } from '../../src/names.ts';
import { ACTIONS } from '../../src/protocol/messages.ts';
import { actionOf, API_QUEUE_GROUP, leasePrincipalOf, principalOf, ROOT, subjects } from '../../src/protocol/subjects.ts';

const ROOT_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** `wharf.<cluster>.api.<action>` style patterns from the header of subjects.ts. */
function headerPatterns(): string[] {
  const source = readFileSync(join(ROOT_DIR, 'src/protocol/subjects.ts'), 'utf8');
  return [...source.matchAll(/^ \*\s+(wharf\.\S+)/gm)].map((m) => m[1] ?? '');
}

test('the header lists every subject', (t) => {
  t.deepEqual(headerPatterns(), [
    'wharf.<cluster>.api.<principal>.<action>',
    'wharf.<cluster>.node.<node>.api.<principal>.<action>',
    'wharf.<cluster>.node.<node>.heartbeat',
    'wharf.<cluster>.node.<node>.partition',
    'wharf.<cluster>.node.<node>.replica',
    'wharf.<cluster>.node.<node>.inspect',
    'wharf.<cluster>.ready.<queue>',
    'wharf.<cluster>.meta.changes',
    'wharf.<cluster>.manager.<action>',
    'wharf.<cluster>.inspect.<node>',
    'wharf.<cluster>.inspect.watch',
    'wharf.<cluster>.node.<node>.peek',
    'wharf.<cluster>.lease.heartbeat.<principal>',
  ]);
  t.is(ROOT, 'wharf');
  t.is(API_QUEUE_GROUP, 'wharf-api');
});

test('each builder matches its pattern in the header', (t) => {
  const [api, nodeApi, heartbeat, partition, replica, inspectRequest, ready, metaChanges, manager, inspect, watch, peek, leaseHeartbeat] = headerPatterns();
  const fill = (pattern: string | undefined, values: Record<string, string>) =>
    (pattern ?? '').replace(/<(\w+)>/g, (_, name: string) => values[name] ?? `<${name}>`);
  const s = subjects(clusterName('prod-1'));
  for (const action of ACTIONS) t.is(s.api(action, 'alice'), fill(api, { cluster: 'prod-1', principal: 'alice', action }));
  for (const action of ACTIONS) t.is(s.api(action), fill(api, { cluster: 'prod-1', principal: 'anonymous', action }));
  for (const action of ACTIONS) t.is(s.nodeApi('n_7', action, 'bob'), fill(nodeApi, { cluster: 'prod-1', node: 'n_7', principal: 'bob', action }));
  t.is(s.allNodeApi('n_7'), fill(nodeApi, { cluster: 'prod-1', node: 'n_7', principal: '*', action: '*' }));
  t.deepEqual(s.principalApi('bob'), [fill(api, { cluster: 'prod-1', principal: 'bob', action: '*' }), fill(nodeApi, { cluster: 'prod-1', node: '*', principal: 'bob', action: '*' })]);
  t.is(s.heartbeat(nodeId('n_7')), fill(heartbeat, { cluster: 'prod-1', node: 'n_7' }));
  t.is(s.partition('n_7'), fill(partition, { cluster: 'prod-1', node: 'n_7' }));
  t.is(s.replica('n_7'), fill(replica, { cluster: 'prod-1', node: 'n_7' }));
  t.is(s.ready('orders'), fill(ready, { cluster: 'prod-1', queue: 'orders' }));
  t.is<string, string>(s.metaChanges, fill(metaChanges, { cluster: 'prod-1' }));
  t.is(s.manager('status'), fill(manager, { cluster: 'prod-1', action: 'status' }));
  t.is(s.inspect(nodeId('n_7')), fill(inspect, { cluster: 'prod-1', node: 'n_7' }));
  t.is(s.inspectRequest('n_7'), fill(inspectRequest, { cluster: 'prod-1', node: 'n_7' }));
  t.is<string, string>(s.inspectWatch, fill(watch, { cluster: 'prod-1' }));
  t.is(s.peek('n_7'), fill(peek, { cluster: 'prod-1', node: 'n_7' }));
  t.is(s.leaseHeartbeat('alice'), fill(leaseHeartbeat, { cluster: 'prod-1', principal: 'alice' }));
  t.is(s.leaseHeartbeat(), fill(leaseHeartbeat, { cluster: 'prod-1', principal: 'anonymous' }));
  t.is<string, string>(s.allLeaseHeartbeats, fill(leaseHeartbeat, { cluster: 'prod-1', principal: '*' }));
  t.is(leasePrincipalOf(s.leaseHeartbeat('bob_2')), 'bob_2');
  t.is<string, string>(s.allApi, fill(api, { cluster: 'prod-1', principal: '*', action: '*' }));
  t.is<string, string>(s.allHeartbeats, fill(heartbeat, { cluster: 'prod-1', node: '*' }));
  t.is<string, string>(s.allInspect, fill(inspect, { cluster: 'prod-1', node: '*' }));
});

test('clusters do not share subjects', (t) => {
  const a = subjects(clusterName('a'));
  const b = subjects(clusterName('ab'));
  t.not(a.api('SendMessage'), b.api('SendMessage'));
  t.false(b.api('SendMessage').startsWith(a.allApi.slice(0, -1)));
});

test('every subject token is a valid NATS token', (t) => {
  const s = subjects(clusterName('c-1_x'));
  const all = [
    ...ACTIONS.map((a) => s.api(a)),
    ...ACTIONS.map((a) => s.nodeApi('node-1', a)),
    s.heartbeat(nodeId('node-1')),
    s.partition('node-1'),
    s.replica('node-1'),
    s.ready('orders'),
    s.manager('status'),
    s.inspect(nodeId('node-1')),
  ];
  for (const subject of all) {
    for (const token of subject.split('.')) t.regex(token, /^[A-Za-z0-9_-]+$/, subject);
  }
});

test('actionOf reads the action of an API subject', (t) => {
  const s = subjects(clusterName('local'));
  for (const action of ACTIONS) t.is(actionOf(s.api(action)), action);
  for (const action of ACTIONS) t.is(actionOf(s.nodeApi('n1', action)), action);
  t.is(actionOf('no-dots'), undefined);
  t.is(actionOf('wharf.local.api.'), '');
});

test('principalOf reads the principal of an API subject', (t) => {
  const s = subjects(clusterName('local'));
  for (const action of ACTIONS) t.is(principalOf(s.api(action, 'alice')), 'alice');
  for (const action of ACTIONS) t.is(principalOf(s.nodeApi('n1', action, 'bob_2')), 'bob_2');
  t.is(principalOf(s.api('SendMessage')), 'anonymous');
  t.is(principalOf('no-dots'), undefined);
  t.is(principalOf('one.dot'), undefined);
});

// ---- no hand-built subjects or keys elsewhere ----------------------------------------------------

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Lines of src/ and actors/ (except `allowed`) that match `pattern`, as `file:line: text`. */
function offenders(pattern: RegExp, allowed: string): string[] {
  const out: string[] = [];
  for (const file of [...sourceFiles(join(ROOT_DIR, 'src')), ...sourceFiles(join(ROOT_DIR, 'actors'))]) {
    const rel = relative(ROOT_DIR, file);
    if (rel === allowed) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (pattern.test(line)) out.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
  }
  return out;
}

/** A string, template or concatenation that starts with `wharf.`, or a subject built from ROOT. */
const SUBJECT = /['"`]wharf\.|\$\{ROOT\}|\bROOT \+/;
/** `m/…`, `'q/'`, `meta/layout` and the other key prefixes of keys.ts, in any kind of quotes. */
const KEY = /['"`](?:meta|[qxsmld])\//;

test('no module but subjects.ts writes a subject literal', (t) => {
  t.deepEqual(offenders(SUBJECT, 'src/protocol/subjects.ts'), []);
});

test('no module but keys.ts writes a storage key literal', (t) => {
  t.deepEqual(offenders(KEY, 'src/storage/keys.ts'), []);
});

test('the offender patterns find what they look for', (t) => {
  // Guards the two tests above against patterns that can never match.
  for (const line of ["const s = 'wharf.local.api.SendMessage';", 'sub(`wharf.${cluster}.node.x`)', '"wharf.*"', 'const p = `${ROOT}.${c}`;']) {
    t.true(SUBJECT.test(line), line);
  }
  for (const line of ["name: `wharf-${id}`", "'wharf-client'", 'wharf node failed', 'const ROOT = 1;']) t.false(SUBJECT.test(line), line);
  for (const line of ['db.get(`m/${q}/${p}`)', "const k = 'q/' + name;", "'meta/layout'", '"d/x/0000/"', '`l/${q}`', "`s/${q}`", "'x/'"]) {
    t.true(KEY.test(line), line);
  }
  for (const line of ["'ms/s'", 'a/b', "join('.wharf', 'data')", "'./data/'", "path: 'data/m/'", 'x / 2']) t.false(KEY.test(line), line);
  t.true(offenders(KEY, 'none').some((l) => l.startsWith('src/storage/keys.ts')), 'keys.ts itself holds key literals');
});
