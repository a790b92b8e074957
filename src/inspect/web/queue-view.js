// The queue view: counts and rates of every queue, and the message search, which shows where one
// message is (ready, in flight with its lease, delayed) and refreshes while it is shown.
import { clock, count, getJson, h, relative, replace } from './dom.js';

/** @typedef {import('./types.js').QueueStats} QueueStats */
/** @typedef {import('./types.js').MessageCounters} MessageCounters */
/** @typedef {import('./types.js').ClusterMapView} ClusterMapView */

/** How often a shown search result is asked again. */
const SEARCH_REFRESH_MS = 2000;

export class QueueView {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.table = h('div');
    this.queueInput = /** @type {HTMLSelectElement} */ (h('select', { id: 'search-queue', name: 'queue' }));
    this.idInput = /** @type {HTMLInputElement} */ (
      h('input', { id: 'search-id', name: 'id', size: 44, placeholder: 'message id or receipt handle', autocomplete: 'off' })
    );
    this.result = h('div', { id: 'search-result' });
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.refresh = undefined;
    /** @type {{ queue: string, key: string } | undefined} */
    this.query = undefined;
    /** The search whose answer is shown. @type {{ queue: string, key: string } | undefined} */
    this.shownFor = undefined;
    /** @type {QueueStats[]} */
    this.stats = [];
    /** Messages per second sent, received and deleted, from the last two samples of each queue. @type {Map<string, MessageCounters>} */
    this.rates = new Map();
    /** The previous sample of each queue's running totals. @type {Map<string, { messages: MessageCounters, at: number }>} */
    this.previous = new Map();
    /** @type {ClusterMapView | undefined} */
    this.map = undefined;
    const form = h(
      'form',
      {
        class: 'search',
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          const key = this.idInput.value.trim();
          if (key === '' || this.queueInput.value === '') return;
          this.query = { queue: this.queueInput.value, key };
          void this.search();
        },
      },
      h('label', null, 'queue ', this.queueInput),
      h('label', null, ' message ', this.idInput),
      ' ',
      h('button', { type: 'submit', id: 'search-button' }, 'Find'),
    );
    replace(root, h('h2', null, 'Queues'), this.table, h('h3', null, 'Where is a message?'), form, this.result);
  }

  /** @param {ClusterMapView} map */
  setMap(map) {
    this.map = map;
    const names = map.queues.map((q) => q.name);
    const current = [...this.queueInput.options].map((o) => o.value);
    if (names.join('\n') !== current.join('\n')) {
      const selected = this.queueInput.value;
      replace(this.queueInput, names.map((n) => h('option', { value: n, selected: n === selected }, n)));
    }
    this.render();
  }

  /** @param {QueueStats[]} stats */
  setStats(stats) {
    this.stats = stats;
    for (const s of stats) {
      const before = this.previous.get(s.queue);
      if (before !== undefined && s.sampledAt > before.at) this.rates.set(s.queue, messageRates(before.messages, s.messages, s.sampledAt - before.at));
      this.previous.set(s.queue, { messages: s.messages, at: s.sampledAt });
    }
    this.render();
  }

  render() {
    const queues = this.map?.queues ?? [];
    if (queues.length === 0) {
      replace(this.table, h('p', { class: 'muted' }, 'no queues'));
      return;
    }
    const byName = new Map(this.stats.map((s) => [s.queue, s]));
    const rate = (/** @type {number | null | undefined} */ r) => (r === null || r === undefined ? '—' : `${r > 0 ? '+' : ''}${r}`);
    replace(
      this.table,
      h(
        'table',
        { class: 'grid' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['queue', 'visible', 'in flight', 'delayed', 'oldest', 'sent/s', 'received/s', 'deleted/s', 'depth Δ/s', 'log entries/s', 'visibility', 'retention', 'partitions'].map((c) => h('th', null, c)),
          ),
        ),
        h(
          'tbody',
          null,
          queues.map((q) => {
            const s = byName.get(q.name);
            const c = s?.counts;
            const cell = (/** @type {number | undefined} */ n) => h('td', { class: 'num' }, n === undefined ? '…' : count(n));
            const r = this.rates.get(q.name);
            const perSecond = (/** @type {'sent' | 'received' | 'deleted'} */ k) => h('td', { class: 'num', 'data-rate': k }, r === undefined ? '—' : String(r[k]));
            return h(
              'tr',
              { 'data-queue-stats': q.name },
              h('td', null, q.name, s?.error ? h('span', { class: 'warn' }, ` (${s.error})`) : null),
              cell(c?.approximateNumberOfMessages),
              cell(c?.approximateNumberOfMessagesNotVisible),
              cell(c?.approximateNumberOfMessagesDelayed),
              h('td', { class: 'num', 'data-field': 'oldest' }, c ? `${count(c.approximateAgeOfOldestMessage)} s` : '…'),
              perSecond('sent'),
              perSecond('received'),
              perSecond('deleted'),
              h('td', { class: 'num' }, rate(s?.depthPerSecond)),
              h('td', { class: 'num' }, rate(s?.logEntriesPerSecond)),
              h('td', { class: 'num' }, `${q.attributes.visibilityTimeout} s`),
              h('td', { class: 'num' }, `${q.attributes.retentionPeriod} s`),
              h('td', { class: 'num' }, q.partitions.length),
            );
          }),
        ),
      ),
    );
  }

  async search() {
    clearTimeout(this.refresh);
    const query = this.query;
    if (query === undefined) return;
    const param = query.key.startsWith('r1.') ? 'receipt' : 'id';
    /** @type {HTMLElement | undefined} */
    let shown;
    let failure = '';
    try {
      /** @type {{ reply: import('./types.js').MessageReply, asked: string[] }} */
      const answer = await getJson(`/api/message?queue=${encodeURIComponent(query.queue)}&${param}=${encodeURIComponent(query.key)}`);
      shown = whereabouts(query, answer.reply, answer.asked);
    } catch (err) {
      failure = `search failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (this.query !== query) return; // a newer search replaced this one
    if (shown !== undefined) {
      this.shownFor = query;
      replace(this.result, shown);
    } else if (this.shownFor === query) {
      // A refresh failed (say, during a failover): the last answer stays, marked as such.
      this.result.querySelector('.refresh-error')?.remove();
      this.result.firstElementChild?.append(h('p', { class: 'warn refresh-error' }, `${failure}; showing the last answer, retrying`));
    } else {
      replace(this.result, h('div', { class: 'result error', 'data-state': 'error' }, failure));
    }
    if (document.visibilityState !== 'hidden') this.refresh = setTimeout(() => void this.search(), SEARCH_REFRESH_MS);
  }
}

/**
 * @param {{ queue: string, key: string }} query
 * @param {import('./types.js').MessageReply} reply
 * @param {string[]} asked
 */
function whereabouts(query, reply, asked) {
  if (!reply.found) {
    return h(
      'div',
      { class: 'result', 'data-state': 'not-found' },
      h('b', null, 'not found'),
      ` in ${query.queue}: ${count(reply.searched)} message(s) looked at${reply.truncated ? ' (the search stopped at its bound)' : ''}; asked ${asked.join(', ')}.`,
      h('p', { class: 'muted' }, 'A message that was deleted, or dropped at the end of its retention, is no longer anywhere.'),
    );
  }
  /** @type {Array<[string, unknown]>} */
  const rows = [
    ['state', h('span', { class: `badge msg-${reply.state}` }, describe(reply.state))],
    ['message id', reply.messageId],
    ['partition', `${query.queue}/${reply.partition}${reply.offset === undefined ? '' : ` · offset ${reply.offset}`}`],
    ['held by', `${reply.node} (the partition's primary)`],
    ['receive count', reply.receiveCount],
  ];
  if (reply.leaseOwner !== undefined) rows.push(['lease owner', reply.leaseOwner]);
  if (reply.leaseUntil !== undefined) rows.push(['lease until', `${clock(reply.leaseUntil)} (${relative(reply.leaseUntil)})`]);
  if (reply.delayedUntil !== undefined) rows.push(['delayed until', `${clock(reply.delayedUntil)} (${relative(reply.delayedUntil)})`]);
  rows.push(['sent', `${clock(reply.sentAt)} (${relative(reply.sentAt)})`]);
  if (reply.hlc !== undefined) rows.push(['hybrid logical clock', reply.hlc]);
  if (reply.size !== undefined) rows.push(['size', `${count(reply.size)} bytes`]);
  if (reply.deadLetter !== undefined) {
    const d = reply.deadLetter;
    rows.push(['dead-lettered', `from ${d.sourceQueue} (${d.reason}, received ${d.receiveCount}×, ${d.totalAttempts} attempts) at ${clock(d.deadLetteredAt)}`]);
  }
  if (Array.isArray(reply.attempts)) rows.push(['attempts', h('ol', null, reply.attempts.map((/** @type {unknown} */ a) => h('li', null, JSON.stringify(a))))]);
  return h(
    'div',
    { class: 'result', 'data-state': reply.state, 'data-lease-until': reply.leaseUntil ?? '' },
    h('table', { class: 'kv' }, rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', { 'data-field': k }, /** @type {Parameters<typeof h>[2]} */ (v))))),
    h('p', { class: 'muted' }, `refreshed ${clock(Date.now())}`),
  );
}

/**
 * Messages per second between two samples of running totals, to one decimal.
 * @param {MessageCounters} before @param {MessageCounters} now @param {number} ms
 * @returns {MessageCounters}
 */
function messageRates(before, now, ms) {
  const one = (/** @type {number} */ a, /** @type {number} */ b) => Math.round(((b - a) * 10_000) / ms) / 10;
  return { sent: one(before.sent, now.sent), received: one(before.received, now.received), deleted: one(before.deleted, now.deleted) };
}

/** @param {string} state */
function describe(state) {
  return state === 'inflight' ? 'in flight' : state === 'deadLettered' ? 'dead-lettered' : state;
}
