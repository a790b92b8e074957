/**
 * The page's files: src/inspect/web as it is in the clone (no build step), and the browser
 * libraries it loads, straight from node_modules. Only flat names are served, so no request can
 * reach outside these files.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|css|js|svg)$/;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

const require = createRequire(import.meta.url);
/** Browser libraries by the path the page asks for. */
const LIBRARIES: Record<string, string> = {
  '/lib/elk.bundled.js': 'elkjs/lib/elk.bundled.js',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** The file for a request path, or undefined when there is none. */
export async function staticFile(path: string): Promise<StaticFile | undefined> {
  const library = LIBRARIES[path];
  if (library !== undefined) return { body: await readFile(require.resolve(library)), type: TYPES['js'] as string };
  const name = path === '/' ? 'index.html' : path.slice(1);
  const match = FILE_NAME.exec(name);
  if (match === null) return undefined;
  try {
    return { body: await readFile(WEB_DIR + name), type: TYPES[match[1] as string] as string };
  } catch {
    return undefined;
  }
}
