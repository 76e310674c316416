// bn_bwd_reduce_v4.wgsl: bn_bwd_reduce.wgsl for hw % 4 == 0: per channel dbeta = sum dy, dgamma = sum dy xhat,
//   xhat = (x - mean) invstd, reading x and dy as vec4
//   bindings: 0 p | 1 x (vec4), 2 dy (vec4), 3 mean, 4 invstd (read) | 5 dgamma, 6 dbeta (read_write)   writes (=)
//   dispatch: (c, 1, 1) workgroups of RWG invocations; sibling: bn_bwd_reduce.wgsl (any hw)
// RWG: workgroup size, a power of two the launcher picks from the values per channel (small maps: fewer idle lanes).
override RWG: u32 = 256;
// #include "common/wg_reduce.wgsl"
struct Params { n: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let cc = min(c, p.c - 1u);
  let mu = vec4f(mean[cc]);
  let is = invstd[cc];
  let hw4 = p.hw / 4u;
  let m4 = p.n * hw4;
  var sdy = vec4f(0.0);
  var sdx = vec4f(0.0);
  for (var j = lid; j < m4; j = j + RWG) {
    let idx = ((j / hw4) * p.c + c) * hw4 + j % hw4;
    let g = dy[idx];
    sdy = sdy + g;
    sdx = sdx + g * (x[idx] - mu);
  }
  let tb = wg_sum(sdy.x + sdy.y + sdy.z + sdy.w, lid);
  let tg = wg_sum(sdx.x + sdx.y + sdx.z + sdx.w, lid) * is;
  if (lid == 0u && c < p.c) {
    dbeta[c] = tb;
    dgamma[c] = tg;
  }
}
