// gemm_wgtile: C[b] = op(A[b]) * op(B[b]) (+ bias[n] broadcast over rows), float32, row-major, any shape.
//
// GEMM view and batch: as gemm_tiled.wgsl (same Params, bindings and dispatch rule, with 64 x 64 tiles).
// Tile: a workgroup of 16 x 16 invocations computes a 64 x 64 block of C; each invocation a 4 x 4 register tile
//   with rows m = m0 + i*16 + ly and columns n = n0 + j*16 + lx (i, j < 4). K is walked in slabs of 16: the
//   workgroup first copies the 64 x 16 slab of op(A) and the 16 x 64 slab of op(B) into workgroup memory (each
//   invocation 4 + 4 elements, in the order the operand is stored so that neighbouring invocations read
//   neighbouring addresses; out-of-range elements are 0), then every invocation reads its operands from there:
//   each global element is loaded once per workgroup instead of 16 times. The layout of real GPUs (many
//   resident workgroups, shared memory next to the ALUs); no subgroup operations, so correct for any subgroup
//   size. Workgroup memory: 2 x 16 x 64 floats = 8 KiB (the WebGPU default limit is 16 KiB).
// Bindings: 0 p: Params (uniform), 1 A (read), 2 B (read), 3 bias (read; dummy when use_bias == 0), 4 C (read_write).
// Dispatch: x = ceil(N / 64), y = ygrid, z = batch * zfold, where ygrid * zfold >= ceil(M / 64), all <= 65535.
//   Row tile = wid.y + (wid.z % zfold) * ygrid.
// Output: C = result (+ bias when use_bias): writes (=).
// Siblings: gemm_tiled.wgsl (no workgroup memory), gemm_sg_v4.wgsl / gemm_sg.wgsl (subgroup sharing; faster on lavapipe).
override TRANS_A: bool = false;
override TRANS_B: bool = false;

const TILE: u32 = 64u;
const SLAB: u32 = 16u;

// #include "common/gemm_params.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

// Both slabs k-major: As[k * 64 + m], Bs[k * 64 + n].
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let b = wid.z / p.zfold;
  let m0 = (wid.y + (wid.z % p.zfold) * p.ygrid) * TILE;
  if (b >= p.batch || m0 >= p.M) { return; }
  let n0 = wid.x * TILE;
  let t = l.y * 16u + l.x;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += SLAB) {
    for (var r = 0u; r < 4u; r++) {
      let e = t + r * 256u;
      // op(A) slab element (mi, ki): stored M x K walks k fastest, stored K x M (TRANS_A) walks m fastest.
      var mi = e / SLAB;
      var ki = e % SLAB;
      if (TRANS_A) { mi = e % TILE; ki = e / TILE; }
      let m = m0 + mi;
      let k = k0 + ki;
      var av = 0.0;
      if (m < p.M && k < p.K) {
        if (TRANS_A) { av = A[b * p.sA + k * p.lda + m]; } else { av = A[b * p.sA + m * p.lda + k]; }
      }
      As[ki * TILE + mi] = av;
      // op(B) slab element (ki, ni): stored K x N walks n fastest, stored N x K (TRANS_B) walks k fastest.
      var ni = e % TILE;
      var kj = e / TILE;
      if (TRANS_B) { ni = e / SLAB; kj = e % SLAB; }
      let n = n0 + ni;
      let kb = k0 + kj;
      var bv = 0.0;
      if (n < p.N && kb < p.K) {
        if (TRANS_B) { bv = B[b * p.sB + n * p.ldb + kb]; } else { bv = B[b * p.sB + kb * p.ldb + n]; }
      }
      Bs[kj * TILE + ni] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < SLAB; kk++) {
      let row = kk * TILE;
      let bv = vec4f(Bs[row + l.x], Bs[row + 16u + l.x], Bs[row + 32u + l.x], Bs[row + 48u + l.x]);
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4f(As[row + i * 16u + l.y]), bv, acc[i]); }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i * 16u + l.y;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + j * 16u + l.x;
        if (n < p.N) {
          var v = acc[i][j];
          if (p.use_bias != 0u) { v += bias[n]; }
          C[b * p.sC + m * p.ldc + n] = v;
        }
      }
    }
  }
}
