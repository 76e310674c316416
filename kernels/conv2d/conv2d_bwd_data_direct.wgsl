// conv2d_bwd_data_direct: dx[n,ci,ih,iw] = sum_{k in group(ci), r, s : oh*sh = ih+ph-r, ow*sw = iw+pw-s}
//   dy[n,k,oh,ow] * w[k, ci - g*C/G, r, s]; any groups G (incl. depthwise), kernel size, stride, padding. Dilation 1.
//
// GEMM view: none (direct loops over the K/G channels of the group and the taps that hit each input pixel).
// Layouts: dy NCHW [N,K,Ho,Wo], w [K,C/G,kh,kw], dx NCHW [N,C,H,W]; float32.
// Tile: each invocation computes 4 consecutive input pixels of one row for one channel ci; a workgroup =
//   WG strips of channel ci, from nper images. No subgroup operations, no workgroup memory. Stride 1 with
//   kw <= 9 takes a division-free path that loads each dy row segment once for all kw taps.
// Bindings: 0 p: Params (uniform), 1 dy (read), 2 w (read), 3 dx (read_write).
// Dispatch: x = ceil(nper * H * ceil(W/4) / WG), y = ygrid, z = ceil(N / nper) * zfold (nper images share x) with ygrid * zfold >= C, all <= 65535
//   (normally ygrid = C, zfold = 1). Channel ci = wid.y + (wid.z % zfold) * ygrid.
// Output: dx = result: writes (=).
// Siblings: conv2d_bwd_data_igemm.wgsl (groups = 1, stride 1, faster).
// lavapipe overrides: WG = 8.
override WG: u32 = 8;

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  K: u32, Ho: u32, Wo: u32, groups: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, ygrid: u32, zfold: u32,
  nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let ci = wid.y + (wid.z % p.zfold) * p.ygrid;
  if (ci >= p.C) { return; }
  let spr = (p.W + 3u) / 4u;
  let spi = p.H * spr;                     // strips per image
  // x walks the strips of nper images (small maps fill the SIMD lanes across the batch).
  let q = wid.x * WG + lid;
  let n = (wid.z / p.zfold) * p.nper + q / spi;
  if (q >= p.nper * spi || n >= p.N) { return; }
  let ih = (q % spi) / spr;
  let iw0 = (q % spr) * 4u;
  let Cg = p.C / p.groups;
  let Kg = p.K / p.groups;
  let g = ci / Cg;
  let c = ci - g * Cg;
  let HWo = p.Ho * p.Wo;
  var acc = vec4f(0.0);
  if (p.sh == 1u && p.sw == 1u && p.kw <= 9u) {
    // Stride 1 (uniform branch): no integer division (scalarised on CPUs); the 4 + kw - 1 dy values a strip needs
    // in row oh are loaded once and shared by every tap s.
    let nj = p.kw + 3u;
    let ow0 = i32(iw0 + p.pw) - i32(p.kw - 1u);
    for (var kk = 0u; kk < Kg; kk++) {
      let k = g * Kg + kk;
      let dyb = (n * p.K + k) * HWo;
      let wb = (k * Cg + c) * p.kh * p.kw;
      for (var r = 0u; r < p.kh; r++) {
        let oh = i32(ih + p.ph) - i32(r);
        if (oh < 0 || oh >= i32(p.Ho)) { continue; }
        let roff = dyb + u32(oh) * p.Wo;
        var dv: array<f32, 12>;
        for (var j = 0u; j < nj; j++) {
          let ow = ow0 + i32(j);
          dv[j] = select(0.0, dy[roff + u32(clamp(ow, 0, i32(p.Wo) - 1))], ow >= 0 && ow < i32(p.Wo));
        }
        for (var s = 0u; s < p.kw; s++) {
          // dx[iw0 + t] takes dy[iw0 + t + pw - s] = dv[t + kw - 1 - s].
          let o = p.kw - 1u - s;
          acc = fma(vec4f(w[wb + r * p.kw + s]), vec4f(dv[o], dv[o + 1u], dv[o + 2u], dv[o + 3u]), acc);
        }
      }
    }
  } else {
    for (var kk = 0u; kk < Kg; kk++) {
      let k = g * Kg + kk;
      let dyb = (n * p.K + k) * HWo;
      let wb = (k * Cg + c) * p.kh * p.kw;
      for (var r = 0u; r < p.kh; r++) {
        let th = i32(ih + p.ph) - i32(r);
        if (th < 0) { continue; }
        let oh = u32(th) / p.sh;
        if (oh * p.sh != u32(th) || oh >= p.Ho) { continue; }
        for (var s = 0u; s < p.kw; s++) {
          let wv = w[wb + r * p.kw + s];
          var dv = vec4f(0.0);
          for (var t = 0u; t < 4u; t++) {
            let tw = i32(iw0 + t + p.pw) - i32(s);
            let ow = u32(max(tw, 0)) / p.sw;
            let ok = tw >= 0 && ow * p.sw == u32(tw) && ow < p.Wo;
            dv[t] = select(0.0, dy[dyb + oh * p.Wo + min(ow, p.Wo - 1u)], ok);
          }
          acc = fma(vec4f(wv), dv, acc);
        }
      }
    }
  }
  let base = ((n * p.C + ci) * p.H + ih) * p.W + iw0;
  for (var t = 0u; t < 4u; t++) {
    if (iw0 + t < p.W) {
      dx[base + t] = acc[t];
    }
  }
}
