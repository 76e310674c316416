// File reading with errors that name the file and say what was wrong.

import { promises as fsp } from 'node:fs';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzip);

/** A readable message for a failed file-system call. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, expected a file';
    case 'ENOTDIR':
      return 'not a directory';
    default:
      return e?.message ?? String(err);
  }
}

/** A FIFO, socket or device given where a data file belongs would block the read forever: refused by name. */
export async function requireRegularFile(path: string): Promise<void> {
  let st;
  try { st = await fsp.stat(path); } catch (err) { throw new Error(`${path}: cannot read: ${fsReason(err)}`); }
  if (!st.isFile()) throw new Error(`${path}: not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device'}); give a file`);
}

/** Read a whole file; wraps errors with the path. */
export async function readFileChecked(path: string): Promise<Buffer> {
  await requireRegularFile(path);
  try {
    return await fsp.readFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot read: ${fsReason(err)}`);
  }
}

/** Read a file, gunzipping it when it starts with the gzip magic bytes (whatever its name). */
export async function readMaybeGzip(path: string): Promise<Buffer> {
  const raw = await readFileChecked(path);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzipAsync(raw);
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /unexpected end/i.test(msg) ? ' (the gzip stream is truncated)' : '';
      throw new Error(`${path}: corrupt gzip data: ${msg}${hint}`);
    }
  }
  return raw;
}

/** The first existing path of a list, or an error listing all that were tried. */
export async function firstExisting(paths: string[], what: string): Promise<string> {
  for (const p of paths) {
    try {
      const st = await fsp.stat(p);
      if (st.isFile()) return p;
      // Present but not a file: a FIFO or device would block the read forever.
      throw new Error(`${p}: not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device'}); ${what} must be a file`);
    } catch (e) {
      if ((e as Error).message.includes('not a regular file')) throw e;
      // try the next candidate
    }
  }
  throw new Error(`cannot find ${what}: none of ${paths.map((p) => `'${p}'`).join(', ')} exists`);
}
