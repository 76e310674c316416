// bn_apply.wgsl: y[b, c, s] = (x[b, c, s] - mean[c]) * invstd[c] * gamma[c] + beta[c], then ReLU when relu != 0
//   (train and eval share it: the statistics come from bn_stats or bn_eval_stats)
//   bindings: 0 p | 1 x, 2 mean, 3 invstd, 4 gamma, 5 beta (read) | 6 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(n * c * hw / WG)), one element per invocation
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { total: u32, c: u32, hw: u32, relu: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> invstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.total) { return; }
  let c = (i / p.hw) % p.c;
  var v = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
  if (p.relu != 0u) { v = select(v, 0.0, v < 0.0); }
  y[i] = v;
}
