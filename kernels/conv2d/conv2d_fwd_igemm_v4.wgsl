// conv2d_fwd_igemm_v4: y[n,k,oh,ow] = sum_{c,r,s} w[k,c,r,s] * x[n,c,oh*SH-ph+r,ow-pw+s] (+ bias[k]), groups = 1,
//   stride 1 along rows, input rows a multiple of 4 wide.
//
// GEMM view (implicit, per image n): Y[n] (K x Ho*Wo) = W (K x C*KH*KW) * im2col(x[n]) (C*KH*KW x Ho*Wo).
// Layouts: x NCHW [N,C,H,W] read as vec4 (W % 4 == 0, so every row starts on a vec4), w [K,C,KH,KW],
//   bias [K], y NCHW [N,K,Ho,Wo]; float32.
// Tile: as conv2d_fwd_igemm.wgsl (16 output channels x WG strips of 4 consecutive output pixels of one row; the 16
//   channels' weights read in 16/SG lane groups and shared with subgroupBroadcast), except the input window: the
//   3+KW columns a strip touches in row ih lie in the three aligned vec4 of that row around its 4 output
//   columns, so an invocation reads at most 3 vec4 (only those the window needs, decided at compile time from PW
//   and KW) instead of 3+KW single floats. Why: lavapipe loads a storage value one lane at a time behind a bounds
//   check, and one vec4 costs about what one float costs (node bench/codegen.mjs counts the loop's loads).
// Requirements: feature `subgroups`; SG (4 or 8) <= the adapter's smallest subgroup (correct for any subgroup
//   size >= 4); WG a multiple of SG; groups == 1; sw == 1; W % 4 == 0; pw <= 4; KW - pw <= 5 (the window stays
//   within the three vec4); the overrides KH, KW, SH, PW equal the Params kh, kw, sh, pw. Other cases:
//   conv2d_fwd_igemm.wgsl, conv2d_fwd_direct.wgsl.
// Bindings: 0 p: Params (uniform), 1 x (read, vec4), 2 w (read), 3 bias (read; dummy when use_bias == 0),
//   4 y (read_write).
// Dispatch: as conv2d_fwd_igemm.wgsl: x = ceil(nper * Ho * ceil(Wo/4) / WG), y = ygrid, z = ceil(N / nper) * zfold.
// Output: y = result (+ bias when use_bias): writes (=).
// Siblings: conv2d_fwd_igemm.wgsl (any width and stride), conv2d_fwd_direct.wgsl.
// lavapipe overrides: WG = 8 (KH, KW, SH, PW from the layer; SG from the adapter).
enable subgroups;
// #include "common/sg_share.wgsl"

override WG: u32 = 8;
override SG: u32 = 8;
override KH: u32 = 3;
override KW: u32 = 3;
override SH: u32 = 1;
override PW: u32 = 1;

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  K: u32, Ho: u32, Wo: u32, groups: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, use_bias: u32, ygrid: u32,
  zfold: u32, nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
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
  let NX = 3u + KW;                        // input columns touched by the strip: ow0-PW .. ow0-PW+NX-1
  // The window lies in the vec4 at columns ow0-4 (needed when PW > 0), ow0, and ow0+4 (needed when it reaches
  // past ow0+3); a vec4 outside the row is zero (W % 4 == 0: a vec4 is wholly inside or outside).
  let needL = PW > 0u;
  let needR = 4u - PW + NX > 8u;
  let okL = ow0 >= 4u && ow0 - 4u < p.W;   // (output columns may run past the input row when pw is large)
  let okM = ow0 < p.W;
  let okR = ow0 + 4u < p.W;
  let q0 = ow0 / 4u;
  let CKK = p.C * KH * KW;
  var wrow: array<u32, 4>;
  for (var g = 0u; g < NG; g++) { wrow[g] = min(k0 + SG * g + lane, p.K - 1u) * CKK; }

  var acc: array<vec4f, 16>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var c = 0u; c < p.C; c++) {
    for (var r = 0u; r < KH; r++) {
      let ih = i32(oh * SH + r) - i32(p.ph);
      let rowok = ih >= 0 && ih < i32(p.H);
      let rs = (xbase + c * HW + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W) / 4u;   // vec4 index of the row's start
      let rq = rs + q0;                        // ... and of column ow0 (used only where inside the row)
      var win: array<f32, 12>;                // columns ow0-4 .. ow0+7
      var v = vec4f(0.0);
      if (needL) { v = select(vec4f(0.0), x[select(rs, rq - 1u, okL)], rowok && okL); }
      win[0] = v.x; win[1] = v.y; win[2] = v.z; win[3] = v.w;
      v = select(vec4f(0.0), x[select(rs, rq, okM)], rowok && okM);
      win[4] = v.x; win[5] = v.y; win[6] = v.z; win[7] = v.w;
      v = vec4f(0.0);
      if (needR) { v = select(vec4f(0.0), x[select(rs, rq + 1u, okR)], rowok && okR); }
      win[8] = v.x; win[9] = v.y; win[10] = v.z; win[11] = v.w;
      var xv: array<f32, 16>;
      for (var j = 0u; j < NX; j++) { xv[j] = win[4u - PW + j]; }
      var xs: array<vec4f, 8>;              // xs[s][t] = input for pixel t, tap s
      for (var s = 0u; s < KW; s++) { xs[s] = vec4f(xv[s], xv[1u + s], xv[2u + s], xv[3u + s]); }
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
