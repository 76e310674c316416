// dilate_zero.wgsl: zero-insertion upsampling of dy for the strided input gradient:
//   yd[p, j, i] = dy[p, j / sh, i / sw] when j % sh == 0 and i % sw == 0, else 0, for j < hd = (ho-1) sh + 1, i < wd.
//   With it, dx of a stride-s convolution is the stride-1 input gradient (conv2d_bwd_data_igemm) over yd.
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
  if (j % p.sh == 0u && i % p.sw == 0u) { v = dy[(plane * p.ho + j / p.sh) * p.wo + i / p.sw]; }
  yd[idx] = v;
}
