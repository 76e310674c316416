// conv2d_bwd_data_igemm: dx[n,c,ih,iw] = sum_{k,r,s} dy[n,k,ih+ph-r,iw+pw-s] * w[k,c,r,s], stride 1, groups 1.
//
// GEMM view (implicit, per image n): dX[n] (C x H*W) = W^T (C x K*KH*KW) * col(dy[n]) (K*KH*KW x H*W), i.e. the
//   forward convolution of dy (padded by KH-1-ph, KW-1-pw) with the flipped, transposed filter.
// Layouts: dy NCHW [N,K,Ho,Wo], w [K,C,KH,KW], dx NCHW [N,C,H,W]; float32.
// Tile: one workgroup = 16 input channels x WG strips of 4 consecutive input pixels of one row (each invocation:
//   16 channels x 4 pixels, vec4 accumulators). Reduction: loop over k, then the KH rows r: an invocation loads
//   the 4+KW-1 dy values its strip needs in output row ih+ph-r (reused by all KW taps); the 16 channels are read
//   in 16/SG groups of SG: lane j of a group loads w[k, c0+SG g+j, r, 0..KW-1] once and the group shares them with
//   subgroupBroadcast (common/sg_share.wgsl).
// Requirements: feature `subgroups`; SG (4 or 8) <= the adapter's smallest subgroup (correct for any subgroup
//   size >= 4); WG a multiple of SG; groups == 1; stride 1 (sh = sw = 1); the overrides KH, KW equal Params kh, kw;
//   KW <= 8. Other cases: conv2d_bwd_data_direct.wgsl.
// Bindings: 0 p: Params (uniform), 1 dy (read), 2 w (read), 3 dx (read_write).
// Dispatch: x = ceil(nper * H * ceil(W/4) / WG), y = ygrid, z = ceil(N / nper) * zfold, where ygrid * zfold >=
//   ceil(C/16), all <= 65535 (normally ygrid = ceil(C/16), zfold = 1). Channel tile = wid.y + (wid.z % zfold) * ygrid;
//   nper > 1 packs the strips of several images into one workgroup (small maps).
// Output: dx = result: writes (=).
// Siblings: conv2d_bwd_data_direct.wgsl (any stride / groups / depthwise), gemm_sg*.wgsl for 1x1 stride-1 convs
//   (per image W^T * dY: TRANS_A).
// lavapipe overrides: WG = 8 (KH, KW from the layer; SG from the adapter).
enable subgroups;
// #include "common/sg_share.wgsl"
override SG: u32 = 8;

override WG: u32 = 8;
override KH: u32 = 3;
override KW: u32 = 3;

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
  // dy column for window slot j: ow = iw0 + pw - (KW-1) + j, j in [0, 4+KW-1)
  let ow0 = i32(iw0 + p.pw) - i32(KW - 1u);
  let NJ = KW + 3u;
  var colok: array<bool, 12>;
  var coff: array<u32, 12>;
  for (var j = 0u; j < NJ; j++) {
    let ow = ow0 + i32(j);
    colok[j] = ow >= 0 && ow < i32(p.Wo);
    coff[j] = u32(clamp(ow, 0, i32(p.Wo) - 1));
  }
  let KK = KH * KW;
  var wcol: array<u32, 4>;
  for (var g = 0u; g < NG; g++) { wcol[g] = min(c0 + SG * g + lane, p.C - 1u) * KK; }

  var acc: array<vec4f, 16>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var k = 0u; k < p.K; k++) {
    for (var r = 0u; r < KH; r++) {
      let oh = i32(ih + p.ph) - i32(r);
      let rowok = oh >= 0 && oh < i32(p.Ho);
      let roff = dybase + k * HWo + u32(clamp(oh, 0, i32(p.Ho) - 1)) * p.Wo;
      var dv: array<f32, 12>;
      for (var j = 0u; j < NJ; j++) { dv[j] = select(0.0, dy[roff + coff[j]], rowok && colok[j]); }
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
