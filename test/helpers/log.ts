/**
 * Loggers for tests: silent unless LOG_LEVEL is set (e.g. `LOG_LEVEL=debug npm test`), then JSON
 * lines on stderr so they never mix with ava's TAP output on stdout.
 */
import { pino, type Logger } from 'pino';

export function testLogger(bindings: Record<string, unknown> = {}): Logger {
  const level = process.env['LOG_LEVEL'];
  if (level === undefined || level === '') return pino({ level: 'silent' });
  return pino({ level, base: bindings }, pino.destination({ fd: 2, sync: true }));
}
