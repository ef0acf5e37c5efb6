/**
 * How long a worker holds its work back after `computeMs` of it: the slow faults its work message
 * carries (core/faults.ts: `slow:ROLE=Kx` multiplies, `slow:ROLE=+MSms` adds). No imports: the
 * verifier's pool task loads it too.
 */
export function slowdownMs(computeMs: number, s: { slowFactor: number; slowMs?: number | undefined }): number {
  return computeMs * (s.slowFactor - 1) + (s.slowMs ?? 0);
}
