/**
 * The Docker Swarm deployment (deploy/): `docker stack config` accepts the stack file, and its
 * structure agrees with Wharf's configuration and with deploy/README.md's promises.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parse } from 'yaml';
import { configFromEnv, ENV } from '../../src/node/config.ts';

const DEPLOY = new URL('../../deploy/', import.meta.url);
const STACK_PATH = fileURLToPath(new URL('wharf-stack.yml', DEPLOY));
const read = (name: string): string => readFileSync(new URL(name, DEPLOY), 'utf8');

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown, what: string): Obj {
  if (!isObj(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
}

/** KEY=VALUE lines of an env file, comments and blank lines skipped. */
function envFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new Error(`not KEY=VALUE: ${line}`);
    out[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return out;
}

const stack = obj(parse(read('wharf-stack.yml'), { merge: true }), 'the stack');
const services = obj(stack['services'], 'services');
const topVolumes = obj(stack['volumes'], 'volumes');
const serviceNames = Object.keys(services);
const service = (name: string): Obj => obj(services[name], `service ${name}`);

/** A service's environment as `docker stack deploy` sets it: its env_file(s), then `environment`. */
function environmentOf(name: string): Record<string, string> {
  const s = service(name);
  const env: Record<string, string> = {};
  const files = s['env_file'] === undefined ? [] : typeof s['env_file'] === 'string' ? [s['env_file']] : list(s['env_file'], `${name}.env_file`);
  for (const file of files) Object.assign(env, envFile(read(String(file))));
  const environment = s['environment'];
  if (Array.isArray(environment)) {
    for (const entry of environment) {
      const [key, ...rest] = String(entry).split('=');
      env[key ?? ''] = rest.join('=');
    }
  } else if (environment !== undefined) {
    for (const [key, value] of Object.entries(obj(environment, `${name}.environment`))) env[key] = String(value);
  }
  return env;
}

const isWharfImage = (name: string): boolean => String(service(name)['image']).includes('WHARF_IMAGE');
const isNatsImage = (name: string): boolean => String(service(name)['image']).startsWith('nats:');
const brokers = serviceNames.filter((name) => isWharfImage(name) && service(name)['command'] === undefined);
const natsServices = serviceNames.filter(isNatsImage);

/** The volume mounts of a service as [source, target] pairs (both forms: "a:b" and long syntax). */
function mountsOf(name: string): Array<[string, string]> {
  const volumes = service(name)['volumes'];
  if (volumes === undefined) return [];
  return list(volumes, `${name}.volumes`).map((v): [string, string] => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      return [source, target];
    }
    const m = obj(v, `${name} volume`);
    return [String(m['source'] ?? ''), String(m['target'] ?? '')];
  });
}

test('docker stack config accepts deploy/wharf-stack.yml', (t) => {
  const result = spawnSync('docker', ['stack', 'config', '-c', STACK_PATH], { encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    t.log('skipped: no docker binary on this machine, so the stack file was not validated by docker');
    t.pass();
    return;
  }
  t.is(result.error, undefined);
  t.is(result.status, 0, result.stderr);
  // Its output is the resolved stack: the broker's per-task identity survived interpolation.
  t.regex(result.stdout, /WHARF_NODE_ID: node-\{\{\.Task\.Slot\}\}/);
});

test('every WHARF_* variable a service sets is one Wharf reads', (t) => {
  const known = new Set(Object.keys(ENV));
  const set = serviceNames.flatMap((name) => Object.keys(environmentOf(name)).filter((key) => key.startsWith('WHARF_')).map((key) => `${name}: ${key}`));
  t.true(set.length > 0);
  t.deepEqual(
    set.filter((entry) => !known.has(entry.split(': ')[1] ?? '')),
    [],
  );
  // The shared env file holds only settings too (a typo there would be silently ignored).
  t.deepEqual(Object.keys(envFile(read('wharf.env'))).filter((key) => !known.has(key)), []);
});

test('the broker service is one replicated service whose tasks take their identity and data volume from the task slot', (t) => {
  t.deepEqual(brokers, ['broker']);
  const broker = service('broker');
  const deploy = obj(broker['deploy'], 'broker.deploy');
  t.is(deploy['replicas'], 3);
  const env = environmentOf('broker');
  t.is(env['WHARF_NODE_ID'], 'node-{{.Task.Slot}}');
  t.is(env['WHARF_HTTP_HOST'], '0.0.0.0');
  // Each slot's environment is a configuration the node accepts.
  for (const slot of ['1', '2', '3']) {
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replaceAll('{{.Task.Slot}}', slot)]));
    t.is(String(configFromEnv(resolved).nodeId), `node-${slot}`);
  }
  // The data dir is a volume; a per-task volume must be a top-level volume with a templated name,
  // because `docker stack deploy` rejects a mount source that is not declared there.
  const dataMount = mountsOf('broker').find(([, target]) => target === env['WHARF_DATA_DIR']);
  if (dataMount === undefined) return t.fail(`no volume mounted at WHARF_DATA_DIR ${env['WHARF_DATA_DIR']}`);
  const volume = obj(topVolumes[dataMount[0]], `volume ${dataMount[0]}`);
  t.regex(String(volume['name']), /\{\{\.Task\.Slot\}\}/);
  // Every NATS server is in the nodes' server list.
  t.deepEqual(
    natsServices.filter((name) => !(env['WHARF_NATS_URL'] ?? '').split(',').includes(`nats://${name}:4222`)),
    [],
  );
});

test('a rolling upgrade of the brokers stops one node at a time, and rolls back on failure', (t) => {
  const deploy = obj(service('broker')['deploy'], 'broker.deploy');
  const update = obj(deploy['update_config'], 'broker update_config');
  t.is(update['parallelism'], 1);
  t.is(update['order'], 'stop-first');
  t.is(update['failure_action'], 'rollback');
  t.truthy(update['monitor']);
  const rollback = obj(deploy['rollback_config'], 'broker rollback_config');
  t.is(rollback['parallelism'], 1);
  t.is(rollback['order'], 'stop-first');
  const placement = obj(deploy['placement'], 'broker placement');
  t.is(placement['max_replicas_per_node'], 1);
  t.truthy(obj(obj(deploy['resources'], 'broker resources')['limits'], 'broker limits')['memory']);
});

test('every service has a health check', (t) => {
  const dockerfile = readFileSync(new URL('Dockerfile', DEPLOY), 'utf8');
  // The image's own check: the node's /healthz, with node itself (no curl in a slim image).
  t.regex(dockerfile, /^HEALTHCHECK .*\\\n\s+CMD \["node", .*\/healthz/m);
  for (const name of serviceNames) {
    const healthcheck = service(name)['healthcheck'];
    if (healthcheck === undefined) {
      // Only the broker relies on the image's HEALTHCHECK; a command of its own would change what it serves.
      t.true(brokers.includes(name), `${name} has no healthcheck`);
      continue;
    }
    const check = obj(healthcheck, `${name}.healthcheck`);
    t.not(check['disable'], true, `${name} disables its healthcheck`);
    const command = list(check['test'], `${name}.healthcheck.test`);
    t.true(command[0] === 'CMD' || command[0] === 'CMD-SHELL', `${name}: ${String(command[0])}`);
  }
});

test('the NATS services form a three-server JetStream cluster, each with its name and its own volume', (t) => {
  t.is(natsServices.length, 3);
  const conf = read('nats-cluster.conf');
  const storeDir = /jetstream\s*\{[^}]*store_dir:\s*(\S+)/.exec(conf)?.[1];
  if (storeDir === undefined) return t.fail('nats-cluster.conf has no jetstream block with a store_dir');
  t.regex(conf, /server_name:\s*\$NATS_SERVER_NAME/);
  const configs = obj(stack['configs'], 'configs');
  const sources = new Set<string>();
  for (const name of natsServices) {
    t.is(environmentOf(name)['NATS_SERVER_NAME'], name);
    const store = mountsOf(name).find(([, target]) => target === storeDir);
    if (store === undefined) return t.fail(`${name} has no volume at ${storeDir}`);
    t.true(store[0] in topVolumes, `${name}: ${store[0]} is not a named volume`);
    sources.add(store[0]);
    // The server reads nats-cluster.conf through a Swarm config.
    const used = list(service(name)['configs'], `${name}.configs`).map((c) => String(obj(c, 'config')['source']));
    t.true(used.some((source) => obj(configs[source], `config ${source}`)['file'] === './nats-cluster.conf'), `${name} does not use nats-cluster.conf`);
  }
  t.is(sources.size, 3, 'the NATS servers share a volume');
  // Routes to every server, in the cluster secret's form.
  const auth = read('nats-cluster-auth.conf.example');
  t.deepEqual(
    natsServices.filter((name) => !new RegExp(`nats-route://[^@\\s]+@${name}:6222`).test(auth)),
    [],
  );
});
