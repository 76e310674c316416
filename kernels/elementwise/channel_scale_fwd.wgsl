// channel_scale_fwd.wgsl: y[nc, s] = x[nc, s] * g[nc]   (x viewed as [n*c, hw], g as [n*c]; the
//   squeeze-and-excitation gate. The backward's dx = dy * g[nc] is this same kernel applied to dy)
//   bindings: 0 p | 1 x, 2 g (read) | 3 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(total / WG)), one element per invocation; sibling: channel_scale_bwd.wgsl (dg)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { total: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.total) { y[i] = x[i] * g[i / p.hw]; }
}
