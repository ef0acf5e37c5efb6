/**
 * Writing files and directories so that a crash leaves the old version or the new one, never half
 * of one: every run-directory and checkpoint write goes through here. The recipe is the usual one —
 * write a temporary beside the target, fsync it, rename it over the target, fsync the directory so
 * the rename itself is durable.
 */
import fs from 'node:fs';
import path from 'node:path';

/** fsync a directory (its entries: a rename into it survives a power cut once this returns). */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` to `file` and fsyncs it (no rename: for files inside a directory not yet committed). */
export function writeFileSynced(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Temp file beside the target, fsync, rename over the target, fsync the directory. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  writeFileSynced(tmp, data);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/**
 * Builds a directory whole: `fill` writes into a fresh temporary directory beside `dir` (with
 * writeFileSynced), which then replaces `dir` by rename. An existing `dir` is moved aside first and
 * removed after, so at every instant `dir` is the old directory, absent, or the new one — a reader
 * that finds it finds it complete.
 */
export function writeDirAtomic(dir: string, fill: (tmp: string) => void): void {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  fill(tmp);
  fsyncDir(tmp);
  const old = `${target}.old-${process.pid}`;
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(tmp, target);
  fsyncDir(parent);
  fs.rmSync(old, { recursive: true, force: true });
}
