// gap_bwd.wgsl: dx[b, c, s] = dy[b, c] / hw
//   bindings: 0 p | 1 dy (read) | 2 dx (read_write)   writes (=)
//   dispatch: grid1d(ceil(nc * hw / WG)); sibling: gap_fwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { nc: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.nc * p.hw) { return; }
  dx[i] = dy[i / p.hw] / f32(p.hw);
}
