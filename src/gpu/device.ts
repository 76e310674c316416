// One Dawn device per process: adapter with its maximum limits and the optional features it offers,
// errors collected from every asynchronous channel and rethrown at the next sync point, destroy on exit.
import { create, globals } from 'webgpu';
import { existsSync } from 'node:fs';

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
  /** The short name of the adapter (lavapipe, swiftshader, or the device name). */
  adapterName: string;
  features: Set<string>;
  limits: Record<string, number>;
  /** The range of subgroup sizes the adapter may use (0 without the subgroups feature). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  toggles: string[];
}

/**
 * Adapters known by a short name: the substring of Dawn's adapter name, and, for SwiftShader, the Vulkan
 * driver manifest that Debian's chromium package ships (the Vulkan loader does not look there by itself).
 */
export const KNOWN_ADAPTERS: Record<string, { dawnName: string; icd?: string; install: string }> = {
  lavapipe: { dawnName: 'llvmpipe', install: "Mesa's lavapipe: `npm run setup` as root (mesa-vulkan-drivers and libvulkan1 from bookworm-backports)" },
  swiftshader: {
    dawnName: 'SwiftShader', icd: '/usr/lib/chromium/vk_swiftshader_icd.json',
    install: "SwiftShader: `npm run setup` as root (Debian's chromium package ships it), or point SIMREG_SWIFTSHADER_ICD at a vk_swiftshader_icd.json",
  },
};

/** The short name of an adapter from its Dawn name (llvmpipe -> lavapipe). */
export function shortAdapterName(dawnName: string): string {
  for (const [k, v] of Object.entries(KNOWN_ADAPTERS)) if (dawnName.toLowerCase().includes(v.dawnName.toLowerCase())) return k;
  return dawnName;
}

function swiftshaderIcd(): string | null {
  const f = process.env.SIMREG_SWIFTSHADER_ICD || KNOWN_ADAPTERS.swiftshader!.icd!;
  return existsSync(f) ? f : null;
}

/**
 * Make the software adapters' drivers visible to the Vulkan loader (before Dawn creates an instance): the
 * SwiftShader manifest is added to VK_ADD_DRIVER_FILES unless the user chose drivers with VK_ICD_FILENAMES or
 * VK_DRIVER_FILES. Only done when an adapter is named (SIMREG_ADAPTER) or listed, so a plain run keeps Dawn's
 * own choice.
 */
export function exposeSoftwareAdapters(): void {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return;
  const icd = swiftshaderIcd();
  if (!icd) return;
  const add = (process.env.VK_ADD_DRIVER_FILES ?? '').split(':').filter(Boolean);
  if (!add.includes(icd)) process.env.VK_ADD_DRIVER_FILES = [...add, icd].join(':');
}

/** The Dawn `adapter=` option for SIMREG_ADAPTER (a short name or any substring of the adapter's name). */
function adapterChoice(): { toggle: string | null; asked: string | null } {
  const asked = (process.env.SIMREG_ADAPTER ?? '').trim();
  if (!asked) return { toggle: null, asked: null };
  const known = KNOWN_ADAPTERS[asked.toLowerCase()];
  // A named choice can reach SwiftShader too (and a wrong name then lists it among the adapters found).
  exposeSoftwareAdapters();
  return { toggle: `adapter=${known ? known.dawnName : asked}`, asked };
}

const adapterKeepAlive: GPU[] = [];

export interface AdapterListing { name: string; short: string; backend: string; features: string[]; subgroupMinSize: number; subgroupMaxSize: number; limits: Record<string, number>; description: string }

/** Every adapter Dawn finds (the software ones included where installed), with what each offers. */
export async function listAdapters(): Promise<AdapterListing[]> {
  process.env.XDG_RUNTIME_DIR ||= '/tmp';
  Object.assign(globalThis, globals);
  // The SwiftShader manifest is visible only while listing: a device opened afterwards keeps Dawn's own choice.
  const saved = process.env.VK_ADD_DRIVER_FILES;
  exposeSoftwareAdapters();
  try {
    return await listVisibleAdapters();
  } finally {
    if (saved === undefined) delete process.env.VK_ADD_DRIVER_FILES; else process.env.VK_ADD_DRIVER_FILES = saved;
  }
}

async function listVisibleAdapters(): Promise<AdapterListing[]> {
  // Dawn lists the adapters it found when asked for one that does not exist (dawn.node's documented way).
  const probe = create(['adapter=\u0001simreg-list']);
  adapterKeepAlive.push(probe);
  let text = '';
  try { await probe.requestAdapter(); } catch (e) { text = (e as Error).message; }
  const names = [...text.matchAll(/backend: '([^']*)', name: '([^']*)'/g)].map((m) => ({ backend: m[1]!, name: m[2]! }));
  const out: AdapterListing[] = [];
  for (const { backend, name } of names) {
    const gpu = create([`adapter=${name}`, `backend=${backend}`]);
    adapterKeepAlive.push(gpu);
    const a = await gpu.requestAdapter().catch(() => null);
    if (!a) continue;
    const ai = a.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    const limits: Record<string, number> = {};
    for (const key in a.limits) { const v = (a.limits as unknown as Record<string, unknown>)[key]; if (typeof v === 'number') limits[key] = v; }
    out.push({
      name, short: shortAdapterName(name), backend, features: [...(a.features as unknown as Iterable<string>)].sort(),
      subgroupMinSize: ai.subgroupMinSize ?? 0, subgroupMaxSize: ai.subgroupMaxSize ?? 0, limits, description: ai.description ?? '',
    });
  }
  return out;
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
    // SIMREG_ADAPTER=lavapipe|swiftshader|<part of a name> picks the adapter (see `simreg info`).
    const choice = adapterChoice();
    const toggles = [...(opts.toggles ?? []), ...envToggles, ...(choice.toggle ? [choice.toggle] : [])];
    const gpu = create(toggles);
    instanceKeepAlive = gpu;
    let adapter: GPUAdapter | null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch (e) {
      const msg = (e as Error).message;
      if (choice.asked) {
        const known = KNOWN_ADAPTERS[choice.asked.toLowerCase()];
        const found = [...msg.matchAll(/name: '([^']*)'/g)].map((m) => `${shortAdapterName(m[1]!)} (${m[1]})`);
        throw new Error(`SIMREG_ADAPTER=${choice.asked}: no such adapter here; found: ${found.join(', ') || 'none'}.` +
          (known ? ` To install ${known.install}.` : ' Give lavapipe, swiftshader, or part of a name that `simreg info` lists.'));
      }
      throw new Error(`${INSTALL_HINT}\nDawn said: ${msg}`);
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
    const deviceFeatures = new Set(device.features as unknown as Iterable<string>);
    const sg = ai as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    const hasSg = deviceFeatures.has('subgroups');
    ctx = {
      instance: gpu, device, adapter, info, adapterName: shortAdapterName(info.device || info.description), features: deviceFeatures, limits,
      subgroupMinSize: hasSg ? sg.subgroupMinSize ?? 4 : 0, subgroupMaxSize: hasSg ? sg.subgroupMaxSize ?? 128 : 0, toggles,
    };
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
