// Tensor: a shape over a contiguous GPU buffer from the pool, with reference-counted release.
// Float32 for data; int32 for labels and pooling indices.
import { pool, DeviceMemoryError } from '../gpu/pool.js';
import { gpuContext } from '../gpu/device.js';
import { stream, gridFor } from '../gpu/stream.js';
import { currentScope } from './scope.js';
import type { Node } from './tape.js';

export type DType = 'f32' | 'i32';

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    n *= d;
  }
  return n;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

let nextId = 1;
let poison = false;

/** Tests: fill every new uninitialised tensor with NaN, so an output element a kernel forgot to write shows up. */
export function setPoison(on: boolean): void {
  poison = on;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  /** Shared storage: a reshape is a new Tensor over the same Storage. */
  readonly storage: Storage;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor, when recorded on the tape. */
  node: Node | null = null;
  name = '';
  private disposed = false;

  constructor(shape: readonly number[], dtype: DType = 'f32', storage?: Storage, tracked = true) {
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.dtype = dtype;
    if (storage && storage.bytes < this.size * 4) throw new Error(`storage of ${storage.bytes} bytes is too small for shape ${fmtShape(shape)}`);
    if (!storage) {
      // Kernels bind a tensor whole: one larger than the adapter binds at once cannot be used by any of them.
      const max = Number(gpuContext().limits.maxStorageBufferBindingSize ?? Infinity);
      if (this.size * 4 > max) {
        const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
        throw new DeviceMemoryError(`out of device memory: a ${fmtShape(shape)} tensor needs one buffer of ${mib(this.size * 4)}, more than this adapter binds at once ` +
          `(maxStorageBufferBindingSize ${mib(max)}). Use a smaller --batch or --size`);
      }
    }
    this.storage = storage ?? new Storage(this.size * 4);
    this.storage.retain();
    if (tracked) currentScope()?.track(this);
  }

  /** An untracked alias over the same storage: what the tape saves, so a scope's dispose cannot free it. */
  static alias(t: Tensor): Tensor {
    const a = new Tensor(t.shape, t.dtype, t.storage, false);
    a.name = t.name;
    return a;
  }

  get buffer(): GPUBuffer {
    if (this.disposed) throw new Error(`tensor ${this.label()} used after dispose`);
    return this.storage.buffer;
  }

  /** Binding for a kernel: the exact byte range of this tensor. */
  get binding(): { buffer: GPUBuffer; size: number } {
    // Whole 16-byte units: vec4 kernels read and write the last vec4 whole (pool buffers are multiples of 16 bytes).
    return { buffer: this.buffer, size: Math.max(16, Math.ceil((this.size * 4) / 16) * 16) };
  }

  get bytes(): number {
    return this.size * 4;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  label(): string {
    return `${this.name || '#' + this.id}${fmtShape(this.shape)}`;
  }

  /** An uninitialised tensor (pooled memory may hold old values; see setPoison). */
  static empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = new Tensor(shape, dtype);
    if (poison && t.size > 0) {
      const n4 = Math.ceil(t.size / 4);
      stream.dispatch('fill', { params: { n4, value: NaN }, bind: { y: t }, grid: gridFor('fill', n4) });
    }
    return t;
  }

  static fromArray(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const n = shapeSize(shape);
    if (data.length !== n) throw new Error(`Tensor.fromArray: ${data.length} values do not fill shape ${fmtShape(shape)} (${n} elements)`);
    const t = new Tensor(shape, dtype);
    const arr = dtype === 'f32' ? (data instanceof Float32Array ? data : Float32Array.from(data)) : (data instanceof Int32Array ? data : Int32Array.from(data));
    if (n > 0) stream.write(t.buffer, arr);
    return t;
  }

  async read(): Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new Error(`read(): tensor ${this.label()} is ${this.dtype}; use readInt()`);
    if (this.size === 0) return new Float32Array(0);
    return new Float32Array(await stream.read(this.buffer, this.bytes));
  }

  async readInt(): Promise<Int32Array> {
    if (this.size === 0) return new Int32Array(0);
    return new Int32Array(await stream.read(this.buffer, this.bytes));
  }

  /** Read a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor ${this.label()} has ${this.size} elements, expected 1`);
    return (await this.read())[0]!;
  }

  /** Same storage, new shape (no copy). */
  view(shape: readonly number[]): Tensor {
    const n = shapeSize(shape);
    if (n !== this.size) throw new Error(`view: cannot view ${this.label()} (${this.size} elements) as ${fmtShape(shape)}`);
    return new Tensor(shape, this.dtype, this.storage);
  }

  /** Keep this tensor beyond the enclosing scope. */
  keep(): this {
    currentScope()?.untrack(this);
    return this;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
    // The tape node stays while nodes downstream can still reach it (a disposed intermediate still routes
    // gradients); once nothing can, it frees what it saved (Node.unref).
    this.node?.unref();
  }

  /** Drop the gradient (optimisers call this between steps). */
  zeroGrad(): void {
    if (this.grad) { this.grad.dispose(); this.grad = null; }
  }
}

/** Reference-counted pooled buffer. Tensors and tape nodes hold references; the last release returns it. */
export class Storage {
  private buf: GPUBuffer | null;
  private refs = 0;
  readonly bytes: number;

  constructor(bytes: number) {
    this.bytes = bytes;
    this.buf = pool.acquire(Math.max(4, bytes));
  }

  get buffer(): GPUBuffer {
    if (!this.buf) throw new Error('storage used after release');
    return this.buf;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs <= 0 && this.buf) {
      pool.release(this.buf);
      this.buf = null;
    }
  }
}
