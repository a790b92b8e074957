// The cluster map: every node with its liveness, and every queue's partitions with their primary,
// replicas, learners, epoch, in-sync set, commit index and each replica's lag.
import { count, h, replace } from './dom.js';

/** @typedef {import('./types.js').ClusterMapView} ClusterMapView */
/** @typedef {import('./types.js').PartitionView} PartitionView */

/**
 * @param {HTMLElement} root
 * @param {ClusterMapView} map
 */
export function renderMap(root, map) {
  const alive = map.nodes.filter((n) => n.liveness === 'alive').length;
  replace(
    root,
    h('h2', null, 'Cluster ', h('span', { class: 'muted' }, `${map.cluster} · ${alive}/${map.nodes.length} nodes alive`)),
    h(
      'div',
      { class: 'nodes' },
      map.nodes.length === 0 ? h('p', { class: 'muted' }, 'no node has registered yet') : null,
      map.nodes.map((n) =>
        h(
          'div',
          { class: `node ${n.liveness}`, 'data-node': n.id, 'data-liveness': n.liveness, 'data-state': n.state },
          h('div', { class: 'node-id' }, n.id, n.manager ? h('span', { class: 'badge manager', title: `holds the cluster manager's lease (term ${map.manager?.term ?? '?'})` }, 'manager') : null),
          h('div', null, h('span', { class: `badge ${n.liveness}` }, n.liveness), ' ', h('span', { class: 'muted' }, n.state)),
          h('div', { class: 'muted' }, `${n.primaries} primary / ${n.replicas} replicas`),
        ),
      ),
    ),
    map.queues.length === 0 ? h('p', { class: 'muted' }, 'no queues') : map.queues.map((q) => queueBlock(q)),
  );
}

/** @param {import('./types.js').QueueView} q */
function queueBlock(q) {
  const a = q.attributes;
  return h(
    'div',
    { class: 'queue-map', 'data-queue': q.name },
    h('h3', null, q.name, ' ', h('span', { class: 'muted' }, `${a.partitions} partition(s) · ${a.replicationFactor} copies · ${a.replication}`)),
    h(
      'table',
      { class: 'grid' },
      h('thead', null, h('tr', null, ['partition', 'epoch', 'primary', 'commit', 'replicas (role · log end · lag)', 'in-sync', 'learners'].map((c) => h('th', null, c)))),
      h('tbody', null, q.partitions.length === 0 ? h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'no partition assigned yet')) : q.partitions.map(partitionRow)),
    ),
  );
}

/** @param {PartitionView} p */
function partitionRow(p) {
  const key = `${p.queue}/${p.partition}`;
  return h(
    'tr',
    { 'data-partition': key, 'data-primary': p.primary ?? '', 'data-epoch': p.epoch },
    h('td', null, key),
    h('td', { class: 'num' }, p.epoch),
    h('td', null, p.primary ?? h('span', { class: 'warn' }, 'electing')),
    h('td', { class: 'num' }, p.commitIndex === null ? '—' : count(p.commitIndex)),
    h(
      'td',
      null,
      p.reports.map((r) =>
        r.liveness === 'dead'
          ? h('span', { class: 'replica gone', 'data-replica': r.node, title: 'its node is dead: this is the last report it sent' }, h('b', null, r.node), ` dead (was ${r.role} · ${r.logEnd === null ? '?' : count(r.logEnd)})`)
          : h(
              'span',
              { class: `replica ${r.role}${r.learner ? ' learner' : ''}`, 'data-replica': r.node, title: `epoch ${r.epoch ?? '?'}, commit ${r.commitIndex ?? '?'}` },
              h('b', null, r.node),
              ` ${r.role} · ${r.logEnd === null ? '?' : count(r.logEnd)}`,
              r.lag === null || r.role === 'primary' ? null : h('span', { class: r.lag > 0 ? 'lag behind' : 'lag' }, ` · lag ${count(r.lag)}`),
            ),
      ),
    ),
    h('td', null, p.isr.join(', ') || '—'),
    h('td', null, p.learners.join(', ') || '—'),
  );
}
