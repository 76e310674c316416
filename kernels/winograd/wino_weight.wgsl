// wino_weight.wgsl: Winograd F(2x2, 3x3) filter transform U = G g G^T, one 3x3 filter g -> 4x4 per invocation:
//   G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
//   The GEMM's A operand for the output channels (rows) [r0, r0 + rb) of the convolution it serves:
//   flip = 0 (forward): rows are k, columns c: g = w[k, c], written to U[e, k - r0, c] (e = 4 xi + nu; U is
//     [16, rb, C]).
//   flip = 1 (input gradient): rows are c, columns k: g = w[k, c] rotated 180 degrees, written to U[e, c - r0, k]
//     (the flipped, transposed filter of the input gradient as a forward convolution of dy: U is [16, rb, K]).
//   tile: one filter per invocation; every write lands (no guard needed beyond i < rb * columns).
//   bindings: 0 p | 1 w (read, [K, C, 3, 3]) | 2 u (read_write)   writes (=)
//   dispatch: grid1d(ceil(rb * columns / WG))
// #include "common/flat_index.wgsl"
override WG: u32 = 64;
struct Params { K: u32, C: u32, flip: u32, r0: u32, rb: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_wg(wid, nwg) * WG + lid;
  let cols = select(p.C, p.K, p.flip != 0u);
  if (i >= p.rb * cols) { return; }
  let row = p.r0 + i / cols;
  let col = i % cols;
  let k = select(row, col, p.flip != 0u);
  let c = select(col, row, p.flip != 0u);
  var g: array<f32, 9>;
  for (var j = 0u; j < 9u; j++) {
    let src = select(j, 8u - j, p.flip != 0u);   // 180-degree rotation: (r, s) -> (2 - r, 2 - s)
    g[j] = w[(k * p.C + c) * 9u + src];
  }
  // t = G g (4x3), then U = t G^T (4x4).
  var t: array<f32, 12>;
  for (var s = 0u; s < 3u; s++) {
    let a = g[s];
    let b = g[3u + s];
    let d = g[6u + s];
    t[s] = a;
    t[3u + s] = 0.5 * (a + b + d);
    t[6u + s] = 0.5 * (a - b + d);
    t[9u + s] = d;
  }
  let plane = p.rb * cols;
  let o = i;
  for (var r = 0u; r < 4u; r++) {
    let a = t[3u * r];
    let b = t[3u * r + 1u];
    let d = t[3u * r + 2u];
    u[(4u * r + 0u) * plane + o] = a;
    u[(4u * r + 1u) * plane + o] = 0.5 * (a + b + d);
    u[(4u * r + 2u) * plane + o] = 0.5 * (a - b + d);
    u[(4u * r + 3u) * plane + o] = d;
  }
}
