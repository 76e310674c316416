// sgd_step.wgsl: one torch.optim.SGD step of one parameter tensor, in place:
//   g = grad + weight_decay * param                          (only when weight_decay != 0)
//   momentum != 0: buf = g (first_step) else momentum * buf + (1 - dampening) * g;  g = g + momentum * buf
//                  (nesterov) else buf                       (momentum == 0: buf is neither read nor written)
//   param = param - lr * g
//   lr and the rest are Params (a uniform), so a schedule changing lr every step reuses the same pipeline.
//   bindings: 0 p | 1 grad (read) | 2 param, 3 buf (read_write)   param and buf updated in place (=)
//   dispatch: grid1d(ceil(n / WG)), one element per invocation
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { n: u32, lr: f32, momentum: f32, dampening: f32, weight_decay: f32, nesterov: u32, first_step: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let w = param[i];
  var g = grad[i];
  if (p.weight_decay != 0.0) { g = g + p.weight_decay * w; }
  if (p.momentum != 0.0) {
    var b = g;
    if (p.first_step == 0u) { b = p.momentum * buf[i] + (1.0 - p.dampening) * g; }
    buf[i] = b;
    g = select(b, g + p.momentum * b, p.nesterov != 0u);
  }
  param[i] = w - p.lr * g;
}
