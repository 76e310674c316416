// l2norm_fwd.wgsl: per row r of x[rows, d]: nrm[r] = ||x_r||, y_r = x_r / max(nrm[r], eps)  (torch F.normalize)
//   bindings: 0 p | 1 x (read) | 2 y, 3 nrm (read_write)   writes (=)
//   dispatch: grid1d(rows) workgroups of RWG invocations, one row each; sibling: l2norm_bwd.wgsl
// #include "common/flat_index.wgsl"
const RWG: u32 = 64u;
// #include "common/wg_reduce.wgsl"
struct Params { rows: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> nrm: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_wg(wid, nwg);
  let valid = r < p.rows;
  let base = r * p.d;
  var s = 0.0;
  if (valid) { for (var j = lid; j < p.d; j = j + RWG) { let v = x[base + j]; s = s + v * v; } }
  let n = sqrt(wg_sum(s, lid));
  if (!valid) { return; }
  let inv = 1.0 / max(n, p.eps);
  for (var j = lid; j < p.d; j = j + RWG) { y[base + j] = x[base + j] * inv; }
  if (lid == 0u) { nrm[r] = n; }
}
