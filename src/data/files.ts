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

/** Read a whole file; wraps errors with the path. */
export async function readFileChecked(path: string): Promise<Buffer> {
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
    } catch {
      // try the next candidate
    }
  }
  throw new Error(`cannot find ${what}: none of ${paths.map((p) => `'${p}'`).join(', ')} exists`);
}
