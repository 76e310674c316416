// conv2d_fwd_direct: y[n,k,oh,ow] = sum_{c<C/G,r,s} w[k,c,r,s] * x[n,g*C/G+c,oh*sh-ph+r,ow*sw-pw+s] (+ bias[k]),
//   g = k / (K/G); any groups G (incl. depthwise G = C), kernel size, stride, padding. Dilation 1.
//
// GEMM view: none (direct loops); per output channel a (C/G*kh*kw)-long dot product per pixel.
// Layouts: x NCHW [N,C,H,W], w [K,C/G,kh,kw], bias [K], y NCHW [N,K,Ho,Wo]; float32.
// Tile: each invocation computes 4 consecutive output pixels of one output row for one channel k;
//   a workgroup = WG strips of channel k, from nper images. No subgroup operations, no workgroup memory.
// Bindings: 0 p: Params (uniform), 1 x (read), 2 w (read), 3 bias (read; dummy when use_bias == 0), 4 y (read_write).
// Dispatch: x = ceil(nper * Ho * ceil(Wo/4) / WG), y = ygrid, z = ceil(N / nper) * zfold (nper images share x) with ygrid * zfold >= K, all <= 65535
//   (normally ygrid = K, zfold = 1). Channel k = wid.y + (wid.z % zfold) * ygrid.
// Output: y = result (+ bias when use_bias): writes (=).
// Siblings: conv2d_fwd_igemm.wgsl (groups = 1, faster).
// lavapipe overrides: WG = 8.
override WG: u32 = 8;

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  K: u32, Ho: u32, Wo: u32, groups: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, use_bias: u32, ygrid: u32,
  zfold: u32, nper: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = wid.y + (wid.z % p.zfold) * p.ygrid;
  if (k >= p.K) { return; }
  let spr = (p.Wo + 3u) / 4u;
  let spi = p.Ho * spr;                     // strips per image
  // x walks the strips of nper images (small maps fill the SIMD lanes across the batch).
  let q = wid.x * WG + lid;
  let n = (wid.z / p.zfold) * p.nper + q / spi;
  if (q >= p.nper * spi || n >= p.N) { return; }
  let oh = (q % spi) / spr;
  let ow0 = (q % spr) * 4u;
  let Cg = p.C / p.groups;
  let g = k / (p.K / p.groups);
  let HW = p.H * p.W;
  let xb = (n * p.C + g * Cg) * HW;
  let wb = k * Cg * p.kh * p.kw;
  var acc = vec4f(0.0);
  for (var c = 0u; c < Cg; c++) {
    for (var r = 0u; r < p.kh; r++) {
      let ih = i32(oh * p.sh + r) - i32(p.ph);
      if (ih < 0 || ih >= i32(p.H)) { continue; }
      let roff = xb + c * HW + u32(ih) * p.W;
      for (var s = 0u; s < p.kw; s++) {
        let wv = w[wb + (c * p.kh + r) * p.kw + s];
        var xv = vec4f(0.0);
        for (var t = 0u; t < 4u; t++) {
          let iw = i32((ow0 + t) * p.sw + s) - i32(p.pw);
          let ok = iw >= 0 && iw < i32(p.W);
          xv[t] = select(0.0, x[roff + u32(clamp(iw, 0, i32(p.W) - 1))], ok);
        }
        acc = fma(vec4f(wv), xv, acc);
      }
    }
  }
  var bb = 0.0;
  if (p.use_bias != 0u) { bb = bias[k]; }
  let ybase = ((n * p.K + k) * p.Ho + oh) * p.Wo + ow0;
  for (var t = 0u; t < 4u; t++) {
    if (ow0 + t < p.Wo) {
      y[ybase + t] = acc[t] + bb;
    }
  }
}
