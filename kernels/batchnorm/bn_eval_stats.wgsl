// bn_eval_stats.wgsl: eval-mode statistics from the running ones: mean[c] = run_mean[c], invstd[c] = 1/sqrt(run_var[c] + eps)
//   bindings: 0 p | 1 run_mean, 2 run_var (read) | 3 mean, 4 invstd (read_write)   writes (=)
//   dispatch: (ceil(c / WG), 1, 1); siblings: bn_stats.wgsl (training mode)
override WG: u32 = 64;
struct Params { c: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> run_mean: array<f32>;
@group(0) @binding(2) var<storage, read> run_var: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> invstd: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c < p.c) {
    mean[c] = run_mean[c];
    invstd[c] = 1.0 / sqrt(run_var[c] + p.eps);
  }
}
