// bn_apply_v4.wgsl: bn_apply.wgsl for hw % 4 == 0 (each vec4 lies in one channel):
//   y = (x - mean[c]) invstd[c] gamma[c] + beta[c], then ReLU when relu != 0
//   bindings: 0 p | 1 x (vec4), 2 mean, 3 invstd, 4 gamma, 5 beta (read) | 6 y (read_write, vec4)   writes (=)
//   dispatch: grid1d(ceil(n * c * hw / 4 / WG)), one vec4 per invocation; sibling: bn_apply.wgsl (any hw)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { total4: u32, c: u32, hw4: u32, relu: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> invstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<vec4f>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.total4) { return; }
  let c = (i / p.hw4) % p.c;
  let a = invstd[c] * gamma[c];
  var v = (x[i] - vec4f(mean[c])) * a + vec4f(beta[c]);
  if (p.relu != 0u) { v = select(v, vec4f(0.0), v < vec4f(0.0)); }
  y[i] = v;
}
