// Shape validation shared by the float64 twins. Every failure names the function and the shapes.

export type Arr = ArrayLike<number>;

/** Throws unless every named dimension is a non-negative integer (positive when `positive`). */
export function checkDims(fn: string, dims: Record<string, number>, positive = false): void {
  for (const [name, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 0 || (positive && v === 0)) {
      throw new Error(`${fn}: ${name}=${v} must be a ${positive ? 'positive' : 'non-negative'} integer (${fmtDims(dims)})`);
    }
  }
}

/** Throws unless `arr.length === expected`; `shape` describes the expected shape for the message. */
export function checkLen(fn: string, name: string, arr: { length: number }, expected: number, shape: string): void {
  if (arr.length !== expected) {
    throw new Error(`${fn}: ${name} has length ${arr.length}, expected ${expected} for shape ${shape}`);
  }
}

/** Throws unless two arrays have the same length (element-wise ops). */
export function checkSame(fn: string, na: string, a: { length: number }, nb: string, b: { length: number }): void {
  if (a.length !== b.length) {
    throw new Error(`${fn}: ${na} has length ${a.length} but ${nb} has length ${b.length}; they must match`);
  }
}

export function fmtDims(dims: Record<string, number>): string {
  return Object.entries(dims).map(([k, v]) => `${k}=${v}`).join(', ');
}
