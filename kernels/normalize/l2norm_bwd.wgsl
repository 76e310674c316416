// l2norm_bwd.wgsl: gradient of y = x / max(||x||, eps) per row:
//   ||x|| > eps: dx = (dy - y <y, dy>) / ||x||     else: dx = dy / eps (the clamp is constant there)
//   bindings: 0 p | 1 y, 2 nrm, 3 dy (read) | 4 dx (read_write)   writes (=)
//   dispatch: grid1d(rows) workgroups of RWG invocations; sibling: l2norm_fwd.wgsl
// #include "common/flat_index.wgsl"
const RWG: u32 = 64u;
// #include "common/wg_reduce.wgsl"
struct Params { rows: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> nrm: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_wg(wid, nwg);
  let valid = r < p.rows;
  let base = r * p.d;
  var s = 0.0;
  if (valid) { for (var j = lid; j < p.d; j = j + RWG) { s = s + y[base + j] * dy[base + j]; } }
  let dot = wg_sum(s, lid);
  if (!valid) { return; }
  let n = nrm[r];
  if (n > p.eps) {
    for (var j = lid; j < p.d; j = j + RWG) { dx[base + j] = (dy[base + j] - y[base + j] * dot) / n; }
  } else {
    for (var j = lid; j < p.d; j = j + RWG) { dx[base + j] = dy[base + j] / p.eps; }
  }
}
