/** Backend names and their parsing (no tensors here: config validation loads this, not tfjs). See backend.ts. */
import { InputError } from '../util/errors.js';

export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type ConcreteBackend = Exclude<BackendName, 'auto'>;

export function parseBackend(value: string, field = '--backend'): BackendName {
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new InputError(`${field}: unknown backend '${value}'; expected one of ${BACKENDS.join(', ')}`);
}
