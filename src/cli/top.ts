/**
 * `wharf top`: `wharf status` refreshed every second, with how fast each queue's counts change. On
 * a terminal it redraws in place until `q` (or Ctrl-C); when its output is not a terminal it prints
 * successive frames, each headed by its time, until interrupted or `--frames` were printed.
 */
import { Option, type Command } from 'commander';
import { globalsOf } from './connection.ts';
import { integerIn } from './parse.ts';
import { renderStatus, withStatusSources, type StatusView } from './status.ts';

interface TopFlags {
  interval: number;
  frames?: number;
}

const CLEAR = '\x1b[H\x1b[2J';

/** Per-second change of each queue's counts between two views `seconds` apart. */
function ratesBetween(before: StatusView | undefined, now: StatusView, seconds: number): Map<string, { messages: number; inFlight: number }> {
  const rates = new Map<string, { messages: number; inFlight: number }>();
  if (!before || seconds <= 0) return rates;
  for (const q of now.queues) {
    const b = before.queues.find((x) => x.name === q.name);
    if (b) rates.set(q.name, { messages: (q.messages - b.messages) / seconds, inFlight: (q.inFlight - b.inFlight) / seconds });
  }
  return rates;
}

/** Resolves when the user asks to quit: `q`, Ctrl-C on a raw terminal, or SIGINT/SIGTERM. */
function quitSignal(): { promise: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const onKey = (data: Buffer) => {
    const key = data.toString();
    if (key === 'q' || key === 'Q' || key === '\u0003') resolve();
  };
  const tty = process.stdin.isTTY === true;
  if (tty) {
    process.stdin.setRawMode(true);
    process.stdin.resume();
    process.stdin.on('data', onKey);
  }
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
  return {
    promise,
    dispose() {
      process.off('SIGINT', resolve);
      process.off('SIGTERM', resolve);
      if (tty) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
    },
  };
}

export function registerTopCommand(program: Command): void {
  program
    .command('top')
    .description('the cluster summary of `wharf status`, refreshed live (q to quit)')
    .addOption(new Option('--interval <ms>', 'refresh period').argParser(integerIn(100, 60_000)).default(1000))
    .addOption(new Option('--frames <n>', 'stop after this many frames').argParser(integerIn(1, 1_000_000)))
    .addHelpText(
      'after',
      `
On a terminal the view is redrawn in place; press q to quit. When the output is not a terminal,
each frame is printed after the previous one, headed by its time (with --json: one JSON document
per line).`,
    )
    .action(async (flags: TopFlags, command: Command) => {
      const json = globalsOf(command).json === true;
      const live = process.stdout.isTTY === true && !json;
      const quit = quitSignal();
      try {
        await withStatusSources(command, async (collect) => {
          let previous: { view: StatusView; at: number } | undefined;
          for (let frame = 1; ; frame++) {
            const at = Date.now();
            const view = await collect();
            const rates = ratesBetween(previous?.view, view, previous ? (at - previous.at) / 1000 : 0);
            previous = { view, at };
            if (json) process.stdout.write(`${JSON.stringify({ at, ...view })}\n`);
            else {
              const head = `wharf top — ${new Date(at).toISOString()}${live ? '   (q to quit)' : ''}\n\n`;
              process.stdout.write(`${live ? CLEAR : ''}${head}${renderStatus(view, rates)}${live ? '' : '\n'}`);
            }
            if (flags.frames !== undefined && frame >= flags.frames) return;
            const stop = await Promise.race([
              quit.promise.then(() => true),
              new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, flags.interval - (Date.now() - at))).unref()),
            ]);
            if (stop) return;
          }
        });
      } finally {
        quit.dispose();
      }
    });
}
