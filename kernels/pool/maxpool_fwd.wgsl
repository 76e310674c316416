// maxpool_fwd.wgsl: y[b, c, oy, ox] = max over the kh x kw window at (oy*sh - ph, ox*sw - pw), padding excluded;
//   arg[...] = index of the max within the (b, c) input plane (first in scan order on ties; NaN wins), -1 if the window is empty
//   bindings: 0 p | 1 x (read) | 2 y, 3 arg (read_write)   writes (=)
//   dispatch: grid1d(ceil(nc * ho * wo / WG)), one output per invocation; sibling: maxpool_bwd.wgsl
// #include "common/flat_index.wgsl"
override WG: u32 = 256;
struct Params { nc: u32, h: u32, w: u32, ho: u32, wo: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<i32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_wg(wid, nwg) * WG + lid;
  if (idx >= p.nc * p.ho * p.wo) { return; }
  let ox = idx % p.wo;
  let oy = (idx / p.wo) % p.ho;
  let plane = idx / (p.wo * p.ho);
  let base = plane * p.h * p.w;
  var best = 0.0;
  var best_i = -1;
  for (var ky = 0u; ky < p.kh; ky++) {
    let iy = i32(oy * p.sh + ky) - i32(p.ph);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let ix = i32(ox * p.sw + kx) - i32(p.pw);
      if (ix < 0 || ix >= i32(p.w)) { continue; }
      let j = u32(iy) * p.w + u32(ix);
      let v = x[base + j];
      // v != v: NaN must win so that a diverged network is seen downstream.
      if (best_i < 0 || v > best || (v != v && best == best)) { best = v; best_i = i32(j); }
    }
  }
  y[idx] = best;
  arg[idx] = best_i;
}
