// maxpool_bwd.wgsl: dx[b, c, iy, ix] = sum of dy over the outputs whose argmax is this input (gather, no atomics:
//   each input visits the at most ceil(kh/sh) x ceil(kw/sw) windows that can contain it)
//   bindings: 0 p | 1 dy, 2 arg (read) | 3 dx (read_write)   writes (=)
//   dispatch: grid1d(ceil(nc * h * w / WG)), one input element per invocation; sibling: maxpool_fwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { nc: u32, h: u32, w: u32, ho: u32, wo: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> arg: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  if (idx >= p.nc * p.h * p.w) { return; }
  let ix = i32(idx % p.w);
  let iy = i32((idx / p.w) % p.h);
  let plane = idx / (p.w * p.h);
  let j = iy * i32(p.w) + ix;
  // Outputs oy with oy*sh - ph <= iy <= oy*sh - ph + kh - 1.
  let y0 = max(0, (iy + i32(p.ph) - i32(p.kh) + i32(p.sh)) / i32(p.sh));
  let y1 = min(i32(p.ho) - 1, (iy + i32(p.ph)) / i32(p.sh));
  let x0 = max(0, (ix + i32(p.pw) - i32(p.kw) + i32(p.sw)) / i32(p.sw));
  let x1 = min(i32(p.wo) - 1, (ix + i32(p.pw)) / i32(p.sw));
  var g = 0.0;
  for (var oy = y0; oy <= y1; oy++) {
    for (var ox = x0; ox <= x1; ox++) {
      let o = (plane * p.ho + u32(oy)) * p.wo + u32(ox);
      if (arg[o] == j) { g = g + dy[o]; }
    }
  }
  dx[idx] = g;
}
