// One Dawn device per process: adapter with its maximum limits and the optional features it offers,
// errors collected from every asynchronous channel and rethrown at the next sync point, destroy on exit.
import { create, globals } from 'webgpu';

export interface GpuOptions {
  /** Dawn toggles, e.g. ['disable-dawn-features=...']; see Dawn's Toggles.cpp. */
  toggles?: string[];
  /** Request these optional features when the adapter has them (default: timestamp-query, shader-f16, subgroups). */
  features?: GPUFeatureName[];
}

export interface GpuContext {
  /** The Dawn instance; kept referenced: if it is garbage-collected, Dawn tears down under the device. */
  instance: GPU;
  device: GPUDevice;
  adapter: GPUAdapter;
  info: { vendor: string; architecture: string; device: string; description: string; backend: string };
  features: Set<string>;
  limits: Record<string, number>;
  toggles: string[];
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];

let ctx: GpuContext | null = null;
// The Dawn instance outlives destroyGpu(): dropping it while Dawn still delivers the device-lost callback
// crashes the process at exit.
let instanceKeepAlive: GPU | null = null;
let pending: Promise<GpuContext> | null = null;
const errors: string[] = [];

/** Errors reported asynchronously by Dawn (validation, compilation, device loss); thrown at the next sync(). */
export function pushGpuError(msg: string): void {
  errors.push(msg);
}

export function takeGpuErrors(): string[] {
  return errors.splice(0, errors.length);
}

export const INSTALL_HINT =
  'No WebGPU adapter found. simreg runs on Dawn over Vulkan (Metal on macOS, D3D12 on Windows). ' +
  'On Debian/Ubuntu without a GPU install Mesa\'s software Vulkan driver: run `npm run setup` as root, or ' +
  '`apt-get install mesa-vulkan-drivers libvulkan1` (on Debian bookworm from bookworm-backports: Mesa 22 is too old for Dawn). ' +
  'Also make sure XDG_RUNTIME_DIR is set.';

export async function initGpu(opts: GpuOptions = {}): Promise<GpuContext> {
  if (ctx) return ctx;
  if (pending) return pending;
  pending = (async () => {
    // Dawn's Vulkan loader wants a runtime dir; any writable one will do.
    process.env.XDG_RUNTIME_DIR ||= '/tmp';
    Object.assign(globalThis, globals);
    // SIMREG_DAWN_TOGGLES: extra Dawn options separated by ';' (e.g. "adapter=NAME;backend=vulkan").
    const envToggles = (process.env.SIMREG_DAWN_TOGGLES ?? '').split(';').map((t) => t.trim()).filter(Boolean);
    const toggles = [...(opts.toggles ?? []), ...envToggles];
    const gpu = create(toggles);
    instanceKeepAlive = gpu;
    let adapter: GPUAdapter | null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch (e) {
      throw new Error(`${INSTALL_HINT}\nDawn said: ${(e as Error).message}`);
    }
    if (!adapter) throw new Error(INSTALL_HINT);
    const wanted = opts.features ?? OPTIONAL_FEATURES;
    const features = wanted.filter((f) => adapter.features.has(f));
    const requiredLimits: Record<string, number> = {};
    for (const key in adapter.limits) {
      const v = (adapter.limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') requiredLimits[key] = v;
    }
    const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
    device.addEventListener('uncapturederror', (ev) => {
      pushGpuError(`WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') pushGpuError(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
    const ai = adapter.info;
    const info = {
      vendor: ai.vendor ?? '', architecture: ai.architecture ?? '', device: ai.device ?? '', description: ai.description ?? '',
      backend: (ai as unknown as { backendType?: string }).backendType ?? '',
    };
    const limits: Record<string, number> = {};
    for (const key in device.limits) {
      const v = (device.limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') limits[key] = v;
    }
    ctx = { instance: gpu, device, adapter, info, features: new Set(device.features as unknown as Iterable<string>), limits, toggles };
    // dawn.node can hang at exit with a live device.
    process.once('exit', () => destroyGpu());
    return ctx;
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

export function gpuContext(): GpuContext {
  if (!ctx) throw new Error('GPU not initialised: await initGpu() first');
  return ctx;
}

export function hasGpu(): boolean {
  return ctx !== null;
}

/** Hooks run just before the device goes away (pools drop their buffers). */
const teardown: (() => void)[] = [];
export function onDestroy(fn: () => void): void {
  teardown.push(fn);
}

export function destroyGpu(): void {
  if (!ctx) return;
  for (const fn of teardown.splice(0)) fn();
  ctx.device.destroy();
  ctx = null;
}
