/**
 * Small self-contained SVG charts: line plots (training curves, ROC curves) and overlaid
 * histograms (e.g. anomaly scores of normal vs. abnormal data). Pure string building, so the
 * output can be inlined in an HTML report, saved as .svg, or shown in a browser.
 */

/** Escape text for XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Okabe–Ito colours, distinguishable with common colour-vision deficiencies. */
export const SERIES_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Draw dashed (e.g. a baseline). */
  dashed?: boolean;
}

export interface LinePlotOptions {
  series: readonly Series[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Fixed axis ranges; default: the data's range widened to round tick values. */
  xRange?: readonly [number, number];
  yRange?: readonly [number, number];
  /** Logarithmic y axis; points with y <= 0 are left out. */
  logY?: boolean;
  /** Draw the dashed y = x line (for ROC curves). */
  diagonal?: boolean;
  /** Where the legend goes (default "top-right"). */
  legend?: LegendPlace;
  /** Longer series are thinned to about this many points by taking every k-th (default 2000). */
  maxPoints?: number;
}

/** Round tick values covering [lo, hi], about `target` of them, at steps of 1, 2 or 5 x 10^k. */
export function niceTicks(lo: number, hi: number, target = 5): { ticks: number[]; lo: number; hi: number } {
  if (!(hi > lo)) {
    const widen = lo === 0 || !Number.isFinite(lo) ? 1 : Math.abs(lo) * 0.1;
    lo = Number.isFinite(lo) ? lo - widen : 0;
    hi = Number.isFinite(hi) ? hi + widen : 1;
  }
  const raw = (hi - lo) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { ticks, lo: ticks[0], hi: ticks[ticks.length - 1] };
}

/** Short label for a tick or table value. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const abs = Math.abs(v);
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(4)));
}

const fmt = (v: number) => v.toFixed(2);

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

function frame(width: number, height: number, hasTitle: boolean): Frame {
  const left = 64;
  const top = hasTitle ? 34 : 14;
  const right = 16;
  const bottom = 48;
  return { width, height, left, top, plotW: width - left - right, plotH: height - top - bottom };
}

/** Axes, grid lines, tick labels and axis titles; `xTicks`/`yTicks` are in data units. */
function axes(
  f: Frame,
  x: { ticks: number[]; lo: number; hi: number; label: (v: number) => string },
  y: { ticks: number[]; lo: number; hi: number; label: (v: number) => string },
  titles: { title?: string; xLabel?: string; yLabel?: string },
): string {
  const parts: string[] = [];
  const px = (v: number) => f.left + ((v - x.lo) / (x.hi - x.lo)) * f.plotW;
  const py = (v: number) => f.top + f.plotH - ((v - y.lo) / (y.hi - y.lo)) * f.plotH;
  parts.push(`<rect x="${f.left}" y="${f.top}" width="${f.plotW}" height="${f.plotH}" fill="none" stroke="#444"/>`);
  for (const t of x.ticks) {
    const X = fmt(px(t));
    parts.push(`<line x1="${X}" y1="${f.top}" x2="${X}" y2="${f.top + f.plotH}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${X}" y="${f.top + f.plotH + 16}" text-anchor="middle" font-size="11">${escapeXml(x.label(t))}</text>`,
    );
  }
  for (const t of y.ticks) {
    const Y = fmt(py(t));
    parts.push(`<line x1="${f.left}" y1="${Y}" x2="${f.left + f.plotW}" y2="${Y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${f.left - 6}" y="${Y}" dy="0.35em" text-anchor="end" font-size="11">${escapeXml(y.label(t))}</text>`);
  }
  if (titles.title) {
    parts.push(
      `<text x="${f.width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(titles.title)}</text>`,
    );
  }
  if (titles.xLabel) {
    parts.push(
      `<text x="${f.left + f.plotW / 2}" y="${f.height - 10}" text-anchor="middle" font-size="12">${escapeXml(titles.xLabel)}</text>`,
    );
  }
  if (titles.yLabel) {
    const cy = f.top + f.plotH / 2;
    parts.push(
      `<text x="14" y="${cy}" transform="rotate(-90 14 ${cy})" text-anchor="middle" font-size="12">${escapeXml(titles.yLabel)}</text>`,
    );
  }
  return parts.join("");
}

export type LegendPlace = "top-right" | "bottom-right";

/** Legend box in a right-hand corner of the plot; swatches are <line>/<rect>, never <polyline>. */
function legend(
  f: Frame,
  entries: { name: string; color: string; dashed?: boolean; box?: boolean }[],
  at: LegendPlace = "top-right",
): string {
  if (entries.length === 0) return "";
  const rowH = 16;
  const textW = Math.max(...entries.map((e) => e.name.length)) * 6.5;
  const boxW = 34 + textW;
  const x0 = f.left + f.plotW - boxW - 8;
  const boxH = entries.length * rowH + 8;
  const y0 = at === "top-right" ? f.top + 8 : f.top + f.plotH - boxH - 8;
  const parts = [
    `<rect x="${fmt(x0)}" y="${y0}" width="${fmt(boxW)}" height="${boxH}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`,
  ];
  entries.forEach((e, i) => {
    const cy = y0 + 4 + rowH * i + rowH / 2;
    parts.push(
      e.box
        ? `<rect x="${fmt(x0 + 6)}" y="${cy - 5}" width="20" height="10" fill="${e.color}" fill-opacity="0.45" stroke="${e.color}"/>`
        : `<line x1="${fmt(x0 + 6)}" y1="${cy}" x2="${fmt(x0 + 26)}" y2="${cy}" stroke="${e.color}" stroke-width="2"${e.dashed ? ' stroke-dasharray="5 3"' : ""}/>`,
    );
    parts.push(`<text x="${fmt(x0 + 30)}" y="${cy}" dy="0.35em" font-size="11">${escapeXml(e.name)}</text>`);
  });
  return parts.join("");
}

function svgOpen(width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`;
}

/** 0, k, 2k, ... and always the last index, with k chosen so about maxPoints remain. */
function thinnedIndices(n: number, maxPoints: number): number[] {
  const stride = Math.max(1, Math.ceil(n / Math.max(2, maxPoints)));
  const indices: number[] = [];
  for (let i = 0; i < n; i += stride) indices.push(i);
  if (n > 0 && indices[indices.length - 1] !== n - 1) indices.push(n - 1);
  return indices;
}

/**
 * A line plot as a standalone SVG document fragment. Each series becomes one <polyline>
 * (more if non-finite values break it into pieces), clipped to the plot area.
 */
export function linePlotSvg(options: LinePlotOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const maxPoints = options.maxPoints ?? 2000;
  const toY = options.logY ? (v: number) => (v > 0 ? Math.log10(v) : NaN) : (v: number) => v;

  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const s of options.series) {
    const n = Math.min(s.x.length, s.y.length);
    for (let i = 0; i < n; i++) {
      const x = s.x[i];
      const y = toY(s.y[i]);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      xMin = Math.min(xMin, x);
      xMax = Math.max(xMax, x);
      yMin = Math.min(yMin, y);
      yMax = Math.max(yMax, y);
    }
  }
  const xr = options.xRange ?? [xMin, xMax];
  const yr = options.yRange ? (options.yRange.map(toY) as [number, number]) : [yMin, yMax];
  const xAxis = options.xRange ? { ...niceTicks(xr[0], xr[1]), lo: xr[0], hi: xr[1] } : niceTicks(xr[0], xr[1]);
  const yAxis = options.yRange ? { ...niceTicks(yr[0], yr[1]), lo: yr[0], hi: yr[1] } : niceTicks(yr[0], yr[1]);
  xAxis.ticks = xAxis.ticks.filter((t) => t >= xAxis.lo - 1e-9 && t <= xAxis.hi + 1e-9);
  yAxis.ticks = yAxis.ticks.filter((t) => t >= yAxis.lo - 1e-9 && t <= yAxis.hi + 1e-9);

  const f = frame(width, height, Boolean(options.title));
  const yLabel = options.logY ? (t: number) => formatNumber(10 ** t) : formatNumber;
  const parts = [svgOpen(width, height)];
  parts.push(
    axes(
      f,
      { ...xAxis, label: formatNumber },
      { ...yAxis, label: yLabel },
      { title: options.title, xLabel: options.xLabel, yLabel: options.yLabel },
    ),
  );

  // A nested <svg> clips its content to the plot area without needing a document-unique id.
  const sx = (v: number) => ((v - xAxis.lo) / (xAxis.hi - xAxis.lo)) * f.plotW;
  const sy = (v: number) => f.plotH - ((v - yAxis.lo) / (yAxis.hi - yAxis.lo)) * f.plotH;
  parts.push(`<svg x="${f.left}" y="${f.top}" width="${f.plotW}" height="${f.plotH}" overflow="hidden">`);
  if (options.diagonal) {
    const a = Math.max(xAxis.lo, yAxis.lo);
    const b = Math.min(xAxis.hi, yAxis.hi);
    parts.push(
      `<line x1="${fmt(sx(a))}" y1="${fmt(sy(a))}" x2="${fmt(sx(b))}" y2="${fmt(sy(b))}" stroke="#999" stroke-dasharray="4 4"/>`,
    );
  }
  options.series.forEach((s, k) => {
    const color = SERIES_COLORS[k % SERIES_COLORS.length];
    const n = Math.min(s.x.length, s.y.length);
    let run: string[] = [];
    const flush = () => {
      if (run.length > 0) {
        parts.push(
          `<polyline points="${run.join(" ")}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
        );
      }
      run = [];
    };
    for (const i of thinnedIndices(n, maxPoints)) {
      const x = s.x[i];
      const y = toY(s.y[i]);
      if (Number.isFinite(x) && Number.isFinite(y)) run.push(`${fmt(sx(x))},${fmt(sy(y))}`);
      else flush();
    }
    flush();
  });
  parts.push("</svg>");
  parts.push(
    legend(
      f,
      options.series.map((s, k) => ({ name: s.name, color: SERIES_COLORS[k % SERIES_COLORS.length], dashed: s.dashed })),
      options.legend,
    ),
  );
  parts.push("</svg>");
  return parts.join("");
}

export interface HistogramGroup {
  name: string;
  values: ArrayLike<number>;
}

export interface HistogramOptions {
  groups: readonly HistogramGroup[];
  /** Number of equal-width bins shared by all groups (default 40). */
  bins?: number;
  /** Binned range (default: all finite values). Values outside it are not counted. */
  range?: readonly [number, number];
  /** Divide counts by n * binWidth so groups of different sizes compare (default true). */
  density?: boolean;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/** Counts of `values` in `bins` equal bins over [lo, hi]; hi itself falls in the last bin. */
export function histogramCounts(values: ArrayLike<number>, bins: number, lo: number, hi: number): Float64Array {
  const counts = new Float64Array(bins);
  const width = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    counts[width > 0 ? Math.min(bins - 1, Math.floor((v - lo) / width)) : 0] += 1;
  }
  return counts;
}

/** Overlaid semi-transparent histograms of several groups on shared bins. */
export function histogramSvg(options: HistogramOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const bins = options.bins ?? 40;
  const density = options.density ?? true;
  let lo = Infinity;
  let hi = -Infinity;
  if (options.range) [lo, hi] = options.range;
  else {
    for (const g of options.groups) {
      for (let i = 0; i < g.values.length; i++) {
        const v = g.values[i];
        if (Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
  }
  if (!(hi > lo)) {
    const widen = Number.isFinite(lo) && lo !== 0 ? Math.abs(lo) * 0.1 : 0.5;
    lo = Number.isFinite(lo) ? lo - widen : 0;
    hi = Number.isFinite(hi) ? hi + widen : 1;
  }
  const binW = (hi - lo) / bins;
  const heights = options.groups.map((g) => {
    const counts = histogramCounts(g.values, bins, lo, hi);
    const total = counts.reduce((a, b) => a + b, 0);
    return density ? counts.map((c) => (total > 0 ? c / (total * binW) : 0)) : counts;
  });
  const top = Math.max(0, ...heights.flatMap((h) => Array.from(h)));

  const xAxis = niceTicks(lo, hi);
  const yAxis = niceTicks(0, top > 0 ? top : 1);
  const f = frame(width, height, Boolean(options.title));
  const sx = (v: number) => f.left + ((v - xAxis.lo) / (xAxis.hi - xAxis.lo)) * f.plotW;
  const sy = (v: number) => f.top + f.plotH - ((v - yAxis.lo) / (yAxis.hi - yAxis.lo)) * f.plotH;
  const parts = [svgOpen(width, height)];
  parts.push(
    axes(
      f,
      { ...xAxis, label: formatNumber },
      { ...yAxis, label: formatNumber },
      { title: options.title, xLabel: options.xLabel, yLabel: options.yLabel ?? (density ? "density" : "count") },
    ),
  );
  heights.forEach((h, k) => {
    const color = SERIES_COLORS[k % SERIES_COLORS.length];
    for (let b = 0; b < bins; b++) {
      if (h[b] <= 0) continue;
      const x0 = sx(lo + b * binW);
      const x1 = sx(lo + (b + 1) * binW);
      const y = sy(h[b]);
      parts.push(
        `<rect x="${fmt(x0)}" y="${fmt(y)}" width="${fmt(x1 - x0)}" height="${fmt(f.top + f.plotH - y)}" fill="${color}" fill-opacity="0.45" stroke="${color}" stroke-width="0.5"/>`,
      );
    }
  });
  parts.push(
    legend(
      f,
      options.groups.map((g, k) => ({ name: g.name, color: SERIES_COLORS[k % SERIES_COLORS.length], box: true })),
    ),
  );
  parts.push("</svg>");
  return parts.join("");
}

export interface RocCurve {
  name: string;
  /** False-positive rates, in the order the curve is drawn. */
  fpr: ArrayLike<number>;
  /** True-positive rates, same length as fpr. */
  tpr: ArrayLike<number>;
  /** Shown in the legend when given. */
  auc?: number;
}

/** ROC curves on the unit square with the chance diagonal, through linePlotSvg. */
export function rocSvg(options: { curves: readonly RocCurve[]; title?: string; width?: number; height?: number }): string {
  return linePlotSvg({
    series: options.curves.map((c) => ({
      name: c.auc === undefined ? c.name : `${c.name} (AUC ${c.auc.toFixed(3)})`,
      x: c.fpr,
      y: c.tpr,
    })),
    title: options.title,
    xLabel: "false positive rate",
    yLabel: "true positive rate",
    xRange: [0, 1],
    yRange: [0, 1],
    diagonal: true,
    legend: "bottom-right",
    width: options.width ?? 440,
    height: options.height ?? 420,
  });
}
