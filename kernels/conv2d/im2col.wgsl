// im2col.wgsl: col[n*Ho*Wo + oh*Wo + ow, (c*KH + r)*KW + s] = x[n, c, oh*sh - ph + r, ow*sw - pw + s] (0 in the padding)
//   The GEMM view of a convolution with the batch folded into rows; with it the weight gradient of a small-map
//   convolution is one GEMM: dW [K, C*KH*KW] = dY as [K, N*Ho*Wo] (nchw_to_cn.wgsl) times col.
//   bindings: 0 p | 1 x (read) | 2 col (read_write)   writes (=)
//   dispatch: grid1d(ceil(N*Ho*Wo*C*KH*KW / WG)), one col element per invocation
//   siblings: conv2d_bwd_weight_igemm.wgsl (the direct implicit-GEMM weight gradient, used for larger maps)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32, c: u32, h: u32, w: u32, ho: u32, wo: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> col: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  let ckk = p.c * p.kh * p.kw;
  if (idx >= p.n * p.ho * p.wo * ckk) { return; }
  let j = idx % ckk;
  let row = idx / ckk;
  let s = j % p.kw;
  let r = (j / p.kw) % p.kh;
  let c = j / (p.kw * p.kh);
  let ow = row % p.wo;
  let oh = (row / p.wo) % p.ho;
  let n = row / (p.wo * p.ho);
  let ih = i32(oh * p.sh + r) - i32(p.ph);
  let iw = i32(ow * p.sw + s) - i32(p.pw);
  var v = 0.0;
  if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) { v = x[((n * p.c + c) * p.h + u32(ih)) * p.w + u32(iw)]; }
  col[idx] = v;
}
