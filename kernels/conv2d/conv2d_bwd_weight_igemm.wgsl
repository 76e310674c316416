// conv2d_bwd_weight_igemm: dw[k,c,r,s] = sum_{n,oh,ow} dy[n,k,oh,ow] * x[n,c,oh*SH-ph+r,ow*SW-pw+s], groups 1.
//
// GEMM view: dW (K x C*KH*KW) = dY (K x N*Ho*Wo) * im2col(x)^T (N*Ho*Wo x C*KH*KW); reduction over N*Ho*Wo.
// Layouts: x NCHW [N,C,H,W], dy NCHW [N,K,Ho,Wo], dw [K,C,KH,KW] (or [nsplit,K,C,KH,KW] partials); float32.
// Tile: one workgroup = 16 output channels k x WG (c, r) pairs; each invocation owns 16 k x the KW taps of one
//   (c, r) (scalar accumulators). The reduction walks images n of this split, output rows oh and strips of 4
//   output columns: per strip an invocation loads the 4*SW+KW-1 input values of row ih its taps touch; the 16
//   channels k are read in 16/SG groups of SG: lane j of a group loads the 4 dy values of k0+SG g+j and the group
//   shares them with subgroupBroadcast (common/sg_share.wgsl).
// Split-K over images: z = split index; split z reduces images [z*nper, min(N, (z+1)*nper)) and writes slice z of
//   the output (offset z*K*C*KH*KW). nsplit = 1 writes dw directly (best on lavapipe); nsplit > 1 needs a buffer of
//   nsplit slices followed by conv2d_bwd_weight_reduce.wgsl.
// Requirements: feature `subgroups`; SG (4 or 8) <= the adapter's smallest subgroup (correct for any subgroup
//   size >= 4); WG a multiple of SG; groups == 1; the overrides KH, KW, SH, SW equal Params kh, kw, sh, sw;
//   KW <= 8 and 4*SW+KW-1 <= 16. Other cases: conv2d_bwd_weight_direct.wgsl.
// Bindings: 0 p: Params (uniform), 1 x (read), 2 dy (read), 3 dw (read_write).
// Dispatch: x = ceil(C*KH / WG), y = ceil(K / 16) (<= 65535), z = nsplit.
// Output: dw (or slice z) = result: writes (=).
// Siblings: conv2d_bwd_weight_direct.wgsl (any stride / groups / depthwise), conv2d_bwd_weight_reduce.wgsl,
//   gemm_sg*.wgsl for 1x1 stride-1 convs (sum_n dY[n] * X[n]^T: TRANS_B with K = HW, accumulate over n or batch).
// lavapipe overrides: WG = 8 (KH, KW, SH, SW from the layer; SG from the adapter), nsplit = 1.
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
  ph: u32, pw: u32, nsplit: u32, nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

const TM: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  let k0 = wid.y * TM;
  let z = wid.z;
  if (k0 >= p.K || z >= p.nsplit) { return; }   // uniform over the workgroup
  let lane = sl % SG;
  let NG = TM / SG;
  let q = wid.x * WG + lid;                      // (c, r) pair
  let q_ok = q < p.C * KH;
  let qc = min(q, p.C * KH - 1u);
  let c = qc / KH;
  let r = qc % KH;
  let HW = p.H * p.W;
  let HWo = p.Ho * p.Wo;
  let n_begin = z * p.nper;
  let n_end = min(p.N, n_begin + p.nper);
  let NX = 4u * SW + KW - 1u;
  var dyrow: array<u32, 4>;
  for (var g = 0u; g < NG; g++) { dyrow[g] = min(k0 + SG * g + lane, p.K - 1u) * HWo; }

  var acc: array<array<f32, 8>, 16>;
  for (var i = 0u; i < TM; i++) { for (var s = 0u; s < KW; s++) { acc[i][s] = 0.0; } }

  for (var n = n_begin; n < n_end; n++) {
    let xb = (n * p.C + c) * HW;
    let dyb = n * p.K * HWo;
    for (var oh = 0u; oh < p.Ho; oh++) {
      let ih = i32(oh * SH + r) - i32(p.ph);
      let rowok = ih >= 0 && ih < i32(p.H);
      let roff = xb + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
      for (var ow0 = 0u; ow0 < p.Wo; ow0 += 4u) {
        // x window: column iw = ow0*SW - pw + j
        let iwb = i32(ow0 * SW) - i32(p.pw);
        var xv: array<f32, 16>;
        for (var j = 0u; j < NX; j++) {
          let iw = iwb + i32(j);
          let ok = rowok && iw >= 0 && iw < i32(p.W);
          xv[j] = select(0.0, x[roff + u32(clamp(iw, 0, i32(p.W) - 1))], ok);
        }
        // output column t valid?  (strip tail)
        var xs: array<vec4f, 8>;
        for (var s = 0u; s < KW; s++) { xs[s] = vec4f(xv[s], xv[SW + s], xv[2u * SW + s], xv[3u * SW + s]); }
        var tok: vec4<bool>;
        var toff: vec4u;
        for (var t = 0u; t < 4u; t++) { tok[t] = ow0 + t < p.Wo; toff[t] = min(ow0 + t, p.Wo - 1u); }
        for (var g = 0u; g < NG; g++) {
          let o = dyb + dyrow[g] + oh * p.Wo;
          var dv: vec4f;
          for (var t = 0u; t < 4u; t++) { dv[t] = select(0.0, dy[o + toff[t]], tok[t]); }
          let l = sg_share_v4(dv);
          for (var i = 0u; i < SG; i++) {
            for (var s = 0u; s < KW; s++) { acc[SG * g + i][s] += dot(l[i], xs[s]); }
          }
        }
      }
    }
  }

  if (!q_ok) { return; }
  let CKK = p.C * KH * KW;
  let obase = z * p.K * CKK;
  for (var i = 0u; i < TM; i++) {
    let k = k0 + i;
    if (k < p.K) {
      for (var s = 0u; s < KW; s++) {
        let oi = obase + k * CKK + (c * KH + r) * KW + s;
        dw[oi] = acc[i][s];
      }
    }
  }
}
