// silu_bwd.wgsl: dx[i] = dy[i] * s * (1 + x[i] * (1 - s)),  s = sigmoid(x[i])   (x is the saved forward input)
//   bindings: 0 p | 1 x, 2 dy (read) | 3 dx (read_write)   writes (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation; sibling: silu_fwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n) {
    let v = x[i];
    let e = exp(-abs(v));
    let r = 1.0 / (1.0 + e);
    let s = select(e * r, r, v >= 0.0);
    dx[i] = dy[i] * s * (1.0 + v * (1.0 - s));
  }
}
