#!/usr/bin/env node
// node bench/ablation.mjs [--steps 150] ...: see bench/ablation.ts.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/bench/ablation.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/bench/ablation.js is missing: run `npm install` (or `node build.mjs`) first');
  process.exit(1);
}
await import(entry.href);
