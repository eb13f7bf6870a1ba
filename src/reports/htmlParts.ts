// What the HTML pages (a run's report, the comparison of runs) share: the page frame with its
// Content-Security-Policy that forbids every load, the style sheet, table rows and number formats.
import { escapeHtml } from "./escape.js";

/** The title the pages' one inline script sets once the page has loaded (the browser test waits for it). */
export const LOADED_TITLE = "metanas report loaded";

const CSS = `
body{font-family:DejaVu Sans,Verdana,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.8em}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre,code{font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;font-size:0.85em}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:10px;overflow:auto;max-height:420px}
.missing{background:#fff6e0;border:1px solid #e8c66a;padding:8px 12px}
.figure{overflow-x:auto;margin:8px 0}.cells{display:flex;flex-wrap:wrap;gap:24px}
.genotype{word-break:break-all;white-space:pre-wrap}
td.diff{background:#fff1c2;font-weight:bold}.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}
details{margin:8px 0}summary{cursor:pointer}
`;

export function fmt(v: number | null | undefined, digits = 4): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "n/a";
}

export function fmtInt(v: number | null | undefined): string {
  return typeof v === "number" && Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a";
}

export function fmtSeconds(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "n/a";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = seconds % 60;
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${sec.toFixed(0)} s` : `${sec.toFixed(1)} s`;
}

/** Accuracy as a percentage when it is a fraction. */
export function fmtAcc(acc: number | null | undefined, ci?: number | null): string {
  if (typeof acc !== "number" || !Number.isFinite(acc)) return "n/a";
  const pct = acc <= 1 ? 100 : 1;
  const base = `${(acc * pct).toFixed(2)}%`;
  return typeof ci === "number" && Number.isFinite(ci) ? `${base} ± ${(ci * pct).toFixed(2)}%` : base;
}

/** A table row of cells that are already HTML (escape what comes from a run first). */
export function row(cells: string[], header = false): string {
  const tag = header ? "th" : "td";
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
}

/** The whole page around `body` (HTML); `title` is text and is escaped here. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
<script>document.title = ${JSON.stringify(LOADED_TITLE)}; document.body.setAttribute("data-loaded", "1");</script>
</body>
</html>
`;
}

/** The protocol that produced a meta-test accuracy (runs of earlier versions were transductive). */
export function fmtProtocol(summary: { protocol?: string } | null | undefined): string {
  return summary ? (summary.protocol ?? "transductive") : "n/a";
}
