// weight_phase.wgsl: the taps of one stride phase of a convolution weight:
//   wp[k, c, t, u] = w[k, c, r0 + sh t, s0 + sw u]   for t < khp, u < kwp   (w is [K, C, kh, kw])
//   The strided input gradient splits into sh x sw stride-1 ones, one per phase, each with these taps.
//   bindings: 0 p | 1 w (read) | 2 wp (read_write)   writes (=)
//   dispatch: grid1d(ceil(kc * khp * kwp / WG)), one output element per invocation
//   siblings: phase_scatter.wgsl, conv2d_bwd_data_igemm.wgsl (together: the phase-decomposed strided input gradient)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { kc: u32, kh: u32, kw: u32, sh: u32, sw: u32, r0: u32, s0: u32, khp: u32, kwp: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wp: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  if (idx >= p.kc * p.khp * p.kwp) { return; }
  let u = idx % p.kwp;
  let t = (idx / p.kwp) % p.khp;
  let kc = idx / (p.kwp * p.khp);
  wp[idx] = w[(kc * p.kh + p.r0 + p.sh * t) * p.kw + p.s0 + p.sw * u];
}
