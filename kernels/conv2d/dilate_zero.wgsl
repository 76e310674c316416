// dilate_zero.wgsl: zero-insertion upsampling for strided input gradients, into an hd x wd output:
//   yd[p, j, i] = dy[p, j / sh, i / sw] when j % sh == 0, i % sw == 0, j / sh < ho and i / sw < wo, else 0.
//   With hd = (ho-1) sh + 1 the stride-s input gradient becomes the stride-1 one (conv2d_bwd_data_igemm) over yd;
//   with hd x wd = H x W it scatters the GEMM result of a strided 1x1 convolution's input gradient into dx.
//   bindings: 0 p | 1 dy (read) | 2 yd (read_write)   writes (=)
//   dispatch: grid1d(ceil(planes * hd * wd / WG)), one output element per invocation
//   siblings: conv2d_bwd_data_igemm.wgsl (its consumer), conv2d_bwd_data_direct.wgsl (the general fallback)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { planes: u32, ho: u32, wo: u32, hd: u32, wd: u32, sh: u32, sw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> yd: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  if (idx >= p.planes * p.hd * p.wd) { return; }
  let i = idx % p.wd;
  let j = (idx / p.wd) % p.hd;
  let plane = idx / (p.wd * p.hd);
  var v = 0.0;
  if (j % p.sh == 0u && i % p.sw == 0u && j / p.sh < p.ho && i / p.sw < p.wo) { v = dy[(plane * p.ho + j / p.sh) * p.wo + i / p.sw]; }
  yd[idx] = v;
}
