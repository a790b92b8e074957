// Draws a machine's statechart as SVG, laid out by ELK (elkjs's bundle, /lib/elk.bundled.js, which
// defines the global ELK; loaded on the first drawing, so that the map shows without waiting for
// it), and highlights the states an actor is in. A layout is computed once per machine; following
// an actor only toggles classes.

/** @typedef {import('./types.js').StateNodeDefinition} StateNodeDefinition */
/** @typedef {import('./types.js').StateValue} StateValue */

const SVG = 'http://www.w3.org/2000/svg';
const CHAR_WIDTH = 7;
const LINE_HEIGHT = 14;
/** Events shown on one edge; more are counted. */
const EDGE_EVENTS = 3;

/**
 * The part of ELK's JSON graph this module builds and reads back (https://eclipse.dev/elk/documentation/tooldevelopers/graphdatastructure/jsonformat.html).
 * @typedef {{ x: number, y: number }} ElkPoint
 * @typedef {{ id: string, text: string, width: number, height: number, x?: number, y?: number }} ElkLabel
 * @typedef {{ startPoint: ElkPoint, endPoint: ElkPoint, bendPoints?: ElkPoint[] }} ElkSection
 * @typedef {{ id: string, sources: string[], targets: string[], labels: ElkLabel[], sections?: ElkSection[] }} ElkEdge
 * @typedef {{ id: string, width?: number, height?: number, x?: number, y?: number, children?: ElkNode[],
 *   layoutOptions?: Record<string, string>, edges?: ElkEdge[] }} ElkNode
 * @typedef {ElkNode & { x: number, y: number, width: number, height: number, children?: LaidNode[] }} LaidNode
 * @typedef {{ layout(graph: ElkNode): Promise<LaidNode> }} Elk
 */

/** @type {Elk | undefined} */
let elk;
/** @type {Promise<void> | undefined} */
let elkLoaded;

function loadElk() {
  elkLoaded ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/lib/elk.bundled.js';
    script.onload = () => resolve();
    script.onerror = () => {
      elkLoaded = undefined;
      reject(new Error('could not load /lib/elk.bundled.js'));
    };
    document.head.append(script);
  });
  return elkLoaded;
}

/**
 * A state's path from the machine's root, as the SVG's data-path (`a/b/c`); the root is ''.
 * @param {string[]} path
 */
const pathKey = (path) => path.join('/');

/**
 * Short names for XState's generated event types.
 * @param {string} event
 */
export function eventLabel(event) {
  const after = /^xstate\.after\.([^.]+)\./.exec(event);
  if (after) return `after ${after[1]}${/^\d+$/.test(after[1] ?? '') ? ' ms' : ''}`;
  if (event.startsWith('xstate.done.actor.')) return `done: ${event.slice('xstate.done.actor.'.length)}`;
  if (event.startsWith('xstate.error.actor.')) return `error: ${event.slice('xstate.error.actor.'.length)}`;
  if (event.startsWith('xstate.done.state.')) return 'done';
  return event === '' ? '(always)' : event;
}

/**
 * Every active state's path for a state value (ancestors included).
 * @param {StateValue} value
 * @param {string[]} [prefix]
 * @returns {string[]}
 */
export function activePaths(value, prefix = []) {
  if (typeof value === 'string') return [pathKey([...prefix, value])];
  return Object.entries(value).flatMap(([key, sub]) => [pathKey([...prefix, key]), ...activePaths(sub, [...prefix, key])]);
}

/**
 * @typedef {{ from: string[], event: string, to: string, why: string }} ListedTransition
 * @typedef {{ svg: SVGSVGElement, listed: ListedTransition[] }} Drawing
 */

/**
 * Lays out and draws a machine. Transitions ELK cannot draw well (on the machine's root, to a
 * state's own descendant, or without a target) are returned as a list instead.
 * @param {StateNodeDefinition} root
 * @returns {Promise<Drawing>}
 */
export async function drawMachine(root) {
  await loadElk();
  elk ??= new /** @type {{ ELK: new () => Elk }} */ (/** @type {unknown} */ (globalThis)).ELK();
  /** @type {Map<string, string[]>} */
  const byId = new Map();
  /** @type {Map<string, StateNodeDefinition>} */
  const byPath = new Map();
  const index = (/** @type {StateNodeDefinition} */ node, /** @type {string[]} */ path) => {
    byId.set(node.id, path);
    byPath.set(pathKey(path), node);
    for (const [key, child] of Object.entries(node.states)) index(child, [...path, key]);
  };
  index(root, []);

  /** @type {ListedTransition[]} */
  const listed = [];
  /** @type {Map<string, { sources: string[], targets: string[], events: string[] }>} */
  const edges = new Map();
  for (const [key, node] of byPath) {
    const from = key === '' ? [] : key.split('/');
    for (const t of node.transitions) {
      const label = eventLabel(t.event) + (t.guard ? ` [${t.guard}]` : '');
      if (t.targets.length === 0) {
        listed.push({ from, event: label, to: '(stays)', why: 'no target' });
        continue;
      }
      for (const target of t.targets) {
        const to = byId.get(target) ?? byId.get(target.replace(/^#/, ''));
        const toKey = to === undefined ? undefined : pathKey(to);
        if (to === undefined || toKey === undefined) {
          listed.push({ from, event: label, to: target, why: 'unknown target' });
        } else if (key === '' || (toKey !== key && toKey.startsWith(`${key}/`))) {
          listed.push({ from, event: label, to: to.join('.'), why: key === '' ? 'from any state' : 'into itself' });
        } else {
          const id = `${key}->${toKey}`;
          const edge = edges.get(id) ?? { sources: [key], targets: [toKey], events: [] };
          edge.events.push(label);
          edges.set(id, edge);
        }
      }
    }
  }

  /** @returns {ElkNode} */
  const elkNode = (/** @type {StateNodeDefinition} */ node, /** @type {string[]} */ path) => {
    const children = Object.entries(node.states).map(([key, child]) => elkNode(child, [...path, key]));
    if (node.initial !== undefined && children.length > 0) {
      children.push({ id: `${pathKey(path)}#initial`, width: 10, height: 10 });
    }
    const label = path.length === 0 ? node.key : path[path.length - 1];
    if (children.length === 0) return { id: pathKey(path), width: Math.max(70, label.length * CHAR_WIDTH + 24), height: 34 };
    return {
      id: pathKey(path),
      children,
      layoutOptions: { 'elk.padding': `[top=${LINE_HEIGHT + 14},left=12,bottom=12,right=12]` },
      width: label.length * CHAR_WIDTH + 24,
    };
  };
  const initialEdges = [...byPath]
    .filter(([, node]) => node.initial !== undefined && Object.keys(node.states).length > 0)
    .map(([key, node]) => {
      // `initial` names a child by its key, or by its full id.
      const byFullId = byId.get(String(node.initial));
      const target = byFullId === undefined ? pathKey([...(key === '' ? [] : key.split('/')), String(node.initial)]) : pathKey(byFullId);
      return { id: `${key}#initial`, sources: [`${key}#initial`], targets: [target], labels: [] };
    })
    .filter((e) => byPath.has(e.targets[0] ?? ''));
  const graph = {
    ...elkNode(root, []),
    id: '',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT',
      'elk.spacing.nodeNode': '24',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    edges: [
      ...initialEdges,
      ...[...edges].map(([id, e]) => {
        const shown = e.events.slice(0, EDGE_EVENTS);
        if (e.events.length > EDGE_EVENTS) shown.push(`+${e.events.length - EDGE_EVENTS} more`);
        const width = Math.max(...shown.map((s) => s.length)) * CHAR_WIDTH * 0.9;
        return { id, sources: e.sources, targets: e.targets, labels: [{ id: `${id}#label`, text: shown.join('\n'), width, height: shown.length * LINE_HEIGHT }] };
      }),
    ],
  };
  const laid = await elk.layout(graph);
  return { svg: render(laid, byPath), listed };
}

/**
 * @param {LaidNode} laid
 * @param {Map<string, StateNodeDefinition>} byPath
 */
function render(laid, byPath) {
  const svg = /** @type {SVGSVGElement} */ (el('svg', { class: 'statechart', viewBox: `0 0 ${laid.width} ${laid.height}`, width: laid.width, height: laid.height }));
  const defs = el('defs');
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }));
  defs.append(marker);
  svg.append(defs);
  const states = el('g');
  const drawNode = (/** @type {LaidNode} */ n) => {
    if (n.id.endsWith('#initial')) {
      states.append(el('circle', { cx: n.x + 5, cy: n.y + 5, r: 5, class: 'initial' }));
      return;
    }
    const def = byPath.get(n.id);
    const compound = Array.isArray(n.children) && n.children.length > 0;
    const name = n.id === '' ? (def?.key ?? '') : n.id.slice(n.id.lastIndexOf('/') + 1);
    if (n.id !== '') {
      const g = el('g', { class: `state ${compound ? 'compound' : 'atomic'}${def?.type === 'final' ? ' final' : ''}`, 'data-path': n.id });
      g.append(el('rect', { x: n.x, y: n.y, width: n.width, height: n.height, rx: 8 }));
      if (def?.type === 'final') g.append(el('rect', { x: n.x + 3, y: n.y + 3, width: n.width - 6, height: n.height - 6, rx: 6, class: 'inner' }));
      const text = el('text', compound ? { x: n.x + 10, y: n.y + LINE_HEIGHT + 4 } : { x: n.x + n.width / 2, y: n.y + n.height / 2 + 4, 'text-anchor': 'middle' });
      text.textContent = def?.type === 'parallel' ? `${name} (parallel)` : name;
      g.append(text);
      if (def !== undefined && def.invoke.length > 0) {
        const title = el('title');
        title.textContent = `invokes ${def.invoke.join(', ')}`;
        g.append(title);
      }
      states.append(g);
    }
    for (const child of n.children ?? []) drawNode(child);
  };
  drawNode(laid);
  svg.append(states);
  const edges = el('g', { class: 'edges' });
  for (const e of laid.edges ?? []) {
    for (const s of e.sections ?? []) {
      const points = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
      edges.append(el('path', { d: points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' '), class: 'edge', 'marker-end': 'url(#arrow)' }));
    }
    for (const label of e.labels ?? []) {
      if (label.x === undefined || label.y === undefined) continue;
      const text = el('text', { x: label.x, y: label.y + LINE_HEIGHT - 3, class: 'edge-label' });
      for (const [i, line] of String(label.text).split('\n').entries()) {
        const span = el('tspan', { x: label.x, dy: i === 0 ? 0 : LINE_HEIGHT });
        span.textContent = line;
        text.append(span);
      }
      edges.append(text);
    }
  }
  svg.append(edges);
  return svg;
}

/**
 * Marks the states of `value` as active in a drawing.
 * @param {SVGSVGElement} svg
 * @param {StateValue} value
 */
export function highlight(svg, value) {
  const active = new Set(activePaths(value));
  for (const g of svg.querySelectorAll('g.state')) g.classList.toggle('active', active.has(g.getAttribute('data-path') ?? ''));
}

/**
 * Scrolls a drawing's container so that its innermost active state is in the middle.
 * @param {HTMLElement} container
 * @param {SVGSVGElement} svg
 */
export function centreActive(container, svg) {
  const states = svg.querySelectorAll('g.state.active > rect');
  const rect = states[states.length - 1];
  if (rect === undefined) return;
  const x = Number(rect.getAttribute('x')) + Number(rect.getAttribute('width')) / 2;
  const y = Number(rect.getAttribute('y')) + Number(rect.getAttribute('height')) / 2;
  container.scrollTo({ left: x - container.clientWidth / 2, top: y - container.clientHeight / 2 });
}

/**
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 */
function el(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}
