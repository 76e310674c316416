// Recording and submission. Every dispatch goes into one open command encoder (one compute pass),
// its Params packed into a uniform arena by the reflected field offsets; flush() submits the lot.
// Pipelines are cached by kernel + override values with explicit bind-group layouts from the specs.
import { kernels, type KernelName } from '../gen/kernels.gen.js';
import type { KernelSpec } from './spec.js';
import { gpuContext, pushGpuError, takeGpuErrors, onDestroy } from './device.js';
import { pool, USAGE } from './pool.js';

export type Overrides = Record<string, number>;
export type Params = Record<string, number | boolean>;
export type Grid = [number, number, number];
/** A buffer binding: a whole buffer, or the first `size` bytes of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; size: number; offset?: number };
/** Anything that knows its binding (a Tensor). */
export interface Bindable { readonly binding: Binding }

type Spec<K extends KernelName> = (typeof kernels)[K];
/** The storage bindings of kernel K by name (binding 0, the Params uniform, is filled by dispatch). */
export type BindingName<K extends KernelName> = Exclude<Spec<K>['bindings'][number], { readonly binding: 0 }>['name'];
/** The Params fields of kernel K. */
export type ParamName<K extends KernelName> = keyof Spec<K>['params']['fields'] & string;
export interface DispatchArgs<K extends KernelName> {
  params: { [F in ParamName<K>]: number | boolean };
  bind: { [B in BindingName<K>]: Binding | Bindable };
  grid: Grid;
  /** Override values (tile and workgroup sizes, layer constants); unset ones take the kernel's defaults. */
  overrides?: Overrides;
  /** FLOPs and bytes, for the profiler's GFLOP/s and GB/s. */
  cost?: { flops?: number; bytes?: number };
}

interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  spec: KernelSpec;
}

const pipelines = new Map<string, PipelineEntry>();
const layouts = new Map<string, GPUBindGroupLayout>();
const modules = new Map<string, GPUShaderModule>();
const compileChecks: Promise<void>[] = [];

function shaderModule(spec: KernelSpec): GPUShaderModule {
  let m = modules.get(spec.name);
  if (m) return m;
  const { device } = gpuContext();
  m = device.createShaderModule({ code: spec.source, label: spec.name });
  compileChecks.push(m.getCompilationInfo().then((info) => {
    const errs = info.messages.filter((x) => x.type === 'error');
    if (errs.length) {
      pushGpuError(`WGSL compile error in kernel ${spec.name} (${spec.file}):\n` +
        errs.map((e) => `  line ${e.lineNum}:${e.linePos}: ${e.message}`).join('\n'));
    }
  }));
  modules.set(spec.name, m);
  return m;
}

function bindGroupLayout(spec: KernelSpec): GPUBindGroupLayout {
  const key = spec.bindings.map((b) => b.type).join(',');
  let l = layouts.get(key);
  if (l) return l;
  const { device } = gpuContext();
  l = device.createBindGroupLayout({
    label: key,
    entries: spec.bindings.map((b) => ({ binding: b.binding, visibility: 0x4 /* COMPUTE */, buffer: { type: b.type } })),
  });
  layouts.set(key, l);
  return l;
}

function resolveOverrides(spec: KernelSpec, overrides: Overrides): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, o] of Object.entries(spec.overrides)) out[name] = overrides[name] ?? o.default;
  for (const name of Object.keys(overrides)) {
    if (!(name in spec.overrides)) throw new Error(`kernel ${spec.name}: unknown override ${name} (has ${Object.keys(spec.overrides).join(', ') || 'none'})`);
  }
  return out;
}

export function getPipeline(name: KernelName, overrides: Overrides = {}): PipelineEntry {
  const spec = kernels[name] as KernelSpec;
  if (!spec) throw new Error(`unknown kernel ${String(name)}`);
  const values = resolveOverrides(spec, overrides);
  const key = `${name}|${JSON.stringify(values)}`;
  let e = pipelines.get(key);
  if (e) return e;
  const { device } = gpuContext();
  const layout = bindGroupLayout(spec);
  device.pushErrorScope('validation');
  const pipeline = device.createComputePipeline({
    label: `${name} ${JSON.stringify(values)}`,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: shaderModule(spec), entryPoint: spec.entry, constants: values },
  });
  compileChecks.push(device.popErrorScope().then((err) => {
    if (err) pushGpuError(`pipeline creation failed for kernel ${name} (${spec.file}) with overrides ${JSON.stringify(values)}: ${err.message}`);
  }));
  e = { pipeline, layout, spec };
  pipelines.set(key, e);
  return e;
}

/** Pack Params by the reflected offsets; unknown or missing fields are errors. */
export function packParams(spec: KernelSpec, params: Params, into: DataView, at: number): void {
  const fields = spec.params.fields;
  for (const [name, [offset, type]] of Object.entries(fields)) {
    const raw = params[name];
    if (raw === undefined) throw new Error(`kernel ${spec.name}: Params.${name} not given`);
    const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
    if (type === 'f32') into.setFloat32(at + offset, v, true);
    else if (type === 'u32') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`kernel ${spec.name}: Params.${name} = ${v} is not a u32`);
      into.setUint32(at + offset, v, true);
    } else {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`kernel ${spec.name}: Params.${name} = ${v} is not an i32`);
      into.setInt32(at + offset, v, true);
    }
  }
  for (const name of Object.keys(params)) {
    if (!(name in fields)) throw new Error(`kernel ${spec.name}: Params has no field ${name}`);
  }
}

const ARENA_CHUNK = 1 << 16;
const MAX_QUERIES = 4096;

export interface KernelTiming { calls: number; ms: number; flops: number; bytes: number }

class Stream {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private chunks: { buf: GPUBuffer; cpu: ArrayBuffer }[] = [];
  private chunk = 0;
  private offset = 0;
  /** Dispatches recorded since the counter was last reset (benches read this). */
  dispatches = 0;
  submits = 0;
  /** Device-to-host reads and their bytes (benches check a training step reads back only its loss). */
  reads = 0;
  readBytes = 0;
  /** Host-to-device uploads, staged into the open encoder (no submission of their own). */
  uploads = 0;
  uploadBytes = 0;
  // Upload staging buffers, destroyed once the submission that copies from them is queued.
  private staged: GPUBuffer[] = [];
  // Reads recorded into the open encoder, mapped once it is submitted.
  private afterFlush: (() => void)[] = [];
  // Profiling: one pass per dispatch with timestamps, labelled by kernel.
  private profiling = false;
  private querySet: GPUQuerySet | null = null;
  private queryLabels: { name: string; flops: number; bytes: number }[] = [];
  private pendingProfiles: Promise<void>[] = [];
  timings = new Map<string, KernelTiming>();

  private arena(bytes: number): { buf: GPUBuffer; view: DataView; offset: number } {
    const align = gpuContext().limits.minUniformBufferOffsetAlignment ?? 256;
    let off = Math.ceil(this.offset / align) * align;
    if (off + bytes > ARENA_CHUNK) {
      this.chunk++;
      off = 0;
    }
    if (this.chunk >= this.chunks.length) {
      const buf = gpuContext().device.createBuffer({ size: ARENA_CHUNK, usage: USAGE.UNIFORM | USAGE.COPY_DST, label: 'params arena' });
      this.chunks.push({ buf, cpu: new ArrayBuffer(ARENA_CHUNK) });
    }
    const c = this.chunks[this.chunk]!;
    this.offset = off + bytes;
    return { buf: c.buf, view: new DataView(c.cpu), offset: off };
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = gpuContext().device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = gpuContext().device.createCommandEncoder();
    if (this.pass) { this.pass.end(); this.pass = null; }
    return this.encoder;
  }

  /**
   * Record one dispatch of `name`: its Params by field name, its buffers by binding name (both typed from the
   * reflected spec), and `grid` workgroups in x, y, z (each at most the adapter's per-dimension limit).
   */
  dispatch<K extends KernelName>(name: K, a: DispatchArgs<K>): void {
    const overrides = a.overrides ?? {};
    const { pipeline, layout, spec } = getPipeline(name, overrides);
    const grid = a.grid;
    const bind = a.bind as Record<string, Binding | Bindable>;
    const names = spec.bindings.slice(1).map((b) => b.name);
    for (const given of Object.keys(bind)) {
      if (!names.includes(given)) throw new Error(`kernel ${name}: no binding named ${given} (has ${names.join(', ')})`);
    }
    const maxWg = gpuContext().limits.maxComputeWorkgroupsPerDimension ?? 65535;
    if (grid.some((g) => !Number.isInteger(g) || g < 0 || g > maxWg)) {
      throw new Error(`kernel ${name}: grid ${JSON.stringify(grid)} out of range (each dimension 0..${maxWg}); fold it into y/z`);
    }
    const entries: GPUBindGroupEntry[] = [];
    for (const b of spec.bindings.slice(1)) {
      const v = bind[b.name];
      if (v === undefined) throw new Error(`kernel ${name}: binding ${b.name} not given (needs ${names.join(', ')})`);
      const r = 'binding' in v ? v.binding : v;
      const resource = r instanceof GPUBuffer ? { buffer: r } : { buffer: r.buffer, offset: r.offset ?? 0, size: Math.max(4, Math.ceil(r.size / 4) * 4) };
      entries.push({ binding: b.binding, resource });
    }
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    const { device } = gpuContext();
    const { buf, view, offset } = this.arena(spec.params.size);
    packParams(spec, a.params as Params, view, offset);
    entries.unshift({ binding: 0, resource: { buffer: buf, offset, size: spec.params.size } });
    const bindGroup = device.createBindGroup({ layout, entries, label: name });
    const cost = a.cost;
    let pass: GPUComputePassEncoder;
    if (this.profiling && this.querySet && this.queryLabels.length * 2 + 2 <= MAX_QUERIES) {
      const enc = this.endPass();
      const q = this.queryLabels.length * 2;
      pass = enc.beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
      this.pass = pass;
      this.queryLabels.push({ name, flops: cost?.flops ?? 0, bytes: cost?.bytes ?? 0 });
    } else {
      pass = this.ensurePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.profiling) this.endPass();
    this.dispatches++;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.endPass();
    const { device } = gpuContext();
    const afterSubmit = this.profiling && this.querySet && this.queryLabels.length ? this.resolveProfile(enc) : null;
    // Params go up just before the command buffer that reads them (queue order keeps earlier submits intact).
    for (let i = 0; i <= this.chunk && i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      const used = i < this.chunk ? ARENA_CHUNK : this.offset;
      if (used > 0) device.queue.writeBuffer(c.buf, 0, c.cpu, 0, used);
    }
    device.queue.submit([enc.finish()]);
    this.submits++;
    // A buffer may only be mapped once the submit that writes it is queued.
    afterSubmit?.();
    this.encoder = null;
    this.chunk = 0;
    this.offset = 0;
    // Staging buffers can go: Dawn keeps them alive until the copies that read them have run.
    for (const b of this.staged.splice(0)) b.destroy();
    for (const f of this.afterFlush.splice(0)) f();
  }

  /** Flush, wait for the device, and throw any error Dawn reported meanwhile. */
  private throwPoolError(): void {
    const e = pool.pendingError;
    if (e) { pool.pendingError = null; throw e; }
  }

  async sync(): Promise<void> {
    this.flush();
    await gpuContext().device.queue.onSubmittedWorkDone();
    await Promise.all(compileChecks.splice(0));
    await Promise.all(this.pendingProfiles.splice(0));
    this.throwPoolError();
    const errs = takeGpuErrors();
    if (errs.length) throw new Error(errs.join('\n'));
  }

  /** Copy `bytes` from a buffer back to the host. Flushes pending work first. */
  async read(src: GPUBuffer, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    this.reads++;
    this.readBytes += bytes;
    const staging = pool.acquire(size, USAGE.MAP_READ | USAGE.COPY_DST);
    try {
      this.copy(src, srcOffset, staging, 0, size);
      this.flush();
      await staging.mapAsync(0x1 /* READ */, 0, size);
      const out = staging.getMappedRange(0, size).slice(0, bytes);
      staging.unmap();
      await Promise.all(compileChecks.splice(0));
      this.throwPoolError();
      const errs = takeGpuErrors();
      if (errs.length) throw new Error(errs.join('\n'));
      return out;
    } finally {
      pool.release(staging);
    }
  }

  /**
   * Host to device, staged into the open encoder: the data goes into a mapped staging buffer now and a copy is
   * recorded in program order, so nothing is submitted (a training step's batch upload rides in its one
   * submission) and a dispatch recorded earlier still sees the buffer's earlier contents.
   */
  write(dst: GPUBuffer, data: ArrayBufferView, dstOffset = 0): void {
    const bytes = Math.ceil(data.byteLength / 4) * 4;
    if (bytes === 0) return;
    const staging = gpuContext().device.createBuffer({ size: bytes, usage: USAGE.COPY_SRC, mappedAtCreation: true, label: 'upload' });
    // SharedArrayBuffer views (worker batches) copy like any other.
    new Uint8Array(staging.getMappedRange(0, bytes)).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.endPass().copyBufferToBuffer(staging, 0, dst, dstOffset, bytes);
    this.staged.push(staging);
    this.uploads++;
    this.uploadBytes += bytes;
  }

  /**
   * Host to device for many buffers from one host array (a data-parallel step's averaged gradients): one staging
   * buffer and one host copy, then one recorded copy per piece (`from`: byte offset in `data`).
   */
  writeScattered(data: ArrayBufferView, pieces: { dst: GPUBuffer; from: number; bytes: number }[]): void {
    const bytes = Math.ceil(data.byteLength / 4) * 4;
    if (bytes === 0 || !pieces.length) return;
    const staging = gpuContext().device.createBuffer({ size: bytes, usage: USAGE.COPY_SRC, mappedAtCreation: true, label: 'upload' });
    new Uint8Array(staging.getMappedRange(0, bytes)).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    const enc = this.endPass();
    for (const p of pieces) {
      if (p.from % 4 || p.bytes % 4 || p.from + p.bytes > bytes) throw new Error(`writeScattered: piece at ${p.from} of ${p.bytes} bytes does not fit ${bytes} 4-byte-aligned bytes`);
      if (p.bytes) enc.copyBufferToBuffer(staging, p.from, p.dst, 0, p.bytes);
    }
    this.staged.push(staging);
    this.uploads++;
    this.uploadBytes += bytes;
  }

  /**
   * Like readLater, but the values land straight in `into` (at each source's byte offset `at`): one host copy,
   * for large read-backs such as a data-parallel step's gradients. Resolves with the milliseconds that copy took.
   */
  readLaterInto(srcs: { buffer: GPUBuffer; bytes: number; at: number }[], into: Uint8Array): Promise<number> {
    for (const x of srcs) if (x.bytes % 4 || x.at + x.bytes > into.byteLength) throw new Error(`readLaterInto: ${x.bytes} bytes at ${x.at} do not fit ${into.byteLength} (4-byte multiples)`);
    const total = srcs.reduce((a, x) => a + x.bytes, 0);
    this.reads++;
    this.readBytes += total;
    const staging = pool.acquire(Math.max(4, total), USAGE.MAP_READ | USAGE.COPY_DST);
    const enc = this.endPass();
    let off = 0;
    for (const x of srcs) { if (x.bytes) enc.copyBufferToBuffer(x.buffer, 0, staging, off, x.bytes); off += x.bytes; }
    return new Promise((resolve, reject) => {
      this.afterFlush.push(() => {
        staging.mapAsync(0x1 /* READ */, 0, Math.max(4, total)).then(() => {
          const t0 = performance.now();
          const all = new Uint8Array(staging.getMappedRange(0, Math.max(4, total)));
          let o = 0;
          for (const x of srcs) { into.set(all.subarray(o, o + x.bytes), x.at); o += x.bytes; }
          staging.unmap();
          const ms = performance.now() - t0;
          pool.release(staging);
          const errs = takeGpuErrors();
          if (errs.length) reject(new Error(errs.join('\n'))); else resolve(ms);
        }, (e) => { pool.release(staging); reject(e); });
      });
    });
  }

  /**
   * Device to host without waiting: the copies are recorded into the open encoder now, and the promise resolves
   * with the values once the submission that holds them has run. A training step reads its loss this way and
   * looks at it one step later, so the device never idles while the host waits.
   */
  readLater(srcs: { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]> {
    const sizes = srcs.map((x) => Math.ceil(x.bytes / 4) * 4);
    const total = sizes.reduce((a, b) => a + b, 0);
    this.reads++;
    this.readBytes += srcs.reduce((a, x) => a + x.bytes, 0);
    const staging = pool.acquire(Math.max(4, total), USAGE.MAP_READ | USAGE.COPY_DST);
    const enc = this.endPass();
    let off = 0;
    srcs.forEach((x, i) => { if (sizes[i]) enc.copyBufferToBuffer(x.buffer, 0, staging, off, sizes[i]!); off += sizes[i]!; });
    return new Promise((resolve, reject) => {
      this.afterFlush.push(() => {
        staging.mapAsync(0x1 /* READ */, 0, Math.max(4, total)).then(() => {
          const all = staging.getMappedRange(0, Math.max(4, total));
          let o = 0;
          const out = srcs.map((x, i) => { const b = all.slice(o, o + x.bytes); o += sizes[i]!; return b; });
          staging.unmap();
          pool.release(staging);
          const errs = takeGpuErrors();
          if (errs.length) reject(new Error(errs.join('\n'))); else resolve(out);
        }, (e) => { pool.release(staging); reject(e); });
      });
    });
  }

  /** Per-kernel timing via timestamp queries (one pass per dispatch while on). Returns false without the feature. */
  setProfiling(on: boolean): boolean {
    const g = gpuContext();
    if (on && !g.features.has('timestamp-query')) return false;
    this.flush();
    this.profiling = on;
    if (on && !this.querySet) this.querySet = g.device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    return true;
  }

  private resolveProfile(enc: GPUCommandEncoder): () => void {
    const n = this.queryLabels.length * 2;
    const bytes = n * 8;
    const resolve = pool.acquire(bytes, USAGE.QUERY_RESOLVE | USAGE.COPY_SRC);
    const staging = pool.acquire(bytes, USAGE.MAP_READ | USAGE.COPY_DST);
    enc.resolveQuerySet(this.querySet!, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    const labels = this.queryLabels;
    this.queryLabels = [];
    return () => this.pendingProfiles.push(staging.mapAsync(0x1, 0, bytes).then(() => {
      const t = new BigInt64Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      labels.forEach((l, i) => {
        const ms = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
        const e = this.timings.get(l.name) ?? { calls: 0, ms: 0, flops: 0, bytes: 0 };
        e.calls++; e.ms += Math.max(0, ms); e.flops += l.flops; e.bytes += l.bytes;
        this.timings.set(l.name, e);
      });
      pool.release(resolve);
      pool.release(staging);
    }));
  }

  reset(): void {
    this.encoder = null;
    this.pass = null;
    for (const b of this.staged.splice(0)) b.destroy();
    this.afterFlush = [];
    for (const c of this.chunks) c.buf.destroy();
    this.chunks = [];
    this.chunk = 0;
    this.offset = 0;
    this.querySet?.destroy();
    this.querySet = null;
    this.profiling = false;
    this.queryLabels = [];
    this.timings.clear();
    pipelines.clear();
    layouts.clear();
    modules.clear();
  }
}

export const stream = new Stream();
pool.beforeDestroy = () => stream.flush();
onDestroy(() => stream.reset());

/** The workgroup size of kernel `name` under `overrides` (unset overrides take the kernel's defaults). */
export function workgroupSize(name: KernelName, overrides: Overrides = {}): Grid {
  const spec = kernels[name] as KernelSpec;
  const dims = spec.workgroup.map((d) => (typeof d === 'number' ? d : overrides[d] ?? spec.overrides[d]!.default));
  return [dims[0] ?? 1, dims[1] ?? 1, dims[2] ?? 1];
}

/** Invocations per workgroup of kernel `name` under `overrides`. */
export function workgroupThreads(name: KernelName, overrides: Overrides = {}): number {
  const [x, y, z] = workgroupSize(name, overrides);
  return x * y * z;
}

/** 1-D launch of `n` invocations of kernel `name` (workgroup size read from the overrides in force), folded into y. */
export function gridFor(name: KernelName, n: number, overrides: Overrides = {}): Grid {
  return grid1d(Math.ceil(n / workgroupThreads(name, overrides)));
}

/** Workgroup grid for `n` workgroups laid out 1-D, folded into y when over the per-dimension limit. */
export function grid1d(nWorkgroups: number): Grid {
  const max = 65535;
  if (nWorkgroups <= max) return [Math.max(1, nWorkgroups), 1, 1];
  return [max, Math.ceil(nWorkgroups / max), 1];
}
