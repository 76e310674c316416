// ema_update.wgsl: y[i] = m * y[i] + (1 - m) * x[i], in place (MoCo's momentum key encoder, m = 0.999).
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   updates in place
//   dispatch: grid1d(ceil(n / WG)), one element per invocation
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32, m: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n) { y[i] = p.m * y[i] + (1.0 - p.m) * x[i]; }
}
