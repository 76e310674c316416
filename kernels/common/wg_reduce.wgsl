// Workgroup tree sum over red_buf[0..RWG): every invocation calls it; returns the total to all.
// RWG must be a power of two and equal the workgroup size of the including kernel.
var<workgroup> red_buf: array<f32, RWG>;
fn wg_sum(v: f32, lid: u32) -> f32 {
  red_buf[lid] = v;
  workgroupBarrier();
  var s = RWG / 2u;
  loop {
    if (s == 0u) { break; }
    if (lid < s) { red_buf[lid] = red_buf[lid] + red_buf[lid + s]; }
    workgroupBarrier();
    s = s / 2u;
  }
  let total = red_buf[0];
  workgroupBarrier();
  return total;
}
