/**
 * A host's hybrid logical clock (src/hosts/host-clock.ts) on a real RocksDB replica log: at start it
 * takes in the last stamp of each replica's log tail, looking past entries that hold no message (a
 * delivery, a delete), so a host that restarts with its wall clock 60 s behind stamps after what
 * it had written; without that, its stamps would start 60 s lower.
 */
import test from 'ava';
import { compareHlc, packHlc, unpackHlc, type Hlc } from '../../actors/hosts/hlc.ts';
import { HostClock } from '../../src/hosts/host-clock.ts';
import type { QueueName } from '../../src/names.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { keys } from '../../src/storage/keys.ts';
import { encodeLogEntry, encodeMessage } from '../../src/storage/records.ts';
import { openRocksStore } from '../../src/storage/store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const Q = 'orders' as QueueName;

test('a restarted host stamps after the last stamp in its stored logs, whatever its wall clock says', async (t) => {
  const store = await openRocksStore(await tempDir(t, 'wharf-host-clock-'));
  t.teardown(() => store.close());
  const now = Date.now();
  const written: Hlc = { physical: now, logical: 41 };
  const replica = new ReplicaStore(store, Q, 1);
  let meta = await replica.load(1);
  const message = (offset: number, hlc: Hlc) => ({
    type: 'put' as const,
    key: keys.message(Q, 1, offset),
    value: encodeMessage({ id: `m${offset}`, body: new Uint8Array(3), sentAt: hlc.physical, hlc: packHlc(hlc) }),
  });
  meta = await replica.append(meta, [
    { epoch: 1, bytes: encodeLogEntry({ epoch: 1, ops: [message(0, { physical: now - 5, logical: 0 }), message(1, written)] }) },
    // Later entries without a message: a delivery record and a delete.
    { epoch: 1, bytes: encodeLogEntry({ epoch: 1, ops: [{ type: 'put', key: keys.delivery(Q, 1, 1), value: new Uint8Array(4) }] }) },
    { epoch: 1, bytes: encodeLogEntry({ epoch: 1, ops: [{ type: 'del', key: keys.message(Q, 1, 0) }] }) },
  ]);
  t.is(meta.logEnd, 3);

  const behind = () => now - 60_000;
  const restored = new HostClock(behind);
  await restored.restore(store);
  const next = unpackHlc(restored.stamp()) as Hlc;
  t.true(compareHlc(next, written) > 0, `${JSON.stringify(next)} after ${JSON.stringify(written)}`);

  // Without the restore, the same clock would stamp 60 s before what it had written.
  const forgetful = unpackHlc(new HostClock(behind).stamp()) as Hlc;
  t.true(compareHlc(forgetful, written) < 0);
});
