// sigmoid_fwd.wgsl: y[i] = 1 / (1 + exp(-x[i]))   computed without overflow from e = exp(-|x|) <= 1:
//   x >= 0: 1 / (1 + e);  x < 0: e / (1 + e)   (NaN propagates: |NaN| and exp(NaN) stay NaN in both branches)
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation; sibling: sigmoid_bwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n) {
    let v = x[i];
    let e = exp(-abs(v));
    let r = 1.0 / (1.0 + e);
    y[i] = select(e * r, r, v >= 0.0);
  }
}
