// gap_fwd.wgsl: global average pooling y[b, c] = mean_s x[b, c, s] over hw positions
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(nc / WG)), one (b, c) plane per invocation; sibling: gap_bwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 64;
struct Params { nc: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.nc) { return; }
  var s = 0.0;
  let base = i * p.hw;
  for (var j = 0u; j < p.hw; j++) { s = s + x[base + j]; }
  y[i] = s / f32(p.hw);
}
