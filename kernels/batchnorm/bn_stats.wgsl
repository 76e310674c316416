// bn_stats.wgsl: batch statistics per channel c of x[n, c, hw] (M = n*hw values each):
//   mean[c] = sum x / M ;  var = sum (x - mean)^2 / M (two passes, no cancellation)
//   invstd[c] = 1 / sqrt(var + eps);  when update != 0 also the running statistics (PyTorch's rule):
//   run_mean = (1 - momentum) run_mean + momentum mean ; run_var = (1 - momentum) run_var + momentum var * M/(M-1)
//   bindings: 0 p | 1 x (read) | 2 mean, 3 invstd, 4 run_mean, 5 run_var (read_write)   writes (=), running stats updated in place
//   dispatch: (c, 1, 1) workgroups of RWG invocations, one per channel
//   siblings: bn_apply.wgsl (normalise), bn_bwd_reduce.wgsl, bn_bwd_data.wgsl, bn_eval_stats.wgsl
// RWG: workgroup size, a power of two the launcher picks from the values per channel (small maps: fewer idle lanes).
override RWG: u32 = 256;
// #include "common/wg_reduce.wgsl"
struct Params { n: u32, c: u32, hw: u32, eps: f32, momentum: f32, update: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> run_var: array<f32>;
@compute @workgroup_size(RWG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = p.n * p.hw;
  var s = 0.0;
  for (var j = lid; j < m; j = j + RWG) {
    let b = j / p.hw;
    s = s + x[(b * p.c + c) * p.hw + j % p.hw];
  }
  let mu = wg_sum(s, lid) / f32(m);
  var q = 0.0;
  for (var j = lid; j < m; j = j + RWG) {
    let b = j / p.hw;
    let d = x[(b * p.c + c) * p.hw + j % p.hw] - mu;
    q = q + d * d;
  }
  let v = wg_sum(q, lid) / f32(m);
  if (lid == 0u && c < p.c) {
    mean[c] = mu;
    invstd[c] = 1.0 / sqrt(v + p.eps);
    if (p.update != 0u) {
      let unbiased = v * f32(m) / f32(max(m, 2u) - 1u);
      run_mean[c] = (1.0 - p.momentum) * run_mean[c] + p.momentum * mu;
      run_var[c] = (1.0 - p.momentum) * run_var[c] + p.momentum * unbiased;
    }
  }
}
