// ce_fwd.wgsl: per row r of logits[rows, classes] with integer label t = labels[r]:
//   lse[r] = log sum_j exp(logits[r, j]) (max-shifted) ;  loss[r] = lse[r] - logits[r, t]
//   a label outside [0, classes) gives NaN (the host checks labels it uploads; this keeps device-made ones honest)
//   bindings: 0 p | 1 logits, 2 labels (read) | 3 loss, 4 lse (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows / WG)), one row per invocation; sibling: ce_bwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 64;
struct Params { rows: u32, classes: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_wg(wid, nwg) * WG + lid;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  var m = logits[base];
  var nan = m != m;
  for (var j = 1u; j < p.classes; j++) { let v = logits[base + j]; nan = nan || v != v; m = max(m, v); }
  var s = 0.0;
  for (var j = 0u; j < p.classes; j++) { s = s + exp(logits[base + j] - m); }
  var l = m + log(s);
  let t = labels[r];
  var nan_bits = 0x7fc00000u;  // a var: constant-folding a NaN is a compile error
  let qnan = bitcast<f32>(nan_bits);
  if (nan) { l = qnan; }
  lse[r] = l;
  if (t < 0 || u32(t) >= p.classes) { loss[r] = qnan; } else { loss[r] = l - logits[base + u32(t)]; }
}
