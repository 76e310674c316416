// bn_bwd_data_v4.wgsl: bn_bwd_data.wgsl for hw % 4 == 0, M = n*hw, xhat = (x - mean) invstd:
//   train: dx = gamma invstd (dy - dbeta/M - xhat dgamma/M)    eval: dx = gamma invstd dy
//   bindings: 0 p | 1 x (vec4), 2 dy (vec4), 3 mean, 4 invstd, 5 gamma, 6 dgamma, 7 dbeta (read) | 8 dx (read_write, vec4)   writes (=)
//   dispatch: grid1d(ceil(n * c * hw / 4 / WG)); sibling: bn_bwd_data.wgsl (any hw)
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { total4: u32, c: u32, hw4: u32, m: u32, train: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read> dbeta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<vec4f>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.total4) { return; }
  let c = (i / p.hw4) % p.c;
  let is = invstd[c];
  let k = gamma[c] * is;
  if (p.train != 0u) {
    let inv_m = 1.0 / f32(p.m);
    let xhat = (x[i] - vec4f(mean[c])) * is;
    dx[i] = k * (dy[i] - vec4f(dbeta[c] * inv_m) - xhat * (dgamma[c] * inv_m));
  } else {
    dx[i] = k * dy[i];
  }
}
