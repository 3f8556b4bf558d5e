// The online-metrics chart of the admin page, inline SVG: for each model version that served
// answers, what listeners did with them on one surface (analytics.online_metrics_by_model,
// from GET /admin/models): play-through and skip rates of the attributed playbacks, and
// plays per song shown, as grouped bars on a 0-1 scale, oldest version first.

import { line, svg, text } from "./chart.js";

const MIN_WIDTH = 300;
const HEIGHT = 240;
const MARGIN = { top: 28, right: 20, bottom: 36, left: 44 };
export const RATES = [
  ["play_through_rate", "play-through"],
  ["skip_rate", "skip"],
  ["play_rate", "plays per song shown"],
];

// The versions with online metrics on ``surface``, oldest first.
export function onlinePoints(versions, surface) {
  return versions
    .filter((v) => v.online && v.online[surface])
    .map((v) => ({ version: v.version, active: Boolean(v.active), ...v.online[surface] }))
    .sort((a, b) => a.version - b.version);
}

function axes(chart, width, y) {
  const bottom = HEIGHT - MARGIN.bottom;
  const group = svg("g", { class: "axes" });
  for (let i = 0; i <= 4; i += 1) {
    const value = i / 4;
    group.append(
      line(MARGIN.left, y(value), width - MARGIN.right, y(value), { class: "grid" }),
      text(MARGIN.left - 6, y(value) + 4, value.toFixed(2), "end"),
    );
  }
  group.append(line(MARGIN.left, bottom, width - MARGIN.right, bottom, { class: "axis" }));
  chart.append(group);
}

function legend(chart) {
  const group = svg("g", { class: "legend" });
  RATES.forEach(([name, label], i) => {
    const x = MARGIN.left + i * 130;
    group.append(
      svg("rect", { x, y: 7, width: 10, height: 10, class: `bar ${name}` }),
      text(x + 14, 16, label),
    );
  });
  chart.append(group);
}

export function drawOnlineChart(container, versions, surface = "home") {
  const points = onlinePoints(versions, surface);
  const width = Math.max(MIN_WIDTH, Math.floor(container.clientWidth));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img",
    "aria-label": `Online metrics of each model version on ${surface}`,
    "data-testid": "online-chart-svg",
  });
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (value) => MARGIN.top + innerH - value * innerH;
  axes(chart, width, y);
  legend(chart);
  const slot = (width - MARGIN.left - MARGIN.right) / Math.max(points.length, 1);
  const barW = Math.min(24, (slot * 0.8) / RATES.length);
  points.forEach((point, i) => {
    const x0 = MARGIN.left + i * slot + (slot - barW * RATES.length) / 2;
    RATES.forEach(([name, label], j) => {
      const value = point[name];
      if (typeof value !== "number") return;
      const bar = svg("rect", {
        x: x0 + j * barW,
        y: y(value),
        width: barW - 2,
        height: y(0) - y(value),
        class: `bar ${name}`,
        "data-testid": `online-bar-${name}`,
        "data-version": point.version,
        "data-value": value,
      });
      const answers = `${point.impressions} answers, ${point.first_day} – ${point.last_day}`;
      bar.append(svg("title", {}, `v${point.version} ${label}: ${value.toFixed(4)} (${answers})`));
      chart.append(bar);
    });
    const label = `v${point.version}${point.active ? " (active)" : ""}`;
    chart.append(text(x0 + (barW * RATES.length) / 2, HEIGHT - MARGIN.bottom + 16, label, "middle"));
  });
  if (!points.length) {
    chart.append(text(width / 2, HEIGHT / 2, "No online metrics yet.", "middle", "label"));
  }
  container.replaceChildren(chart);
  return points.length;
}
