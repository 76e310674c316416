// weight_pad4.wgsl: a convolution weight with each tap row padded to whole vec4 for the vec4-window kernels:
//   wp[row, u] = u < kw ? w[row, u] : 0   for row < rows (= K * C * kh), u < 4 * ceil(kw / 4)   (w is [K, C, kh, kw])
//   bindings: 0 p | 1 w (read) | 2 wp (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows * 4 * ceil(kw / 4) / WG)), one output element per invocation
//   siblings: conv2d_fwd_igemm_v4.wgsl, conv2d_bwd_data_igemm_v4.wgsl (their weights), weight_phase.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { rows: u32, kw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wp: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  let width = 4u * ((p.kw + 3u) / 4u);
  if (idx >= p.rows * width) { return; }
  let u = idx % width;
  let row = idx / width;
  wp[idx] = select(0.0, w[row * p.kw + min(u, p.kw - 1u)], u < p.kw);
}
