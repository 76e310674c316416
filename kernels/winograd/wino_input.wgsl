// wino_input.wgsl: Winograd F(2x2, 3x3) input transform V = B^T d B of every 4x4 input patch d (stride 2, the
//   patches of 2x2 output tiles), zero outside the image:
//   B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
//   Patch (n, c, ty, tx) starts at row 2 ty - pad, column 2 tx - pad of x[n, c]; tile t = (n - n0) * tiles_h *
//   tiles_w + ty * tiles_w + tx counts tiles of the images [n0, n0 + nimg) of this chunk; V is [16, C, T] with
//   T = nimg * tiles_h * tiles_w (the GEMM's B operand, one [C, Tp] matrix per e = 4 xi + nu; columns T..Tp-1
//   are zero padding that keeps Tp a multiple of 4 for the vec4 GEMM).
//   tile: one (c, tile) patch per invocation: 16 guarded loads, 16 writes.
//   bindings: 0 p | 1 x (read, [N, C, H, W]) | 2 v (read_write)   writes (=)
//   dispatch: grid1d(ceil(C * Tp / WG))
// #include "common/flat_index.wgsl"
override WG: u32 = 64;
struct Params { C: u32, H: u32, W: u32, pad: u32, tiles_h: u32, tiles_w: u32, n0: u32, T: u32, Tp: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.C * p.Tp) { return; }
  let c = i / p.Tp;
  let t = i % p.Tp;
  let live = t < p.T;
  let per = p.tiles_h * p.tiles_w;
  let n = p.n0 + min(t, p.T - 1u) / per;
  let ty = (t % per) / p.tiles_w;
  let tx = t % p.tiles_w;
  let y0 = i32(2u * ty) - i32(p.pad);
  let x0 = i32(2u * tx) - i32(p.pad);
  let base = (n * p.C + c) * p.H * p.W;
  var d: array<f32, 16>;
  for (var r = 0u; r < 4u; r++) {
    let yy = y0 + i32(r);
    for (var s = 0u; s < 4u; s++) {
      let xx = x0 + i32(s);
      let ok = live && yy >= 0 && yy < i32(p.H) && xx >= 0 && xx < i32(p.W);
      let idx = base + u32(clamp(yy, 0, i32(p.H) - 1)) * p.W + u32(clamp(xx, 0, i32(p.W) - 1));
      d[4u * r + s] = select(0.0, x[idx], ok);
    }
  }
  // q = B^T d (rows), then V = q B (columns).
  var q: array<f32, 16>;
  for (var s = 0u; s < 4u; s++) {
    q[s] = d[s] - d[8u + s];
    q[4u + s] = d[4u + s] + d[8u + s];
    q[8u + s] = d[8u + s] - d[4u + s];
    q[12u + s] = d[4u + s] - d[12u + s];
  }
  let plane = p.C * p.Tp;
  let o = c * p.Tp + t;
  for (var r = 0u; r < 4u; r++) {
    let a = q[4u * r];
    let b = q[4u * r + 1u];
    let e = q[4u * r + 2u];
    let f = q[4u * r + 3u];
    v[(4u * r + 0u) * plane + o] = a - e;
    v[(4u * r + 1u) * plane + o] = b + e;
    v[(4u * r + 2u) * plane + o] = e - b;
    v[(4u * r + 3u) * plane + o] = b - f;
  }
}
