/**
 * The only place that reads the wall clock. Core code takes a `now` function (milliseconds)
 * from here or from a virtual clock, so runs can be replayed.
 */
import { performance } from 'node:perf_hooks';

export type Now = () => number;

/** Monotonic wall time in milliseconds. */
export const wallNow: Now = () => performance.now();

/** Calendar time as an ISO string, for manifests and logs only. */
export function isoTimestamp(): string {
  return new Date().toISOString();
}
