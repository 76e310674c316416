// Linear workgroup index for 1-D launches folded into y when over 65535 workgroups (see grid1d()).
fn flat_wg(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}
