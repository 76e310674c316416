// Lane-group sharing for the subgroup kernels. The including kernel declares `override SG: u32` (4 or 8): the
// lanes of a subgroup work in groups of SG, lane j of the group holding one value, and every lane receives all
// SG values. Correct whenever every subgroup holds lanes 0..SG-1, i.e. SG <= the adapter's subgroupMinSize:
// the launcher sets SG = 8 where subgroups have >= 8 lanes (lavapipe, GPUs) and SG = 4 where they may have 4
// (SwiftShader, some mobile GPUs). Entries SG..7 of the result are zero.
fn sg_share_f32(v: f32) -> array<f32, 8> {
  var l: array<f32, 8>;
  l[0] = subgroupBroadcast(v, 0u);
  l[1] = subgroupBroadcast(v, 1u);
  l[2] = subgroupBroadcast(v, 2u);
  l[3] = subgroupBroadcast(v, 3u);
  if (SG == 8u) {
    l[4] = subgroupBroadcast(v, 4u);
    l[5] = subgroupBroadcast(v, 5u);
    l[6] = subgroupBroadcast(v, 6u);
    l[7] = subgroupBroadcast(v, 7u);
  }
  return l;
}

fn sg_share_v4(v: vec4f) -> array<vec4f, 8> {
  var l: array<vec4f, 8>;
  l[0] = subgroupBroadcast(v, 0u);
  l[1] = subgroupBroadcast(v, 1u);
  l[2] = subgroupBroadcast(v, 2u);
  l[3] = subgroupBroadcast(v, 3u);
  if (SG == 8u) {
    l[4] = subgroupBroadcast(v, 4u);
    l[5] = subgroupBroadcast(v, 5u);
    l[6] = subgroupBroadcast(v, 6u);
    l[7] = subgroupBroadcast(v, 7u);
  }
  return l;
}
