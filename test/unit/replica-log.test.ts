/**
 * The epoch history of a replica's log (actors/replica/log.ts): epochAt, endOfEpoch, truncateEpochs,
 * withEntry, and the truncation rule a primary applies to a follower's fetch (Kafka KIP-101/279).
 *
 * A log is modelled as an array of epochs (entry i has epoch log[i]); its history is built with
 * withEntry as the store builds it. Divergent logs are generated the way the protocol can produce
 * them: a common prefix, then suffixes whose epochs are disjoint (an epoch has one primary, and its
 * first entry sits at the same index in every log that holds it), all below the leader's epoch.
 */
import test from 'ava';
import fc from 'fast-check';
import { divergence, emptyReplica, endOfEpoch, epochAt, isAmnesiac, resetReplica, trimTo, truncateEpochs, withEntry, type ReplicaMeta } from '../../actors/replica/log.ts';

type Epochs = ReplicaMeta['epochs'];

/** The history of a log given as the epochs of its entries. */
function history(log: readonly number[]): Epochs {
  let epochs: Epochs = [];
  log.forEach((epoch, index) => {
    epochs = withEntry(epochs, epoch, index);
  });
  return epochs;
}

const isPrefix = (a: readonly number[], b: readonly number[]) => a.length <= b.length && a.every((e, i) => b[i] === e);

/** A log of non-decreasing epochs ≥ 1 (runs of 1–4 entries). */
const logArb = fc
  .array(fc.record({ gap: fc.integer({ min: 1, max: 3 }), length: fc.integer({ min: 1, max: 4 }) }), { maxLength: 6 })
  .map((runs) => {
    const log: number[] = [];
    let epoch = 0;
    for (const { gap, length } of runs) {
      epoch += gap;
      for (let i = 0; i < length; i++) log.push(epoch);
    }
    return log;
  });

interface Divergent {
  leader: number[];
  follower: number[];
  /** The leader's epoch (above every entry of either log except its own). */
  leaderEpoch: number;
}

/** A leader's and a follower's log: a common prefix, then suffixes of disjoint epochs. */
const divergentArb: fc.Arbitrary<Divergent> = fc
  .record({
    prefix: logArb,
    // New epochs after the prefix: the gap to the previous one and which side wrote it.
    suffix: fc.array(fc.record({ gap: fc.integer({ min: 1, max: 2 }), toLeader: fc.boolean(), length: fc.integer({ min: 1, max: 4 }) }), {
      maxLength: 6,
    }),
    // At most one side may go on with the prefix's last epoch (its primary wrote on past the fork).
    continues: fc.constantFrom('none', 'leader', 'follower'),
    continueLength: fc.integer({ min: 1, max: 3 }),
    // The leader has already written the first entry of its own epoch.
    leaderStarted: fc.boolean(),
  })
  .map(({ prefix, suffix, continues, continueLength, leaderStarted }) => {
    const leader = [...prefix];
    const follower = [...prefix];
    const last = prefix[prefix.length - 1];
    if (last !== undefined && continues !== 'none') {
      const side = continues === 'leader' ? leader : follower;
      for (let i = 0; i < continueLength; i++) side.push(last);
    }
    let epoch = last ?? 0;
    for (const { gap, toLeader, length } of suffix) {
      epoch += gap;
      const side = toLeader ? leader : follower;
      for (let i = 0; i < length; i++) side.push(epoch);
    }
    const leaderEpoch = epoch + 1;
    if (leaderStarted) leader.push(leaderEpoch);
    return { leader, follower, leaderEpoch };
  });

// ---- the history of one log ------------------------------------------------------------------------

test('withEntry starts a new epoch only when the epoch changes', (t) => {
  let epochs: Epochs = [];
  epochs = withEntry(epochs, 1, 0);
  epochs = withEntry(epochs, 1, 1);
  epochs = withEntry(epochs, 3, 2);
  epochs = withEntry(epochs, 3, 3);
  epochs = withEntry(epochs, 4, 4);
  t.deepEqual(epochs, [
    [1, 0],
    [3, 2],
    [4, 4],
  ]);
});

test('withEntry returns the same history for an entry of the current epoch and never mutates its argument', (t) => {
  const epochs: Epochs = [[2, 0]];
  t.is(withEntry(epochs, 2, 5), epochs);
  const next = withEntry(epochs, 3, 6);
  t.deepEqual(epochs, [[2, 0]]);
  t.deepEqual(next, [
    [2, 0],
    [3, 6],
  ]);
});

test('withEntry refuses an entry of an older epoch', (t) => {
  t.throws(() => withEntry([[5, 0]], 4, 1), { message: /epoch 4 after epoch 5/ });
});

test('epochAt is the epoch of the last entry, 0 for an empty log', (t) => {
  const epochs = history([1, 1, 3, 3, 3, 4]);
  t.is(epochAt(epochs, 0), 0);
  t.is(epochAt(epochs, 1), 1);
  t.is(epochAt(epochs, 2), 1);
  t.is(epochAt(epochs, 3), 3);
  t.is(epochAt(epochs, 5), 3);
  t.is(epochAt(epochs, 6), 4);
  t.is(epochAt([], 10), 0);
});

test('endOfEpoch: the start of the next epoch, the log end for the last one, 0 when none is old enough', (t) => {
  const log = [2, 2, 4, 4, 4, 7];
  const epochs = history(log);
  t.is(endOfEpoch(epochs, log.length, 1), 0, 'no epoch ≤ 1');
  t.is(endOfEpoch(epochs, log.length, 2), 2);
  t.is(endOfEpoch(epochs, log.length, 3), 2, 'the largest epoch ≤ 3 is 2');
  t.is(endOfEpoch(epochs, log.length, 4), 5);
  t.is(endOfEpoch(epochs, log.length, 6), 5);
  t.is(endOfEpoch(epochs, log.length, 7), 6, 'the last epoch ends at the log end');
  t.is(endOfEpoch(epochs, log.length, 99), 6);
  t.is(endOfEpoch([], 0, 3), 0);
});

test('truncateEpochs drops the epochs that start at or past the new end', (t) => {
  const epochs = history([1, 1, 3, 3, 5]);
  t.deepEqual(truncateEpochs(epochs, 5), epochs);
  t.deepEqual(truncateEpochs(epochs, 4), history([1, 1, 3, 3]));
  t.deepEqual(truncateEpochs(epochs, 3), history([1, 1, 3]));
  t.deepEqual(truncateEpochs(epochs, 2), history([1, 1]));
  t.deepEqual(truncateEpochs(epochs, 0), []);
});

test('emptyReplica: nothing seen, nothing stored', (t) => {
  t.deepEqual(emptyReplica(9), { incarnation: 9, epoch: 0, epochs: [], logStart: 0, logEnd: 0, applied: 0, mark: 0, markEpoch: 0, installing: false });
});

test('resetReplica keeps the incarnation, the epoch seen and the mark; the emptied replica is amnesiac', (t) => {
  const meta: ReplicaMeta = { incarnation: 3, epoch: 5, epochs: [[4, 0], [5, 10]], logStart: 8, logEnd: 20, applied: 18, mark: 20, markEpoch: 5, installing: false };
  t.false(isAmnesiac(meta));
  const reset = resetReplica(meta, true);
  t.deepEqual(reset, { incarnation: 3, epoch: 5, epochs: [], logStart: 0, logEnd: 0, applied: 0, mark: 20, markEpoch: 5, installing: true });
  t.true(isAmnesiac(reset));
  // A copy under way is never a usable replica, even one that never acknowledged anything.
  t.true(isAmnesiac({ ...emptyReplica(1), installing: true }));
  t.false(isAmnesiac(emptyReplica(1)));
});

test('trimTo cuts `retain` entries below the bound, once that frees a quarter of `retain`', (t) => {
  t.is(trimTo(0, 100, 100), undefined, 'nothing older than retain');
  t.is(trimTo(0, 124, 100), undefined, 'less than a quarter of retain to free');
  t.is(trimTo(0, 125, 100), 25);
  t.is(trimTo(25, 149, 100), undefined);
  t.is(trimTo(25, 1000, 100), 900);
  t.is(trimTo(0, 5, 1), 4, 'retain 1 trims every entry but the last applied');
  t.is(trimTo(0, 10, Infinity), undefined, 'no retention limit: never trims');
});

test('property: epochAt, endOfEpoch and truncateEpochs agree with the log they describe', (t) => {
  fc.assert(
    fc.property(logArb, fc.nat(20), fc.nat(12), (log, cut, e) => {
      const epochs = history(log);
      for (let end = 0; end <= log.length; end++) {
        if (epochAt(epochs, end) !== (log[end - 1] ?? 0)) return false;
      }
      // The end of the largest epoch ≤ e is the number of entries of epochs ≤ e (epochs never decrease).
      if (endOfEpoch(epochs, log.length, e) !== log.filter((x) => x <= e).length) return false;
      const k = Math.min(cut, log.length);
      return JSON.stringify(truncateEpochs(epochs, k)) === JSON.stringify(history(log.slice(0, k)));
    }),
  );
  t.pass();
});

// ---- truncating a follower by epoch boundaries -------------------------------------------------

/**
 * What the primary's fetch handler does (actors/replica/followers.ts): until it answers without a
 * truncation, the follower drops its log from the point named and fetches again.
 */
function truncateUntilAgreed(follower: readonly number[], cut: (from: number, lastEpoch: number) => number | undefined) {
  let log = [...follower];
  let rounds = 0;
  for (;;) {
    const to = cut(log.length, log[log.length - 1] ?? 0);
    if (to === undefined) return { log, rounds };
    if (to >= log.length) throw new Error(`truncation to ${to} does not shorten a log of ${log.length}`);
    log = log.slice(0, to);
    rounds++;
  }
}

/** The greatest common prefix of two logs. */
const common = (a: readonly number[], b: readonly number[]) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

test('property: repeated truncation by the primary leaves the follower a prefix of its log, keeping the common prefix', (t) => {
  fc.assert(
    fc.property(divergentArb, ({ leader, follower }) => {
      const epochs = history(leader);
      const { log } = truncateUntilAgreed(follower, (from, lastEpoch) => divergence(epochs, leader.length, from, lastEpoch));
      // Everything both logs hold stays: committed entries are in the common prefix, and a
      // follower may not drop entries it has applied.
      return isPrefix(log, leader) && log.length >= common(leader, follower);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: when the leader holds the follower\'s last epoch, truncating to endOfEpoch alone is enough (KIP-101)', (t) => {
  fc.assert(
    fc.property(divergentArb, ({ leader, follower }) => {
      const epochs = history(leader);
      const last = follower[follower.length - 1];
      fc.pre(last === undefined || leader.includes(last));
      const to = endOfEpoch(epochs, leader.length, last ?? 0);
      const kept = follower.length > to ? follower.slice(0, to) : follower;
      return isPrefix(kept, leader) && kept.length >= common(leader, follower);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('divergence: nothing to cut for a follower that is behind in a shared epoch or empty', (t) => {
  const leader = [1, 1, 2, 2, 2, 5];
  const epochs = history(leader);
  t.is(divergence(epochs, leader.length, 0, 0), undefined);
  t.is(divergence(epochs, leader.length, 2, 1), undefined);
  t.is(divergence(epochs, leader.length, 4, 2), undefined);
  t.is(divergence(epochs, leader.length, 6, 5), undefined);
});

test('divergence: a follower past the end of its last epoch on the leader is cut there (KIP-101)', (t) => {
  // The follower kept two entries of epoch 2 that the leader (elected at 5) never had.
  const leader = [1, 1, 2, 5, 5];
  const epochs = history(leader);
  t.is(divergence(epochs, leader.length, 5, 2), 3);
  // Ahead in the leader's own last epoch cannot happen, but is cut to the leader's end all the same.
  t.is(divergence(epochs, leader.length, 7, 5), 5);
});

test('divergence: a follower whose last epoch the leader never had is cut below it (KIP-279)', (t) => {
  // Epoch 1's primary wrote entries 3 and 4 on the leader; epoch 2's primary, elected with a log of
  // three entries, wrote its own 3 and 4 on the follower; the leader was elected at 3 without them.
  const leader = [1, 1, 1, 1, 1, 3];
  const follower = [1, 1, 1, 2, 2];
  const epochs = history(leader);

  // endOfEpoch alone answers "the end of epoch 1 on the leader" = 5: the follower would keep its
  // entries of epoch 2 at 3 and 4 and take the leader's entries from 5 on — two different logs that
  // both count as "matching up to 6".
  t.is(endOfEpoch(epochs, leader.length, 2), 5);

  const { log, rounds } = truncateUntilAgreed(follower, (from, lastEpoch) => divergence(epochs, leader.length, from, lastEpoch));
  t.deepEqual(log, [1, 1, 1]);
  t.is(rounds, 2);
});
