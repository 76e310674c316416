// k-NN evaluation throughput: synthetic features, the default tiles, k = 1 and 20.
//   node bench/knn.mjs [--train 60000] [--test 10000] [--dim 128]
import { initGpu, destroyGpu } from '../src/gpu/device.js';
import { Tensor } from '../src/autograd/tensor.js';
import { knnClassify } from '../src/eval/knn.js';
import { envRecord, appendJsonl } from './lib/harness.js';

const args = process.argv.slice(2);
const num = (f: string, d: number) => { const i = args.indexOf(`--${f}`); return i >= 0 ? Number(args[i + 1]) : d; };
const ntr = num('train', 60000), nte = num('test', 10000), d = num('dim', 128), classes = 10;
await initGpu();
const env = envRecord();
const tr = Tensor.fromArray(new Float32Array(ntr * d).map((_, i) => Math.sin(i * 0.37)), [ntr, d]);
const te = Tensor.fromArray(new Float32Array(nte * d).map((_, i) => Math.cos(i * 0.11)), [nte, d]);
const trl = Int32Array.from({ length: ntr }, (_, i) => i % classes), tel = Int32Array.from({ length: nte }, (_, i) => i % classes);
const t0 = performance.now();
await knnClassify(tr, trl, te, tel, { numClasses: classes, ks: [1, 20] });
const seconds = (performance.now() - t0) / 1000;
console.log(`k-NN ${ntr} train x ${nte} test x ${d} dims, k = 1 and 20: ${seconds.toFixed(1)} s (${((2 * ntr * nte * d) / seconds / 1e9).toFixed(1)} GFLOP/s of similarities)`);
appendJsonl('knn.jsonl', [{ ...env, bench: 'knn', train: ntr, test: nte, dim: d, seconds }]);
tr.dispose(); te.dispose();
destroyGpu();
