// ce_bwd.wgsl: dlogits[r, j] = dloss[r] * (exp(logits[r, j] - lse[r]) - [j == labels[r]])
//   bindings: 0 p | 1 logits, 2 labels, 3 lse, 4 dloss (read) | 5 dlogits (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows * classes / WG)), one logit per invocation; sibling: ce_fwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { rows: u32, classes: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.rows * p.classes) { return; }
  let r = i / p.classes;
  let j = i % p.classes;
  let onehot = select(0.0, 1.0, labels[r] == i32(j));
  dlogits[i] = dloss[r] * (exp(logits[i] - lse[r]) - onehot);
}
