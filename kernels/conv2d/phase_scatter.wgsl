// phase_scatter.wgsl: place one stride phase of an input gradient: dx[pl, sh i + a, sw j + b] = src[pl, i, j]
//   for i < hp, j < wp (src is [planes, hp, wp]); phases are disjoint and together cover dx.
//   bindings: 0 p | 1 src (read) | 2 dx (read_write)   writes (=) the phase's positions only
//   dispatch: grid1d(ceil(planes * hp * wp / WG)), one element per invocation
//   siblings: weight_phase.wgsl, conv2d_bwd_data_igemm.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { planes: u32, hp: u32, wp: u32, h: u32, w: u32, sh: u32, sw: u32, a: u32, b: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  if (idx >= p.planes * p.hp * p.wp) { return; }
  let j = idx % p.wp;
  let i = (idx / p.wp) % p.hp;
  let pl = idx / (p.wp * p.hp);
  let y = p.sh * i + p.a;
  let x = p.sw * j + p.b;
  if (y < p.h && x < p.w) { dx[(pl * p.h + y) * p.w + x] = src[idx]; }
}
