// simreg inspect FILE | simreg convert IN OUT.safetensors: look inside a weight file (safetensors or torch.save)
// and turn a checkpoint into torchvision-named safetensors.
import { realpathSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { openWeightFile, guessPrefix, findPrefix, describeLayout, type WeightFile } from '../io/weights_file.js';
import { exportWeights } from '../io/checkpoint.js';
import type { StateDict } from '../io/state_dict.js';
import { initGpu } from '../gpu/device.js';
import { buildBackbone, loadTeacher, saveEncoder, describeLoad, describeSpec, MODEL_META_KEY, type ModelSpec } from '../distill/models.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';

const SPEC_OPTS: OptSpec[] = [
  { name: 'arch', type: 'string', help: 'the architecture the weights are for: names are matched against its keys (resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0)' },
  { name: 'small-stem', type: 'bool', default: false, help: 'with --arch: the small-image stem' },
  { name: 'width', type: 'number', default: 1, help: 'with --arch: width multiplier' },
  { name: 'in-channels', type: 'int', default: 3, min: 1, help: 'with --arch: input channels' },
];
const FIND_OPTS: OptSpec[] = [
  { name: 'key', type: 'string', help: 'the dict inside a torch.save checkpoint to take tensors from (default: found; "/" for nested dicts)' },
  { name: 'strip', type: 'string', help: 'the prefix to remove from the names (default: found)' },
];

export const INSPECT_OPTS: OptSpec[] = [...FIND_OPTS, ...SPEC_OPTS, { name: 'limit', type: 'int', default: 0, min: 0, help: 'list at most this many tensors (0: all)' }];
export const CONVERT_OPTS: OptSpec[] = [...FIND_OPTS, ...SPEC_OPTS, { name: 'half', type: 'bool', default: false, help: 'store floating-point tensors as float16' }];

const q = (s: string) => JSON.stringify(s);

function specFrom(o: Parsed): ModelSpec | undefined {
  if (!o.arch) return undefined;
  return { arch: String(o.arch), smallStem: Boolean(o['small-stem']), widthMultiplier: Number(o.width), inChannels: Number(o['in-channels']) };
}

async function open(path: string, o: Parsed, role: string): Promise<WeightFile> {
  if (!existsSync(path)) throw new UsageError(`${role} ${path} does not exist`);
  return openWeightFile(path, { key: o.key as string | undefined, role });
}

export async function runInspect(args: string[], o: Parsed): Promise<number> {
  if (args.length !== 1) throw new UsageError('usage: simreg inspect FILE [--key K] [--strip P] [--arch A]');
  const path = args[0]!;
  const f = await open(path, o, 'file');
  try {
    console.log(`file:     ${path} (${f.format}, ${statSync(path).size} bytes)`);
    const extras = Object.entries(f.extras);
    if (extras.length) console.log(`contents: ${extras.map(([k, v]) => `${k}: ${v}`).join('; ')}`);
    if (f.places.length > 1 || f.key) {
      const shown = f.places.slice(0, 6).map((p) => `${p.key || '(top level)'} (${p.count})`).join(', ');
      console.log(`tensors under: ${shown}${f.places.length > 6 ? ` and ${f.places.length - 6} more places` : ''}`);
    }
    if (Object.keys(f.metadata).length) console.log(`metadata: ${Object.entries(f.metadata).map(([k, v]) => `${k}=${v.length > 80 ? `${v.slice(0, 80)}...` : v}`).join('; ')}`);
    let strip = o.strip as string | undefined;
    const spec = specFrom(o);
    if (strip === undefined && spec) {
      await initGpu();
      const m = buildBackbone(spec);
      strip = findPrefix(f.tensors.keys(), m.stateShapes().keys()).strip;
      m.dispose();
    }
    strip ??= guessPrefix(f.tensors.keys());
    console.log(`using:    ${f.key ? q(f.key) : 'the top level'}, ${f.tensors.size} tensors`);
    console.log(`layout:   ${describeLayout(f, strip)}${strip ? ` (prefix ${q(strip)})` : ''}`);
    const limit = Number(o.limit) || Infinity;
    const rows = [...f.tensors.values()].slice(0, limit);
    const w = Math.max(4, ...rows.map((t) => t.name.length));
    console.log(`${'name'.padEnd(w)}  dtype  shape`);
    for (const t of rows) console.log(`${t.name.padEnd(w)}  ${t.dtype.padEnd(5)}  [${t.shape.join(', ')}]`);
    if (f.tensors.size > rows.length) console.log(`... and ${f.tensors.size - rows.length} more (--limit 0 lists all)`);
    return 0;
  } finally {
    await f.close();
  }
}

/** The same file after resolving links (an output must never be one of the inputs). */
function sameFile(a: string, b: string): boolean {
  try { return realpathSync(a) === realpathSync(b); } catch { return resolve(a) === resolve(b); }
}

export async function runConvert(args: string[], o: Parsed): Promise<number> {
  if (args.length !== 2) throw new UsageError('usage: simreg convert IN OUT.safetensors [--key K] [--strip P] [--arch A] [--half]');
  const [input, output] = args as [string, string];
  if (!existsSync(input)) throw new UsageError(`input ${input} does not exist`);
  if (sameFile(input, output)) throw new UsageError(`convert: the output ${output} is the input file; choose another path (nothing was written)`);
  const spec = specFrom(o);
  const dtype = o.half ? 'F16' : 'F32';
  if (spec) {
    // Checked against the architecture, written with its name, usable as --teacher without --teacher-arch.
    await initGpu();
    const t = await loadTeacher(input, spec, { key: o.key as string | undefined, strip: o.strip as string | undefined, role: 'input' });
    try {
      console.log(`input ${describeLoad(t)}`);
      await saveEncoder(output, t.encoder, { withHead: t.hasHead, dtype, meta: { 'simreg.converted': JSON.stringify({ from: input, layout: t.report.layout, key: t.report.key, strip: t.report.strip }) } });
      console.log(`wrote ${output}: ${describeSpec(spec)} backbone${t.hasHead ? ' and projection head (fc.0, fc.2)' : ''}, ${dtype}, torchvision names, architecture in the metadata`);
    } finally {
      t.encoder.dispose();
    }
    return 0;
  }
  const f = await open(input, o, 'input');
  try {
    const strip = (o.strip as string | undefined) ?? guessPrefix(f.tensors.keys());
    if (strip && ![...f.tensors.keys()].some((n) => n.startsWith(strip))) throw new UsageError(`input ${input}: --strip ${q(strip)}: no name starts with it`);
    const out: StateDict = new Map();
    let skipped = 0;
    for (const [name, t] of f.tensors) {
      if (!name.startsWith(strip)) { skipped++; continue; }
      out.set(name.slice(strip.length), { shape: t.shape, data: await t.read(), dtype: ['F32', 'F16', 'BF16', 'F64'].includes(t.dtype) ? undefined : t.dtype === 'I32' ? 'I32' : 'I64' });
    }
    console.log(`input ${input}: ${f.format}, ${describeLayout(f, strip)}${f.key ? `, from ${q(f.key)}` : ''}${strip ? `, prefix ${q(strip)} stripped` : ''}${skipped ? `, ${skipped} tensor(s) outside it left out` : ''}`);
    await exportWeights(output, out, { 'simreg.converted': JSON.stringify({ from: input, key: f.key, strip }) }, { dtype });
    console.log(`wrote ${output}: ${out.size} tensors, ${dtype} (integer buffers kept as integers); give --arch to check them against a model and record it`);
    return 0;
  } finally {
    await f.close();
  }
}

export { MODEL_META_KEY };
