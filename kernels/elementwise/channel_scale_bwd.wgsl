// channel_scale_bwd.wgsl: dg[nc] = sum_s dy[nc, s] * x[nc, s]   (the gate's gradient; x, dy viewed as [n*c, hw])
//   one workgroup per (n, c): its RWG invocations stride over s (any hw) and tree-reduce (NaN propagates)
//   bindings: 0 p | 1 x, 2 dy (read) | 3 dg (read_write)   writes (=)
//   dispatch: grid1d(nc) workgroups of RWG invocations
//   siblings: channel_scale_fwd.wgsl (the forward, and dx = channel_scale_fwd(dy, g))
// #include "common/flat_index.wgsl"
const RWG: u32 = 64u;
// #include "common/wg_reduce.wgsl"
struct Params { nc: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dg: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = flat_wg(wid, nwg);
  let valid = j < p.nc;
  var acc = 0.0;
  if (valid) {
    let base = j * p.hw;
    for (var s = lid; s < p.hw; s = s + RWG) { acc = acc + dy[base + s] * x[base + s]; }
  }
  // Every invocation of the workgroup reaches the barriers inside wg_sum (uniform control flow).
  let total = wg_sum(acc, lid);
  if (valid && lid == 0u) { dg[j] = total; }
}
