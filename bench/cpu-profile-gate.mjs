// The preload NODE_OPTIONS names (bench/focus.ts, bench/isolation.ts). NODE_OPTIONS reaches worker
// threads too, and the storage write thread is plain JavaScript run without tsx: only the main
// thread loads the profiler (bench/cpu-profile.ts).
import { isMainThread } from 'node:worker_threads';

if (isMainThread) await import('./cpu-profile.ts');
