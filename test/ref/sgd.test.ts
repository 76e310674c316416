import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sgdStep } from '../../src/ref/sgd.js';
import { assertClose, assertThrowsNamed } from './util.js';

const f64 = (a: number[]) => Float64Array.from(a);

/** Runs `steps` steps with a constant gradient on a one-element parameter; returns the parameter trail. */
function trail(steps: number, grad: number, lr: number, mom: number, damp: number, wd: number, nest: boolean): number[] {
  let p: Float64Array = f64([1]), buf: Float64Array | null = null;
  const out: number[] = [];
  for (let t = 0; t < steps; t++) {
    const r = sgdStep(p, f64([grad]), buf, lr, mom, damp, wd, nest, t === 0);
    p = r.param; buf = r.momBuf;
    out.push(p[0]!);
  }
  return out;
}

test('sgdStep: plain and with weight decay, by hand', () => {
  const p = f64([1, 2]), g = f64([0.5, -1]);
  const r = sgdStep(p, g, null, 0.1, 0, 0, 0, false, true);
  assertClose(r.param, [0.95, 2.1], 1e-15, 'plain');
  assert.is(r.momBuf, null);
  // g + 0.1 p = (0.6, -0.8)
  assertClose(sgdStep(p, g, null, 0.1, 0, 0, 0.1, false, true).param, [0.94, 2.08], 1e-15, 'weight decay');
  assertClose(p, [1, 2], 0, 'param untouched');
  assertClose(g, [0.5, -1], 0, 'grad untouched');
});

test('sgdStep: momentum, dampening, nesterov over two steps, by hand', () => {
  // lr 0.1, momentum 0.9, gradient 1. Step 1: buf = 1, p = 0.9. Step 2: buf = 1.9, p = 0.71.
  assertClose(trail(2, 1, 0.1, 0.9, 0, 0, false), [0.9, 0.71], 1e-15, 'momentum');
  // Dampening 0.5 skips the first step (buf = g), then buf = 0.9 + 0.5 = 1.4: p = 0.9 - 0.14.
  assertClose(trail(2, 1, 0.1, 0.9, 0.5, 0, false), [0.9, 0.76], 1e-15, 'dampening');
  // Nesterov: step 1 uses 1 + 0.9*1 = 1.9 -> 0.81; step 2 buf = 1.9, uses 1 + 1.71 = 2.71 -> 0.539.
  assertClose(trail(2, 1, 0.1, 0.9, 0, 0, true), [0.81, 0.539], 1e-15, 'nesterov');
  // Weight decay enters the buffer: step 1 g = 1 + 0.5 = 1.5, p = 0.85; step 2 g = 1.425, buf = 2.775, p = 0.5725.
  assertClose(trail(2, 1, 0.1, 0.9, 0, 0.5, false), [0.85, 0.5725], 1e-15, 'momentum + weight decay');
});

test('sgdStep: bad inputs throw naming the function', () => {
  const a = (n: number) => new Float64Array(n);
  assertThrowsNamed(() => sgdStep(a(3), a(2), null, 0.1, 0, 0, 0, false, true), 'sgdStep');
  assertThrowsNamed(() => sgdStep(a(3), a(3), a(2), 0.1, 0.9, 0, 0, false, false), 'sgdStep');
  assertThrowsNamed(() => sgdStep(a(3), a(3), null, 0.1, 0.9, 0, 0, false, false), 'sgdStep');
  assertThrowsNamed(() => sgdStep(a(3), a(3), null, 0.1, 0.9, 0.1, 0, true, true), 'sgdStep');
  assertThrowsNamed(() => sgdStep(a(3), a(3), null, 0.1, 0, 0, 0, true, true), 'sgdStep');
});

test.run();
