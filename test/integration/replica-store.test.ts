/**
 * ReplicaStore on a real RocksDB: the bounded log tail (trimmed as entries are applied, the log
 * start found again after a restart), truncation that must start over because the log prefix is
 * gone, and the snapshot copy — a point-in-time read on one side, an install that a crash makes
 * start over on the other.
 */
import test, { type ExecutionContext } from 'ava';
import type { ReplicaMeta } from '../../actors/replica/log.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import type { QueueName } from '../../src/names.ts';
import { keys } from '../../src/storage/keys.ts';
import { decodeLogEntry, encodeLogEntry } from '../../src/storage/records.ts';
import { openRocksStore, type Store } from '../../src/storage/store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const Q = 'jobs' as QueueName;
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function open(t: ExecutionContext<unknown>, dir?: string): Promise<{ store: Store; dir: string }> {
  const d = dir ?? (await tempDir(t, 'wharf-replica-store-'));
  const store = await openRocksStore(d);
  t.teardown(() => store.close().catch(() => undefined));
  return { store, dir: d };
}

/** `n` entries of `epoch`, entry i putting message key i = `v<i>`. */
function entries(from: number, n: number, epoch: number) {
  return Array.from({ length: n }, (_, k) => ({
    epoch,
    bytes: encodeLogEntry({ epoch, ops: [{ type: 'put', key: keys.message(Q, 0, from + k), value: bytes(`v${from + k}`) }] }),
  }));
}

async function logKeys(store: Store): Promise<number[]> {
  return (await store.scanKeys(keys.log(Q, 0), 100_000)).map((k) => keys.offsetOf(k));
}

async function stateOf(store: Store): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const range of keys.stateRanges(Q, 0)) for (const [k, v] of await store.scan(range, 100_000)) out[k] = text(v);
  return out;
}

test('applying keeps a bounded log tail; a load finds where the log starts', async (t) => {
  const { store, dir } = await open(t);
  const rs = new ReplicaStore(store, Q, 0, false, 8);
  let meta = await rs.load(1);
  meta = await rs.append(meta, entries(0, 50, 1));
  meta = await rs.apply(meta, 50);
  t.is(meta.applied, 50);
  t.is(meta.logStart, 42, 'the last 8 applied entries stay');
  t.deepEqual(await logKeys(store), Array.from({ length: 8 }, (_, i) => 42 + i));
  t.is(text((await store.getMany([keys.message(Q, 0, 49)]))[0]), 'v49');
  // A read from below the log start returns nothing rather than later entries at the wrong index.
  t.deepEqual(await rs.read(40, 45), []);
  t.is((await rs.read(42, 45)).length, 3);

  // The primary trims beside its writes without rewriting the metadata: a reload finds the start.
  await rs.deleteLog(42, 46);
  await store.close();
  const again = await open(t, dir);
  const reloaded = await new ReplicaStore(again.store, Q, 0, false, 8).load(1);
  t.is(reloaded.logStart, 46);
  t.is(reloaded.logEnd, 50);
});

test("a follower's round appends and applies in one write, from memory or, for what it no longer holds, from the log", async (t) => {
  const { store } = await open(t);
  const rs = new ReplicaStore(store, Q, 0, false, 8);
  const decoded = (from: number, n: number) => entries(from, n, 1).map((e) => ({ ...e, ops: decodeLogEntry(e.bytes).ops }));
  let meta = await rs.load(1);
  const first = decoded(0, 20);
  meta = await rs.follow(meta, first, 0, () => undefined);
  t.like(meta, { logEnd: 20, applied: 0 });
  // The commit covers the first round: entries 0-9 from memory, 10-19 read back, 20-29 just fetched.
  meta = await rs.follow(meta, decoded(20, 10), 30, (i) => (i < 10 ? first[i]?.ops : undefined));
  t.like(meta, { logEnd: 30, applied: 30, logStart: 22 });
  t.deepEqual(await logKeys(store), Array.from({ length: 8 }, (_, i) => 22 + i));
  const state = await stateOf(store);
  t.is(Object.keys(state).length, 30);
  t.is(state[keys.message(Q, 0, 29)], 'v29');
  // A round without entries applies what the commit adds, and writes nothing when it adds nothing.
  t.is(await rs.follow(meta, [], 30, () => undefined), meta);
});

test('a truncation below the applied index of a trimmed log empties the replica, which keeps its mark', async (t) => {
  const { store } = await open(t);
  const rs = new ReplicaStore(store, Q, 0, false, 4);
  let meta = await rs.load(1);
  meta = await rs.append(meta, entries(0, 20, 1));
  meta = await rs.apply(meta, 20);
  t.true(meta.logStart > 0);
  const cut = await rs.truncate(meta, 18);
  t.like(cut, { logStart: 0, logEnd: 0, applied: 0, epochs: [], mark: 18, installing: false });
  t.deepEqual(await logKeys(store), []);
  t.deepEqual(await stateOf(store), {});

  // Without trimming, the same truncation rebuilds the state from the log prefix it keeps.
  const full = new ReplicaStore(store, 'other' as QueueName, 0, false);
  let m2 = await full.load(1);
  m2 = await full.append(m2, entries(0, 5, 1));
  m2 = await full.apply(m2, 5);
  const kept = await full.truncate(m2, 3);
  t.like(kept, { logStart: 0, logEnd: 3, applied: 0, mark: 3 });
});

test('a snapshot reads one instant: writes after it is opened do not show', async (t) => {
  const { store } = await open(t);
  const rs = new ReplicaStore(store, Q, 0, false, 4);
  let meta = await rs.load(1);
  meta = await rs.append(meta, entries(0, 10, 1));
  meta = await rs.apply(meta, 10);
  const snapshot = rs.openSnapshot();
  meta = await rs.append(meta, entries(10, 5, 1));
  meta = await rs.apply(meta, 15);
  await store.write([{ type: 'del', key: keys.message(Q, 0, 0) }], false);
  const seen = await snapshot.meta();
  t.is(seen.applied, 10);
  const rows: Array<[string, Uint8Array]> = [];
  for (let page = await snapshot.next(3, Infinity); page.length > 0; page = await snapshot.next(3, Infinity)) rows.push(...page);
  await snapshot.close();
  t.deepEqual(
    rows.map(([k]) => keys.offsetOf(k)),
    Array.from({ length: 10 }, (_, i) => i),
  );
});

test('installing a snapshot: the copy replaces the state; a crash in the middle starts over empty', async (t) => {
  const { store, dir } = await open(t);
  const rs = new ReplicaStore(store, Q, 0, false, 4);
  let meta: ReplicaMeta = await rs.load(1);
  meta = await rs.append(meta, entries(0, 3, 1));
  meta = await rs.apply(meta, 3);
  const emptied = await rs.beginInstall(meta);
  t.like(emptied, { logEnd: 0, applied: 0, mark: 3, installing: true });
  t.deepEqual(await stateOf(store), {});
  await rs.installPage([[keys.message(Q, 0, 100), bytes('copied')]]);
  // A key of another partition in a page is refused, and nothing of that page is written.
  await t.throwsAsync(rs.installPage([[keys.message(Q, 1, 5), bytes('x')]]), { message: /outside it/ });

  // Crash mid-copy: the reload empties the partial copy and is no longer installing.
  await store.close();
  const again = await open(t, dir);
  const rs2 = new ReplicaStore(again.store, Q, 0, false, 4);
  const reloaded = await rs2.load(1);
  t.like(reloaded, { logEnd: 0, applied: 0, mark: 3, installing: false });
  t.deepEqual(await stateOf(again.store), {});

  const begun = await rs2.beginInstall(reloaded);
  await rs2.installPage([[keys.message(Q, 0, 100), bytes('copied')]]);
  const done = await rs2.finishInstall(begun, { index: 120, epochs: [[1, 0], [2, 110], [3, 130]], epoch: 3 });
  t.like(done, { logStart: 120, logEnd: 120, applied: 120, mark: 120, markEpoch: 2, epoch: 3, installing: false });
  t.deepEqual(done.epochs, [[1, 0], [2, 110]], 'the history below the snapshot index');
  t.deepEqual(await stateOf(again.store), { [keys.message(Q, 0, 100)]: 'copied' });
});
