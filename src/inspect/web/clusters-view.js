// The Clusters section: the clusters of the deployment with their model and health (as each
// reports itself, and as the active external manager acts on it), and every queue's route: which
// clusters hold its parts, and whether it is split or draining a part. Outside a deployment, the
// inspected cluster alone.
import { h, relative, replace } from './dom.js';

/** @typedef {import('./types.js').DeploymentView} DeploymentView */
/** @typedef {import('./types.js').ClusterEntry} ClusterEntry */

/**
 * @param {HTMLElement} root
 * @param {DeploymentView} view
 * @param {string} self the inspected cluster
 */
export function renderClusters(root, view, self) {
  replace(
    root,
    h(
      'h2',
      null,
      'Clusters ',
      h(
        'span',
        { class: 'muted' },
        view.deployment === null
          ? 'this cluster belongs to no deployment'
          : `deployment ${view.deployment} · external manager ${view.external === null ? 'none' : `${view.external.holder} (term ${view.external.term})${view.external.answered ? '' : ', not answering'}`}`,
      ),
    ),
    h(
      'table',
      { class: 'grid', id: 'cluster-list' },
      h('thead', null, h('tr', null, ['cluster', 'model', 'health (its report)', "external manager's view", 'nodes alive', 'queues', 'active parts', 'partitions', 'report', 'why'].map((c) => h('th', null, c)))),
      h('tbody', null, view.clusters.length === 0 ? h('tr', null, h('td', { colspan: 10, class: 'muted' }, 'no cluster has reported yet')) : view.clusters.map((c) => clusterRow(c, self, view.deployment !== null))),
    ),
    view.deployment === null ? null : routes(view),
  );
}

/**
 * @param {ClusterEntry} c
 * @param {string} self
 * @param {boolean} deployed
 */
function clusterRow(c, self, deployed) {
  const status = c.managerStatus;
  return h(
    'tr',
    { 'data-cluster': c.name, 'data-model': c.model, 'data-health': c.health, 'data-status': status ?? '' },
    h('td', null, c.name, c.name === self ? h('span', { class: 'badge manager', title: 'the cluster this inspector watches' }, 'this') : null),
    h('td', null, c.model === 'hosts' ? 'hosts (independent hosts)' : 'primary (primary–secondary)'),
    h('td', null, h('span', { class: `badge health-${c.health}` }, c.health)),
    h(
      'td',
      null,
      !deployed ? '—' : status === null ? h('span', { class: 'muted' }, 'no answer') : h('span', { class: `badge health-${status}` }, status),
      c.badForMs > 0 ? h('span', { class: 'muted' }, ` for ${Math.round(c.badForMs / 1000)} s`) : null,
    ),
    h('td', { class: 'num' }, `${c.alive}/${c.nodes}`),
    h('td', { class: 'num' }, c.queues),
    h('td', { class: 'num' }, deployed ? c.activeParts : '—'),
    h('td', { class: 'num' }, c.partitions),
    // A report written by a clock slightly ahead of this one is shown as just now, not in the future.
    h('td', null, deployed ? relative(Math.min(c.reportedAt, Date.now())) : h('span', { class: 'muted' }, 'observed by the inspector')),
    h('td', { class: c.reason === '' ? 'muted' : 'warn' }, c.reason || '—'),
  );
}

/** @param {DeploymentView} view */
function routes(view) {
  return [
    h('h3', null, 'Queues and their clusters'),
    view.routes.length === 0
      ? h('p', { class: 'muted' }, 'no queue routed yet')
      : h(
          'table',
          { class: 'grid', id: 'route-list' },
          h('thead', null, h('tr', null, ['queue', 'state', 'parts (cluster · state · since)'].map((c) => h('th', null, c)))),
          h(
            'tbody',
            null,
            view.routes.map((r) =>
              h(
                'tr',
                { 'data-route': r.queue, 'data-state': r.state },
                h('td', null, r.queue),
                h('td', null, r.state === 'split' ? `split over ${r.parts.length} clusters` : r.state === 'draining' ? 'draining a part' : 'one cluster'),
                h(
                  'td',
                  null,
                  r.parts.map((p) =>
                    h('span', { class: `replica part-${p.state}`, 'data-part': p.cluster, 'data-state': p.state }, h('b', null, p.cluster), ` ${p.state} · ${relative(Math.min(p.since, Date.now()))}`),
                  ),
                ),
              ),
            ),
          ),
        ),
  ];
}
