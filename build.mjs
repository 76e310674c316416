// build.mjs: (1) reflect kernels/**/*.wgsl into src/gen/kernels.gen.ts, failing on any kernel that
// breaks the conventions of DESIGN.md section 3; (2) compile the host-side SIMD augmentation kernels
// (wasm/augment.ts, AssemblyScript) into src/gen/augment_wasm.gen.ts when their source changed;
// (3) bundle src/ (library, CLI, data worker) and the tests with esbuild into dist/.
//   node build.mjs            generate + bundle
//   node build.mjs --check    fail if src/gen/kernels.gen.ts is stale (CI)
import { readdir, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

const root = dirname(fileURLToPath(import.meta.url));
const kernelDir = join(root, 'kernels');
const genFile = join(root, 'src', 'gen', 'kernels.gen.ts');
const checkOnly = process.argv.includes('--check');

async function listFiles(dir, ext) {
  if (!existsSync(dir)) return [];
  const names = await readdir(dir, { recursive: true });
  return names.filter((n) => n.endsWith(ext)).map((n) => join(dir, n)).sort();
}

// `// #include "common/x.wgsl"` lines are replaced by that file's text (once per kernel).
async function resolveIncludes(file, seen = new Set()) {
  const text = await readFile(file, 'utf8');
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^\s*\/\/\s*#include\s+"([^"]+)"\s*$/.exec(line);
    if (!m) { out.push(line); continue; }
    const inc = join(kernelDir, m[1]);
    if (!existsSync(inc)) throw new Error(`${relative(root, file)}: #include "${m[1]}" not found`);
    if (seen.has(inc)) continue;
    seen.add(inc);
    out.push(`// ---- begin ${m[1]}`, await resolveIncludes(inc, seen), `// ---- end ${m[1]}`);
  }
  return out.join('\n');
}

const SCALARS = new Set(['u32', 'i32', 'f32']);

function reflectKernel(file, source) {
  const rel = relative(root, file);
  const fail = (msg) => { throw new Error(`kernel ${rel}: ${msg}`); };
  const header = source.split('\n').slice(0, 3).join('\n');
  if (!/^\/\/ /.test(header)) fail('must start with a header comment (what it computes, bindings, dispatch)');
  if (!/dispatch/i.test(source.slice(0, 4000))) fail('header comment must state the dispatch shape ("dispatch: ...")');
  let r;
  try { r = new WgslReflect(source); } catch (e) { fail(`wgsl_reflect could not parse it: ${e.message}`); }
  const entries = r.entry.compute;
  if (entries.length !== 1) fail(`needs exactly one @compute entry point, found ${entries.length}`);
  const entry = entries[0];
  if (entry.name !== 'main') fail(`entry point must be named main, found ${entry.name}`);
  if (r.entry.vertex.length || r.entry.fragment.length) fail('only compute entry points are allowed');

  const uniforms = r.uniforms;
  if (uniforms.length !== 1) fail(`needs exactly one uniform (Params at binding 0), found ${uniforms.length}`);
  const u = uniforms[0];
  if (u.group !== 0 || u.binding !== 0) fail(`uniform ${u.name} must be @group(0) @binding(0)`);
  if (u.type.name !== 'Params') fail(`the uniform's type must be struct Params, found ${u.type.name}`);
  const fields = {};
  for (const m of u.members) {
    if (!SCALARS.has(m.type.name)) fail(`Params.${m.name}: only u32/i32/f32 fields are allowed, found ${m.type.name}`);
    fields[m.name] = [m.offset, m.type.name];
  }
  const paramsSize = Math.max(16, Math.ceil(u.type.size / 16) * 16);

  const bindings = [{ name: u.name, binding: 0, type: 'uniform' }];
  const storage = [...r.storage].sort((a, b) => a.binding - b.binding);
  let sawOutput = false;
  storage.forEach((s, i) => {
    if (s.group !== 0) fail(`binding ${s.name} must be in group 0`);
    if (s.binding !== i + 1) fail(`bindings must be contiguous from 1; ${s.name} is at ${s.binding}, expected ${i + 1}`);
    const out = s.access === 'read_write';
    if (!out && s.access !== 'read') fail(`storage ${s.name} must be read or read_write`);
    if (!out && sawOutput) fail(`read-only input ${s.name} comes after an output: inputs first, then outputs`);
    sawOutput ||= out;
    bindings.push({ name: s.name, binding: s.binding, type: out ? 'storage' : 'read-only-storage' });
  });
  if (r.textures.length || r.samplers.length) fail('textures and samplers are not used by this engine');
  if (!sawOutput) fail('needs at least one read_write output');

  const overrides = {};
  for (const o of r.overrides) {
    const m = new RegExp(`override\\s+${o.name}\\s*:\\s*(\\w+)\\s*=\\s*([^;]+);`).exec(source);
    if (!m) fail(`override ${o.name} needs an explicit type and a default value`);
    const lit = m[2].trim();
    const def = lit === 'true' ? 1 : lit === 'false' ? 0 : Number(lit.replace(/[uif]$/, ''));
    if (!Number.isFinite(def)) fail(`override ${o.name}: default must be a numeric literal, found ${m[2]}`);
    overrides[o.name] = { type: m[1], default: def };
  }
  // What the kernel needs of the adapter, read from its source: `enable` directives name optional features
  // (subgroups, f16); @workgroup_size names the overrides (or literals) that size each dimension.
  const enables = [...source.matchAll(/^\s*enable\s+([a-z0-9_,\s]+);/gm)].flatMap((m) => m[1].split(',').map((e) => e.trim())).filter(Boolean);
  const wgm = /@workgroup_size\(([^)]*)\)/.exec(source);
  if (!wgm) fail('needs @workgroup_size(...)');
  const consts = Object.fromEntries([...source.matchAll(/^const\s+(\w+)\s*:\s*u32\s*=\s*([0-9]+)u?\s*;/gm)].map((m) => [m[1], Number(m[2])]));
  const workgroup = wgm[1].split(',').map((t) => t.trim()).filter(Boolean)
    .map((t) => (/^[0-9]+u?$/.test(t) ? Number(t.replace('u', '')) : t in consts ? consts[t] : t));
  for (const w of workgroup) if (typeof w === 'string' && !(w in overrides)) fail(`@workgroup_size uses ${w}, which is neither an override nor a u32 const of this kernel`);
  while (workgroup.length < 3) workgroup.push(1);
  return { bindings, params: { size: paramsSize, fields }, overrides, workgroupSize: entry.workgroupSize, workgroup, enables };
}

async function generate() {
  const files = (await listFiles(kernelDir, '.wgsl')).filter((f) => !relative(kernelDir, f).startsWith('common'));
  const specs = {};
  const seen = new Map();
  for (const file of files) {
    const name = basename(file, '.wgsl');
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`kernel ${relative(root, file)}: file name must be snake_case`);
    if (seen.has(name)) throw new Error(`kernel name ${name} defined twice: ${seen.get(name)} and ${relative(root, file)}`);
    seen.set(name, relative(root, file));
    const source = await resolveIncludes(file);
    const info = reflectKernel(file, source);
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    specs[name] = { name, file: relative(root, file), entry: 'main', hash, ...info, source };
  }
  const lines = [
    '// generated by build.mjs from kernels/**/*.wgsl - do not edit',
    "import type { KernelSpec } from '../gpu/spec.js';",
    '',
    'export const kernels = {',
  ];
  for (const [name, s] of Object.entries(specs)) {
    lines.push(`  ${name}: ${JSON.stringify(s)},`);
  }
  lines.push('} as const satisfies Record<string, KernelSpec>;', '', 'export type KernelName = keyof typeof kernels;', '');
  return { text: lines.join('\n'), count: files.length };
}

async function bundle() {
  const esbuild = await import('esbuild');
  const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning' };
  const entries = [
    ['src/index.ts', 'dist/index.js'],
    ['src/cli/main.ts', 'dist/cli.js'],
    ['src/data/worker.ts', 'dist/data_worker.js'],
  ].filter(([src]) => existsSync(join(root, src)));
  await Promise.all(entries.map(([src, out]) => esbuild.build({
    ...common, entryPoints: [join(root, src)], outfile: join(root, out),
    banner: out === 'dist/cli.js' ? { js: '#!/usr/bin/env node' } : undefined,
  })));
  // Tests and bench helpers written in TypeScript: one bundle each, mirrored under dist/.
  // Bench entry points (bench/*.ts; bench/lib is imported by them) are bundled the same way, so a bench and
  // the engine share one module instance (one device, one pool).
  const benches = (await readdir(join(root, 'bench'))).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'bench', f));
  const tests = [...await listFiles(join(root, 'test'), '.test.ts'), ...benches];
  if (tests.length) {
    // Bundles of deleted or moved tests must not linger (the runner would still run them).
    await rm(join(root, 'dist', 'test'), { recursive: true, force: true });
    await rm(join(root, 'dist', 'bench'), { recursive: true, force: true });
    await esbuild.build({
      ...common, entryPoints: tests, outdir: join(root, 'dist'), outbase: root, outExtension: { '.js': '.js' },
    });
  }
  return entries.length + tests.length;
}

// The wasm module is committed as base64 with the hash of what made it (source, compiler version,
// flags), so a checkout runs without compiling it and a stale one is caught.
const wasmSrc = join(root, 'wasm', 'augment.ts');
const wasmGen = join(root, 'src', 'gen', 'augment_wasm.gen.ts');
const ASC_FLAGS = ['-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '--initialMemory', '1'];

async function wasmHash() {
  const ascPkg = JSON.parse(await readFile(join(root, 'node_modules', 'assemblyscript', 'package.json'), 'utf8').catch(() => '{"version":"?"}'));
  const src = await readFile(wasmSrc, 'utf8');
  return createHash('sha256').update(src).update(ascPkg.version).update(ASC_FLAGS.join(' ')).digest('hex').slice(0, 16);
}

async function wasmGenHash() {
  if (!existsSync(wasmGen)) return null;
  return /^export const AUGMENT_WASM_HASH = '([0-9a-f]+)';$/m.exec(await readFile(wasmGen, 'utf8'))?.[1] ?? null;
}

async function compileWasm(hash) {
  const asc = (await import('assemblyscript/asc')).default;
  let binary = null;
  const { error, stderr } = await asc.main([relative(root, wasmSrc), ...ASC_FLAGS, '--outFile', 'augment.wasm'], {
    readFile: (name, dir) => readFile(join(root, dir ?? '', name), 'utf8').catch(() => null),
    writeFile: (name, contents) => { if (name.endsWith('.wasm')) binary = contents; },
    listFiles: () => [],
  });
  if (error) throw new Error(`wasm/augment.ts: AssemblyScript compile failed: ${error.message}\n${stderr.toString()}`);
  if (!binary) throw new Error('wasm/augment.ts: the compiler produced no binary');
  const b64 = Buffer.from(binary).toString('base64');
  const lines = ['// generated by build.mjs from wasm/augment.ts (AssemblyScript, SIMD) - do not edit', `export const AUGMENT_WASM_HASH = '${hash}';`, 'export const AUGMENT_WASM_BASE64 ='];
  for (let i = 0; i < b64.length; i += 96) lines.push(`  '${b64.slice(i, i + 96)}'${i + 96 < b64.length ? ' +' : ';'}`);
  await writeFile(wasmGen, lines.join('\n') + '\n');
  return binary.length;
}

const t0 = Date.now();
const wantWasm = await wasmHash();
if (checkOnly && (await wasmGenHash()) !== wantWasm) {
  console.error('src/gen/augment_wasm.gen.ts is stale: run node build.mjs');
  process.exit(1);
}
if (!checkOnly && (await wasmGenHash()) !== wantWasm) {
  const size = await compileWasm(wantWasm);
  console.log(`build: wasm/augment.ts compiled (${size} bytes)`);
}
const { text, count } = await generate();
const old = existsSync(genFile) ? await readFile(genFile, 'utf8') : '';
if (checkOnly) {
  if (old !== text) { console.error('src/gen/kernels.gen.ts is stale: run node build.mjs'); process.exit(1); }
  console.log(`kernels.gen.ts up to date (${count} kernels), augment_wasm.gen.ts up to date`);
  process.exit(0);
}
if (old !== text) {
  await mkdir(dirname(genFile), { recursive: true });
  await writeFile(genFile, text);
}
const bundles = await bundle();
console.log(`build: ${count} kernels reflected, ${bundles} bundles in ${Date.now() - t0} ms`);
