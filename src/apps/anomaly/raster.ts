/**
 * ROC curves and score histograms drawn straight into an RGB Image (browser-safe), for a PNG
 * beside the SVG plots: axes, grid, the chance diagonal, thick anti-alias-free lines and tick
 * labels in a tiny 3×5 pixel font. Deliberately simple; the SVG versions carry full labels.
 */
import { createImage, type Image } from "../../io/image.js";
import { histogramCounts } from "../../io/svg.js";

type Rgb = readonly [number, number, number];
const BLACK: Rgb = [0.15, 0.15, 0.15];
const GRID: Rgb = [0.88, 0.88, 0.88];
const GREY: Rgb = [0.6, 0.6, 0.6];
/** Okabe–Ito blue, vermillion, green (as src/io/svg.ts). */
export const PLOT_COLORS: Rgb[] = [
  [0, 0.447, 0.698],
  [0.835, 0.369, 0],
  [0, 0.62, 0.451],
];

// 3×5 glyphs, rows top to bottom, 3 bits per row
const FONT: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
  ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], e: [0, 7, 7, 4, 7],
};

class Canvas {
  readonly image: Image;
  constructor(readonly width: number, readonly height: number) {
    this.image = createImage(width, height, 3);
    this.image.data.fill(1);
  }
  set(x: number, y: number, c: Rgb, alpha = 1) {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    for (let k = 0; k < 3; k++) this.image.data[i + k] = this.image.data[i + k] * (1 - alpha) + c[k] * alpha;
  }
  /** A line `thick` pixels wide, optionally dashed (on/off lengths in pixels). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick = 1, dash = 0) {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (thick - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let dy = -Math.floor(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.floor(r); dx <= Math.ceil(r); dx++) this.set(x + dx, y + dy, c);
    }
  }
  rect(x0: number, y0: number, x1: number, y1: number, c: Rgb, alpha: number) {
    for (let y = Math.round(Math.min(y0, y1)); y <= Math.round(Math.max(y0, y1)); y++) {
      for (let x = Math.round(Math.min(x0, x1)); x <= Math.round(Math.max(x0, x1)); x++) this.set(x, y, c, alpha);
    }
  }
  /** Text in the 3×5 font at integer `scale`, anchored at its top-left (align "right"/"center" shift it). */
  text(s: string, x: number, y: number, scale = 2, align: "left" | "right" | "center" = "left", c: Rgb = BLACK) {
    const w = s.length * 4 * scale - scale;
    const left = align === "right" ? x - w : align === "center" ? x - w / 2 : x;
    [...s].forEach((ch, k) => {
      const g = FONT[ch];
      if (!g) return;
      for (let row = 0; row < 5; row++) {
        for (let col = 0; col < 3; col++) {
          if (!((g[row] >> (2 - col)) & 1)) continue;
          this.rect(left + (k * 4 + col) * scale, y + row * scale, left + (k * 4 + col) * scale + scale - 1, y + row * scale + scale - 1, c, 1);
        }
      }
    });
  }
}

const label = (v: number) => {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0).replace("+", "");
  return String(Number(v.toPrecision(3)));
};

interface Frame {
  c: Canvas;
  px: (v: number) => number;
  py: (v: number) => number;
}

function frame(width: number, height: number, x: [number, number], y: [number, number], ticks = 5): Frame {
  const c = new Canvas(width, height);
  const [l, t, r, b] = [56, 14, width - 14, height - 30];
  const px = (v: number) => l + ((v - x[0]) / (x[1] - x[0])) * (r - l);
  const py = (v: number) => b - ((v - y[0]) / (y[1] - y[0])) * (b - t);
  for (let k = 0; k <= ticks; k++) {
    const vx = x[0] + ((x[1] - x[0]) * k) / ticks;
    const vy = y[0] + ((y[1] - y[0]) * k) / ticks;
    c.line(px(vx), t, px(vx), b, GRID);
    c.line(l, py(vy), r, py(vy), GRID);
    c.text(label(vx), px(vx), b + 8, 2, "center");
    c.text(label(vy), l - 6, py(vy) - 5, 2, "right");
  }
  c.line(l, t, r, t, BLACK);
  c.line(l, b, r, b, BLACK);
  c.line(l, t, l, b, BLACK);
  c.line(r, t, r, b, BLACK);
  return { c, px, py };
}

/** ROC curves (fpr, tpr points in drawing order) on the unit square with the dashed chance line. */
export function rocImage(curves: readonly { fpr: ArrayLike<number>; tpr: ArrayLike<number> }[], width = 440, height = 420): Image {
  const { c, px, py } = frame(width, height, [0, 1], [0, 1]);
  c.line(px(0), py(0), px(1), py(1), GREY, 1, 4);
  curves.forEach((curve, k) => {
    for (let i = 1; i < curve.fpr.length; i++) {
      c.line(px(curve.fpr[i - 1]), py(curve.tpr[i - 1]), px(curve.fpr[i]), py(curve.tpr[i]), PLOT_COLORS[k % PLOT_COLORS.length], 3);
    }
  });
  return c.image;
}

/** Overlaid density histograms of several groups on shared bins (as histogramSvg). */
export function histogramImage(groups: readonly ArrayLike<number>[], bins = 40, width = 640, height = 400): Image {
  let lo = Infinity;
  let hi = -Infinity;
  for (const g of groups) for (let i = 0; i < g.length; i++) if (Number.isFinite(g[i])) [lo, hi] = [Math.min(lo, g[i]), Math.max(hi, g[i])];
  if (!(hi > lo)) [lo, hi] = [Number.isFinite(lo) ? lo - 0.5 : 0, Number.isFinite(hi) ? hi + 0.5 : 1];
  const w = (hi - lo) / bins;
  const dens = groups.map((g) => {
    const counts = histogramCounts(g, bins, lo, hi);
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((v) => (total > 0 ? v / (total * w) : 0));
  });
  const top = Math.max(1e-12, ...dens.flatMap((d) => Array.from(d)));
  const { c, px, py } = frame(width, height, [lo, hi], [0, top * 1.05], 4);
  dens.forEach((d, k) => {
    const col = PLOT_COLORS[k % PLOT_COLORS.length];
    for (let b = 0; b < bins; b++) if (d[b] > 0) c.rect(px(lo + b * w) + 1, py(d[b]), px(lo + (b + 1) * w) - 1, py(0) - 1, col, 0.45);
  });
  return c.image;
}
