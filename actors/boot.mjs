// Worker bootstrap: registers tsx inside the worker thread (Node 20's `--import tsx` in a
// worker's execArgv does not reach the worker's own module loader), then loads the TypeScript
// entry named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
