// gemm_sg_v4: C[b] = op(A[b]) * op(B[b]) (+ bias[n] broadcast over rows), float32, row-major.
//
// GEMM view: C is M x N (leading dim ldc); op(A) is M x K: A stored M x K (lda) or, with TRANS_A, K x M (lda);
//   op(B) is K x N: B stored K x N (ldb) or, with TRANS_B, N x K (ldb). Batch b = workgroup z (folded, see below);
//   element offsets b*sA, b*sB, b*sC (a stride of 0 broadcasts that operand over the batch).
// Tile: one workgroup = 16 rows x (4*WG) columns; each invocation owns 16 rows x 4 consecutive columns
//   (16 vec4 accumulators). K is walked in chunks of 4: the 16 rows are read in 16/SG groups of SG rows; in each,
//   lane r (= subgroup_invocation_id % SG) loads one vec4 of A and the SG lanes share them with subgroupBroadcast
//   from lanes 0..SG-1, so A costs one load per value per lane group instead of one per invocation. B: 4 vec4
//   loads per chunk.
// Requirements (the variant table in src/ops/gemm.ts declares them): feature `subgroups`; SG (4 or 8) no larger
//   than the smallest subgroup the adapter may use (every subgroup holds lanes 0..SG-1), which makes the kernel
//   correct for any subgroup size >= 4; WG a multiple of SG; K % 4 == 0; N % 4 == 0; TRANS_A => M % 4 == 0;
//   lda, ldb, ldc, sA, sB, sC all % 4 == 0.
// Bindings: 0 p: Params (uniform), 1 A (read), 2 B (read), 3 bias (read; length >= N when use_bias, else any
//   dummy buffer of >= 16 bytes), 4 C (read_write).
// Dispatch: x = ceil(N / (4*WG)), y = ygrid, z = batch * zfold, where ygrid * zfold >= ceil(M / 16) and every
//   dimension <= 65535 (normally ygrid = ceil(M/16), zfold = 1). Row tile = wid.y + (wid.z % zfold) * ygrid.
// Output: C = result (+ bias when use_bias): writes (=).
// Siblings: gemm_sg.wgsl (any shape/alignment, scalar loads), gemm_tiled.wgsl (no subgroups needed).
// lavapipe overrides: WG = 8, SG = 8 (SwiftShader: SG = 4).
enable subgroups;
// #include "common/sg_share.wgsl"

override WG: u32 = 8;
override SG: u32 = 8;
override TRANS_A: bool = false;
override TRANS_B: bool = false;

// #include "common/gemm_params.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
@group(0) @binding(2) var<storage, read> B: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> C: array<vec4f>;

const TM: u32 = 16u;   // rows per workgroup (16/SG lane groups of SG rows)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  let b = wid.z / p.zfold;
  let m0 = (wid.y + (wid.z % p.zfold) * p.ygrid) * TM;
  if (b >= p.batch || m0 >= p.M) { return; }  // uniform over the workgroup
  let r = sl % SG;
  let NG = TM / SG;
  let n = wid.x * (4u * WG) + lid * 4u;        // first of this invocation's 4 columns
  let nc = min(n, p.N - 4u);                   // clamped for loads (N % 4 == 0, N >= 4)
  let baseA = b * p.sA;
  let baseB = b * p.sB;

  // per-group row offsets for A loads (16/SG groups of SG rows)
  var aoff: array<u32, 4>;
  for (var g = 0u; g < NG; g++) {
    if (TRANS_A) {
      // lane r loads A[k0 + (r & 3), m .. m+3] with m = m0 + SG g + 4 (r >> 2)
      let m = min(m0 + SG * g + 4u * (r >> 2u), p.M - 4u);
      aoff[g] = baseA + (r & 3u) * p.lda + m;
    } else {
      let m = min(m0 + SG * g + r, p.M - 1u);
      aoff[g] = baseA + m * p.lda;
    }
  }
  var boff: array<u32, 4>;
  for (var c = 0u; c < 4u; c++) {
    if (TRANS_B) { boff[c] = baseB + min(nc + c, p.N - 1u) * p.ldb; } else { boff[c] = baseB + c * p.ldb + nc; }
  }

  var acc: array<vec4f, 16>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var k = 0u; k < p.K; k += 4u) {
    // B chunk: bv[u] = op(B)[k+u, n .. n+3]
    var bv: array<vec4f, 4>;
    if (TRANS_B) {
      var t: array<vec4f, 4>;
      for (var c = 0u; c < 4u; c++) { t[c] = B[(boff[c] + k) / 4u]; }
      bv[0] = vec4f(t[0].x, t[1].x, t[2].x, t[3].x);
      bv[1] = vec4f(t[0].y, t[1].y, t[2].y, t[3].y);
      bv[2] = vec4f(t[0].z, t[1].z, t[2].z, t[3].z);
      bv[3] = vec4f(t[0].w, t[1].w, t[2].w, t[3].w);
    } else {
      for (var u = 0u; u < 4u; u++) { bv[u] = B[(boff[u] + k * p.ldb) / 4u]; }
    }
    for (var g = 0u; g < NG; g++) {
      var av: vec4f;
      if (TRANS_A) { av = A[(aoff[g] + k * p.lda) / 4u]; } else { av = A[(aoff[g] + k) / 4u]; }
      // l[j] = lane j's vector of this group (lanes 4..7 only when SG = 8)
      let l = sg_share_v4(av);   // l[j] = lane j's values
      for (var i = 0u; i < SG; i++) {
        // a = op(A)[m0 + SG g + i, k .. k+3]
        var a: vec4f;
        if (TRANS_A) {
          let q = 4u * (i >> 2u);
          let c = i & 3u;
          a = vec4f(l[q][c], l[q + 1u][c], l[q + 2u][c], l[q + 3u][c]);
        } else {
          a = l[i];
        }
        let ii = SG * g + i;
        acc[ii] += fma(vec4f(a.w), bv[3], fma(vec4f(a.z), bv[2], fma(vec4f(a.y), bv[1], a.x * bv[0])));
      }
    }
  }

  if (n >= p.N) { return; }
  var bb = vec4f(0.0);
  if (p.use_bias != 0u) { bb = bias[n / 4u]; }
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m < p.M) {
      let ci = (b * p.sC + m * p.ldc + n) / 4u;
      C[ci] = acc[i] + bb;
    }
  }
}
