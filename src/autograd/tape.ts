// The tape: each recorded op is a Node holding its inputs (for routing), aliases of what its backward
// needs, and the backward function. backward() walks nodes in reverse topological order, accumulates
// gradients (kernels write, the engine adds), and frees each node's saved tensors as soon as it ran.
import { Tensor, fmtShape } from './tensor.js';
import { isGradEnabled, noGrad } from './scope.js';
import { addInPlace, fillInPlace } from '../ops/accumulate.js';
import { stream } from '../gpu/stream.js';

export type BackwardFn = (dy: Tensor, saved: Tensor[], needs: boolean[]) => (Tensor | null)[];

/**
 * A recorded op. Its saved tensors live as long as some live tensor can still reach it through the graph: `refs`
 * counts its output tensor while that is not disposed, plus every live node that takes the output as an input.
 * When the count reaches zero (the output and everything downstream disposed without backward()), the saved
 * tensors are freed at once and the inputs' nodes lose one reference: a graph that is recorded and dropped
 * costs no memory after its last tensor goes, without waiting for the garbage collector.
 */
export class Node {
  saved: Tensor[] | null;
  readonly needs: boolean[];
  private refs = 1;
  constructor(readonly op: string, readonly inputs: Tensor[], saved: Tensor[], readonly fn: BackwardFn) {
    this.saved = saved.map((t) => Tensor.alias(t));
    this.needs = inputs.map((t) => t.requiresGrad);
    for (const t of inputs) t.node?.retain();
  }
  retain(): void {
    if (this.refs > 0) this.refs++;
  }
  /** One holder gone (the output tensor disposed, or a downstream node freed). */
  unref(): void {
    if (this.refs <= 0) return;
    if (--this.refs > 0) return;
    this.release();
    for (const t of this.inputs) t.node?.unref();
  }
  release(): void {
    if (this.saved) for (const t of this.saved) t.dispose();
    this.saved = null;
  }
}

/** Attach a node to `output` when grad mode is on and some input needs a gradient. */
export function record(op: string, inputs: Tensor[], output: Tensor, saved: Tensor[], fn: BackwardFn): void {
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return;
  output.requiresGrad = true;
  output.node = new Node(op, inputs, saved, fn);
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // Iterative DFS: ResNet-50 graphs are deep enough to make recursion uncomfortable.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root.id);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i]!;
      if (c.requiresGrad && !seen.has(c.id)) { seen.add(c.id); stack.push([c, 0]); }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

export interface BackwardOptions {
  /**
   * Called once per leaf as soon as its `.grad` is final for this sweep (every contribution added; the work is
   * recorded, not yet run). Data-parallel training starts reading gradients back from here while the rest of the
   * backward pass is still to run.
   */
  onLeafGrad?: (leaf: Tensor) => void;
}

/**
 * Reverse-mode sweep from `root`. `dy` defaults to ones for a one-element root.
 * Leaves (tensors with requiresGrad and no node) receive `.grad`, added to any existing gradient.
 */
export function backward(root: Tensor, dy?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root.label()} does not require grad (no parameter in its graph needs a gradient)`);
  if (!dy && root.size !== 1) throw new Error(`backward: root ${root.label()} is not a scalar; pass dy of shape ${fmtShape(root.shape)}`);
  if (dy && dy.size !== root.size) throw new Error(`backward: dy ${dy.label()} does not match root ${root.label()}`);
  noGrad(() => {
    const grads = new Map<number, Tensor>();
    // The seed is our own copy: gradients may be accumulated in place, and the caller's dy must stay intact.
    let seed: Tensor;
    if (dy) { seed = new Tensor(root.shape, 'f32', undefined, false); stream.copy(dy.buffer, 0, seed.buffer, 0, dy.bytes); }
    else { seed = new Tensor(root.shape, 'f32', undefined, false); fillInPlace(seed, 1); } // seeded by a kernel, not an upload
    grads.set(root.id, seed);
    for (const t of topoOrder(root)) {
      const g = grads.get(t.id);
      if (!g) continue;
      grads.delete(t.id);
      const node = t.node;
      if (!node) {
        // A leaf.
        if (t.grad) { addInPlace(t.grad, g); g.dispose(); } else { t.grad = g.view(t.shape).keep(); g.dispose(); }
        // Topological order: every consumer of the leaf ran before it, so nothing more is added to its gradient.
        opts.onLeafGrad?.(t);
        continue;
      }
      if (!node.saved) throw new Error(`backward: the graph through ${node.op} was already freed by an earlier backward()`);
      const same = g.shape.length === t.shape.length && g.shape.every((d, i) => d === t.shape[i]);
      const dyT = same ? g : g.view(t.shape).keep();
      const dxs = node.fn(dyT, node.saved, node.needs);
      if (!same) dyT.dispose();
      g.dispose();
      node.release();
      node.inputs.forEach((inp, i) => {
        const dx = dxs[i];
        if (!dx) return;
        if (!node.needs[i]) { dx.dispose(); return; }
        if (dx.size !== inp.size) throw new Error(`backward of ${node.op}: gradient ${dx.label()} for input ${inp.label()} has the wrong size`);
        dx.keep();
        const prev = grads.get(inp.id);
        if (prev) { addInPlace(prev, dx); dx.dispose(); } else grads.set(inp.id, dx);
      });
    }
    for (const g of grads.values()) g.dispose();
  });
}
