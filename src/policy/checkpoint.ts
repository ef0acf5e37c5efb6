/**
 * Checkpoints: a JSON manifest (config, tokenizer, seed, command, versions, sha256 of every
 * binary file) and one little-endian float32 weights file (+ optionally the optimiser state).
 * A checkpoint whose bytes do not match their recorded sha256 is refused. Writes go to a
 * temporary directory that is renamed into place, so a crash never leaves half a checkpoint.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { sha256, sizeOf, type PackedWeights } from '../tensor/pack.js';
import { GptConfigSchema } from './transformer/config.js';
import { writeDirAtomic, writeFileSynced } from '../util/atomic.js';

export const CHECKPOINT_FORMAT = 'e3sim-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

const TensorEntrySchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)),
  offset: z.number().int().min(0),
});
const BlobSchema = z.object({
  file: z.string().regex(/^[\w.-]+$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().min(0),
  tensors: z.array(TensorEntrySchema),
});

export const ManifestSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
  kind: z.literal('gpt'),
  config: GptConfigSchema,
  tokenizer: z.object({ name: z.string(), vocabSize: z.number().int(), maxValue: z.number().int().optional() }),
  seed: z.union([z.number(), z.string()]),
  /** The command that produced this checkpoint (for reproduction). */
  command: z.string(),
  versions: z.record(z.string(), z.string()),
  step: z.number().int().min(0),
  weights: BlobSchema,
  optimizer: BlobSchema.extend({ step: z.number().int().min(0) }).optional(),
  /** Free-form state needed to resume the job that wrote it (data RNG, schedule, knobs). */
  trainState: z.record(z.string(), z.unknown()).optional(),
  /** Measurements recorded at save time (e.g. final loss). */
  notes: z.record(z.string(), z.unknown()).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface LoadedCheckpoint {
  dir: string;
  manifest: Manifest;
  weights: PackedWeights;
  optimizer?: PackedWeights;
}

function bytesOf(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function saveCheckpoint(
  dir: string,
  manifest: Omit<Manifest, 'format' | 'formatVersion' | 'weights' | 'optimizer'>,
  weights: PackedWeights,
  optimizer?: { state: PackedWeights; step: number },
): void {
  writeDirAtomic(dir, (tmp) => writeCheckpointFiles(tmp, manifest, weights, optimizer));
}

/** A checkpoint's files (weights, optimizer, manifest), each fsynced, into `dir` — a directory not yet committed. */
export function writeCheckpointFiles(
  dir: string,
  manifest: Omit<Manifest, 'format' | 'formatVersion' | 'weights' | 'optimizer'>,
  weights: PackedWeights,
  optimizer?: { state: PackedWeights; step: number },
): void {
  const wbytes = bytesOf(weights.data);
  writeFileSynced(path.join(dir, 'weights.bin'), wbytes);
  const full: Manifest = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    ...manifest,
    weights: { file: 'weights.bin', sha256: sha256(wbytes), bytes: wbytes.length, tensors: weights.manifest },
  };
  if (optimizer) {
    const obytes = bytesOf(optimizer.state.data);
    writeFileSynced(path.join(dir, 'optimizer.bin'), obytes);
    full.optimizer = {
      file: 'optimizer.bin',
      sha256: sha256(obytes),
      bytes: obytes.length,
      tensors: optimizer.state.manifest,
      step: optimizer.step,
    };
  }
  writeFileSynced(path.join(dir, 'manifest.json'), JSON.stringify(full, null, 2) + '\n');
}

function readBlob(dir: string, blob: z.infer<typeof BlobSchema>, what: string): PackedWeights {
  const file = path.join(dir, blob.file);
  if (!fs.existsSync(file)) throw new InputError(`checkpoint ${dir}: ${what} file '${blob.file}' is missing`);
  const bytes = fs.readFileSync(file);
  if (bytes.length !== blob.bytes)
    throw new InputError(`checkpoint ${dir}: ${blob.file} has ${bytes.length} bytes, the manifest says ${blob.bytes}`);
  const digest = sha256(bytes);
  if (digest !== blob.sha256)
    throw new InputError(
      `checkpoint ${dir}: ${blob.file} sha256 is ${digest}, the manifest expects ${blob.sha256}; the file is corrupt or was modified`,
    );
  if (bytes.length % 4 !== 0)
    throw new InputError(`checkpoint ${dir}: ${blob.file} is not a float32 array (${bytes.length} bytes)`);
  const data = new Float32Array(bytes.length / 4);
  new Uint8Array(data.buffer).set(bytes);
  for (const t of blob.tensors) {
    if (t.offset + sizeOf(t.shape) > data.length)
      throw new InputError(`checkpoint ${dir}: tensor '${t.name}' lies outside ${blob.file}`);
  }
  return { manifest: blob.tensors, data };
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new InputError(
      `'${dir}' is not a directory (expected a checkpoint directory with manifest.json)`,
      '--checkpoint',
    );
  if (!fs.existsSync(file)) throw new InputError(`checkpoint ${dir}: manifest.json is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`checkpoint ${dir}: manifest.json is not valid JSON (${(e as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `checkpoint ${dir}: manifest.json field '${issue.path.join('.') || '(root)'}': ${issue.message}`,
    );
  }
  return parsed.data;
}

export function loadCheckpoint(dir: string, opts: { optimizer?: boolean } = {}): LoadedCheckpoint {
  const manifest = readManifest(dir);
  const weights = readBlob(dir, manifest.weights, 'weights');
  const optimizer = opts.optimizer && manifest.optimizer ? readBlob(dir, manifest.optimizer, 'optimizer') : undefined;
  return { dir, manifest, weights, optimizer };
}
