// conv2d_bwd_data_igemm_v4: dx[n,c,ih,iw] = sum_{k,r,s} dy[n,k,ih+ph-r,iw+pw-s] * w[k,c,r,s], stride 1, groups 1,
//   output-gradient rows a multiple of 4 wide.
//
// GEMM view (implicit, per image n): dX[n] (C x H*W) = W^T (C x K*KH*KW) * col(dy[n]) (K*KH*KW x H*W), i.e. the
//   forward convolution of dy (padded by KH-1-ph, KW-1-pw) with the flipped, transposed filter.
// Layouts: dy NCHW [N,K,Ho,Wo] read as vec4 (Wo % 4 == 0: rows start on a vec4), w [K,C,KH,KW], dx NCHW
//   [N,C,H,W]; float32.
// Tile: as conv2d_bwd_data_igemm.wgsl (16 input channels x WG strips of 4 input pixels of one row; the 16
//   channels' weights read in 16/SG lane groups and shared with subgroupBroadcast), except the dy window: its
//   KW+3 columns ow = iw0+pw-(KW-1) .. lie in the (at most) three aligned vec4 of row oh around columns
//   iw0..iw0+3, so an invocation reads at most 3 vec4 (those the window needs, fixed at compile time by KW and
//   PW) instead of KW+3 floats. Why: lavapipe loads a storage value one lane at a time behind a bounds check,
//   and a vec4 costs about what a float costs (node bench/codegen.mjs counts the loop's loads).
// Requirements: feature `subgroups`; SG (4 or 8) <= the adapter's smallest subgroup (correct for any subgroup
//   size >= 4); WG a multiple of SG; groups == 1; stride 1 (sh = sw = 1); Wo % 4 == 0; pw <= KW - 1;
//   KW - 1 - pw <= 4; pw <= 4; the overrides KH, KW, PW equal Params kh, kw, pw; KW <= 8. Other cases:
//   conv2d_bwd_data_igemm.wgsl, conv2d_bwd_data_direct.wgsl.
// Bindings: 0 p: Params (uniform), 1 dy (read, vec4), 2 w (read), 3 dx (read_write).
// Dispatch: as conv2d_bwd_data_igemm.wgsl: x = ceil(nper * H * ceil(W/4) / WG), y = ygrid, z = ceil(N / nper) * zfold.
// Output: dx = result: writes (=).
// Siblings: conv2d_bwd_data_igemm.wgsl (any width), conv2d_bwd_data_direct.wgsl.
// lavapipe overrides: WG = 8 (KH, KW, PW from the layer; SG from the adapter).
enable subgroups;
// #include "common/sg_share.wgsl"
override SG: u32 = 8;

override WG: u32 = 8;
override KH: u32 = 3;
override KW: u32 = 3;
override PW: u32 = 1;

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  K: u32, Ho: u32, Wo: u32, groups: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, ygrid: u32, zfold: u32,
  nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const TM: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  let c0 = (wid.y + (wid.z % p.zfold) * p.ygrid) * TM;
  if (c0 >= p.C) { return; }                 // uniform over the workgroup
  let lane = sl % SG;
  let NG = TM / SG;
  let spr = (p.W + 3u) / 4u;
  let spi = p.H * spr;                       // strips per image
  // x walks the strips of nper images (small maps fill the SIMD lanes across the batch).
  let q = wid.x * WG + lid;
  let n_raw = (wid.z / p.zfold) * p.nper + q / spi;
  let strip_ok = q < p.nper * spi && n_raw < p.N;
  let n = min(n_raw, p.N - 1u);
  let ih = (q % spi) / spr;
  let iw0 = (q % spr) * 4u;
  let HWo = p.Ho * p.Wo;
  let dybase = n * p.K * HWo;
  // dy column for window slot j: ow = iw0 - QP + j, QP = KW-1-pw, j in [0, KW+3): the vec4 at columns iw0-4
  // (needed when QP > 0), iw0 and iw0+4 (needed when the window reaches past iw0+3) hold it; a vec4 outside the
  // row is zero (Wo % 4 == 0: wholly inside or outside; input columns may run past the dy row).
  let NJ = KW + 3u;
  let SL = 4u + PW + 1u - KW;               // window slot 0 in win[] (= 4 - QP)
  let needL = SL < 4u;
  let needR = SL + NJ > 8u;
  let okL = iw0 >= 4u && iw0 - 4u < p.Wo;
  let okM = iw0 < p.Wo;
  let okR = iw0 + 4u < p.Wo;
  let KK = KH * KW;
  var wcol: array<u32, 4>;
  for (var g = 0u; g < NG; g++) { wcol[g] = min(c0 + SG * g + lane, p.C - 1u) * KK; }

  var acc: array<vec4f, 16>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var k = 0u; k < p.K; k++) {
    for (var r = 0u; r < KH; r++) {
      let oh = i32(ih + p.ph) - i32(r);
      let rowok = oh >= 0 && oh < i32(p.Ho);
      let rs = (dybase + k * HWo + u32(clamp(oh, 0, i32(p.Ho) - 1)) * p.Wo) / 4u;   // vec4 index of row oh
      let rq = rs + iw0 / 4u;
      var win: array<f32, 12>;                // dy columns iw0-4 .. iw0+7
      var v = vec4f(0.0);
      if (needL) { v = select(vec4f(0.0), dy[select(rs, rq - 1u, okL)], rowok && okL); }
      win[0] = v.x; win[1] = v.y; win[2] = v.z; win[3] = v.w;
      v = select(vec4f(0.0), dy[select(rs, rq, okM)], rowok && okM);
      win[4] = v.x; win[5] = v.y; win[6] = v.z; win[7] = v.w;
      v = vec4f(0.0);
      if (needR) { v = select(vec4f(0.0), dy[select(rs, rq + 1u, okR)], rowok && okR); }
      win[8] = v.x; win[9] = v.y; win[10] = v.z; win[11] = v.w;
      var dv: array<f32, 12>;
      for (var j = 0u; j < NJ; j++) { dv[j] = win[SL + j]; }
      // pixel t, tap s reads slot t + KW-1 - s
      var ds: array<vec4f, 8>;
      for (var s = 0u; s < KW; s++) {
        let j = KW - 1u - s;
        ds[s] = vec4f(dv[j], dv[j + 1u], dv[j + 2u], dv[j + 3u]);
      }
      let wo = k * p.C * KK + r * KW;
      for (var g = 0u; g < NG; g++) {
        var wb: array<array<f32, 8>, 8>;    // wb[s][i] = w[k, c0 + SG g + i, r, s]
        for (var s = 0u; s < KW; s++) { wb[s] = sg_share_f32(w[wo + wcol[g] + s]); }
        for (var i = 0u; i < SG; i++) {
          var t = wb[0][i] * ds[0];
          for (var s = 1u; s < KW; s++) { t = fma(vec4f(wb[s][i]), ds[s], t); }
          acc[SG * g + i] += t;
        }
      }
    }
  }

  if (!strip_ok) { return; }
  let HW = p.H * p.W;
  for (var i = 0u; i < TM; i++) {
    let c = c0 + i;
    if (c < p.C) {
      let base = (n * p.C + c) * HW + ih * p.W + iw0;
      for (var t = 0u; t < 4u; t++) {
        if (iw0 + t < p.W) {
          dx[base + t] = acc[i][t];
        }
      }
    }
  }
}
