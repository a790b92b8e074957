/**
 * The inspector page in a real browser: Debian's Chromium driven by playwright-core, against a
 * three-node cluster (node processes) and the inspector server started in this process. The page
 * must show the cluster with its model, the nodes, a new queue and its partitions, find a received message with its lease,
 * draw an actor's statechart, and show a killed node dead and its partition under a new primary. Screenshots of every step go
 * to test-artifacts/inspector/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startInspector } from '../../src/inspect/server.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = join('test-artifacts', 'inspector');
/** Bound of every wait on the page. */
const WAIT_MS = 20_000;

async function openBrowser(userDataDir: string): Promise<BrowserContext> {
  // A persistent context is how Playwright takes a user data dir: a fresh one per run.
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

test('the inspector shows the cluster, a queue, a message with its lease and a dead node, live', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
    return;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const cluster = await startWharfCluster(t, { nodes: 3 });
  const nc = await connect({ servers: cluster.nats.url, name: 'inspector-test' });
  t.teardown(() => nc.close());
  const inspector = await startInspector({ nc, cluster: cluster.cluster, port: 0 });
  t.teardown(() => inspector.close());
  const browser = await openBrowser(await tempDir(t, 'wharf-chromium-'));
  t.teardown(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  await page.goto(inspector.url);
  await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
  for (const id of ['n1', 'n2', 'n3']) await page.waitForSelector(`[data-node="${id}"][data-liveness="alive"]`, { timeout: WAIT_MS });
  // Outside a deployment, the Clusters section shows this cluster alone, with its model and health.
  await page.waitForSelector(`#cluster-list tr[data-cluster="${cluster.cluster}"][data-model="primary"][data-health="healthy"]`, { timeout: WAIT_MS });
  await shot(page, '1-nodes');

  // A queue appears with its partitions, each with a primary and three replicas.
  const client = await cluster.connect();
  await client.createQueue('orders', { partitions: 2, visibilityTimeout: 120 });
  for (const p of ['orders/0', 'orders/1']) {
    await page.waitForSelector(`[data-queue="orders"] tr[data-partition="${p}"]:not([data-primary=""]) .replica:nth-of-type(3)`, { timeout: WAIT_MS });
  }
  await page.waitForSelector('[data-queue-stats="orders"]', { timeout: WAIT_MS });
  await shot(page, '2-queue');

  // A received message is in flight, with its lease, in the search and in the counts.
  const { messageId } = await client.sendMessage('orders', 'where am I?');
  const [received] = await client.receive('orders', { maxMessages: 1, waitTimeSeconds: 5 });
  t.is(received?.messageId, messageId);
  const leasedAt = Date.now();
  await page.selectOption('#search-queue', 'orders');
  await page.fill('#search-id', messageId);
  await page.click('#search-button');
  const result = await page.waitForSelector('#search-result .result[data-state="inflight"]', { timeout: WAIT_MS });
  const leaseUntil = Number(await result.getAttribute('data-lease-until'));
  t.true(leaseUntil > leasedAt && leaseUntil <= Date.now() + 120_000, `lease until ${leaseUntil}`);
  t.regex((await result.textContent()) ?? '', new RegExp(messageId));
  t.regex((await result.textContent()) ?? '', new RegExp(`lease owner\\s*${client.consumer}`), 'the lease owner is the receiving client');
  await page.waitForSelector('[data-queue-stats="orders"] td:nth-child(3):text-is("1")', { timeout: WAIT_MS });
  // The oldest column shows the age of the oldest message, in seconds.
  await page.waitForSelector('[data-queue-stats="orders"] td[data-field="oldest"]:text-matches("^[0-9]+ s$")', { timeout: WAIT_MS });
  await shot(page, '3-message');

  // Sends, receives and deletes show up as rates: the sample after a burst is above 0. A rate lasts
  // one sample (a second), so a burst whose sample the page did not show is made again (bounded).
  const burst = async (round: number) => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.sendMessage('orders', `burst ${round}/${i}`)));
    const got = await client.receive('orders', { maxMessages: 30, waitTimeSeconds: 5 });
    if (got.length > 0) await client.deleteMessageBatch('orders', got.map((m, i) => ({ id: `d${i}`, receiptHandle: m.receiptHandle })));
  };
  for (const kind of ['sent', 'received', 'deleted']) {
    const positive = `[data-queue-stats="orders"] td[data-rate="${kind}"]:text-matches("^(0\\.[1-9]|[1-9])")`;
    let shown = false;
    for (let round = 0; round < 6 && !shown; round++) {
      await burst(round);
      shown = await page.waitForSelector(positive, { timeout: 3000 }).then(() => true, () => false);
    }
    t.true(shown, `${kind}/s above 0 after a burst`);
  }
  await shot(page, '3b-rates');

  // A partition actor is listed by its queue, partition and role, not by a session id.
  await page.fill('#actor-filter', 'partition:orders/0');
  await page.waitForSelector('#actor-list tr[data-machine="partition"]:has-text("partition:orders/0:primary")', { timeout: WAIT_MS });

  // Every actor is listed; a replica's statechart is drawn with its current state highlighted.
  await page.fill('#actor-filter', 'replica');
  await page.click('#actor-list tr[data-machine="replica"]', { timeout: WAIT_MS });
  await page.waitForSelector('#actor-detail svg.statechart g.state.active', { timeout: WAIT_MS });
  await page.fill('#actor-filter', '');
  await shot(page, '4-actor');

  // The primary of orders/0 is killed: the map shows it dead and the partition under another.
  const victim = await cluster.waitForPrimary('orders', 0);
  await cluster.node(victim).kill();
  await page.waitForSelector(`[data-node="${victim}"][data-liveness="dead"]`, { timeout: WAIT_MS });
  await page.waitForSelector(`tr[data-partition="orders/0"]:not([data-primary=""]):not([data-primary="${victim}"])`, { timeout: WAIT_MS });
  await shot(page, '5-node-killed');
  t.deepEqual(errors, [], 'no script error on the page');
});
