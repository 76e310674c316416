// conv2d_bwd_weight_direct: dw[k,c,r,s] = sum_{n,oh,ow} dy[n,k,oh,ow] * x[n,g*C/G+c,oh*sh-ph+r,ow*sw-pw+s],
//   g = k / (K/G); any groups G (incl. depthwise), kernel size, stride, padding. Dilation 1.
//
// GEMM view: dW_g (K/G x C/G*kh*kw) = dY_g (K/G x N*Ho*Wo) * im2col(x_g)^T; reduction over N*Ho*Wo, done directly.
// Layouts: x NCHW [N,C,H,W], dy NCHW [N,K,Ho,Wo], dw [K,C/G,kh,kw] (or [nsplit,K,C/G,kh,kw] partials); float32.
// Tile: each invocation computes one dw element (flat index over K*C/G*kh*kw, tap fastest), reducing over the
//   images of its split, all output rows and 4 output columns at a time. No subgroups, no workgroup memory.
// Split-K over images: z = split index; split z reduces images [z*nper, min(N, (z+1)*nper)) into slice z
//   (offset z*len, len = K*C/G*kh*kw). nsplit = 1 writes dw directly; nsplit > 1 needs nsplit slices followed by
//   conv2d_bwd_weight_reduce.wgsl.
// Bindings: 0 p: Params (uniform), 1 x (read), 2 dy (read), 3 dw (read_write).
// Dispatch: x = min(ceil(len / WG), 65535) = wgx (Params), y = ceil(ceil(len / WG) / wgx), z = nsplit.
//   Element index = (wid.x + wid.y * wgx) * WG + lid.
// Output: dw (or slice z) = result: writes (=).
// Siblings: conv2d_bwd_weight_igemm.wgsl (groups = 1, faster), conv2d_bwd_weight_reduce.wgsl.
// lavapipe overrides: WG = 8; nsplit so that len/WG * nsplit >= ~64 workgroups.
override WG: u32 = 8;

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  K: u32, Ho: u32, Wo: u32, groups: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, nsplit: u32, nper: u32,
  wgx: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let Cg = p.C / p.groups;
  let Kg = p.K / p.groups;
  let KK = p.kh * p.kw;
  let len = p.K * Cg * KK;
  let e = (wid.x + wid.y * p.wgx) * WG + lid;
  let z = wid.z;
  if (e >= len || z >= p.nsplit) { return; }
  let k = e / (Cg * KK);
  let rem = e - k * Cg * KK;
  let c = rem / KK;
  let rs = rem - c * KK;
  let r = rs / p.kw;
  let s = rs - r * p.kw;
  let g = k / Kg;
  let HW = p.H * p.W;
  let HWo = p.Ho * p.Wo;
  let n_begin = z * p.nper;
  let n_end = min(p.N, n_begin + p.nper);
  var acc = vec4f(0.0);
  for (var n = n_begin; n < n_end; n++) {
    let xb = (n * p.C + g * Cg + c) * HW;
    let dyb = (n * p.K + k) * HWo;
    for (var oh = 0u; oh < p.Ho; oh++) {
      let ih = i32(oh * p.sh + r) - i32(p.ph);
      if (ih < 0 || ih >= i32(p.H)) { continue; }
      let roff = xb + u32(ih) * p.W;
      for (var ow0 = 0u; ow0 < p.Wo; ow0 += 4u) {
        var xv = vec4f(0.0);
        var dv = vec4f(0.0);
        for (var t = 0u; t < 4u; t++) {
          let ow = ow0 + t;
          let iw = i32(ow * p.sw + s) - i32(p.pw);
          let ok = ow < p.Wo && iw >= 0 && iw < i32(p.W);
          xv[t] = select(0.0, x[roff + u32(clamp(iw, 0, i32(p.W) - 1))], ok);
          dv[t] = select(0.0, dy[dyb + oh * p.Wo + min(ow, p.Wo - 1u)], ok);
        }
        acc = fma(xv, dv, acc);
      }
    }
  }
  let oi = z * len + e;
  dw[oi] = acc.x + acc.y + acc.z + acc.w;
}
