#!/usr/bin/env node
// node bench/kernels.mjs [--json] [--reps N] [--only gemm|conv] [--conv N,C,HW,K]: see bench/kernels.ts (bundled by `node build.mjs`).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/bench/kernels.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/bench/kernels.js is missing: run `npm install` (or `node build.mjs`) first');
  process.exit(1);
}
await import(entry.href);
