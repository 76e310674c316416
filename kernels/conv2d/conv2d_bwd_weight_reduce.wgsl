// conv2d_bwd_weight_reduce: out[i] = sum_{z < nsplit} part[z*len + i], i < len.
//
// Sums the split-K partial slices written by conv2d_bwd_weight_igemm.wgsl / conv2d_bwd_weight_direct.wgsl when
//   nsplit > 1 (len = K*C/groups*kh*kw). No GEMM view. Each invocation owns 4 consecutive outputs.
// Bindings: 0 p: Params (uniform), 1 part (read, nsplit*len floats), 2 out (read_write, len floats).
// Dispatch: x = min(ceil(len / (4*WG)), 65535), y = ceil(ceil(len / (4*WG)) / x), z = 1; the workgroup index is
//   wid.x + wid.y * wgx with wgx = the dispatched x.
// Output: out = sum: writes (=).
// Siblings: conv2d_bwd_weight_igemm.wgsl, conv2d_bwd_weight_direct.wgsl.
// lavapipe overrides: WG = 64.
override WG: u32 = 64;

struct Params {
  len: u32, nsplit: u32, wgx: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i0 = ((wid.x + wid.y * p.wgx) * WG + lid) * 4u;
  for (var t = 0u; t < 4u; t++) {
    let i = i0 + t;
    if (i < p.len) {
      var s = 0.0;
      for (var z = 0u; z < p.nsplit; z++) { s += part[z * p.len + i]; }
      out[i] = s;
    }
  }
}
