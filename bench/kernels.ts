// Kernel benchmark: GEMM 1024^3 and conv2d 3x3 s1 p1 (N=32, C=64 -> 64, 32x32) forward, input-gradient and
// weight-gradient. Each kernel is checked against the float64 twin (sampled outputs) before it is timed.
//   node bench/kernels.mjs [--json] [--reps N] [--only gemm|conv] [--conv N,C,HW,K] [--sweep]
// --sweep times each candidate workgroup size / split of the GEMM and conv kernels on the same shapes (each
// checked against the default variant's checked result) and writes the best to bench/tune/<adapter>.json, which
// the engine loads at start (src/gpu/tuning.ts).
import { initGpu, destroyGpu, gpuContext } from '../src/gpu/device.js';
import { stream } from '../src/gpu/stream.js';
import { Tensor } from '../src/autograd/tensor.js';
import { gemm, gemmFamily, gemmGeom } from '../src/ops/gemm.js';
import { conv2dRaw, convFwdFamily, convDataFamily, convWeightFamily, type ConvGeom } from '../src/ops/conv2d.js';
import { supports, adapterCaps, lastVariant, type Family } from '../src/gpu/variants.js';
import { kernels as kernelSpecs } from '../src/gen/kernels.gen.js';
import { envRecord, stats, timeWall, appendJsonl, table } from './lib/harness.js';
import { tuningFile, setTuning, tuned, resetTuning, resetKernelTuning, adapterKey } from '../src/gpu/tuning.js';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const only = (() => { const i = args.indexOf('--only'); return i >= 0 ? args[i + 1] : null; })();
const reps = opt('reps', 7);
// --conv N,C,HW,K: the 3x3 stride-1 convolution's shape (default 32,64,32,64)
const convShape = ((): [number, number, number, number] => {
  const i = args.indexOf('--conv');
  if (i < 0) return [32, 64, 32, 64];
  const v = (args[i + 1] ?? '').split(',').map(Number);
  if (v.length !== 4 || v.some((x) => !Number.isInteger(x) || x <= 0)) { console.error(`--conv takes N,C,HW,K (positive integers), got ${args[i + 1]}`); process.exit(2); }
  return v as [number, number, number, number];
})();

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
}
const randArr = (n: number, seed: number) => { const r = lcg(seed); return Float32Array.from({ length: n }, r); };

interface Row { kernel: string; variant: string; shape: string; ms: ReturnType<typeof stats>; gflops: number; gbps: number; check: { samples: number; maxAbs: number; tol: number } }
const rows: Row[] = [];

await initGpu();
const env = envRecord();
const info = gpuContext().info;
console.log(`adapter: ${info.vendor} ${info.device || info.description} (${info.architecture}) | webgpu ${env.webgpu} | node ${env.node} | git ${env.git}${env.dirty ? '+dirty' : ''}`);

/** Compare `samples` outputs with a float64 dot product computed on the host. */
function check(label: string, got: Float32Array, want: (i: number) => { v: number; absSum: number; k: number }, samples = 64): Row['check'] {
  let maxAbs = 0, tolMax = 0;
  const r = lcg(99);
  for (let s = 0; s < samples; s++) {
    const i = Math.floor((r() + 0.5) * got.length) % got.length;
    const w = want(i);
    const tol = 2 ** -22 * Math.sqrt(w.k) * w.absSum + 1e-6;
    const d = Math.abs(got[i]! - w.v);
    if (!(d <= tol)) throw new Error(`${label}: output ${i} is ${got[i]}, float64 reference ${w.v} (tolerance ${tol})`);
    maxAbs = Math.max(maxAbs, d); tolMax = Math.max(tolMax, tol);
  }
  return { samples, maxAbs, tol: tolMax };
}

if (!only || only === 'gemm') {
  const M = 1024, N = 1024, K = 1024;
  const A = randArr(M * K, 1), B = randArr(K * N, 2);
  const a = Tensor.fromArray(A, [M, K]), b = Tensor.fromArray(B, [K, N]), c = Tensor.empty([M, N]);
  const run = () => gemm({ a, b, c, m: M, n: N, k: K });
  run();
  const got = await c.read();
  const chk = check('gemm', got, (i) => {
    const row = Math.floor(i / N), col = i % N;
    let v = 0, absSum = 0;
    for (let q = 0; q < K; q++) { const t = A[row * K + q]! * B[q * N + col]!; v += t; absSum += Math.abs(t); }
    return { v, absSum, k: K };
  });
  const ms = stats(await timeWall(run, { reps, perSubmit: 1 }));
  const flops = 2 * M * N * K;
  rows.push({ kernel: 'gemm (NN)', variant: `gemm/${lastVariant('gemm')}`, shape: `${M}x${N}x${K}`, ms, gflops: flops / ms.median / 1e6, gbps: 4 * (M * K + K * N + M * N) / ms.median / 1e6, check: chk });
  for (const t of [a, b, c]) t.dispose();
}

if (!only || only === 'conv') {
  const [cn, cc, chw, ck] = convShape;
  const g: ConvGeom = { n: cn, c: cc, h: chw, w: chw, k: ck, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, groups: 1, ho: chw, wo: chw };
  const X = randArr(g.n * g.c * g.h * g.w, 3), W = randArr(g.k * g.c * 9, 4), DY = randArr(g.n * g.k * g.ho * g.wo, 5);
  const x = Tensor.fromArray(X, [g.n, g.c, g.h, g.w]), w = Tensor.fromArray(W, [g.k, g.c, 3, 3]), dy = Tensor.fromArray(DY, [g.n, g.k, g.ho, g.wo]);
  const y = Tensor.empty([g.n, g.k, g.ho, g.wo]), dx = Tensor.empty([g.n, g.c, g.h, g.w]), dw = Tensor.empty([g.k, g.c, 3, 3]);
  const flops = 2 * g.n * g.ho * g.wo * g.k * g.c * 9;
  const at = (arr: Float32Array, n: number, c: number, h: number, w: number, C: number, H: number, W_: number) =>
    (h < 0 || w < 0 || h >= H || w >= W_) ? 0 : arr[((n * C + c) * H + h) * W_ + w]!;
  const cases: [string, () => void, Tensor, (i: number) => { v: number; absSum: number; k: number }, string][] = [
    ['conv2d fwd', () => conv2dRaw.forward(x, w, null, y, g), y, (i) => {
      const ox = i % g.wo, oy = Math.floor(i / g.wo) % g.ho, k = Math.floor(i / (g.wo * g.ho)) % g.k, n = Math.floor(i / (g.wo * g.ho * g.k));
      let v = 0, absSum = 0;
      for (let c = 0; c < g.c; c++) for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) {
        const t = W[((k * g.c + c) * 3 + r) * 3 + s]! * at(X, n, c, oy - 1 + r, ox - 1 + s, g.c, g.h, g.w); v += t; absSum += Math.abs(t);
      }
      return { v, absSum, k: g.c * 9 };
    }, 'conv2d.fwd'],
    ['conv2d bwd data', () => conv2dRaw.backwardData(dy, w, dx, g), dx, (i) => {
      const ix = i % g.w, iy = Math.floor(i / g.w) % g.h, c = Math.floor(i / (g.w * g.h)) % g.c, n = Math.floor(i / (g.w * g.h * g.c));
      let v = 0, absSum = 0;
      for (let k = 0; k < g.k; k++) for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) {
        const t = W[((k * g.c + c) * 3 + r) * 3 + s]! * at(DY, n, k, iy + 1 - r, ix + 1 - s, g.k, g.ho, g.wo); v += t; absSum += Math.abs(t);
      }
      return { v, absSum, k: g.k * 9 };
    }, 'conv2d.bwd_data'],
    ['conv2d bwd weight', () => conv2dRaw.backwardWeight(x, dy, dw, g), dw, (i) => {
      const s = i % 3, r = Math.floor(i / 3) % 3, c = Math.floor(i / 9) % g.c, k = Math.floor(i / (9 * g.c));
      let v = 0, absSum = 0;
      for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++) {
        const t = DY[((n * g.k + k) * g.ho + oy) * g.wo + ox]! * at(X, n, c, oy - 1 + r, ox - 1 + s, g.c, g.h, g.w); v += t; absSum += Math.abs(t);
      }
      return { v, absSum, k: g.n * g.ho * g.wo };
    }, 'conv2d.bwd_weight'],
  ];
  let total = 0;
  for (const [name, run, out, want, fam] of cases) {
    run();
    const variant = `${fam}/${lastVariant(fam)}`;
    const chk = check(name, await out.read(), want, 32);
    const ms = stats(await timeWall(run, { reps, perSubmit: 1 }));
    total += ms.median;
    rows.push({ kernel: name, variant, shape: `N${cn} C${cc} K${ck} ${chw}x${chw} 3x3 s1 p1`, ms, gflops: flops / ms.median / 1e6, gbps: 0, check: chk });
  }
  rows.push({ kernel: 'conv2d fwd+bwd', variant: '-', shape: 'sum of the three', ms: { median: total, min: NaN, p90: NaN, mean: NaN, n: 0 }, gflops: 3 * flops / total / 1e6, gbps: 0,
    check: { samples: 0, maxAbs: 0, tol: 0 } });
  for (const t of [x, w, dy, y, dx, dw]) t.dispose();
}

if (flag('sweep')) await sweep();

/**
 * The variant sweep: on shapes from ResNet-18's layers, time every variant of the GEMM and conv2d families that
 * runs on this adapter and fits (forced, each at every candidate workgroup size of its main kernel, checked
 * against the family's default choice first), then write per family the variant order (by mean slowdown
 * against the fastest variant on the shapes each fits) and the best workgroup sizes to bench/tune/<adapter>.json.
 */
async function sweep(): Promise<void> {
  const caps = adapterCaps();
  const conv = (n: number, c: number, hw: number, k: number, kk: number, s: number): ConvGeom => {
    const p = kk === 3 ? 1 : 0, o = Math.floor((hw + 2 * p - kk) / s) + 1;
    return { n, c, h: hw, w: hw, k, kh: kk, kw: kk, sh: s, sw: s, ph: p, pw: p, groups: 1, ho: o, wo: o };
  };
  // ResNet-18's stride-1 3x3 layers at every width (where Winograd competes), its stride-2 and 1x1 layers.
  const convShapes = [conv(32, 64, 32, 64, 3, 1), conv(32, 128, 16, 128, 3, 1), conv(32, 256, 8, 256, 3, 1), conv(32, 512, 4, 512, 3, 1),
    conv(32, 64, 32, 128, 3, 2), conv(32, 64, 32, 128, 1, 2), conv(32, 128, 16, 128, 1, 1)];
  interface Job { family: Family<any, any>; label: string; geom: unknown; run: () => void; out: Tensor; free: Tensor[] }
  const jobs: Job[] = [];
  for (const [m, n, k] of [[1024, 1024, 1024], [256, 512, 4608], [512, 33, 2048]] as const) {
    const a = Tensor.fromArray(randArr(m * k, 11), [m, k]), b = Tensor.fromArray(randArr(k * n, 12), [k, n]), c = Tensor.empty([m, n]);
    jobs.push({ family: gemmFamily, label: `${m}x${n}x${k}`, geom: gemmGeom({ a, b, c, m, n, k }), run: () => gemm({ a, b, c, m, n, k }), out: c, free: [a, b, c] });
  }
  for (const g of convShapes) {
    const x = Tensor.fromArray(randArr(g.n * g.c * g.h * g.w, 13), [g.n, g.c, g.h, g.w]), w = Tensor.fromArray(randArr(g.k * g.c * g.kh * g.kw, 14), [g.k, g.c, g.kh, g.kw]);
    const dy = Tensor.fromArray(randArr(g.n * g.k * g.ho * g.wo, 15), [g.n, g.k, g.ho, g.wo]);
    const y = Tensor.empty([g.n, g.k, g.ho, g.wo]), dx = Tensor.empty([g.n, g.c, g.h, g.w]), dw = Tensor.empty([g.k, g.c, g.kh, g.kw]);
    const label = `${g.kh}x${g.kw} s${g.sh} C${g.c} K${g.k} ${g.h}x${g.w} N${g.n}`;
    jobs.push({ family: convFwdFamily, label, geom: { ...g, bias: false }, run: () => conv2dRaw.forward(x, w, null, y, g), out: y, free: [x, w, dy, y, dx, dw] });
    jobs.push({ family: convDataFamily, label, geom: g, run: () => conv2dRaw.backwardData(dy, w, dx, g), out: dx, free: [] });
    jobs.push({ family: convWeightFamily, label, geom: g, run: () => conv2dRaw.backwardWeight(x, dy, dw, g), out: dw, free: [] });
  }
  const wgCandidates = [8, 16, 32, 64];
  // family -> variant -> shape -> best ms; best overrides per kernel
  const times = new Map<string, Map<string, Map<string, number>>>();
  const measured: Record<string, unknown>[] = [];
  for (const job of jobs) {
    job.family.force(null);
    job.run();
    const ref = await job.out.read();
    const fam = job.family.name;
    for (const v of job.family.variants) {
      if (supports(v, caps) !== true || v.fits(job.geom) !== true) continue;
      const main = v.kernels[0];
      const spec = main ? (kernelSpecs[main] as { overrides: Record<string, unknown> }) : null;
      const wgs = spec && 'WG' in spec.overrides ? wgCandidates : [0];
      for (const WG of wgs) {
        const saved = main ? { ...tuned(main) } : {};
        if (WG) setTuning(main!, { WG });
        job.family.force(v.name);
        try {
          if (supports(v, caps) !== true) continue;
          job.run();
          const got = await job.out.read();
          // Another summation order changes float32 rounding: compare against the largest output, not per element.
          let maxDiff = 0, maxRef = 0;
          for (let i = 0; i < got.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(got[i]! - ref[i]!)); maxRef = Math.max(maxRef, Math.abs(ref[i]!)); }
          const tag = `${fam}/${v.name}${WG ? ` WG=${WG}` : ''}`;
          if (!(maxDiff <= 1e-5 * maxRef)) { console.log(`  ${job.label.padEnd(28)} ${tag}: differs from the default choice (max diff ${maxDiff} of ${maxRef}), skipped`); continue; }
          // The minimum of several runs: on a shared host the median mostly measures the neighbours.
          const ms = stats(await timeWall(job.run, { reps: 3, warmup: 1 })).min;
          measured.push({ family: fam, variant: v.name, WG: WG || null, shape: job.label, ms });
          console.log(`  ${job.label.padEnd(28)} ${tag.padEnd(40)} ${ms.toFixed(1)} ms`);
          const fv = times.get(fam) ?? new Map(); times.set(fam, fv);
          const sv = fv.get(v.name) ?? new Map(); fv.set(v.name, sv);
          sv.set(job.label, Math.min(sv.get(job.label) ?? Infinity, ms));
          if (WG) {
            const key = `${main}|${job.label}|${WG}`;
            measured.push({ key, ms });
          }
        } finally {
          job.family.force(null);
          if (main) { resetKernelTuning(main, saved); }
        }
      }
    }
  }
  // Workgroup size per kernel: the one with the lowest total time over the shapes it ran on.
  const perKernel = new Map<string, Map<number, number>>();
  for (const m of measured) {
    if (!('key' in m)) continue;
    const [kernel, , wg] = String(m.key).split('|');
    const t = perKernel.get(kernel!) ?? new Map(); perKernel.set(kernel!, t);
    t.set(Number(wg), (t.get(Number(wg)) ?? 0) + Number(m.ms));
  }
  const overrides: Record<string, Record<string, number>> = {};
  for (const [kernel, t] of perKernel) {
    const [WG, total] = [...t].sort((a, b) => a[1] - b[1])[0]!;
    overrides[kernel] = { WG };
    console.log(`sweep: ${kernel} WG=${WG} (${total.toFixed(1)} ms over its shapes)`);
  }
  // Variant order: mean over the shapes it fits of its time / the fastest variant's time on that shape.
  const variants: Record<string, string[]> = {};
  for (const [fam, fv] of times) {
    const best = new Map<string, number>();
    for (const sv of fv.values()) for (const [shape, ms] of sv) best.set(shape, Math.min(best.get(shape) ?? Infinity, ms));
    const score = [...fv].map(([v, sv]) => [v, [...sv].reduce((a, [shape, ms]) => a + ms / best.get(shape)!, 0) / sv.size] as const);
    variants[fam] = score.sort((a, b) => a[1] - b[1]).map(([v]) => v);
    console.log(`sweep: ${fam} order ${score.map(([v, r]) => `${v} (x${r.toFixed(2)})`).join(', ')}`);
  }
  const file = tuningFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ adapter: adapterKey(), ...envRecord(), variants, overrides, measured: measured.filter((m) => !('key' in m)) }, null, 2) + '\n');
  console.log(`wrote ${file}; the engine loads it on start (src/gpu/tuning.ts)`);
  resetTuning();
  for (const j of jobs) for (const t of j.free) t.dispose();
}

await stream.sync();
console.log(table(['kernel', 'variant', 'shape', 'median ms', 'min ms', 'p90 ms', 'GFLOP/s', 'checked'],
  rows.map((r) => [r.kernel, r.variant, r.shape, r.ms.median, r.ms.min, r.ms.p90, r.gflops, r.check.samples ? `${r.check.samples} pts, max err ${r.check.maxAbs.toExponential(1)}` : '-'])));
const path = appendJsonl('kernels.jsonl', rows.map((r) => ({ ...env, bench: 'kernels', ...r })));
if (flag('json')) console.log(JSON.stringify(rows.map((r) => ({ ...env, bench: 'kernels', ...r }))));
console.log(`appended ${rows.length} rows to ${path}`);
destroyGpu();
