// nchw_to_cn.wgsl: y[c, n*hw + q] = x[n, c, q]  (channels first, batch and space folded into columns)
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(n*c*hw / WG)), one element per invocation
//   siblings: im2col.wgsl (together they turn a small-map weight gradient into one GEMM)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  if (idx >= p.n * p.c * p.hw) { return; }
  let q = idx % p.hw;
  let c = (idx / p.hw) % p.c;
  let n = idx / (p.hw * p.c);
  y[(c * p.n + n) * p.hw + q] = x[idx];
}
