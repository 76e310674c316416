// gemm_sg: C[b] = op(A[b]) * op(B[b]) (+ bias[n] broadcast over rows), float32, row-major, any shape.
//
// GEMM view: C is M x N (leading dim ldc); op(A) is M x K: A stored M x K (lda) or, with TRANS_A, K x M (lda);
//   op(B) is K x N: B stored K x N (ldb) or, with TRANS_B, N x K (ldb). Batch b = workgroup z (folded, see below);
//   element offsets b*sA, b*sB, b*sC (a stride of 0 broadcasts that operand over the batch).
// Tile: one workgroup = 16 rows x (4*WG) columns; each invocation owns 16 rows x 4 columns n = x0 + c*WG + lid
//   (c = 0..3). K is walked in chunks of 4 with the tail zero-masked. The 16 rows are read in 16/SG groups of SG
//   rows: lane r (= subgroup_invocation_id % SG) loads row SG g + r and the SG lanes share the values with
//   subgroupBroadcast from lanes 0..SG-1. Scalar loads only: no alignment requirements (see gemm_sg_v4.wgsl).
// Requirements: feature `subgroups`; SG (4 or 8) no larger than the adapter's smallest subgroup (then correct for
//   any subgroup size >= 4); WG a multiple of SG. Any M, N, K >= 1, any ld/strides.
// Bindings: 0 p: Params (uniform), 1 A (read), 2 B (read), 3 bias (read; length >= N when use_bias, else any
//   dummy buffer), 4 C (read_write).
// Dispatch: x = ceil(N / (4*WG)), y = ygrid, z = batch * zfold, where ygrid * zfold >= ceil(M / 16) and every
//   dimension <= 65535 (normally ygrid = ceil(M/16), zfold = 1). Row tile = wid.y + (wid.z % zfold) * ygrid.
// Output: C = result (+ bias when use_bias): writes (=).
// Siblings: gemm_sg_v4.wgsl (vec4 loads, aligned shapes, faster), gemm_tiled.wgsl (no subgroups needed).
// lavapipe overrides: WG = 8, SG = 8 (SwiftShader: SG = 4).
enable subgroups;
// #include "common/sg_share.wgsl"

override WG: u32 = 8;
override SG: u32 = 8;
override TRANS_A: bool = false;
override TRANS_B: bool = false;

// #include "common/gemm_params.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

const TM: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  let b = wid.z / p.zfold;
  let m0 = (wid.y + (wid.z % p.zfold) * p.ygrid) * TM;
  if (b >= p.batch || m0 >= p.M) { return; }  // uniform over the workgroup
  let r = sl % SG;
  let NG = TM / SG;
  let x0 = wid.x * (4u * WG) + lid;
  let baseA = b * p.sA;
  let baseB = b * p.sB;

  // A element (row m, k) = A[aoff[g] + k * astep]
  var aoff: array<u32, 4>;
  var astep: u32;
  for (var g = 0u; g < NG; g++) {
    let m = min(m0 + SG * g + r, p.M - 1u);
    if (TRANS_A) { aoff[g] = baseA + m; } else { aoff[g] = baseA + m * p.lda; }
  }
  if (TRANS_A) { astep = p.lda; } else { astep = 1u; }
  // B element (k, column c) = B[boff[c] + k * bstep]
  var boff: array<u32, 4>;
  var bstep: u32;
  for (var c = 0u; c < 4u; c++) {
    let n = min(x0 + c * WG, p.N - 1u);
    if (TRANS_B) { boff[c] = baseB + n * p.ldb; } else { boff[c] = baseB + n; }
  }
  if (TRANS_B) { bstep = 1u; } else { bstep = p.ldb; }

  var acc: array<vec4f, 16>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var k = 0u; k < p.K; k += 4u) {
    var kk: array<u32, 4>;
    var ok: array<bool, 4>;
    for (var u = 0u; u < 4u; u++) { ok[u] = k + u < p.K; kk[u] = min(k + u, p.K - 1u); }
    var bv: array<vec4f, 4>;   // bv[u][c] = op(B)[k+u, n_c]
    for (var u = 0u; u < 4u; u++) {
      let ko = kk[u] * bstep;
      let v = vec4f(B[boff[0] + ko], B[boff[1] + ko], B[boff[2] + ko], B[boff[3] + ko]);
      bv[u] = select(vec4f(0.0), v, ok[u]);
    }
    for (var g = 0u; g < NG; g++) {
      var av: vec4f;             // av[u] = op(A)[m0 + SG g + r, k+u]
      for (var u = 0u; u < 4u; u++) { av[u] = select(0.0, A[aoff[g] + kk[u] * astep], ok[u]); }
      let l = sg_share_v4(av);   // l[j] = lane j's values
      for (var i = 0u; i < SG; i++) {
        let a = l[i];
        let ii = SG * g + i;
        acc[ii] += fma(vec4f(a.w), bv[3], fma(vec4f(a.z), bv[2], fma(vec4f(a.y), bv[1], a.x * bv[0])));
      }
    }
  }

  for (var c = 0u; c < 4u; c++) {
    let n = x0 + c * WG;
    if (n < p.N) {
      var bb = 0.0;
      if (p.use_bias != 0u) { bb = bias[n]; }
      for (var i = 0u; i < TM; i++) {
        let m = m0 + i;
        if (m < p.M) {
          let ci = b * p.sC + m * p.ldc + n;
          C[ci] = acc[i][c] + bb;
        }
      }
    }
  }
}
