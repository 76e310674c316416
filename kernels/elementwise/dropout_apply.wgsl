// dropout_apply.wgsl: y[i] = x[i] * keep(seed, i) * scale,  keep = (u >= prob), u = (h >> 8) / 2^24 in [0, 1),
//   h = mix(mix(i ^ mix(seed ^ 0x9e3779b9)) + seed), a counter-based hash (mix: Wellons' lowbias32): the mask is
//   a pure function of (seed, element index) and is never stored. Forward: on x with prob = p, scale = 1/(1-p)
//   (0 when p = 1). Backward: the same launch on dy with the same seed, prob and scale (dx = dy * mask * scale).
//   Debug: on ones with scale 1 reads the mask. NaN propagates (a dropped NaN stays NaN: x * 0).
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32, seed: u32, prob: f32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
fn mix32(v: u32) -> u32 {
  var h = v;
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n) {
    let h = mix32(mix32(i ^ mix32(p.seed ^ 0x9e3779b9u)) + p.seed);
    let u = f32(h >> 8u) * (1.0 / 16777216.0);
    y[i] = x[i] * select(0.0, p.scale, u >= p.prob);
  }
}
