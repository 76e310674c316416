// relu_bwd.wgsl: dx = dy where y > 0 else 0 (y is the forward output)
//   tile: one vec4 (4 consecutive elements) per invocation, n4 = ceil(n / 4); the last vec4 may run past n into
//   the buffer's padding (pool buffers and bindings are whole multiples of 16 bytes), which nobody reads.
//   bindings: 0 p | 1 y, 2 dy (read) | 3 dx (read_write)   writes (=)
//   dispatch: grid1d(ceil(n4 / WG)); sibling: relu_fwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n4: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4f>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i < p.n4) { dx[i] = select(vec4f(0.0), dy[i], y[i] > vec4f(0.0)); }
}
