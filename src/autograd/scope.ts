// Scopes: tidy() disposes every tensor created inside it except what it returns (or keep()s);
// noGrad() stops recording on the tape.
import type { Tensor } from './tensor.js';

export class Scope {
  private tensors = new Set<Tensor>();
  track(t: Tensor): void { this.tensors.add(t); }
  untrack(t: Tensor): void { this.tensors.delete(t); }
  disposeAllExcept(keep: Set<Tensor>): void {
    for (const t of this.tensors) if (!keep.has(t)) t.dispose();
    this.tensors.clear();
  }
}

const scopes: Scope[] = [];
let gradDepth = 0;

export function currentScope(): Scope | undefined {
  return scopes[scopes.length - 1];
}

function collect(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if ((v as Tensor).storage !== undefined && (v as Tensor).shape !== undefined) { out.add(v as Tensor); return; }
  for (const x of Array.isArray(v) ? v : Object.values(v as object)) collect(x, out, depth + 1);
}

/** Run fn; dispose the tensors it created except those reachable from its result (arrays/objects one level deep). */
export function tidy<T>(fn: () => T): T {
  const s = new Scope();
  scopes.push(s);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    s.disposeAllExcept(new Set());
    throw e;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collect(result, keep);
  s.disposeAllExcept(keep);
  // Returned tensors belong to the enclosing scope now.
  const parent = currentScope();
  if (parent) for (const t of keep) parent.track(t);
  return result;
}

export function noGrad<T>(fn: () => T): T {
  gradDepth++;
  try { return fn(); } finally { gradDepth--; }
}

export function isGradEnabled(): boolean {
  return gradDepth === 0;
}
