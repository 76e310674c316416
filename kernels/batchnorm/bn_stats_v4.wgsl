// bn_stats_v4.wgsl: bn_stats.wgsl for hw % 4 == 0, reading x as vec4 (one gather per 4 values on lavapipe):
//   mean[c] = sum x / M, var = sum (x - mean)^2 / M (two passes), invstd[c] = 1/sqrt(var + eps), M = n*hw;
//   when update != 0: run_mean/run_var updated with momentum (unbiased variance), as PyTorch.
//   bindings: 0 p | 1 x (read, vec4) | 2 mean, 3 invstd, 4 run_mean, 5 run_var (read_write)   writes (=), running stats in place
//   dispatch: (c, 1, 1) workgroups of RWG invocations, one per channel; sibling: bn_stats.wgsl (any hw)
// RWG: workgroup size, a power of two the launcher picks from the values per channel (small maps: fewer idle lanes).
override RWG: u32 = 256;
// #include "common/wg_reduce.wgsl"
struct Params { n: u32, c: u32, hw: u32, eps: f32, momentum: f32, update: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> run_var: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let hw4 = p.hw / 4u;
  let m4 = p.n * hw4;
  var s = vec4f(0.0);
  for (var j = lid; j < m4; j = j + RWG) { s = s + x[((j / hw4) * p.c + c) * hw4 + j % hw4]; }
  let m = f32(p.n * p.hw);
  let mu = wg_sum(s.x + s.y + s.z + s.w, lid) / m;
  var q = vec4f(0.0);
  for (var j = lid; j < m4; j = j + RWG) { let d = x[((j / hw4) * p.c + c) * hw4 + j % hw4] - vec4f(mu); q = q + d * d; }
  let v = wg_sum(q.x + q.y + q.z + q.w, lid) / m;
  if (lid == 0u && c < p.c) {
    mean[c] = mu;
    invstd[c] = 1.0 / sqrt(v + p.eps);
    if (p.update != 0u) {
      let mm = p.n * p.hw;
      let unbiased = v * f32(mm) / f32(max(mm, 2u) - 1u);
      run_mean[c] = (1.0 - p.momentum) * run_mean[c] + p.momentum * mu;
      run_var[c] = (1.0 - p.momentum) * run_var[c] + p.momentum * unbiased;
    }
  }
}
