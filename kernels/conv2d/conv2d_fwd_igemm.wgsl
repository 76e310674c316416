// conv2d_fwd_igemm: y[n,k,oh,ow] = sum_{c,r,s} w[k,c,r,s] * x[n,c,oh*SH-ph+r,ow*SW-pw+s] (+ bias[k]), groups = 1.
//
// GEMM view (implicit, per image n): Y[n] (K x Ho*Wo) = W (K x C*KH*KW) * im2col(x[n]) (C*KH*KW x Ho*Wo).
// Layouts: x NCHW [N,C,H,W], w [K,C,KH,KW], bias [K], y NCHW [N,K,Ho,Wo]; float32.
// Tile: one workgroup = 16 output channels x WG strips of 4 consecutive output pixels of one output row
//   (each invocation: 16 channels x 4 pixels, vec4 accumulators). Reduction: loop over c, then the KH rows r:
//   an invocation loads the 4*SW+KW-1 input values its strip touches in row ih (reused by all KW taps); the 16
//   channels are read in 16/SG groups of SG: lane j of a group loads w[k0+SG g+j, c, r, 0..KW-1] once and the
//   group shares them with subgroupBroadcast (common/sg_share.wgsl).
// Requirements: feature `subgroups`; SG (4 or 8) <= the adapter's smallest subgroup (correct for any subgroup
//   size >= 4); WG a multiple of SG; groups == 1; the overrides KH, KW, SH, SW equal the Params kh, kw, sh, sw;
//   KW <= 8 and 4*SW + KW - 1 <= 16. Other cases: conv2d_fwd_direct.wgsl.
// Bindings: 0 p: Params (uniform), 1 x (read), 2 w (read), 3 bias (read; dummy when use_bias == 0), 4 y (read_write).
// Dispatch: x = ceil(nper * Ho * ceil(Wo/4) / WG), y = ygrid, z = ceil(N / nper) * zfold, where ygrid * zfold >=
//   ceil(K/16), all <= 65535 (normally ygrid = ceil(K/16), zfold = 1). Channel tile = wid.y + (wid.z % zfold) * ygrid;
//   images (wid.z / zfold) * nper + q / (Ho * ceil(Wo/4)) for strip q of x: nper > 1 packs small maps' strips
//   from several images into one workgroup.
// Output: y = result (+ bias when use_bias): writes (=).
// Siblings: conv2d_fwd_direct.wgsl (any groups / depthwise / kernel size), conv2d_fwd_dw.wgsl (depthwise),
//   gemm_sg*.wgsl for 1x1 stride-1 convolutions (per image W[K,C] * X[C,HW], batch via z).
// lavapipe overrides: WG = 8 (KH, KW, SH, SW from the layer; SG from the adapter).
enable subgroups;
// #include "common/sg_share.wgsl"

override WG: u32 = 8;
override SG: u32 = 8;
override KH: u32 = 3;
override KW: u32 = 3;
override SH: u32 = 1;
override SW: u32 = 1;

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  K: u32, Ho: u32, Wo: u32, groups: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, use_bias: u32, ygrid: u32,
  zfold: u32, nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const TM: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  let k0 = (wid.y + (wid.z % p.zfold) * p.ygrid) * TM;
  if (k0 >= p.K) { return; }                 // uniform over the workgroup
  let lane = sl % SG;
  let NG = TM / SG;
  let spr = (p.Wo + 3u) / 4u;               // strips per output row
  let spi = p.Ho * spr;                      // strips per image
  // x walks the strips of nper images (small feature maps fill the SIMD lanes across the batch).
  let q = wid.x * WG + lid;
  let n_raw = (wid.z / p.zfold) * p.nper + q / spi;
  let strip_ok = q < p.nper * spi && n_raw < p.N;
  let n = min(n_raw, p.N - 1u);
  let oh = (q % spi) / spr;
  let ow0 = (q % spr) * 4u;
  let HW = p.H * p.W;
  let xbase = n * p.C * HW;
  let iw0 = i32(ow0 * SW) - i32(p.pw);
  let NX = 4u * SW + KW - 1u;               // input columns touched by the strip
  // per-column validity and clamped offsets (same for every c and r)
  var colok: array<bool, 16>;
  var coff: array<u32, 16>;
  for (var j = 0u; j < NX; j++) {
    let iw = iw0 + i32(j);
    colok[j] = iw >= 0 && iw < i32(p.W);
    coff[j] = u32(clamp(iw, 0, i32(p.W) - 1));
  }
  let CKK = p.C * KH * KW;
  var wrow: array<u32, 4>;
  for (var g = 0u; g < NG; g++) { wrow[g] = min(k0 + SG * g + lane, p.K - 1u) * CKK; }

  var acc: array<vec4f, 16>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var c = 0u; c < p.C; c++) {
    for (var r = 0u; r < KH; r++) {
      let ih = i32(oh * SH + r) - i32(p.ph);
      let rowok = ih >= 0 && ih < i32(p.H);
      let roff = xbase + c * HW + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
      var xv: array<f32, 16>;
      for (var j = 0u; j < NX; j++) { xv[j] = select(0.0, x[roff + coff[j]], rowok && colok[j]); }
      var xs: array<vec4f, 8>;              // xs[s][t] = input for pixel t, tap s
      for (var s = 0u; s < KW; s++) { xs[s] = vec4f(xv[s], xv[SW + s], xv[2u * SW + s], xv[3u * SW + s]); }
      let wo = (c * KH + r) * KW;
      for (var g = 0u; g < NG; g++) {
        var wb: array<array<f32, 8>, 8>;      // wb[s][i] = w[k0 + SG g + i, c, r, s]
        for (var s = 0u; s < KW; s++) { wb[s] = sg_share_f32(w[wrow[g] + wo + s]); }
        for (var i = 0u; i < SG; i++) {
          var t = wb[0][i] * xs[0];
          for (var s = 1u; s < KW; s++) { t = fma(vec4f(wb[s][i]), xs[s], t); }
          acc[SG * g + i] += t;
        }
      }
    }
  }

  if (!strip_ok) { return; }
  let HWo = p.Ho * p.Wo;
  for (var i = 0u; i < TM; i++) {
    let k = k0 + i;
    if (k < p.K) {
      var bb = 0.0;
      if (p.use_bias != 0u) { bb = bias[k]; }
      let ybase = (n * p.K + k) * HWo + oh * p.Wo + ow0;
      for (var t = 0u; t < 4u; t++) {
        if (ow0 + t < p.Wo) {
          y[ybase + t] = acc[i][t] + bb;
        }
      }
    }
  }
}
