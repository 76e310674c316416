#!/usr/bin/env node
// node bench/knn.mjs [--train 60000] [--test 10000] [--dim 128]: see bench/knn.ts.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/bench/knn.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/bench/knn.js is missing: run `npm install` (or `node build.mjs`) first');
  process.exit(1);
}
await import(entry.href);
