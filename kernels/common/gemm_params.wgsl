// The uniform of every gemm.* variant: one struct, so the one launcher (src/ops/gemm.ts) packs it once for all.
// C[b] (M x N) = op(A[b]) (M x K) * op(B[b]) (K x N) (+ bias): leading dimensions lda/ldb/ldc, batch strides
// sA/sB/sC; use_bias != 0 adds bias[n]; the M tiles are folded into grid y and z (ygrid tiles per z, zfold z per
// batch entry) so no grid dimension exceeds 65535.
struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  lda: u32, ldb: u32, ldc: u32, use_bias: u32,
  sA: u32, sB: u32, sC: u32, ygrid: u32,
  zfold: u32,
}
