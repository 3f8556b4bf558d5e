// The model-quality chart of the admin page, drawn as inline SVG: NDCG@K of each model version
// and of the popularity baseline on the same holdout, over the time each version finished.

const SVG = "http://www.w3.org/2000/svg";
// Drawn at the container's own width, so its text keeps its size on a phone and a desktop.
const MIN_WIDTH = 300;
const HEIGHT = 260;
const MARGIN = { top: 28, right: 20, bottom: 40, left: 56 };

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function ndcg(metrics) {
  return metrics && typeof metrics.ndcg === "number" ? metrics.ndcg : null;
}

// The versions that have holdout metrics, oldest first.
export function chartPoints(versions) {
  return versions
    .filter((v) => v.metrics && ndcg(v.metrics.model) !== null)
    .map((v) => ({
      version: v.version,
      status: v.status,
      active: Boolean(v.active),
      at: new Date(v.finished_at || v.started_at),
      model: ndcg(v.metrics.model),
      popularity: ndcg(v.metrics.popularity),
      k: v.metrics.model.k,
    }))
    .sort((a, b) => a.at - b.at || a.version - b.version);
}

function scales(points, width) {
  let t0 = Math.min(...points.map((p) => p.at.getTime()));
  let t1 = Math.max(...points.map((p) => p.at.getTime()));
  if (t1 - t0 < 60_000) {
    t0 -= 30 * 60_000;
    t1 += 30 * 60_000;
  }
  const top = Math.max(0.01, ...points.flatMap((p) => [p.model, p.popularity ?? 0])) * 1.15;
  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  return {
    x: (date) => MARGIN.left + ((date.getTime() - t0) / (t1 - t0)) * innerW,
    y: (value) => MARGIN.top + innerH - (value / top) * innerH,
    t0,
    t1,
    top,
  };
}

function shortTime(ms) {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

export function text(x, y, content, anchor = "start", cls = "tick") {
  return svg("text", { x, y, "text-anchor": anchor, class: cls }, content);
}

export function line(x1, y1, x2, y2, attrs) {
  return svg("line", { x1, y1, x2, y2, ...attrs });
}

function axes(chart, scale, width, k) {
  const { left, top } = MARGIN;
  const bottom = HEIGHT - MARGIN.bottom;
  const right = width - MARGIN.right;
  const group = svg("g", { class: "axes" });
  for (let i = 0; i <= 4; i += 1) {
    const value = (scale.top * i) / 4;
    const y = scale.y(value);
    group.append(
      line(left, y, right, y, { class: "grid" }),
      text(left - 6, y + 4, value.toFixed(3), "end"),
    );
  }
  group.append(
    line(left, bottom, right, bottom, { class: "axis", "data-testid": "chart-x-axis" }),
    line(left, top, left, bottom, { class: "axis", "data-testid": "chart-y-axis" }),
    text(left, bottom + 18, shortTime(scale.t0)),
    text(right, bottom + 18, shortTime(scale.t1), "end"),
    text((left + right) / 2, HEIGHT - 6, "finished (UTC)", "middle", "label"),
    text(12, top - 12, `NDCG@${k ?? "K"}`, "start", "label"),
  );
  chart.append(group);
}

function legend(chart, width) {
  const x = width - MARGIN.right - 210;
  const group = svg("g", { class: "legend" });
  group.append(
    svg("circle", { cx: x, cy: 12, r: 5, class: "model" }),
    text(x + 10, 16, "model"),
    svg("rect", { x: x + 65, y: 7, width: 10, height: 10, class: "popularity" }),
    text(x + 80, 16, "popularity"),
    svg("circle", { cx: x + 160, cy: 12, r: 7, class: "active-ring" }),
    text(x + 172, 16, "active"),
  );
  chart.append(group);
}

function mark(name, point, x, y) {
  const testid = `chart-point-${name}`;
  const attrs = { class: name, "data-testid": testid, "data-version": point.version };
  const node = name === "model"
    ? svg("circle", { cx: x, cy: y, r: 5, ...attrs })
    : svg("rect", { x: x - 5, y: y - 5, width: 10, height: 10, ...attrs });
  const value = `${name} NDCG ${point[name].toFixed(4)}`;
  node.append(svg("title", {}, `version ${point.version} (${point.status}): ${value}`));
  return node;
}

function series(chart, points, scale, name) {
  const located = points
    .filter((p) => p[name] !== null)
    .map((p) => ({ point: p, x: scale.x(p.at), y: scale.y(p[name]) }));
  if (located.length > 1) {
    const path = located.map((l) => `${l.x},${l.y}`).join(" ");
    chart.append(svg("polyline", { points: path, class: `line ${name}` }));
  }
  for (const { point, x, y } of located) {
    chart.append(mark(name, point, x, y));
    if (name === "model" && point.active) {
      const ring = { cx: x, cy: y, r: 9, class: "active-ring", "data-testid": "chart-active" };
      chart.append(svg("circle", ring));
    }
  }
}

export function drawChart(container, versions) {
  const points = chartPoints(versions);
  const width = Math.max(MIN_WIDTH, Math.floor(container.clientWidth));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img",
    "aria-label": "NDCG@K of each model version against popularity",
    "data-testid": "chart-svg",
  });
  const empty = [{ at: new Date(), model: 0, popularity: 0 }];
  const scale = scales(points.length ? points : empty, width);
  axes(chart, scale, width, points[0] && points[0].k);
  legend(chart, width);
  series(chart, points, scale, "popularity");
  series(chart, points, scale, "model");
  container.replaceChildren(chart);
  return points.length;
}
