// Per-channel gating y[n, c, h, w] = x[n, c, h, w] * s[n, c]: the squeeze-and-excitation multiply of
// EfficientNet / MobileNet-v3 blocks. Backward: dx = dy * s[n, c] (the forward kernel on dy) and
// ds[n, c] = sum over h, w of dy * x (one workgroup per (n, c), tree reduction, any h*w).
// Twin: ref/elementwise.ts channelScaleFwd/Bwd.
import { Tensor, fmtShape } from '../autograd/tensor.js';
import { record } from '../autograd/tape.js';
import { stream, grid1d, gridFor } from '../gpu/stream.js';
import { checkTensor, checkF32, checkRank, checkArgCount, opError } from './util.js';

/** x [N, C, H, W] times s [N, C] (or [N, C, 1, 1]) broadcast over H, W. */
export function channelScale(x: Tensor, s: Tensor): Tensor {
  const op = 'channelScale';
  checkArgCount(op, arguments, 2);
  checkTensor(op, 'x', x); checkF32(op, 'x', x); checkRank(op, 'x', x, 4);
  checkTensor(op, 's', s); checkF32(op, 's', s);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const sOk = (s.shape.length === 2 || (s.shape.length === 4 && s.shape[2] === 1 && s.shape[3] === 1)) && s.shape[0] === n && s.shape[1] === c;
  if (!sOk) throw opError(op, `gate s ${s.label()} must be ${fmtShape([n, c])} or ${fmtShape([n, c, 1, 1])} for input ${x.label()}`);
  const hw = h * w, nc = n * c, total = x.size;
  const y = Tensor.empty(x.shape);
  if (total > 0) {
    stream.dispatch('channel_scale_fwd', { params: { total, hw }, bind: { x, g: s, y }, grid: gridFor('channel_scale_fwd', total), cost: { flops: total, bytes: 4 * (2 * total + nc) } });
  }
  record(op, [x, s], y, [x, s], (dy, [sx, ss], needs) => {
    let dx: Tensor | null = null, ds: Tensor | null = null;
    if (needs[0]) {
      dx = Tensor.empty(x.shape);
      if (total > 0) {
        stream.dispatch('channel_scale_fwd', { params: { total, hw }, bind: { x: dy, g: ss!, y: dx }, grid: gridFor('channel_scale_fwd', total), cost: { flops: total, bytes: 4 * (2 * total + nc) } });
      }
    }
    if (needs[1]) {
      ds = Tensor.empty(s.shape);
      // hw = 0 still launches: every workgroup sums nothing and writes 0.
      if (nc > 0) {
        stream.dispatch('channel_scale_bwd', { params: { nc, hw }, bind: { x: sx!, dy, dg: ds }, grid: grid1d(nc), cost: { flops: 2 * total, bytes: 4 * (2 * total + nc) } });
      }
    }
    return [dx, ds];
  });
  return y;
}
