// The inspector page: one live stream of server-sent events from `wharf inspect` feeds the views.
import { ActorView } from './actor-view.js';
import { renderClusters } from './clusters-view.js';
import { h, replace } from './dom.js';
import { renderMap } from './map-view.js';
import { QueueView } from './queue-view.js';

const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const connection = byId('connection');
const mapRoot = byId('map');
const clustersRoot = byId('clusters');
let inspected = '';
const queues = new QueueView(byId('queues'));
const actors = new ActorView(byId('actors'));

/** @param {'live' | 'connecting' | 'lost'} state */
function connectionState(state) {
  connection.dataset['state'] = state;
  replace(connection, state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : 'connection lost, retrying…');
}

connectionState('connecting');
const stream = new EventSource('/events');
stream.addEventListener('hello', (e) => {
  const { cluster } = JSON.parse(/** @type {MessageEvent} */ (e).data);
  inspected = cluster;
  replace(byId('cluster-name'), h('span', null, cluster));
  document.title = `Wharf inspector · ${cluster}`;
  connectionState('live');
});
stream.addEventListener('map', (e) => {
  /** @type {import('./types.js').ClusterMapView} */
  const map = JSON.parse(/** @type {MessageEvent} */ (e).data);
  renderMap(mapRoot, map);
  queues.setMap(map);
  actors.setMap(map);
});
stream.addEventListener('clusters', (e) => renderClusters(clustersRoot, JSON.parse(/** @type {MessageEvent} */ (e).data), inspected));
stream.addEventListener('queues', (e) => queues.setStats(JSON.parse(/** @type {MessageEvent} */ (e).data)));
stream.addEventListener('inspect', (e) => actors.applyFrame(JSON.parse(/** @type {MessageEvent} */ (e).data)));
stream.addEventListener('error', () => connectionState(stream.readyState === EventSource.CLOSED ? 'lost' : 'connecting'));
