/**
 * The inspector's Clusters section in a real browser (Debian's Chromium, playwright-core): a
 * deployment of a primary–secondary cluster (one node process) and a cluster of independent hosts
 * (two node processes) with an external manager. The page must show both clusters with their model
 * and the external manager's view, then a queue split over both, then the same queue merged with
 * one part draining. Screenshots go to test-artifacts/inspector/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { DeploymentClient } from '../../src/client/deployment-client.ts';
import { startExternalManager } from '../../src/deployment/external-manager.ts';
import { startInspector } from '../../src/inspect/server.ts';
import { DeploymentMetadata } from '../../src/meta/deployment-metadata.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join('test-artifacts', 'inspector');
const WAIT_MS = 20_000;
const DEPLOYMENT = `b${Math.floor(Math.random() * 1e9).toString(36)}`;
const ENV = { WHARF_DEPLOYMENT: DEPLOYMENT, WHARF_CLUSTER_REPORT_MS: '200', WHARF_HEARTBEAT_MS: '100', WHARF_FAILURE_TIMEOUT_MS: '1500', WHARF_LEASE_MS: '500' };

test('the Clusters section shows each cluster with its model and health, and split and draining queues', async (t) => {
  t.timeout(180_000);
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
    return;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const nats = await startNats(t);
  const [p, h] = await Promise.all([
    startWharfCluster(t, { nats, nodes: 1, env: ENV }),
    startWharfCluster(t, { nats, nodes: 2, env: { ...ENV, WHARF_CLUSTER_MODEL: 'hosts' } }),
  ]);
  const nc = await connect({ servers: nats.url });
  const metadata = await DeploymentMetadata.open(nc, DEPLOYMENT);
  const external = await startExternalManager({ nc, metadata, instanceId: 'e1', log: pino({ level: 'silent' }), options: { leaseTimeoutMs: 1000 } });
  const client = await DeploymentClient.connect({ servers: nats.url, deployment: DEPLOYMENT, timeoutMs: 5_000 });
  const inspector = await startInspector({ nc, cluster: h.cluster, port: 0, deployment: DEPLOYMENT });
  const browser = await chromium.launchPersistentContext(await tempDir(t, 'wharf-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 1000 },
  });
  t.teardown(async () => {
    await browser.close();
    await inspector.close();
    await client.close();
    await external.stop();
    await metadata.close();
    await nc.close();
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  await page.goto(inspector.url);
  await page.waitForSelector(`#cluster-list tr[data-cluster="${p.cluster}"][data-model="primary"][data-status="healthy"]`, { timeout: 60_000 });
  await page.waitForSelector(`#cluster-list tr[data-cluster="${h.cluster}"][data-model="hosts"][data-status="healthy"]`, { timeout: WAIT_MS });
  t.regex((await page.textContent(`#cluster-list tr[data-cluster="${h.cluster}"]`)) ?? '', /this/);

  await eventually(() => client.createQueue('spread', { partitions: 1, replicationFactor: 1 }), { timeoutMs: 30_000, intervalMs: 500, message: 'queue created' });
  await client.split('spread', 2);
  await page.waitForSelector('#route-list tr[data-route="spread"][data-state="split"] [data-part][data-state="active"]:nth-of-type(2)', { timeout: WAIT_MS });
  await page.screenshot({ path: join(ARTIFACTS, 'clusters-split.png'), fullPage: true });

  // A message on each part keeps the part that drains from being retired at once.
  await client.send('spread', 'one');
  await client.send('spread', 'two');
  await client.merge('spread', p.cluster);
  await page.waitForSelector(`#route-list tr[data-route="spread"][data-state="draining"] [data-part="${h.cluster}"][data-state="draining"]`, { timeout: WAIT_MS });
  await page.screenshot({ path: join(ARTIFACTS, 'clusters-draining.png'), fullPage: true });
  t.deepEqual(errors, [], 'no script error on the page');
});
