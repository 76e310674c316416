#!/usr/bin/env node
// node bench/codegen.mjs [--only gemm|fwd|bwd_data|bwd_weight] [--json] [--keep DIR]: see bench/codegen.ts.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/bench/codegen.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/bench/codegen.js is missing: run `npm install` (or `node build.mjs`) first');
  process.exit(1);
}
await import(entry.href);
