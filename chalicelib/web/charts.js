// Small charts drawn as inline SVG: no library to download, colours from the stylesheet's tokens
// (classes series-1..5), so they read in both themes. Each chart is an image with a text summary
// (aria-label) that says what it shows for screen readers, and a <title> per bar for hover.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** Stacked columns: `columns` [{label, parts: [{value, series, name}]}], `format` for values. */
export function columnChart(summary, columns, format = String) {
  const width = 640;
  const height = 180;
  const base = height - 22;
  const top = Math.max(1e-9, ...columns.map((c) => c.parts.reduce((sum, p) => sum + p.value, 0)));
  const step = width / Math.max(1, columns.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary, class: "chart" });
  columns.forEach((column, index) => {
    let y = base;
    const x = index * step + step * 0.15;
    for (const part of column.parts) {
      if (!part.value) continue;
      const tall = (part.value / top) * (base - 14);
      y -= tall;
      chart.append(svg("rect", { x, y, width: step * 0.7, height: Math.max(1, tall), class: `series-${part.series}` },
        svg("title", {}, `${column.label}: ${part.name} ${format(part.value)}`)));
    }
    // Every other label on a crowded axis, so they do not overlap.
    if (columns.length <= 8 || index % 2 === 0) {
      chart.append(svg("text", { x: x + step * 0.35, y: height - 6, "text-anchor": "middle", class: "chart-label" }, column.label));
    }
  });
  chart.append(svg("line", { x1: 0, x2: width, y1: base, y2: base, class: "chart-axis" }));
  chart.append(svg("text", { x: 2, y: 11, class: "chart-label" }, `max ${format(top)}`));
  return chart;
}

/** Horizontal bars, one per row, each under its label: `rows` [{label, value}]. Narrow, as the
 * cards that hold it are, so that its text keeps the page's size. */
export function barList(summary, rows, format = String) {
  const width = 260;
  const row = 34;
  const top = Math.max(1e-9, ...rows.map((r) => r.value));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${Math.max(row, rows.length * row)}`, role: "img", "aria-label": summary, class: "chart" });
  rows.forEach((item, index) => {
    const y = index * row;
    chart.append(svg("text", { x: 0, y: y + 12, class: "chart-label" }, `${format(item.value)} · ${item.label}`));
    chart.append(svg("rect", { x: 0, y: y + 17, width: Math.max(2, (item.value / top) * width), height: 10, class: "series-1" },
      svg("title", {}, `${item.label}: ${format(item.value)}`)));
  });
  return chart;
}

/** A ring for one share (0..1), its percentage in the middle. */
export function ring(summary, share) {
  const radius = 40;
  const around = 2 * Math.PI * radius;
  return svg("svg", { viewBox: "0 0 100 100", role: "img", "aria-label": summary, class: "chart ring" },
    svg("circle", { cx: 50, cy: 50, r: radius, class: "ring-track" }),
    svg("circle", { cx: 50, cy: 50, r: radius, class: "ring-value", "stroke-dasharray": `${share * around} ${around}`, transform: "rotate(-90 50 50)" }),
    svg("text", { x: 50, y: 56, "text-anchor": "middle", class: "ring-text" }, `${Math.round(share * 100)}%`));
}
