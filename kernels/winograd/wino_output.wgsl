// wino_output.wgsl: Winograd F(2x2, 3x3) output transform Y = A^T m A of every tile's 4x4 products m, written into
//   y[n, k] (+ bias[k] when use_bias): A^T = [[1, 1, 1, 0], [0, 1, -1, -1]].
//   m comes from the 16 GEMMs for the output channels [k0, k0 + kb): M is [16, kb, Tp] (T tiles of images
//   [n0, n0 + nimg) and padding, as in wino_input.wgsl); a tile's 2x2 outputs at rows 2 ty + (0, 1), columns 2 tx + (0, 1) are written where they lie inside Ho x Wo.
//   tile: one (channel of the block, tile) per invocation: 16 loads, up to 4 guarded writes.
//   bindings: 0 p | 1 m (read), 2 bias (read; dummy when use_bias == 0) | 3 y (read_write, [N, K, Ho, Wo])   writes (=)
//   dispatch: grid1d(ceil(kb * T / WG))
// #include "common/flat_index.wgsl"
override WG: u32 = 64;
struct Params { K: u32, Ho: u32, Wo: u32, tiles_h: u32, tiles_w: u32, n0: u32, T: u32, Tp: u32, use_bias: u32, k0: u32, kb: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.kb * p.T) { return; }
  let kk = i / p.T;
  let k = p.k0 + kk;
  let t = i % p.T;
  let plane = p.kb * p.Tp;
  var a: array<f32, 16>;
  for (var e = 0u; e < 16u; e++) { a[e] = m[e * plane + kk * p.Tp + t]; }
  // r = A^T a (2x4), then Y = r A (2x2).
  var r: array<f32, 8>;
  for (var s = 0u; s < 4u; s++) {
    r[s] = a[s] + a[4u + s] + a[8u + s];
    r[4u + s] = a[4u + s] - a[8u + s] - a[12u + s];
  }
  var bb = 0.0;
  if (p.use_bias != 0u) { bb = bias[k]; }
  let per = p.tiles_h * p.tiles_w;
  let n = p.n0 + t / per;
  let oy = 2u * ((t % per) / p.tiles_w);
  let ox = 2u * (t % p.tiles_w);
  let base = (n * p.K + k) * p.Ho * p.Wo;
  for (var dy = 0u; dy < 2u; dy++) {
    let row = r[4u * dy];
    let y1 = r[4u * dy + 1u];
    let y2 = r[4u * dy + 2u];
    let y3 = r[4u * dy + 3u];
    let v0 = row + y1 + y2;
    let v1 = y1 - y2 - y3;
    if (oy + dy < p.Ho) {
      if (ox < p.Wo) { y[base + (oy + dy) * p.Wo + ox] = v0 + bb; }
      if (ox + 1u < p.Wo) { y[base + (oy + dy) * p.Wo + ox + 1u] = v1 + bb; }
    }
  }
}
