// Image folders: one sub-folder per class (the layout of ImageNet and
// torchvision's ImageFolder), PNG and JPEG files decoded by sharp (libvips).
// Class indices come from the sorted folder names.

import { promises as fsp, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { extname, join, relative } from 'node:path';
import sharp from 'sharp';
import {
  BadSampleError,
  checkIndex,
  sharedBytes,
  skipReport,
  type Dataset,
  type DatasetSpec,
  type DecodeHint,
  type RawImage,
  type Rect,
  type RegionRequest,
  type RegionSample,
  type Sample,
  type SkippedFile,
} from './dataset.js';
import { fsReason } from './files.js';

// A loader reads each file once per epoch, so libvips' operation cache only
// holds memory; and one libvips thread per image, since parallelism comes
// from decoding several images at once.
sharp.cache(false);

export interface ImageFolderOptions {
  /** 3 (default; grey and RGBA files become RGB, as torchvision's loader does) or 1 (grey). */
  channels?: 1 | 3;
  /**
   * The class names of another split (training's): labels are their indices, matched by folder name, so a
   * validation split with fewer or re-ordered folders keeps training's labels; a folder not in the list is an
   * error naming it. Default: this folder's own sorted sub-folders.
   */
  classes?: readonly string[];
  /** File extensions counted as images, lower case with the dot (default .png .jpg .jpeg). */
  extensions?: string[];
  /**
   * A bad file (not an image, unreadable, undecodable): 'error' (default)
   * stops with an error naming it; 'skip' leaves it out, counts it and
   * reports all of them (at open for files found bad then; at the end of
   * each epoch, by the loader, for files that fail to decode).
   */
  onBadFile?: 'error' | 'skip';
  /**
   * How far to check files when opening: 'none'; 'header' (default: read the
   * first bytes of every file and check it is an image format); 'decode'
   * (decode every file fully: slow, but finds truncated files up front).
   */
  verify?: 'none' | 'header' | 'decode';
  /** Where the skip report goes (default console.warn). */
  onWarning?: (message: string) => void;
}

const DEFAULT_EXTENSIONS = ['.png', '.jpg', '.jpeg'];
const hiddenName = (n: string) => n.startsWith('.');
// Sort by code units, like Python's sorted() in torchvision (not locale order).
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Name the format from a file's first bytes, or null when it is no image format sharp reads. */
export function sniffImageFormat(head: Uint8Array): string | null {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  return null;
}

const hexBytes = (b: Uint8Array) => Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Run `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/**
 * Width and height from a PNG or JPEG header (no decoding), or null for
 * other formats or a header too damaged to read.
 */
export function imageSize(b: Uint8Array): { width: number; height: number } | null {
  const u16 = (i: number) => (b[i]! << 8) | b[i + 1]!;
  const u32 = (i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[12] === 0x49 && b[13] === 0x48 && b[14] === 0x44 && b[15] === 0x52) {
    return { width: u32(16), height: u32(20) }; // PNG: IHDR comes first
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    // JPEG: walk the marker segments to the first start-of-frame.
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1]!;
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) {
        i += 2; // markers without a length
        continue;
      }
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        return { width: u16(i + 7), height: u16(i + 5) };
      }
      i += 2 + u16(i + 2);
    }
  }
  return null;
}

export interface DecodeOptions extends DecodeHint {
  /** Decode only this integer rectangle ... */
  region?: Rect;
  /** ... shrunk (filtered) to this size. */
  width?: number;
  height?: number;
}

/** Decode an encoded image to 8-bit HWC with the given channel count; errors name the file. */
export async function decodeImage(bytes: Uint8Array, file: string, channels: 1 | 3, opts: DecodeOptions = {}): Promise<RawImage> {
  try {
    // 'error' rejects corrupt and truncated data but tolerates the harmless
    // warnings (extra bytes, odd markers) common in real photo collections.
    let img = sharp(bytes, { failOn: 'error', sequentialRead: true });
    let want: { width: number; height: number } | null = null;
    if (opts.region) {
      const r = opts.region;
      img = img.extract({ left: r.x, top: r.y, width: r.w, height: r.h });
      want = { width: r.w, height: r.h };
      if (opts.width !== undefined && opts.height !== undefined && (opts.width !== r.w || opts.height !== r.h)) {
        img = img.resize({ width: opts.width, height: opts.height, fit: 'fill', kernel: 'linear' });
        want = { width: opts.width, height: opts.height };
      }
    } else if (opts.resizeShortSide) {
      const s = opts.resizeShortSide;
      img = img.resize({ width: s, height: s, fit: 'outside', kernel: 'linear' });
    }
    img = channels === 3 ? img.removeAlpha().toColourspace('srgb') : img.removeAlpha().toColourspace('b-w');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
    if (want && (info.width !== want.width || info.height !== want.height)) {
      throw new Error(`decoded to ${info.width}x${info.height}, expected ${want.width}x${want.height}`);
    }
    if (data.length !== info.width * info.height * info.channels) {
      throw new Error(`decoded ${data.length} bytes for ${info.width}x${info.height}x${info.channels} at 8 bits`);
    }
    // A plain Uint8Array (not a Buffer) keeps the augmentation loops monomorphic.
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels };
  } catch (err) {
    throw new BadSampleError(file, `cannot decode image: ${(err as Error).message}`);
  }
}

/** Width and height from the header, asking libvips when the quick parse cannot tell. */
async function sizeOf(bytes: Uint8Array, file: string): Promise<{ width: number; height: number }> {
  const quick = imageSize(bytes);
  if (quick && quick.width > 0 && quick.height > 0) return quick;
  let meta: { width?: number; height?: number };
  try {
    meta = await sharp(bytes).metadata();
  } catch (err) {
    throw new BadSampleError(file, `cannot decode image: ${(err as Error).message}`);
  }
  if (!meta.width || !meta.height) throw new BadSampleError(file, 'cannot decode image: no width and height in its header');
  return { width: meta.width, height: meta.height };
}

/** An ImageFolder data set. Build it with `ImageFolder.open`. */
export class ImageFolder implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  /** Files left out at open (only with onBadFile 'skip'). */
  readonly skipped: SkippedFile[];

  private constructor(
    readonly root: string,
    /** Paths relative to root. */
    readonly files: string[],
    readonly labels: Int32Array,
    readonly classes: string[],
    readonly channels: 1 | 3,
    readonly onBadFile: 'error' | 'skip',
    skipped: SkippedFile[],
  ) {
    this.name = root;
    this.length = files.length;
    this.numClasses = classes.length;
    this.skipped = skipped;
  }

  /** Scan `root`: each non-hidden sub-folder is a class; image files are found at any depth below it. */
  static async open(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolder> {
    const channels = opts.channels ?? 3;
    const exts = (opts.extensions ?? DEFAULT_EXTENSIONS).map((e) => e.toLowerCase());
    const onBad = opts.onBadFile ?? 'error';
    const verify = opts.verify ?? 'header';
    const skipped: SkippedFile[] = [];
    const bad = (file: string, reason: string) => {
      if (onBad === 'error') throw new Error(`${file}: ${reason}`);
      skipped.push({ file, reason });
    };

    let entries;
    try {
      const st = await fsp.stat(root);
      if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      entries = await fsp.readdir(root, { withFileTypes: true });
    } catch (err) {
      throw new Error(`${root}: cannot open image folder: ${fsReason(err)}`);
    }
    const classes = entries
      .filter((e) => !hiddenName(e.name) && (e.isDirectory() || e.isSymbolicLink()))
      .map((e) => e.name)
      .sort(byCodeUnit);
    // Symbolic links count only when they lead to folders.
    const classDirs: string[] = [];
    for (const c of classes) {
      const st = await fsp.stat(join(root, c)).catch(() => null);
      if (st?.isDirectory()) classDirs.push(c);
    }
    if (classDirs.length === 0) throw new Error(`${root}: no class folders found (expected one sub-folder per class)`);
    const names = opts.classes ? [...opts.classes] : classDirs;
    if (opts.classes) {
      const unknown = classDirs.filter((c) => !opts.classes!.includes(c));
      if (unknown.length) {
        throw new Error(`${root}: class folder${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `'${c}'`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} missing from the training split ` +
          `(its classes: ${opts.classes.slice(0, 10).join(', ')}${opts.classes.length > 10 ? ', ...' : ''}); every evaluated class must be trained on`);
      }
    }

    const files: string[] = [];
    const labels: number[] = [];
    for (const cls of classDirs) {
      const label = names.indexOf(cls);
      const dir = join(root, cls);
      const found: string[] = [];
      await walk(dir, found);
      found.sort(byCodeUnit);
      for (const f of found) {
        const ext = extname(f).toLowerCase();
        if (!exts.includes(ext)) {
          bad(f, `not an image file: extension '${ext || '(none)'}' is not one of ${exts.join(' ')}`);
          continue;
        }
        files.push(relative(root, f));
        labels.push(label);
      }
    }

    // Check contents; bad ones drop out of the list when skipping.
    const ok = new Uint8Array(files.length).fill(1);
    if (verify !== 'none') {
      await pool(files, 16, async (rel, i) => {
        const path = join(root, rel);
        try {
          if (verify === 'header') {
            const head = await readHead(path, 16);
            if (head.length === 0) throw new BadSampleError(path, 'empty file');
            if (!sniffImageFormat(head)) throw new BadSampleError(path, `not an image: its first bytes (${hexBytes(head)}) match no PNG or JPEG signature`);
          } else {
            await decodeImage(await readBytes(path), path, channels);
          }
        } catch (err) {
          ok[i] = 0;
          const reason = err instanceof BadSampleError ? err.reason : fsReason(err);
          if (onBad === 'error') throw new Error(`${path}: ${reason}`);
          skipped.push({ file: path, reason });
        }
      });
    }
    const keptFiles: string[] = [];
    const keptLabels = new Int32Array(sharedBytes(4 * files.length));
    const perClass = new Int32Array(names.length);
    for (let i = 0; i < files.length; i++) {
      if (!ok[i]) continue;
      keptLabels[keptFiles.length] = labels[i]!;
      keptFiles.push(files[i]!);
      const l = labels[i]!;
      perClass[l] = perClass[l]! + 1;
    }
    for (const c of classDirs) {
      if (perClass[names.indexOf(c)] === 0) {
        const note = skipped.length > 0 ? ' (after leaving out bad files)' : '';
        throw new Error(`${join(root, c)}: empty class folder: no ${exts.join('/')} images${note}`);
      }
    }
    if (skipped.length > 0) {
      skipped.sort((a, b) => byCodeUnit(a.file, b.file));
      (opts.onWarning ?? console.warn)(skipReport(`${root}: skipped ${skipped.length} bad file(s) while opening`, skipped));
    }
    const lab = keptFiles.length === files.length ? keptLabels : new Int32Array(keptLabels.buffer, 0, keptFiles.length);
    return new ImageFolder(root, keptFiles, lab, names, channels, onBad, skipped);
  }

  /** Reopen from a spec (in a worker): no scan, no checks. */
  static fromSpec(spec: Extract<DatasetSpec, { kind: 'folder' }>): ImageFolder {
    const files = spec.files.length === 0 ? [] : spec.files.split('\n');
    const labels = new Int32Array(spec.labels, 0, files.length);
    return new ImageFolder(spec.root, files, labels, spec.classes, spec.channels === 1 ? 1 : 3, spec.onBadFile, []);
  }

  /** Absolute path of sample `index`. */
  path(index: number): string {
    checkIndex(this, index);
    return join(this.root, this.files[index]!);
  }

  labelOf(index: number): number {
    checkIndex(this, index);
    return this.labels[index]!;
  }

  async get(index: number, hint?: DecodeHint): Promise<Sample> {
    const path = this.path(index);
    const image = await decodeImage(await readBytes(path), path, this.channels, hint);
    return { image, label: this.labels[index]! };
  }

  async getRegion(index: number, plan: (width: number, height: number) => RegionRequest): Promise<RegionSample> {
    const path = this.path(index);
    const bytes = await readBytes(path);
    const { width, height } = await sizeOf(bytes, path);
    const req = plan(width, height);
    const r = req.box;
    if (!(Number.isInteger(r.x) && Number.isInteger(r.y) && Number.isInteger(r.w) && Number.isInteger(r.h) && r.x >= 0 && r.y >= 0 && r.w > 0 && r.h > 0 && r.x + r.w <= width && r.y + r.h <= height)) {
      throw new Error(`${path}: region ${r.w}x${r.h}+${r.x}+${r.y} is not an integer rectangle inside the ${width}x${height} image`);
    }
    const outW = req.width ?? r.w;
    const outH = req.height ?? r.h;
    const image = await decodeImage(bytes, path, this.channels, { region: r, width: outW, height: outH });
    return {
      image,
      label: this.labels[index]!,
      origin: { x: r.x, y: r.y, scaleX: r.w / outW, scaleY: r.h / outH },
      fullWidth: width,
      fullHeight: height,
    };
  }

  spec(): DatasetSpec {
    return {
      kind: 'folder',
      root: this.root,
      files: this.files.join('\n'),
      labels: this.labels.byteOffset === 0 && this.labels.byteLength === this.labels.buffer.byteLength ? this.labels.buffer : this.labels.slice().buffer,
      classes: this.classes,
      channels: this.channels,
      onBadFile: this.onBadFile,
    };
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    // Reading in JS and handing libvips a buffer measured faster than
    // letting libvips open the file itself. A worker thread reads
    // synchronously (one system call instead of four thread-pool hops; it
    // has nothing else to do meanwhile); the main thread must not block.
    return isMainThread ? await fsp.readFile(path) : readFileSync(path);
  } catch (err) {
    throw new BadSampleError(path, `cannot read: ${fsReason(err)}`);
  }
}

async function walk(dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`${dir}: cannot list folder: ${fsReason(err)}`);
  }
  for (const e of entries) {
    if (hiddenName(e.name)) continue; // .DS_Store, editor droppings
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
    else if (e.isSymbolicLink()) {
      const st = await fsp.stat(p).catch(() => null);
      if (st?.isDirectory()) await walk(p, out);
      else if (!st || st.isFile()) out.push(p); // a dangling link is reported by the checks as unreadable
      // a link to a FIFO, socket or device is not an image file: left out (reading it could block forever)
    }
  }
}


