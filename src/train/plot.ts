// Loss curve as an image: an SVG drawn here and rasterised to PNG by sharp (librsvg), next to the JSONL log.
import sharp from 'sharp';
import { writeFileSync, renameSync } from 'node:fs';

export interface Series { name: string; xs: number[]; ys: number[]; color: string }

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Moving average over `w` points (the raw per-step loss is noisy). */
export function smooth(ys: number[], w: number): number[] {
  if (w <= 1) return ys;
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < ys.length; i++) {
    s += ys[i]!;
    if (i >= w) s -= ys[i - w]!;
    out.push(s / Math.min(i + 1, w));
  }
  return out;
}

export function lossCurveSvg(title: string, series: Series[], xLabel = 'step', yLabel = 'loss'): string {
  const W = 800, H = 480, L = 70, R = 20, T = 40, B = 50;
  const all = series.flatMap((s) => s.ys.filter(Number.isFinite));
  const xsAll = series.flatMap((s) => s.xs);
  const x0 = Math.min(...xsAll, 0), x1 = Math.max(...xsAll, 1);
  let y0 = Math.min(...all), y1 = Math.max(...all);
  if (!Number.isFinite(y0)) { y0 = 0; y1 = 1; }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const X = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const Y = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`];
  for (const t of niceTicks(y0, y1)) parts.push(`<line x1="${L}" x2="${W - R}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e4e4e4"/><text x="${L - 6}" y="${Y(t) + 4}" text-anchor="end">${t}</text>`);
  for (const t of niceTicks(x0, x1)) parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${T}" y2="${H - B}" stroke="#f0f0f0"/><text x="${X(t)}" y="${H - B + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(yLabel)}</text>`);
  series.forEach((s, si) => {
    const pts = s.xs.map((x, i) => [x, s.ys[i]!] as const).filter(([, y]) => Number.isFinite(y)).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    if (pts.length) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<line x1="${W - R - 170}" x2="${W - R - 150}" y1="${T + 16 + si * 16}" y2="${T + 16 + si * 16}" stroke="${s.color}" stroke-width="2"/><text x="${W - R - 145}" y="${T + 20 + si * 16}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Write the curve as PNG (and the SVG beside it), each atomically. */
export async function writeLossCurve(pngPath: string, title: string, series: Series[]): Promise<void> {
  const svg = lossCurveSvg(title, series);
  const svgPath = pngPath.replace(/\.png$/, '') + '.svg';
  writeFileSync(`${svgPath}.tmp`, svg);
  renameSync(`${svgPath}.tmp`, svgPath);
  await sharp(Buffer.from(svg)).png().toFile(`${pngPath}.tmp`);
  renameSync(`${pngPath}.tmp`, pngPath);
}
