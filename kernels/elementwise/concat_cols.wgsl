// concat_cols.wgsl: out[r, :] = [a[r, 0..ac), b[r, 0..bc)] (row-wise concatenation of two matrices).
//   bindings: 0 p | 1 a, 2 b (read) | 3 out (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows * (ac + bc) / WG)), one output element per invocation; sibling: slice_cols.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { rows: u32, ac: u32, bc: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  let cols = p.ac + p.bc;
  if (i >= p.rows * cols) { return; }
  let r = i / cols;
  let j = i % cols;
  if (j < p.ac) { out[i] = a[r * p.ac + j]; } else { out[i] = b[r * p.bc + (j - p.ac)]; }
}
