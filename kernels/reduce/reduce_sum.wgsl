// reduce_sum.wgsl: y[o, i] = scale * sum_r x[o, r, i]   (x viewed as [outer, red, inner])
//   one workgroup per output element; its RWG invocations stride over r and tree-reduce (NaN propagates)
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(outer * inner) workgroups
//   siblings: broadcast_axes.wgsl (its backward)
// #include "common/flat_index.wgsl"
const RWG: u32 = 64u;
// #include "common/wg_reduce.wgsl"
struct Params { outer: u32, red: u32, inner: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let out = flat_wg(wid, nwg);
  let valid = out < p.outer * p.inner;
  let o = out / max(p.inner, 1u);
  let i = out % max(p.inner, 1u);
  var acc = 0.0;
  if (valid) {
    let base = o * p.red * p.inner + i;
    for (var r = lid; r < p.red; r = r + RWG) { acc = acc + x[base + r * p.inner]; }
  }
  let total = wg_sum(acc, lid);
  if (valid && lid == 0u) { y[out] = total * p.scale; }
}
