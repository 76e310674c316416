// bn_bwd_data.wgsl: input gradient of batchnorm, M = n*hw, xhat = (x - mean) invstd:
//   train (batch statistics): dx = gamma invstd (dy - dbeta/M - xhat dgamma/M)
//   eval  (running statistics, constants): dx = gamma invstd dy
//   bindings: 0 p | 1 x, 2 dy, 3 mean, 4 invstd, 5 gamma, 6 dgamma, 7 dbeta (read) | 8 dx (read_write)   writes (=)
//   dispatch: grid1d(ceil(n * c * hw / WG)); siblings: bn_bwd_reduce.wgsl provides dgamma, dbeta
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { total: u32, c: u32, hw: u32, m: u32, train: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read> dbeta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.total) { return; }
  let c = (i / p.hw) % p.c;
  let k = gamma[c] * invstd[c];
  if (p.train != 0u) {
    let inv_m = 1.0 / f32(p.m);
    let xhat = (x[i] - mean[c]) * invstd[c];
    dx[i] = k * (dy[i] - dbeta[c] * inv_m - xhat * dgamma[c] * inv_m);
  } else {
    dx[i] = k * dy[i];
  }
}
