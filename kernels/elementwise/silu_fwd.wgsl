// silu_fwd.wgsl: y[i] = x[i] * sigmoid(x[i])   (swish; sigmoid from e = exp(-|x|) <= 1, so nothing overflows;
//   NaN propagates through x and through the sigmoid)
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation; sibling: silu_bwd.wgsl
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
    y[i] = v * select(e * r, r, v >= 0.0);
  }
}
