// Op checks shared by the GPU test layers: forward against the float64 twin, and autograd gradients
// against central differences of the float64 twin's forward (sampled coordinates + one direction).
import { Tensor } from '../../src/autograd/tensor.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/autograd/scope.js';
import { gradcheck, type GradcheckOptions } from './gradcheck.js';
import { assertClose, toHost } from './gpu.js';

export interface OpCase {
  name: string;
  xs: Float64Array[];
  shapes: number[][];
  /** GPU forward on uploaded inputs. */
  gpu: (ts: Tensor[]) => Tensor;
  /** float64 twin forward. */
  ref: (xs: Float64Array[]) => Float64Array | number;
  /** Inputs to differentiate (default all). */
  gradInputs?: number[];
  fwd?: { atol: number; rtol: number };
  grad?: GradcheckOptions;
}

const asArray = (v: Float64Array | number) => (typeof v === 'number' ? Float64Array.of(v) : v);

/** Upload inputs (the differentiated ones with requiresGrad), run fn, clean up. */
async function runGpu(c: OpCase, xs: Float64Array[], dy?: Float64Array): Promise<{ y: Float64Array; grads: Float64Array[] }> {
  const which = c.gradInputs ?? xs.map((_, i) => i);
  const ts = xs.map((x, i) => {
    const t = Tensor.fromArray(Float32Array.from(x), c.shapes[i]!);
    t.requiresGrad = which.includes(i) && dy !== undefined;
    return t;
  });
  const y = tidy(() => c.gpu(ts));
  const yh = await toHost(y);
  const grads: Float64Array[] = [];
  if (dy) {
    const dyt = Tensor.fromArray(Float32Array.from(dy), [...y.shape]);
    backward(y, dyt);
    dyt.dispose();
    for (let i = 0; i < ts.length; i++) {
      const g = ts[i]!.grad;
      grads.push(g ? await toHost(g) : new Float64Array(xs[i]!.length));
    }
  }
  y.dispose();
  for (const t of ts) t.dispose();
  return { y: yh, grads };
}

export interface OpReport { op: string; maxAbs: number; maxRel: number; worst: string; checked: number }
export const gradReport: OpReport[] = [];

export async function checkOp(c: OpCase): Promise<OpReport> {
  const want = asArray(c.ref(c.xs));
  const { y } = await runGpu(c, c.xs);
  const f = c.fwd ?? { atol: 1e-5, rtol: 1e-4 };
  assertClose(`${c.name} forward`, y, want, f.atol, f.rtol);
  const opts: GradcheckOptions = { eps: 1e-6, atol: 2e-4, rtol: 2e-3, maxCoords: 24, inputs: c.gradInputs, ...c.grad };
  const res = await gradcheck(
    (xs) => asArray(c.ref(xs)),
    async (xs, r) => (await runGpu(c, xs, r)).grads,
    c.xs.map((x) => Float64Array.from(x)),
    opts,
  );
  const w = res.worst;
  const rep: OpReport = {
    op: c.name, maxAbs: res.maxAbs, maxRel: res.maxRel, checked: res.checked,
    worst: `${w.input < 0 ? 'direction' : `input ${w.input}[${w.index}]`}: fd ${w.fd.toPrecision(6)} an ${w.an.toPrecision(6)}`,
  };
  gradReport.push(rep);
  console.log(`grad-report ${c.name.padEnd(34)} max|fd-an| ${res.maxAbs.toExponential(2)}  worst ${rep.worst}  (${res.checked} coords + direction)`);
  if (!res.ok) throw new Error(`${c.name} gradient mismatch: worst ${rep.worst} (atol ${opts.atol}, rtol ${opts.rtol})`);
  return rep;
}
