// topk_rows.wgsl: for each row r of s[rows, cols] (a chunk of similarities), the k largest values and their column
//   indices (+ col_offset), in descending order: vals[r, j], idx[r, j], j < k <= 64. NaN counts as larger than
//   every number, so a diverged feature cannot hide; columns past `cols` are ignored; unused slots get -inf / -1.
//   bindings: 0 p | 1 s (read) | 2 vals, 3 idx (read_write)   writes (=)
//   dispatch: grid1d(ceil(rows / WG)), one row per invocation (insertion into a private array of k entries)
//   siblings: gemm_sg*.wgsl (produce the similarity chunk); src/eval/knn.ts merges chunks on the host
// #include "common/flat_index.wgsl"
override WG: u32 = 64;
const MAXK: u32 = 64u;
struct Params { rows: u32, cols: u32, k: u32, col_offset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> vals: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;
fn above(a: f32, b: f32) -> bool { return (a != a && b == b) || a > b; }
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_wg(wid, nwg) * WG + lid;
  if (r >= p.rows) { return; }
  var bits = 0xff800000u;  // a var: constant-folding -inf is a compile error
  let ninf = bitcast<f32>(bits);
  var bv: array<f32, MAXK>;
  var bi: array<i32, MAXK>;
  let k = min(p.k, MAXK);
  for (var j = 0u; j < k; j++) { bv[j] = ninf; bi[j] = -1; }
  let base = r * p.cols;
  for (var c = 0u; c < p.cols; c++) {
    let v = s[base + c];
    if (!above(v, bv[k - 1u]) && bi[k - 1u] >= 0) { continue; }
    // Insert, keeping descending order; equal values keep the earlier column first.
    var j = k - 1u;
    loop {
      if (j == 0u) { break; }
      if (!(above(v, bv[j - 1u]) || bi[j - 1u] < 0)) { break; }
      bv[j] = bv[j - 1u];
      bi[j] = bi[j - 1u];
      j = j - 1u;
    }
    bv[j] = v;
    bi[j] = i32(c + p.col_offset);
  }
  for (var j = 0u; j < k; j++) { vals[r * p.k + j] = bv[j]; idx[r * p.k + j] = bi[j]; }
}
