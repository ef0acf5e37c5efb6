/**
 * Writing files and directories so that a crash leaves the old version or the new one, never half
 * of one: every run-directory and checkpoint write goes through here. The recipe is the usual one —
 * write a temporary beside the target, fsync it, rename it over the target, fsync the directory so
 * the rename itself is durable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withPath } from './errors.js';

/** Removes a file or directory tree; a failure to remove is ignored (the caller is already failing). */
function removeQuietly(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    /* reported by the caller's own error */
  }
}

/**
 * Temporaries that an interrupted write left in `dir` (a crash or SIGKILL inside writeFileAtomic or
 * writeDirAtomic): `.NAME.tmp-PID` files, `NAME.tmp-PID` and `NAME.old-PID` directories. Removed,
 * except that an `.old` whose `NAME` is missing is the committed version and is put back. Call only
 * while holding the directory's run lock (no writer of it is alive). Returns what it did, a line each.
 */
export function sweepTemporaries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const done: string[] = [];
  const names = fs.readdirSync(dir);
  for (const n of names) {
    const m = /^(.+)\.old-\d+$/.exec(n);
    if (m && !fs.existsSync(path.join(dir, m[1]!))) {
      fs.renameSync(path.join(dir, n), path.join(dir, m[1]!));
      done.push(`restored ${path.join(dir, m[1]!)} from ${n}`);
    }
  }
  for (const n of fs.readdirSync(dir)) {
    if (/\.(tmp|old)-\d+$/.test(n)) {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      done.push(`removed ${path.join(dir, n)}`);
    }
  }
  if (done.length) fsyncDir(dir);
  return done;
}

/** fsync a directory (its entries: a rename into it survives a power cut once this returns). */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Appends to an open log; a failure (ENOSPC, EIO, …) names `file`, which the descriptor does not. */
export function writeToLog(fd: number, file: string, data: string): void {
  try {
    fs.writeSync(fd, data);
  } catch (e) {
    throw withPath(e, file);
  }
}

/** Writes `data` to `file` and fsyncs it (no rename: for files inside a directory not yet committed). */
export function writeFileSynced(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } catch (e) {
    throw withPath(e, file); // a write to a descriptor names no file
  } finally {
    fs.closeSync(fd);
  }
}

/** Temp file beside the target, fsync, rename over the target, fsync the directory. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    writeFileSynced(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp); // a failed write (ENOSPC, EROFS, …) leaves no temporary behind
    throw e;
  }
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
  const old = `${target}.old-${process.pid}`;
  try {
    fs.mkdirSync(tmp);
    fill(tmp);
    fsyncDir(tmp);
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
  } catch (e) {
    // A failed write leaves the old directory in place and no temporary behind.
    if (!fs.existsSync(target) && fs.existsSync(old)) fs.renameSync(old, target);
    removeQuietly(tmp);
    throw e;
  }
  fsyncDir(parent);
  fs.rmSync(old, { recursive: true, force: true });
}
