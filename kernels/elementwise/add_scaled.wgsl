// add_scaled.wgsl: z[i] = alpha * a[i] + beta * b[i % nb] + gamma  (add, sub, scale, affine; b may broadcast
//   as a repeating block of nb elements, e.g. a bias row; nb = n when b has a's shape)
//   bindings: 0 p | 1 a, 2 b (read) | 3 z (read_write)   writes (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32, nb: u32, alpha: f32, beta: f32, gamma: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n) { z[i] = p.alpha * a[i] + p.beta * b[i % p.nb] + p.gamma; }
}
