// bn_bwd_reduce.wgsl: per channel c, with xhat = (x - mean[c]) invstd[c]:
//   dbeta[c] = sum dy ;  dgamma[c] = sum dy * xhat   (sums over batch and space)
//   bindings: 0 p | 1 x, 2 dy, 3 mean, 4 invstd (read) | 5 dgamma, 6 dbeta (read_write)   writes (=)
//   dispatch: (c, 1, 1) workgroups of RWG invocations; siblings: bn_bwd_data.wgsl uses these sums
// RWG: workgroup size, a power of two the launcher picks from the values per channel (small maps: fewer idle lanes).
override RWG: u32 = 256;
// #include "common/wg_reduce.wgsl"
struct Params { n: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = p.n * p.hw;
  let mu = mean[min(c, p.c - 1u)];
  let is = invstd[min(c, p.c - 1u)];
  var sdy = 0.0;
  var sdx = 0.0;
  for (var j = lid; j < m; j = j + RWG) {
    let idx = ((j / p.hw) * p.c + c) * p.hw + j % p.hw;
    let g = dy[idx];
    sdy = sdy + g;
    sdx = sdx + g * (x[idx] - mu) * is;
  }
  let tb = wg_sum(sdy, lid);
  let tg = wg_sum(sdx, lid);
  if (lid == 0u && c < p.c) {
    dbeta[c] = tb;
    dgamma[c] = tg;
  }
}
