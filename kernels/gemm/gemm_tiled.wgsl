// gemm_tiled: C[b] = op(A[b]) * op(B[b]) (+ bias[n] broadcast over rows), float32, row-major, any shape.
//
// GEMM view: C is M x N (ldc); op(A) is M x K: A stored M x K (lda) or, with TRANS_A, K x M (lda); op(B) is K x N:
//   B stored K x N (ldb) or, with TRANS_B, N x K (ldb). Batch b = workgroup z (folded, see below); element offsets
//   b*sA, b*sB, b*sC (stride 0 broadcasts that operand over the batch).
// Tile: workgroup (WGX, WGY) = (4*WGY) rows x (4*WGX) columns; each invocation a 4 x 4 register tile with rows
//   m = m0 + i*WGY + ly and columns n = n0 + j*WGX + lx (i, j < 4). K walked one step at a time; no subgroup
//   operations and no workgroup memory: the portable fallback for adapters without `subgroups`.
// Bindings: 0 p: Params (uniform), 1 A (read), 2 B (read), 3 bias (read; dummy when use_bias == 0), 4 C (read_write).
// Dispatch: x = ceil(N / (4*WGX)), y = ygrid, z = batch * zfold, where ygrid * zfold >= ceil(M / (4*WGY)), all
//   <= 65535 (normally zfold = 1). Row tile = wid.y + (wid.z % zfold) * ygrid.
// Output: C = result (+ bias when use_bias): writes (=).
// Siblings: gemm_sg_v4.wgsl, gemm_sg.wgsl (faster on lavapipe; need subgroups).
// lavapipe overrides: WGX = 8, WGY = 8 (WGX = 8, WGY = 1 is about as fast).
override WGX: u32 = 8;
override WGY: u32 = 8;
override TRANS_A: bool = false;
override TRANS_B: bool = false;

// #include "common/gemm_params.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(WGX, WGY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let b = wid.z / p.zfold;
  let m0 = (wid.y + (wid.z % p.zfold) * p.ygrid) * 4u * WGY;
  if (b >= p.batch || m0 >= p.M) { return; }
  let n0 = wid.x * 4u * WGX;
  var aoff: array<u32, 4>;
  var boff: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    let m = min(m0 + i * WGY + l.y, p.M - 1u);
    if (TRANS_A) { aoff[i] = b * p.sA + m; } else { aoff[i] = b * p.sA + m * p.lda; }
    let n = min(n0 + i * WGX + l.x, p.N - 1u);
    if (TRANS_B) { boff[i] = b * p.sB + n * p.ldb; } else { boff[i] = b * p.sB + n; }
  }
  var astep = 1u;
  if (TRANS_A) { astep = p.lda; }
  var bstep = p.ldb;
  if (TRANS_B) { bstep = 1u; }
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < p.K; k++) {
    let bv = vec4f(B[boff[0] + k * bstep], B[boff[1] + k * bstep], B[boff[2] + k * bstep], B[boff[3] + k * bstep]);
    for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4f(A[aoff[i] + k * astep]), bv, acc[i]); }
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i * WGY + l.y;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + j * WGX + l.x;
        if (n < p.N) {
          let ci = b * p.sC + m * p.ldc + n;
          var v = acc[i][j];
          if (p.use_bias != 0u) { v += bias[n]; }
          C[ci] = v;
        }
      }
    }
  }
}
