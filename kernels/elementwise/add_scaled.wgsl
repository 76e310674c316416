// add_scaled.wgsl: z = alpha a + beta b + gamma elementwise (a, b, z of one size; b may be the same tensor as a)
//   tile: one vec4 (4 consecutive elements) per invocation, n4 = ceil(n / 4); the last vec4 may run past n into
//   the buffer's padding (pool buffers and bindings are whole multiples of 16 bytes), which nobody reads.
//   bindings: 0 p | 1 a, 2 b (read) | 3 z (read_write)   writes (=)
//   dispatch: grid1d(ceil(n4 / WG))
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n4: u32, alpha: f32, beta: f32, gamma: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> z: array<vec4f>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n4) { z[i] = p.alpha * a[i] + p.beta * b[i] + vec4f(p.gamma); }
}
