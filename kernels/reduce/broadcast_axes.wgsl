// broadcast_axes.wgsl: y[o, r, i] = scale * x[o, i]   (backward of reduce_sum over the middle axis)
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(outer * red * inner / WG)), one output element per invocation
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { outer: u32, red: u32, inner: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  let n = p.outer * p.red * p.inner;
  if (idx >= n) { return; }
  let i = idx % p.inner;
  let o = idx / (p.red * p.inner);
  y[idx] = p.scale * x[o * p.inner + i];
}
