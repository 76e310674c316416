#!/usr/bin/env node
// node bench/resnet18.mjs [--batch 32] [--size 32] [--width 1] [--steps 5] [--imagenet] [--json]: see bench/resnet18.ts.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/bench/resnet18.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/bench/resnet18.js is missing: run `npm install` (or `node build.mjs`) first');
  process.exit(1);
}
await import(entry.href);
