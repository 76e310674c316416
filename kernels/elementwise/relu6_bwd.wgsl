// relu6_bwd.wgsl: dx[i] = dy[i] if 0 < y[i] < 6 else 0   (y is the forward output; y = x strictly inside,
//   y is 0 or 6 exactly when x <= 0 or x >= 6, so the gradient is 0 at both kinks, as PyTorch's hardtanh)
//   bindings: 0 p | 1 y, 2 dy (read) | 3 dx (read_write)   writes (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation; sibling: relu6_fwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n) {
    let v = y[i];
    dx[i] = select(0.0, dy[i], v > 0.0 && v < 6.0);
  }
}
