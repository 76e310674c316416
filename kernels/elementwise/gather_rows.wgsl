// gather_rows.wgsl: out[r, j] = x[idx[r], j] for r < rows, j < cols (rows of a matrix picked by an index list:
//   MoCo's key batch in its shuffled order and back, on the device instead of one copy per sample)
//   tile: one element per invocation; idx values must lie in [0, rows of x) (the launcher checks the list)
//   bindings: 0 p | 1 x (read), 2 idx (read, i32) | 3 out (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows * cols / WG))
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  out[i] = x[u32(idx[r]) * p.cols + i % p.cols];
}
