// relu6_fwd_v4.wgsl: y = min(max(x, 0), 6) on vec4s (n % 4 == 0; NaN propagates through the selects)
//   bindings: 0 p | 1 x (read, vec4) | 2 y (read_write, vec4)   writes (=)
//   dispatch: grid1d(ceil(n / 4 / WG)); siblings: relu6_fwd.wgsl (any n), relu6_bwd_v4.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n4: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n4) {
    let v = x[i];
    y[i] = select(select(v, vec4f(0.0), v < vec4f(0.0)), vec4f(6.0), v > vec4f(6.0));
  }
}
