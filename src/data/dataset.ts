// The one interface every data set implements, plus the in-memory data set
// that the IDX and CIFAR readers produce.
//
// A data set hands out samples as compact 8-bit HWC images; augmentation
// turns them into float32 later, per sample, so memory stays small.

/** An 8-bit image, rows of interleaved channels (HWC), values 0..255. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: number;
}

export interface Sample {
  image: RawImage;
  label: number;
}

/**
 * What the pipeline will do with the image, so that a decoder can produce
 * it at the size needed. In-memory data sets ignore it.
 */
export interface DecodeHint {
  /** Resize so that the shorter side is exactly this (evaluation resize), filtered. */
  resizeShortSide?: number;
}

/** A rectangle in pixels (x, y of its top-left corner; may be fractional where said). */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Part of an image to decode, chosen once the image's size is known: the
 * integer rectangle `box`, optionally shrunk (filtered) to width x height.
 */
export interface RegionRequest {
  box: Rect;
  width?: number;
  height?: number;
}

/** A decoded region and where it lies: full-image x = origin.x + decoded x * origin.scaleX. */
export interface RegionSample extends Sample {
  origin: { x: number; y: number; scaleX: number; scaleY: number };
  fullWidth: number;
  fullHeight: number;
}

/**
 * A plain-data description of a data set that a worker thread can receive
 * (structured clone; SharedArrayBuffers travel without copies) and reopen.
 */
export type DatasetSpec =
  | {
      kind: 'array';
      name: string;
      pixels: SharedArrayBuffer | ArrayBuffer;
      labels: SharedArrayBuffer | ArrayBuffer;
      count: number;
      width: number;
      height: number;
      channels: number;
      numClasses: number;
    }
  | {
      kind: 'folder';
      root: string;
      /** Paths relative to root, joined by '\n' (one string clones faster than a million). */
      files: string;
      labels: SharedArrayBuffer | ArrayBuffer;
      classes: string[];
      channels: number;
      onBadFile: 'error' | 'skip';
    }
  | {
      kind: 'subset';
      base: DatasetSpec;
      indices: SharedArrayBuffer | ArrayBuffer;
    };

export interface Dataset {
  /** Number of samples. */
  readonly length: number;
  /** Labels are 0..numClasses-1. */
  readonly numClasses: number;
  /** Channels of the images `get` returns (1 or 3). */
  readonly channels: number;
  /** A short description for messages (usually the source path). */
  readonly name: string;
  /** Image and label of sample `index` (0 <= index < length). */
  get(index: number, hint?: DecodeHint): Promise<Sample>;
  /**
   * Optional, for encoded images: read the image's size, ask `plan` which
   * part is needed, and decode only that (less work for random crops).
   */
  getRegion?(index: number, plan: (width: number, height: number) => RegionRequest): Promise<RegionSample>;
  /** Label alone, without touching the image. */
  labelOf(index: number): number;
  /** A description that `openDatasetSpec` turns back into an equal data set; absent when the data set cannot leave this thread. */
  spec?(): DatasetSpec;
}

/**
 * Thrown (or recorded, when skipping is on) for an image that cannot be
 * decoded. Carries the file so a skip report can name it.
 */
export class BadSampleError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'BadSampleError';
  }
}

/** A file left out as bad, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/** A multi-line report of skipped files (the first 20 named). */
export function skipReport(title: string, skipped: SkippedFile[]): string {
  const lines = skipped.slice(0, 20).map((s) => `  ${s.file}: ${s.reason}`);
  if (skipped.length > 20) lines.push(`  ... and ${skipped.length - 20} more`);
  return [title + ':', ...lines].join('\n');
}

export function checkIndex(ds: { length: number; name: string }, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= ds.length) {
    throw new RangeError(`${ds.name}: sample index ${index} out of range [0, ${ds.length})`);
  }
}

/** Allocate shared memory when the platform allows it, so workers see it without copies. */
export function sharedBytes(n: number): SharedArrayBuffer | ArrayBuffer {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(n) : new ArrayBuffer(n);
}

/**
 * Images of one size held in memory: `count` images of height x width x
 * channels bytes, HWC, back to back, and one Int32 label each.
 */
export class ArrayDataset implements Dataset {
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  readonly length: number;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly name: string;
  private readonly stride: number;

  constructor(opts: {
    name: string;
    pixels: Uint8Array;
    labels: Int32Array;
    width: number;
    height: number;
    channels: number;
    numClasses?: number;
  }) {
    const { pixels, labels, width, height, channels } = opts;
    this.name = opts.name;
    this.stride = width * height * channels;
    if (channels !== 1 && channels !== 3) {
      throw new Error(`${opts.name}: images must have 1 or 3 channels, got ${channels}`);
    }
    if (pixels.length !== labels.length * this.stride) {
      throw new Error(
        `${opts.name}: ${labels.length} labels need ${labels.length * this.stride} pixel bytes ` +
          `(${height}x${width}x${channels} each), got ${pixels.length}`,
      );
    }
    let maxLabel = -1;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (l < 0) throw new Error(`${opts.name}: label ${l} of sample ${i} is negative`);
      if (l > maxLabel) maxLabel = l;
    }
    const numClasses = opts.numClasses ?? maxLabel + 1;
    if (maxLabel >= numClasses) {
      throw new Error(`${opts.name}: label ${maxLabel} is not below the number of classes ${numClasses}`);
    }
    this.pixels = pixels;
    this.labels = labels;
    this.length = labels.length;
    this.width = width;
    this.height = height;
    this.channels = channels;
    this.numClasses = numClasses;
  }

  /** The image without a promise (in-memory data needs none). */
  image(index: number): RawImage {
    checkIndex(this, index);
    const o = index * this.stride;
    return {
      data: this.pixels.subarray(o, o + this.stride),
      width: this.width,
      height: this.height,
      channels: this.channels,
    };
  }

  get(index: number): Promise<Sample> {
    return Promise.resolve({ image: this.image(index), label: this.labels[index]! });
  }

  labelOf(index: number): number {
    checkIndex(this, index);
    return this.labels[index]!;
  }

  spec(): DatasetSpec {
    return {
      kind: 'array',
      name: this.name,
      pixels: sliceBuffer(this.pixels),
      labels: sliceBuffer(this.labels),
      count: this.length,
      width: this.width,
      height: this.height,
      channels: this.channels,
      numClasses: this.numClasses,
    };
  }
}

/** The buffer behind a view, shared when it already is and spans exactly the view; otherwise a copy. */
function sliceBuffer(v: Uint8Array | Int32Array): SharedArrayBuffer | ArrayBuffer {
  const b = v.buffer;
  if (v.byteOffset === 0 && v.byteLength === b.byteLength) return b;
  const out = sharedBytes(v.byteLength);
  new Uint8Array(out).set(new Uint8Array(b, v.byteOffset, v.byteLength));
  return out;
}

/** A view of some samples of another data set (a split, a class-balanced sample, ...). */
export class SubsetDataset implements Dataset {
  readonly indices: Int32Array;
  readonly name: string;

  constructor(
    readonly base: Dataset,
    indices: ArrayLike<number>,
  ) {
    const idx = new Int32Array(sharedBytes(indices.length * 4));
    for (let i = 0; i < indices.length; i++) {
      const j = indices[i]!;
      checkIndex(base, j);
      idx[i] = j;
    }
    this.indices = idx;
    this.name = `${base.name}[subset of ${idx.length}]`;
    const region = base.getRegion?.bind(base);
    if (region) {
      this.getRegion = (index, plan) => {
        checkIndex(this, index);
        return region(this.indices[index]!, plan);
      };
    }
  }

  get length(): number {
    return this.indices.length;
  }
  get numClasses(): number {
    return this.base.numClasses;
  }
  get channels(): number {
    return this.base.channels;
  }

  get(index: number, hint?: DecodeHint): Promise<Sample> {
    checkIndex(this, index);
    return this.base.get(this.indices[index]!, hint);
  }

  getRegion?: (index: number, plan: (width: number, height: number) => RegionRequest) => Promise<RegionSample>;

  labelOf(index: number): number {
    checkIndex(this, index);
    return this.base.labelOf(this.indices[index]!);
  }

  spec(): DatasetSpec {
    if (!this.base.spec) throw new Error(`${this.base.name}: data set has no spec(), so it cannot go to worker threads`);
    return { kind: 'subset', base: this.base.spec(), indices: sliceBuffer(this.indices) };
  }
}

/** Number of samples per label (labels read without decoding images). */
export function labelHistogram(ds: Dataset): Int32Array {
  const h = new Int32Array(ds.numClasses);
  for (let i = 0; i < ds.length; i++) {
    const l = ds.labelOf(i);
    h[l] = h[l]! + 1;
  }
  return h;
}
