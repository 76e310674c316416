// sigmoid_fwd.wgsl: y = 1 / (1 + exp(-x)) elementwise, computed without overflow from e = exp(-|x|) <= 1:
//   x >= 0: 1 / (1 + e);  x < 0: e / (1 + e)   (NaN propagates: |NaN| and exp(NaN) stay NaN in both branches)
//   tile: one vec4 (4 consecutive elements) per invocation, n4 = ceil(n / 4); the last vec4 may run past n into
//   the buffer's padding (pool buffers and bindings are whole multiples of 16 bytes), which nobody reads.
//   bindings: 0 p | 1 x (read) | 2 y (read_write)   writes (=)
//   dispatch: grid1d(ceil(n4 / WG)); sibling: sigmoid_bwd.wgsl
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
    let e = exp(-abs(v));
    let r = 1.0 / (1.0 + e);
    y[i] = select(e * r, r, v >= vec4f(0.0));
  }
}
