// add_scaled_v4.wgsl: z = alpha a + beta b[i % nb] + gamma on vec4s (n % 4 == 0 and nb % 4 == 0)
//   bindings: 0 p | 1 a, 2 b (read, vec4) | 3 z (read_write, vec4)   writes (=)
//   dispatch: grid1d(ceil(n / 4 / WG)); sibling: add_scaled.wgsl (any n)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n4: u32, nb4: u32, alpha: f32, beta: f32, gamma: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> z: array<vec4f>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n4) { z[i] = p.alpha * a[i] + p.beta * b[i % p.nb4] + vec4f(p.gamma); }
}
