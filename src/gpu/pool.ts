// Buffer pool: GPU buffers recycled by size class and usage. Release is explicit (tensors count
// references); nothing waits for the garbage collector. Counters feed tests and benches.
import { gpuContext, onDestroy } from './device.js';

// GPUBufferUsage values (the globals exist only once Dawn is loaded, after module evaluation).
export const USAGE = { MAP_READ: 0x1, MAP_WRITE: 0x2, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
export const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

export interface PoolStats {
  /** Bytes of buffers handed out and not yet released (by size class). */
  bytesInUse: number;
  peakBytesInUse: number;
  /** Bytes of every buffer the pool owns, free or not. */
  bytesAllocated: number;
  peakBytesAllocated: number;
  /** createBuffer calls, and acquisitions served from the free lists. */
  allocations: number;
  reuses: number;
  buffersInUse: number;
}

/** Size classes: multiples of 256 B below 64 KiB, then 2^k * {1, 1.25, 1.5, 1.75} (at most 25% slack). */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

/** The device cannot hold what was asked for (over its buffer limit, or the allocation failed). */
export class DeviceMemoryError extends Error {}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

class BufferPool {
  /** An allocation failure reported asynchronously by the device; thrown by the next stream read/sync. */
  pendingError: DeviceMemoryError | null = null;

  private free = new Map<string, GPUBuffer[]>();
  private live = new Map<GPUBuffer, number>();
  stats: PoolStats = { bytesInUse: 0, peakBytesInUse: 0, bytesAllocated: 0, peakBytesAllocated: 0, allocations: 0, reuses: 0, buffersInUse: 0 };

  acquire(bytes: number, usage: number = STORAGE_USAGE): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let buf = list?.pop();
    if (buf) {
      this.stats.reuses++;
    } else {
      const { device, limits } = gpuContext();
      const max = Number(limits.maxBufferSize ?? Infinity);
      if (size > max) {
        throw new DeviceMemoryError(`out of device memory: a ${MiB(size)} buffer exceeds this adapter's maxBufferSize (${MiB(max)}); the pool already holds ${MiB(this.stats.bytesAllocated)}`);
      }
      device.pushErrorScope('out-of-memory');
      buf = device.createBuffer({ size, usage });
      const held = this.stats.bytesAllocated;
      void device.popErrorScope().then((e) => {
        if (e && !this.pendingError) this.pendingError = new DeviceMemoryError(`out of device memory allocating ${MiB(size)} (the pool held ${MiB(held)}): ${e.message}`);
      });
      this.stats.allocations++;
      this.stats.bytesAllocated += size;
      this.stats.peakBytesAllocated = Math.max(this.stats.peakBytesAllocated, this.stats.bytesAllocated);
    }
    this.live.set(buf, usage);
    this.stats.bytesInUse += size;
    this.stats.buffersInUse++;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const usage = this.live.get(buf);
    if (usage === undefined) throw new Error('buffer pool: release of a buffer that is not in use (double free?)');
    this.live.delete(buf);
    const key = `${usage}:${buf.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buf);
    this.stats.bytesInUse -= buf.size;
    this.stats.buffersInUse--;
  }

  /** Run before destroying buffers: recorded but unsubmitted commands may still use free ones. */
  beforeDestroy: () => void = () => {};

  /** Destroy every free buffer (returns the bytes given back). */
  trim(): number {
    this.beforeDestroy();
    let freed = 0;
    for (const list of this.free.values()) {
      for (const b of list) { freed += b.size; b.destroy(); }
    }
    this.free.clear();
    this.stats.bytesAllocated -= freed;
    return freed;
  }

  resetPeaks(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
    this.stats.peakBytesAllocated = this.stats.bytesAllocated;
  }

  dropAll(): void {
    this.trim();
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.stats = { bytesInUse: 0, peakBytesInUse: 0, bytesAllocated: 0, peakBytesAllocated: 0, allocations: 0, reuses: 0, buffersInUse: 0 };
  }
}

export const pool = new BufferPool();
onDestroy(() => pool.dropAll());

export function poolStats(): PoolStats {
  return { ...pool.stats };
}
