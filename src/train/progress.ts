// A progress line for long loops: step, epoch, loss, learning rate, images/s and ETA. On a terminal it
// redraws one line; otherwise (logs, CI) it prints a line at most every `every` seconds and at the end.
export interface ProgressFields { step: number; total: number; epoch?: number; loss?: number; lr?: number; extra?: string }

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

export class Progress {
  private readonly t0 = performance.now();
  private lastPrint = 0;
  private readonly tty: boolean;
  private imagesSeen = 0;
  private readonly startStep: number;
  private lastLine = '';

  constructor(readonly label: string, startStep: number, readonly imagesPerStep: number, private readonly out: NodeJS.WriteStream = process.stderr, private readonly every = 15) {
    this.tty = !!out.isTTY && !process.env.CI;
    this.startStep = startStep;
  }

  update(f: ProgressFields, force = false): void {
    this.imagesSeen = (f.step - this.startStep) * this.imagesPerStep;
    const el = (performance.now() - this.t0) / 1000;
    const rate = el > 0 ? this.imagesSeen / el : 0;
    const stepsDone = f.step - this.startStep;
    const eta = stepsDone > 0 ? ((f.total - f.step) * el) / stepsDone : NaN;
    const width = 24;
    const filled = Math.round((width * f.step) / Math.max(1, f.total));
    const bar = '#'.repeat(filled) + '.'.repeat(Math.max(0, width - filled));
    const parts = [`${this.label} [${bar}] ${f.step}/${f.total}`];
    if (f.epoch !== undefined) parts.push(`epoch ${f.epoch}`);
    if (f.loss !== undefined) parts.push(`loss ${f.loss.toFixed(4)}`);
    if (f.lr !== undefined) parts.push(`lr ${f.lr.toExponential(2)}`);
    parts.push(`${rate.toFixed(1)} img/s`, `elapsed ${formatDuration(el)}`, `ETA ${formatDuration(eta)}`);
    if (f.extra) parts.push(f.extra);
    const line = parts.join(' | ');
    this.lastLine = line;
    if (this.tty) { this.out.write(`\r${line}\x1b[K`); return; }
    if (force || el - this.lastPrint >= this.every || f.step === f.total) {
      this.lastPrint = el;
      this.out.write(`${line}\n`);
    }
  }

  done(): void {
    if (this.tty && this.lastLine) this.out.write('\n');
  }

  get elapsed(): number { return (performance.now() - this.t0) / 1000; }
}
