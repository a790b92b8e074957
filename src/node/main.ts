/**
 * `node src/node/main.ts`: runs one broker node configured from WHARF_* environment variables
 * (config.ts) until SIGTERM or SIGINT, then stops gracefully.
 */
import { configFromEnv } from './config.ts';
import { startResolvedNode } from './node.ts';

try {
  const node = await startResolvedNode(configFromEnv());
  const shutdown = (signal: string) => {
    node.log.info({ signal }, 'stopping');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        node.log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  process.stderr.write(`wharf node failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
