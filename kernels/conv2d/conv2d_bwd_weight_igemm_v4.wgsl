// conv2d_bwd_weight_igemm_v4: dw[k,c,r,s] = sum_{n,oh,ow} dy[n,k,oh,ow] * x[n,c,oh*SH-ph+r,ow-pw+s], groups 1,
//   stride 1 along rows, input and output rows multiples of 4 wide.
//
// GEMM view: dW (K x C*KH*KW) = dY (K x N*Ho*Wo) * im2col(x)^T (N*Ho*Wo x C*KH*KW); reduction over N*Ho*Wo.
// Layouts: x NCHW [N,C,H,W] and dy NCHW [N,K,Ho,Wo] read as vec4 (W % 4 == 0 and Wo % 4 == 0: rows start on a
//   vec4), dw [K,C,KH,KW] (or [nsplit,K,C,KH,KW] partials); float32.
// Tile: as conv2d_bwd_weight_igemm.wgsl (16 output channels k x WG (c, r) pairs; per strip of 4 output columns
//   the 16 channels' dy values are read in 16/SG lane groups and shared with subgroupBroadcast), except that each
//   dy strip is one vec4 and the 3+KW input columns of a strip are taken from the (at most) three aligned vec4 of
//   row ih around it: 5 loads per strip instead of 14 single floats. Why: lavapipe loads a storage value one
//   lane at a time behind a bounds check, and a vec4 costs about what a float costs (node bench/codegen.mjs).
// Split-K over images as conv2d_bwd_weight_igemm.wgsl (z = split; nsplit = 1 writes dw directly).
// Requirements: feature `subgroups`; SG (4 or 8) <= the adapter's smallest subgroup (correct for any subgroup
//   size >= 4); WG a multiple of SG; groups == 1; sw == 1; W % 4 == 0; Wo % 4 == 0; pw <= 4; KW - pw <= 5; KW <= 8;
//   the overrides KH, KW, SH, PW equal Params kh, kw, sh, pw. Other cases: conv2d_bwd_weight_igemm.wgsl,
//   conv2d_bwd_weight_direct.wgsl.
// Bindings: 0 p: Params (uniform), 1 x (read, vec4), 2 dy (read, vec4), 3 dw (read_write).
// Dispatch: x = ceil(C*KH / WG), y = ceil(K / 16) (<= 65535), z = nsplit.
// Output: dw (or slice z) = result: writes (=).
// Siblings: conv2d_bwd_weight_igemm.wgsl (any width and stride), conv2d_bwd_weight_direct.wgsl,
//   conv2d_bwd_weight_reduce.wgsl.
// lavapipe overrides: WG = 8 (KH, KW, SH, PW from the layer; SG from the adapter), nsplit = 1.
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
  ph: u32, pw: u32, nsplit: u32, nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
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
  let NX = 3u + KW;                        // input columns a strip touches: ow0-PW .. ow0-PW+NX-1
  let needL = PW > 0u;                     // compile-time: which of the vec4 at ow0-4, ow0, ow0+4 the window uses
  let needR = 4u - PW + NX > 8u;
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
      let rs = (xb + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W) / 4u;   // vec4 index of row ih's start
      for (var ow0 = 0u; ow0 < p.Wo; ow0 += 4u) {
        // x window from the vec4 around output columns ow0..ow0+3 (zero outside the row: W % 4 == 0, so a vec4
        // is wholly inside or outside; output columns may run past the input row when pw is large)
        let rq = rs + ow0 / 4u;
        let okL = ow0 >= 4u && ow0 - 4u < p.W;
        let okM = ow0 < p.W;
        let okR = ow0 + 4u < p.W;
        var win: array<f32, 12>;
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
        var xs: array<vec4f, 8>;
        for (var s = 0u; s < KW; s++) { xs[s] = vec4f(xv[s], xv[1u + s], xv[2u + s], xv[3u + s]); }
        for (var g = 0u; g < NG; g++) {
          let dv = dy[(dyb + dyrow[g] + oh * p.Wo + ow0) / 4u];   // Wo % 4 == 0: no strip tail
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
