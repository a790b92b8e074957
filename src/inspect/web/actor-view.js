// Every actor of every node, live: the list (by node, filterable) and the selected actor's
// statechart with its current state highlighted, its context summary and its recent events.
// The list starts from each node's `actors` answer and follows the nodes' inspection frames.
import { clock, getJson, h, replace, stateText, summaryText } from './dom.js';
import { centreActive, drawMachine, eventLabel, highlight } from './statechart.js';

/** @typedef {import('./types.js').ClusterMapView} ClusterMapView */
/** @typedef {import('./types.js').InspectFrame} InspectFrame */
/** @typedef {import('./types.js').StateValue} StateValue */
/**
 * @typedef {{ node: string, actor: string, machine: string, parent?: string, value: StateValue | null,
 *   context: Record<string, unknown>, events: Array<{ type: string, at: number, sampled: number }>, stopped: boolean }} Actor
 */

/** Recent events kept per actor (the nodes keep as many). */
const RECENT = 20;
/** The list is redrawn at most this often: busy actors change many times a second. */
const RENDER_EVERY_MS = 250;

const keyOf = (/** @type {string} */ node, /** @type {string} */ actor) => `${node} ${actor}`;

export class ActorView {
  /** @param {HTMLElement} root */
  constructor(root) {
    /** @type {Map<string, Actor>} */
    this.actors = new Map();
    /** The boot of each node whose actors were loaded, so a restarted node is loaded again. @type {Map<string, string>} */
    this.loaded = new Map();
    /** @type {Map<string, string>} */
    this.problems = new Map();
    /** @type {Map<string, { seq: number, lost: number, dropped: number }>} */
    this.frames = new Map();
    /** @type {Map<string, Promise<{ svg: SVGSVGElement, listed: import('./statechart.js').ListedTransition[] }>>} */
    this.drawings = new Map();
    /** @type {string | undefined} */
    this.selected = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pending = undefined;
    /** @type {Set<string>} */
    this.deadNodes = new Set();
    /** The actor the detail pane was built for, and the state its chart was scrolled to. @type {string | undefined} */
    this.detailFor = undefined;
    /** @type {string | undefined} */
    this.centredOn = undefined;
    /** @type {HTMLElement | undefined} */
    this.chart = undefined;
    /** @type {HTMLElement | undefined} */
    this.info = undefined;
    this.filter = /** @type {HTMLInputElement} */ (
      h('input', { id: 'actor-filter', type: 'search', placeholder: 'filter: actor, machine or state', oninput: () => this.renderList() })
    );
    this.status = h('span', { class: 'muted' });
    // Selection on press, delegated to the list: the rows are redrawn up to four times a second,
    // and a row replaced between the press and the release would never get its click.
    this.list = h('div', {
      class: 'actor-list',
      id: 'actor-list',
      onpointerdown: (/** @type {PointerEvent} */ e) => {
        const row = e.button === 0 && e.target instanceof Element ? e.target.closest('tr[data-key]') : null;
        const key = row?.getAttribute('data-key');
        if (key) this.select(key);
      },
    });
    this.detail = h('div', { class: 'actor-detail', id: 'actor-detail' }, h('p', { class: 'muted' }, 'Select an actor to see its statechart.'));
    replace(root, h('h2', null, 'Actors ', this.status), this.filter, h('div', { class: 'actors' }, this.list, this.detail));
  }

  /** @param {ClusterMapView} map */
  setMap(map) {
    for (const n of map.nodes) {
      if (n.liveness === 'dead' || n.boot === null) continue;
      if (this.loaded.get(n.id) === n.boot) continue;
      this.loaded.set(n.id, n.boot);
      void this.load(n.id);
    }
    const dead = new Set(map.nodes.filter((n) => n.liveness === 'dead').map((n) => n.id));
    for (const id of [...this.loaded.keys()]) if (dead.has(id)) this.loaded.delete(id);
    this.deadNodes = dead;
    this.schedule();
  }

  /** @param {string} node */
  async load(node) {
    try {
      /** @type {{ actors: import('./types.js').ActorSummary[] }} */
      const reply = await getJson(`/api/actors?node=${encodeURIComponent(node)}`);
      for (const [key, a] of this.actors) if (a.node === node && !reply.actors.some((r) => r.actor === a.actor)) this.actors.delete(key);
      for (const a of reply.actors) {
        const known = this.actors.get(keyOf(node, a.actor));
        this.actors.set(keyOf(node, a.actor), {
          node,
          actor: a.actor,
          machine: a.machine,
          ...(a.parent === undefined ? {} : { parent: a.parent }),
          value: a.value,
          context: a.context,
          // Live events may have arrived while the answer was on its way: keep the newer list.
          events: known && known.events.length > 0 ? known.events : a.events.map((e) => ({ ...e, sampled: 1 })),
          stopped: false,
        });
      }
      this.problems.delete(node);
    } catch (err) {
      this.loaded.delete(node);
      this.problems.set(node, err instanceof Error ? err.message : String(err));
    }
    this.schedule();
    this.renderDetail();
  }

  /** @param {InspectFrame} frame */
  applyFrame(frame) {
    const seen = this.frames.get(frame.node);
    const lost = seen !== undefined && frame.seq > seen.seq + 1 ? frame.seq - seen.seq - 1 : 0;
    this.frames.set(frame.node, { seq: frame.seq, lost: (seen?.lost ?? 0) + lost, dropped: (seen?.dropped ?? 0) + frame.dropped });
    let touchedSelected = false;
    for (const e of frame.events) {
      const key = keyOf(frame.node, e.actor);
      if (key === this.selected) touchedSelected = true;
      const known = this.actors.get(key);
      if (e.kind === 'actor') {
        if (e.status === 'stopped') {
          if (known) known.stopped = true;
          if (key !== this.selected) this.actors.delete(key);
        } else {
          this.actors.set(key, {
            node: frame.node,
            actor: e.actor,
            machine: e.machine,
            ...(e.parent === undefined ? {} : { parent: e.parent }),
            value: known?.value ?? null,
            context: known?.context ?? {},
            events: known?.events ?? [],
            stopped: false,
          });
        }
      } else if (e.kind === 'state') {
        const actor = known ?? { node: frame.node, actor: e.actor, machine: e.machine, value: null, context: {}, events: [], stopped: false };
        actor.value = e.value;
        actor.context = e.context;
        this.actors.set(key, actor);
      } else if (known) {
        known.events.push({ type: e.type, at: frame.at, sampled: e.sampled });
        if (known.events.length > RECENT) known.events.splice(0, known.events.length - RECENT);
      }
    }
    this.schedule();
    if (touchedSelected) this.renderDetail();
  }

  schedule() {
    if (this.pending !== undefined) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.renderList();
    }, RENDER_EVERY_MS);
  }

  renderList() {
    const words = this.filter.value.trim().toLowerCase().split(/\s+/).filter((w) => w !== '');
    const matches = (/** @type {Actor} */ a) => {
      const text = `${a.node} ${a.actor} ${a.machine} ${a.value === null ? '' : stateText(a.value)}`.toLowerCase();
      return words.every((w) => text.includes(w));
    };
    const all = [...this.actors.values()];
    const nodes = [...new Set([...all.map((a) => a.node), ...this.problems.keys()])].sort();
    const lost = [...this.frames.values()].reduce((s, f) => s + f.lost, 0);
    const dropped = [...this.frames.values()].reduce((s, f) => s + f.dropped, 0);
    replace(this.status, `${all.length} actors on ${nodes.length} node(s)${this.frames.size === 0 ? ' · no live frames yet' : ''}${dropped > 0 ? ` · ${dropped} events sampled away` : ''}${lost > 0 ? ` · ${lost} frames lost` : ''}`);
    replace(
      this.list,
      nodes.map((node) => {
        const actors = all.filter((a) => a.node === node && matches(a)).sort((a, b) => (a.machine === b.machine ? (a.actor < b.actor ? -1 : 1) : a.machine < b.machine ? -1 : 1));
        const problem = this.problems.get(node);
        return h(
          'div',
          { class: `actor-node${this.deadNodes.has(node) ? ' dead' : ''}`, 'data-actor-node': node },
          h('h3', null, node, this.deadNodes.has(node) ? h('span', { class: 'badge dead' }, 'dead') : null),
          problem === undefined ? null : h('p', { class: 'warn' }, problem),
          h(
            'table',
            { class: 'grid actors-table' },
            h(
              'tbody',
              null,
              actors.map((a) => {
                const key = keyOf(a.node, a.actor);
                const last = a.events[a.events.length - 1];
                return h(
                  'tr',
                  {
                    class: `actor-row${key === this.selected ? ' selected' : ''}${a.stopped ? ' stopped' : ''}`,
                    'data-actor': a.actor,
                    'data-machine': a.machine,
                    'data-key': key,
                  },
                  h('td', null, h('span', { class: 'badge machine' }, a.machine)),
                  h('td', { class: 'actor-id' }, a.actor),
                  h('td', { class: 'state-value' }, a.value === null ? '…' : stateText(a.value)),
                  h('td', { class: 'muted' }, last ? eventLabel(last.type) : ''),
                );
              }),
            ),
          ),
        );
      }),
    );
  }

  /** @param {string} key */
  select(key) {
    this.selected = key;
    this.renderList();
    this.detailFor = undefined;
    this.renderDetail();
  }

  renderDetail() {
    const actor = this.selected === undefined ? undefined : this.actors.get(this.selected);
    if (actor === undefined) return;
    if (this.detailFor !== this.selected) {
      this.detailFor = this.selected;
      this.centredOn = undefined;
      this.chart = h('div', { class: 'chart' }, h('p', { class: 'muted' }, `loading the ${actor.machine} machine…`));
      this.info = h('div');
      replace(
        this.detail,
        h('h3', null, actor.actor, ' ', h('span', { class: 'muted' }, `${actor.machine} on ${actor.node}${actor.parent ? ` · parent ${actor.parent}` : ''}`)),
        this.chart,
        this.info,
      );
      void this.drawChart(actor, this.selected ?? '');
    }
    const svg = /** @type {SVGSVGElement | null | undefined} */ (this.chart?.querySelector('svg'));
    const state = actor.value === null ? '' : stateText(actor.value);
    if (svg && actor.value !== null) {
      highlight(svg, actor.value);
      // Follows the actor when its state changes, not on every event, so the user can scroll around.
      if (this.centredOn !== state && svg.parentElement) centreActive(svg.parentElement, svg);
      this.centredOn = state;
    }
    const context = Object.entries(actor.context);
    replace(
      /** @type {HTMLElement} */ (this.info),
      h('p', null, h('b', null, 'state '), h('span', { class: 'state-value', id: 'actor-state' }, actor.value === null ? '…' : stateText(actor.value)), actor.stopped ? h('span', { class: 'badge dead' }, 'stopped') : null),
      h('div', { class: 'columns' },
        h('div', null, h('h4', null, 'Context'), context.length === 0 ? h('p', { class: 'muted' }, 'no summary') : h('table', { class: 'kv' }, context.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, summaryText(v)))))),
        h('div', null, h('h4', null, 'Recent events'), actor.events.length === 0 ? h('p', { class: 'muted' }, 'none yet') : h('ol', { class: 'events', reversed: true }, [...actor.events].reverse().map((e) => h('li', null, h('span', { class: 'muted' }, clock(e.at)), ' ', eventLabel(e.type), e.sampled > 1 ? h('span', { class: 'muted' }, ` ×${e.sampled}`) : null)))),
      ),
    );
  }

  /**
   * @param {Actor} actor
   * @param {string} key
   */
  async drawChart(actor, key) {
    let drawing = this.drawings.get(actor.machine);
    if (drawing === undefined) {
      drawing = getJson(`/api/machine?node=${encodeURIComponent(actor.node)}&machine=${encodeURIComponent(actor.machine)}`).then((/** @type {{ definition: import('./types.js').StateNodeDefinition }} */ r) => drawMachine(r.definition));
      this.drawings.set(actor.machine, drawing);
      drawing.catch(() => this.drawings.delete(actor.machine));
    }
    try {
      const { svg, listed } = await drawing;
      if (this.detailFor !== key || this.chart === undefined) return;
      const copy = /** @type {SVGSVGElement} */ (svg.cloneNode(true));
      this.centredOn = undefined;
      replace(
        this.chart,
        h('div', { class: 'chart-scroll' }, copy),
        listed.length === 0
          ? null
          : h('details', null, h('summary', null, `${listed.length} transition(s) not drawn`), h('ul', null, listed.map((t) => h('li', null, `${t.from.join('.') || '(machine)'}: ${t.event} → ${t.to}`, h('span', { class: 'muted' }, ` (${t.why})`))))),
      );
      this.renderDetail();
    } catch (err) {
      if (this.detailFor === key && this.chart) replace(this.chart, h('p', { class: 'warn' }, `no statechart: ${err instanceof Error ? err.message : String(err)}`));
    }
  }
}
