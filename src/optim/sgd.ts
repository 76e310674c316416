// SGD with momentum, weight decay and Nesterov (PyTorch's torch.optim.SGD semantics), parameter groups,
// momentum buffers kept on the GPU and updated in place by kernels/optim/sgd_step.wgsl.
import { Tensor } from '../autograd/tensor.js';
import { sgdStepRaw } from './sgd_kernel.js';
import { stream } from '../gpu/stream.js';
import type { StateDict } from '../io/state_dict.js';

export interface SgdOptions { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }
export interface ParamGroup { params: Tensor[]; names?: string[]; lr?: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; lrScale?: number }

interface GroupState extends Required<Omit<ParamGroup, 'names' | 'lr'>> { names: string[] }

export class SGD {
  readonly groups: GroupState[];
  /** The base learning rate; a schedule sets it each step (groups may scale it by lrScale). */
  lr: number;
  private readonly buffers = new Map<Tensor, Tensor>();
  private readonly started = new Set<Tensor>();
  stepCount = 0;

  constructor(groups: ParamGroup[] | Tensor[], defaults: SgdOptions) {
    if (!(defaults.lr >= 0)) throw new Error(`SGD: lr must be >= 0, got ${defaults.lr}`);
    const gs: ParamGroup[] = groups.length && groups[0] instanceof Tensor ? [{ params: groups as Tensor[] }] : (groups as ParamGroup[]);
    this.lr = defaults.lr;
    this.groups = gs.map((g, gi) => {
      const st: GroupState = {
        params: g.params,
        names: g.names ?? g.params.map((p, i) => p.name || `group${gi}.${i}`),
        momentum: g.momentum ?? defaults.momentum ?? 0,
        dampening: g.dampening ?? defaults.dampening ?? 0,
        weightDecay: g.weightDecay ?? defaults.weightDecay ?? 0,
        nesterov: g.nesterov ?? defaults.nesterov ?? false,
        lrScale: g.lrScale ?? (g.lr !== undefined && defaults.lr > 0 ? g.lr / defaults.lr : 1),
      };
      if (st.nesterov && (st.momentum <= 0 || st.dampening !== 0)) throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
      if (st.momentum < 0 || st.weightDecay < 0) throw new Error(`SGD: momentum and weight decay must be >= 0, got ${st.momentum}, ${st.weightDecay}`);
      return st;
    });
    const seen = new Set<Tensor>();
    for (const g of this.groups) for (const p of g.params) {
      if (seen.has(p)) throw new Error(`SGD: parameter ${p.label()} appears in more than one group`);
      seen.add(p);
    }
  }

  /** One update of every parameter that has a gradient (parameters without one are skipped, as in PyTorch). */
  step(): void {
    for (const g of this.groups) {
      const lr = this.lr * g.lrScale;
      for (const p of g.params) {
        if (!p.grad) continue;
        let buf: Tensor | null = null;
        if (g.momentum !== 0) {
          buf = this.buffers.get(p) ?? null;
          if (!buf) { buf = new Tensor(p.shape, 'f32', undefined, false); this.buffers.set(p, buf); }
        }
        sgdStepRaw(p, p.grad, buf, { lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov, firstStep: !this.started.has(p) });
        this.started.add(p);
      }
    }
    this.stepCount++;
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  /** Momentum buffers by parameter name (host copies), for checkpoints. */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const g of this.groups) for (let i = 0; i < g.params.length; i++) {
      const p = g.params[i]!, b = this.buffers.get(p);
      if (b && this.started.has(p)) out.set(`momentum_buffer.${g.names[i]}`, { shape: [...b.shape], data: await b.read() });
    }
    return out;
  }

  loadStateDict(sd: StateDict, stepCount: number): void {
    const byName = new Map<string, Tensor>();
    for (const g of this.groups) g.params.forEach((p, i) => byName.set(g.names[i]!, p));
    for (const [k, v] of sd) {
      if (!k.startsWith('momentum_buffer.')) throw new Error(`SGD state: unexpected key ${k}`);
      const p = byName.get(k.slice('momentum_buffer.'.length));
      if (!p) throw new Error(`SGD state: no parameter named ${k.slice(16)} in this optimiser`);
      if (v.data.length !== p.size) throw new Error(`SGD state: ${k} has ${v.data.length} values, parameter has ${p.size}`);
    }
    for (const [k, v] of sd) {
      const p = byName.get(k.slice('momentum_buffer.'.length))!;
      let buf = this.buffers.get(p);
      if (!buf) { buf = new Tensor(p.shape, 'f32', undefined, false); this.buffers.set(p, buf); }
      stream.write(buf.buffer, v.data);
      this.started.add(p);
    }
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}

/** PyTorch-style groups: no weight decay on 1-D parameters (BatchNorm weights and biases) when asked. */
export function decayGroups(named: [string, Tensor][], weightDecay: number, noDecayOn1d = true): ParamGroup[] {
  const decay = named.filter(([, p]) => !(noDecayOn1d && p.shape.length <= 1));
  const rest = named.filter(([, p]) => noDecayOn1d && p.shape.length <= 1);
  const groups: ParamGroup[] = [{ params: decay.map(([, p]) => p), names: decay.map(([n]) => n), weightDecay }];
  if (rest.length) groups.push({ params: rest.map(([, p]) => p), names: rest.map(([n]) => n), weightDecay: 0 });
  return groups;
}
