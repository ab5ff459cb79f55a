/**
 * A small self-contained HTML report: headings, text, tables, images and inline SVG charts.
 * Build it with chained calls, then `write(path)` (Node) or take `html()`.
 */
import { writeFileAtomic } from "./atomic.js";
import {
  escapeXml,
  formatNumber,
  type HistogramOptions,
  histogramSvg,
  type LinePlotOptions,
  linePlotSvg,
  type RocCurve,
  rocSvg,
} from "./svg.js";

export type TableRow = Record<string, string | number | boolean | null | undefined>;

const STYLE = `
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
img { image-rendering: pixelated; max-width: 100%; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
`;

function cell(value: TableRow[string]): { text: string; numeric: boolean } {
  if (value === null || value === undefined) return { text: "", numeric: false };
  if (typeof value === "number") return { text: formatNumber(value), numeric: true };
  return { text: String(value), numeric: false };
}

function figure(content: string, caption?: string): string {
  const cap = caption ? `<figcaption>${escapeXml(caption)}</figcaption>` : "";
  return `<figure>${content}${cap}</figure>`;
}

export class Report {
  private readonly parts: string[] = [];

  constructor(readonly title: string) {}

  heading(text: string, level: 2 | 3 | 4 = 2): this {
    this.parts.push(`<h${level}>${escapeXml(text)}</h${level}>`);
    return this;
  }

  paragraph(text: string): this {
    this.parts.push(`<p>${escapeXml(text)}</p>`);
    return this;
  }

  /** Preformatted text, e.g. a config or a command line. */
  pre(text: string): this {
    this.parts.push(`<pre>${escapeXml(text)}</pre>`);
    return this;
  }

  /**
   * A table with one row per object. Columns: `columns` if given, else every key in order of
   * first appearance. Numbers are shown to 4 significant digits and right-aligned.
   */
  table(rows: readonly TableRow[], columns?: readonly string[]): this {
    const cols = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
    const head = cols.map((c) => `<th>${escapeXml(c)}</th>`).join("");
    const body = rows
      .map((row) => {
        const cells = cols.map((c) => {
          const { text, numeric } = cell(row[c]);
          return `<td${numeric ? ' class="num"' : ""}>${escapeXml(text)}</td>`;
        });
        return `<tr>${cells.join("")}</tr>`;
      })
      .join("\n");
    this.parts.push(`<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`);
    return this;
  }

  /** An image by URL, normally a PNG path relative to where the report is written. */
  image(src: string, caption?: string, alt = caption ?? ""): this {
    this.parts.push(figure(`<img src="${escapeXml(src)}" alt="${escapeXml(alt)}">`, caption));
    return this;
  }

  /** Trusted SVG markup (e.g. from linePlotSvg), inlined as is. */
  svg(markup: string, caption?: string): this {
    this.parts.push(figure(markup, caption));
    return this;
  }

  svgLinePlot(options: LinePlotOptions, caption?: string): this {
    return this.svg(linePlotSvg(options), caption);
  }

  svgHistogram(options: HistogramOptions, caption?: string): this {
    return this.svg(histogramSvg(options), caption);
  }

  svgRoc(options: { curves: readonly RocCurve[]; title?: string }, caption?: string): this {
    return this.svg(rocSvg(options), caption);
  }

  html(): string {
    const title = escapeXml(this.title);
    return [
      "<!DOCTYPE html>",
      '<html lang="en">',
      `<head><meta charset="utf-8"><title>${title}</title><style>${STYLE}</style></head>`,
      "<body>",
      `<h1>${title}</h1>`,
      ...this.parts,
      "</body>",
      "</html>",
      "",
    ].join("\n");
  }

  /** Write the report so that readers never see a half-written file (Node only). */
  write(path: string): void {
    writeFileAtomic(path, this.html());
  }
}
