/**
 * What a draining partition (sealed: its node has seen it leave the active set, docs/autoscaling.md)
 * does with a send. Pure: the partition's knowledge comes in as two questions.
 *
 * - A send whose every message repeats a remembered deduplication id is answered as the duplicate
 *   it is, with the original ids: a retry that reaches it after the layout changed is not stored
 *   again elsewhere.
 * - A FIFO send whose every message group the partition still holds (a message ready, delayed or
 *   in flight, or a send of it under way) is accepted: the group's earlier messages are here, so
 *   its later ones must be too, behind them.
 * - A send of groups it holds none of is refused with `partition_draining`, storing nothing; the
 *   front-end sends it to the group's partition in the layout in force. A sealed partition never
 *   gains a group it does not hold, so once it refused a group it never holds it again: the group
 *   moves only once this partition is empty of it, and its order holds across the move.
 * - When it cannot tell (some of its messages are on disk only), or the send mixes held groups and
 *   others, it answers `unavailable`: retryable, and not a refusal the front-end may route around,
 *   since a held group sent elsewhere would overtake its earlier messages.
 */
import type { NewMessage } from './ledger.ts';

export type DrainingAnswer =
  | { type: 'sent'; ids: string[] }
  | { type: 'accept' }
  | { type: 'refuse'; code: 'partition_draining' | 'unavailable'; message: string };

export interface DrainingKnowledge {
  /** The message a deduplication id stands for, while remembered. */
  remembered(dedupId: string): string | undefined;
  /** Whether a message of `group` is held or being stored here; undefined when it cannot tell. */
  holds(group: string): boolean | undefined;
}

export function drainingSend(messages: readonly NewMessage[], knows: DrainingKnowledge): DrainingAnswer {
  const ids = messages.map((m) => (m.dedupId === undefined ? undefined : knows.remembered(m.dedupId)));
  if (ids.every((id) => id !== undefined)) return { type: 'sent', ids };
  const held = messages.map((m) => (m.record.group === undefined ? false : knows.holds(m.record.group)));
  if (held.every((h) => h === true)) return { type: 'accept' };
  if (held.every((h) => h === false)) {
    return { type: 'refuse', code: 'partition_draining', message: 'the partition is being retired: it takes no more sends' };
  }
  return {
    type: 'refuse',
    code: 'unavailable',
    message: held.includes(undefined)
      ? 'the partition is being retired and is reading its message groups from disk; retry shortly'
      : 'the partition is being retired and holds some of these message groups but not all; retry',
  };
}
