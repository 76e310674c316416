// What lavapipe makes of the hot kernels: the x86 code of each kernel's innermost loop, counted by kind.
//   node bench/codegen.mjs [--only gemm|fwd|bwd_data|bwd_weight] [--json] [--keep DIR] [--show]
// For each case a child process runs the kernel once (the same variant and overrides as bench/kernels.mjs
// chooses for its shapes) with Mesa's GALLIVM_DEBUG=asm and the shader cache off, so llvmpipe prints the code it
// generates; the parent takes the compute shader with the most float arithmetic, finds the innermost loop of its
// control-flow graph that both loads per lane and does float arithmetic (at least 8 vector operations: the loop
// that streams the operands) and counts the instructions of that loop's body (static counts: both sides of
// every branch), by kind: float arithmetic, bounds-checked per-lane loads (lavapipe loads a storage
// buffer value whose address differs across lanes one lane at a time, each behind an exec-mask test and a
// bounds check), branches, stack traffic. Lavapipe only: other adapters print no code (exit 2 says so).
// --keep DIR writes each case's raw dump there; --show prints the loop's instructions. Rows are appended to bench/results/codegen.jsonl.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initGpu, gpuContext } from '../src/gpu/device.js';
import { Tensor } from '../src/autograd/tensor.js';
import { gemm, gemmFamily } from '../src/ops/gemm.js';
import { conv2dRaw, convFwdFamily, convDataFamily, convWeightFamily, type ConvGeom } from '../src/ops/conv2d.js';
import { lastVariant, type Family } from '../src/gpu/variants.js';
import { envRecord, appendJsonl, table } from './lib/harness.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] ?? null : null; };
const CASES = ['gemm', 'fwd', 'bwd_data', 'bwd_weight'] as const;
type Case = typeof CASES[number];

/** Child: run one case once on the bench's shapes and print which variant ran (a marker line on stdout). */
async function child(which: Case): Promise<void> {
  await initGpu();
  const info = gpuContext().info;
  const fill = (shape: number[]) => Tensor.fromArray(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7919) % 17) / 17 - 0.5), shape);
  let fam: Family<any, any>, out: Tensor;
  if (which === 'gemm') {
    const n = 1024;
    const a = fill([n, n]), b = fill([n, n]);
    out = Tensor.empty([n, n]);
    gemm({ a, b, c: out, m: n, n, k: n });
    fam = gemmFamily;
  } else {
    const g: ConvGeom = { n: 32, c: 64, h: 32, w: 32, k: 64, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, groups: 1, ho: 32, wo: 32 };
    const x = fill([g.n, g.c, g.h, g.w]), w = fill([g.k, g.c, 3, 3]), dy = fill([g.n, g.k, g.ho, g.wo]);
    if (which === 'fwd') { out = Tensor.empty([g.n, g.k, g.ho, g.wo]); conv2dRaw.forward(x, w, null, out, g); fam = convFwdFamily; }
    else if (which === 'bwd_data') { out = Tensor.empty([g.n, g.c, g.h, g.w]); conv2dRaw.backwardData(dy, w, out, g); fam = convDataFamily; }
    else { out = Tensor.empty([g.k, g.c, 3, 3]); conv2dRaw.backwardWeight(x, dy, out, g); fam = convWeightFamily; }
  }
  await out.read();
  console.log(`@@ ${info.device || info.description} | ${fam.name}/${lastVariant(fam.name)}`);
}

interface Ins { at: number; op: string; arg: string }

/** The compute shaders of one dump: sections that start at a `cs_...variant:` line. */
function shaders(dump: string): Ins[][] {
  const out: Ins[][] = [];
  let cur: Ins[] | null = null;
  for (const line of dump.split('\n')) {
    if (/^\S.*:\s*$/.test(line)) { cur = /^cs_(co_)?variant:$/.test(line.trim()) ? [] : null; if (cur) out.push(cur); continue; }
    const m = /^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(line);
    if (m && cur) cur.push({ at: parseInt(m[1]!, 16), op: m[2]!, arg: m[3]! });
  }
  return out;
}

const ARITH = /^v(fn?m(add|sub)\d+ps|mulps|addps|subps|dpps)$/;

/** Basic blocks of a shader: [first, last] instruction indices and successor blocks. */
function blocks(code: Ins[]): { first: number; last: number; next: number[] }[] {
  const target = (x: Ins) => { const m = /^j\S*$/.test(x.op) ? /^(-?\d+)$/.exec(x.arg.trim()) : null; return m ? x.at + Number(m[1]) : null; };
  const starts = new Set<number>([0]);
  code.forEach((x, i) => {
    const t = target(x);
    if (t === null && !/^(j|ret)/.test(x.op)) return;
    if (i + 1 < code.length) starts.add(i + 1);
    if (t !== null) { const j = code.findIndex((y) => y.at >= t); if (j >= 0) starts.add(j); }
  });
  const firsts = [...starts].sort((a, b) => a - b);
  const index = new Map(firsts.map((f, b) => [f, b]));
  return firsts.map((first, b) => {
    const last = (firsts[b + 1] ?? code.length) - 1;
    const x = code[last]!, t = target(x), next: number[] = [];
    if (t !== null) { const j = code.findIndex((y) => y.at >= t); if (j >= 0) next.push(index.get(j)!); }
    if (x.op !== 'jmp' && !/^ret/.test(x.op) && b + 1 < firsts.length) next.push(b + 1);
    return { first, last, next };
  });
}

/** Strongly connected components (cycles) of the blocks in `set`, ignoring edges into `cut`. */
function cycles(g: { next: number[] }[], set: Set<number>, cut: number | null): number[][] {
  let n = 0;
  const idx = new Map<number, number>(), low = new Map<number, number>(), on = new Set<number>(), st: number[] = [], out: number[][] = [];
  const visit = (v: number) => {
    idx.set(v, n); low.set(v, n); n++; st.push(v); on.add(v);
    for (const w of g[v]!.next) {
      if (!set.has(w) || w === cut) continue;
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: number[] = [];
      let w: number;
      do { w = st.pop()!; on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1 || g[v]!.next.includes(v)) out.push(c);
    }
  };
  for (const v of set) if (!idx.has(v)) visit(v);
  return out;
}

/** The instructions of the innermost loop that both loads per lane and does >= 8 float vector operations, or null. */
function innerLoop(code: Ins[]): Ins[] | null {
  const g = blocks(code);
  const body = (c: number[]) => c.flatMap((b) => code.slice(g[b]!.first, g[b]!.last + 1));
  const streams = (c: number[]) => { const m = mix(body(c)); return m.arithmetic >= 8 && m.laneLoads > 0; };
  let best: number[] | null = null;
  const descend = (c: number[]) => {
    if (!streams(c)) return;
    if (!best || c.length < best.length) best = c;
    const set = new Set(c);
    const header = c.find((b) => g.some((o, a) => !set.has(a) && o.next.includes(b))) ?? Math.min(...c);
    for (const inner of cycles(g, set, header)) descend(inner);
  };
  for (const c of cycles(g, new Set(g.keys()), null)) descend(c);
  return best ? body(best) : null;
}

interface Mix { instructions: number; arithmetic: number; laneLoads: number; branches: number; stack: number; blends: number }

function mix(body: Ins[]): Mix {
  return {
    instructions: body.length,
    arithmetic: body.filter((x) => ARITH.test(x.op)).length,
    // one 32-bit element for one lane, addressed base + index*4 (the stack is addressed through %rsp, never indexed)
    laneLoads: body.filter((x) => /\(%r\w+,%r\w+,4\)/.test(x.arg) && !/^vmov\S* %/.test(x.arg)).length,
    branches: body.filter((x) => /^j/.test(x.op)).length,
    stack: body.filter((x) => /\(%rsp\)/.test(x.arg)).length,
    blends: body.filter((x) => /^v(p?blend|blendv)/.test(x.op)).length,
  };
}

async function parent(): Promise<void> {
  const only = opt('only');
  if (only && !(CASES as readonly string[]).includes(only)) { console.error(`--only takes one of ${CASES.join(', ')}, got ${only}`); process.exit(2); }
  const keep = opt('keep');
  if (keep) mkdirSync(keep, { recursive: true });
  const self = fileURLToPath(import.meta.url);
  const rows: Record<string, unknown>[] = [];
  for (const which of only ? [only as Case] : CASES) {
    const r = spawnSync(process.execPath, [self, '--child', which], {
      env: { ...process.env, GALLIVM_DEBUG: 'asm', MESA_SHADER_CACHE_DISABLE: 'true' }, encoding: 'utf8', maxBuffer: 1 << 28,
    });
    const marker = /^@@ (.*) \| (.*)$/m.exec(r.stdout ?? '');
    if (r.status !== 0 || !marker) {
      console.error(`case ${which}: the child failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})\n${(r.stderr ?? '').split('\n').filter((l) => !/^\s+[0-9a-f]+:/.test(l)).slice(-20).join('\n')}`);
      process.exit(1);
    }
    const [, adapter, variant] = marker;
    if (keep) writeFileSync(join(keep, `${which}.asm`), r.stderr ?? '');
    const cs = shaders(r.stderr ?? '');
    if (!cs.length) { console.error(`no generated code was printed: the adapter is ${adapter}; this bench reads llvmpipe's GALLIVM_DEBUG=asm dump`); process.exit(2); }
    const code = cs.reduce((a, b) => (b.filter((x) => ARITH.test(x.op)).length > a.filter((x) => ARITH.test(x.op)).length ? b : a));
    const loop = innerLoop(code);
    if (!loop) { console.error(`case ${which} (${variant}): no loop with float arithmetic found in ${code.length} instructions`); process.exit(1); }
    if (args.includes('--show')) console.log(`-- ${which} (${variant}): innermost arithmetic loop\n${loop.map((x) => `${x.at.toString(16).padStart(6)}  ${x.op} ${x.arg}`).join('\n')}`);
    rows.push({ case: which, variant, adapter, shaderInstructions: code.length, ...mix(loop) });
  }
  if (args.includes('--json')) { console.log(JSON.stringify(rows)); } else {
    const pct = (a: number, b: number) => `${(100 * a / b).toFixed(0)}%`;
    console.log(table(['case', 'variant', 'loop instrs', 'float arith', 'lane loads', 'arith / lane load', 'branches', 'stack refs', 'blends'],
      rows.map((r: any) => [r.case, r.variant, r.instructions, `${r.arithmetic} (${pct(r.arithmetic, r.instructions)})`, r.laneLoads,
        (r.arithmetic / Math.max(1, r.laneLoads)).toFixed(1), `${r.branches} (${pct(r.branches, r.instructions)})`, r.stack, r.blends])));
  }
  await initGpu();
  const env = envRecord();
  console.log(`appended ${rows.length} rows to ${appendJsonl('codegen.jsonl', rows.map((r) => ({ ...env, bench: 'codegen', ...r })))}`);
}

if (args[0] === '--child') await child(args[1] as Case);
else await parent();
