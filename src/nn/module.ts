// Module: named parameters, buffers and children (torchvision's naming: "layer1.0.conv1.weight"),
// train/eval, state dicts as host arrays, strict loading that checks everything before copying anything.
import { Tensor } from '../autograd/tensor.js';
import { stream } from '../gpu/stream.js';
import { matchStateDict, StateDictError, type StateDict, type StateEntry } from '../io/state_dict.js';

/** Host copies of a module's state: the one state-dict type of the engine (io/state_dict.ts). */
export type HostTensor = StateEntry;
export type HostStateDict = StateDict;

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  /** Host-side scalar buffers (e.g. BatchNorm's num_batches_tracked) exported with the state dict. */
  protected readonly scalars = new Map<string, { get: () => number; set: (v: number) => void }>();

  abstract forward(x: Tensor): Tensor;

  protected param(name: string, data: Float32Array, shape: number[]): Tensor {
    const t = Tensor.fromArray(data, shape).keep();
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }

  protected buffer(name: string, data: Float32Array, shape: number[]): Tensor {
    const t = Tensor.fromArray(data, shape).keep();
    t.name = name;
    this.buffers.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.params) out.push([prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.buffers) out.push([prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  namedScalars(prefix = ''): [string, { get: () => number; set: (v: number) => void }][] {
    const out: [string, { get: () => number; set: (v: number) => void }][] = [];
    for (const [n, s] of this.scalars) out.push([prefix + n, s]);
    for (const [n, c] of this.children) out.push(...c.namedScalars(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stop gradients for every parameter (frozen teachers). */
  requiresGrad(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** State entries in PyTorch's state_dict order: per module its parameters, buffers, scalars, then children. */
  namedState(prefix = ''): [string, Tensor | { get: () => number; set: (v: number) => void }][] {
    const out: [string, Tensor | { get: () => number; set: (v: number) => void }][] = [];
    for (const [n, t] of this.params) out.push([prefix + n, t]);
    for (const [n, t] of this.buffers) out.push([prefix + n, t]);
    for (const [n, s] of this.scalars) out.push([prefix + n, s]);
    for (const [n, c] of this.children) out.push(...c.namedState(`${prefix}${n}.`));
    return out;
  }

  /** Shapes of everything the state dict holds, in state_dict order. */
  stateShapes(): Map<string, number[]> {
    return new Map(this.namedState().map(([n, t]) => [n, t instanceof Tensor ? [...t.shape] : []]));
  }

  async stateDict(): Promise<HostStateDict> {
    const entries = this.namedState();
    const datas = await Promise.all(entries.map(([, t]) => (t instanceof Tensor ? t.read() : Promise.resolve(Float32Array.of(t.get())))));
    return new Map(entries.map(([n, t], i) => [n, { shape: t instanceof Tensor ? [...t.shape] : [], data: datas[i]! }]));
  }

  /**
   * Copy a state dict in. Every key, shape and dtype is checked first (io/state_dict.ts matchStateDict, the one
   * set of rules every loader uses); nothing is written unless all agree. `strict: false` allows keys missing
   * from `sd` (they keep their values) and ignores unexpected ones. num_batches_tracked may be missing or
   * [] / [1], as in PyTorch.
   */
  loadStateDict(sd: HostStateDict, opts: { strict?: boolean; source?: string } = {}): void {
    const strict = opts.strict ?? true;
    const expected = new Map([...this.stateShapes()].map(([k, shape]) => [k, { shape }]));
    try {
      matchStateDict(expected, sd, { strict, allowMissing: strict ? [] : [/.*/] });
    } catch (e) {
      if (e instanceof StateDictError) throw new StateDictError(`loadStateDict${opts.source ? ` (${opts.source})` : ''}: ${e.message}`);
      throw e;
    }
    const tensors = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    for (const [k, t] of tensors) {
      const e = sd.get(k);
      if (e && t.size > 0) stream.write(t.buffer, e.data);
    }
    for (const [k, s] of this.namedScalars()) {
      const e = sd.get(k);
      if (e) s.set(e.data[0]!);
    }
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    for (const t of this.buffers.values()) t.dispose();
    for (const c of this.children.values()) c.dispose();
  }
}

