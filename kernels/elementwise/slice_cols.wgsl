// slice_cols.wgsl: out[r, j] = x[r, c0 + j] for j < w (a block of columns; concat_cols' backward).
//   bindings: 0 p | 1 x (read) | 2 out (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows * w / WG)), one output element per invocation; sibling: concat_cols.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { rows: u32, cols: u32, c0: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.rows * p.w) { return; }
  let r = i / p.w;
  out[i] = x[r * p.cols + p.c0 + i % p.w];
}
