// The admin page: model versions (table and chart), activation, retrain and re-embed runs
// followed to the end, experiments (start, results per arm, stop), the pipeline's
// freshness, DAG runs and alerts, and the audit trail of admin actions. The admin token is
// kept in sessionStorage: it lasts for this tab and is sent only as a bearer header.
// Who the token names and its role come from /admin/me: for the read-only operator role the
// controls that change something are hidden or disabled (the server refuses them anyway).

import { byTestId, debounce, el, getJSON, postJSON, showError } from "./api.js";
import { drawChart } from "./chart.js";
import { drawOnlineChart } from "./online_chart.js";

const TOKEN_KEY = "musicrec.adminToken";
const RUN_POLL_MS = 3000;
const FINISHED_RUN_STATES = ["success", "failed"];

const tokenInput = byTestId("token-input");
const token = () => sessionStorage.getItem(TOKEN_KEY);
let pollTimer = null;
let chartedVersions = [];
let role = null; // the credential's role (admin or operator); null while unknown
const readOnly = () => role === "operator";

function when(value) {
  return value ? new Date(value).toISOString().slice(0, 19).replace("T", " ") + " UTC" : "–";
}

function fixed(value) {
  return typeof value === "number" ? value.toFixed(4) : "–";
}

// --- models ------------------------------------------------------------------------------

function modelRow(model) {
  const metrics = model.metrics || {};
  const canActivate = model.status === "passed" && !model.active && !readOnly();
  const badge = model.active
    ? el("strong", { class: "badge", testid: "active-badge" }, "active")
    : null;
  const onclick = () => activate(model.version);
  const activateButton = canActivate
    ? el("button", { type: "button", testid: "activate", onclick }, "Activate")
    : null;
  const row = { testid: "model-row", data: { version: model.version } };
  return el(
    "tr",
    { ...row, class: model.active ? "active" : null },
    el("td", {}, `v${model.version}`, badge),
    el("td", { title: model.reason || "" }, model.status),
    el("td", {}, `${model.window_start} – ${model.window_end}`),
    el("td", {}, fixed(metrics.model && metrics.model.ndcg)),
    el("td", {}, fixed(metrics.popularity && metrics.popularity.ndcg)),
    onlineCell(model, "home"),
    onlineCell(model, "up_next"),
    el("td", {}, when(model.finished_at)),
    el("td", {}, activateButton),
  );
}

// A version's online play-through rate on a surface, with its answers counted in the title.
function onlineCell(model, surface) {
  const found = model.online && model.online[surface];
  const title = found ? `${found.impressions} answers, ${found.first_day} – ${found.last_day}` : "";
  const testid = `online-${surface}`;
  return el("td", { title, testid }, fixed(found ? found.play_through_rate : null));
}

function drawCharts() {
  drawChart(byTestId("chart-box"), chartedVersions);
  drawOnlineChart(byTestId("online-chart-box"), chartedVersions, "home");
}

async function loadModels() {
  const error = byTestId("models-error");
  try {
    const answer = await getJSON("/admin/models", { token: token() });
    showError(error, null);
    byTestId("models-table").tBodies[0].replaceChildren(...answer.versions.map(modelRow));
    byTestId("models-empty").hidden = answer.versions.length > 0;
    chartedVersions = answer.versions;
    drawCharts();
    return true;
  } catch (err) {
    showError(error, err);
    return err.status !== 401 && err.status !== 403;
  }
}

async function activate(version) {
  const error = byTestId("models-error");
  try {
    await postJSON(`/admin/models/${version}/activate`, {}, { token: token() });
    await loadModels();
  } catch (err) {
    showError(error, err);
  }
  await loadAudit();
}

// --- runs --------------------------------------------------------------------------------

function describeRun(run) {
  const tasks = Object.entries(run.tasks || {})
    .map(([task, state]) => `${task}: ${state || "pending"}`)
    .join(", ");
  let outcome = "";
  if (run.model) {
    const reason = run.model.reason ? ` (${run.model.reason})` : "";
    outcome = ` → model v${run.model.version} ${run.model.status}${reason}`;
  }
  if (run.embedding) outcome = ` → ${run.embedding.songs_embedded} songs embedded`;
  const paused =
    run.dag_paused && !FINISHED_RUN_STATES.includes(run.state)
      ? ` (waiting: ${run.dag_id} is paused in Airflow; it runs once unpaused)`
      : "";
  return `${run.run_id}: ${run.state}${paused}${tasks ? ` (${tasks})` : ""}${outcome}`;
}

async function followRun(runId) {
  clearTimeout(pollTimer);
  const status = byTestId("run-status");
  status.dataset.runId = runId;
  try {
    const run = await getJSON(`/admin/runs/${encodeURIComponent(runId)}`, { token: token() });
    status.textContent = describeRun(run);
    status.dataset.state = run.state;
    if (FINISHED_RUN_STATES.includes(run.state)) {
      await Promise.all([loadModels(), loadStatus()]);
      return;
    }
  } catch (err) {
    showError(byTestId("run-error"), err);
  }
  pollTimer = setTimeout(() => followRun(runId), RUN_POLL_MS);
}

async function startRun(path) {
  const error = byTestId("run-error");
  showError(error, null);
  try {
    const run = await postJSON(path, {}, { token: token() });
    byTestId("run-status").textContent = describeRun(run);
    followRun(run.run_id);
  } catch (err) {
    showError(error, err);
  }
  await loadAudit();
}

// --- experiments ---------------------------------------------------------------------------

const EXPERIMENTS_SHOWN = 10;
// The rates compared with the control, as GET /admin/experiments/<name> names them.
const EXPERIMENT_RATES = [
  ["play_through_rate", "Play-through"],
  ["skip_rate", "Skip rate"],
];

// "name:share[:blend=W][:model_version=V][:random]" per line, as the CLI's --arm takes.
function parseArms(text) {
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.map((line, i) => {
    const [name, share, ...options] = line.split(":");
    const arm = { name, share: Number(share) };
    if (share === undefined || share.trim() === "" || Number.isNaN(arm.share)) {
      throw new Error(`arm line ${i + 1} (${line}): the share must be a number`);
    }
    for (const option of options) {
      const [key, value] = option.split("=");
      if (key === "random" && value === undefined) arm.random = true;
      else if (key === "blend" && value !== undefined) arm.blend = Number(value);
      else if (key === "model_version" && value !== undefined) arm.model_version = Number(value);
      else {
        const expected = "blend=W, model_version=V or random";
        throw new Error(`arm line ${i + 1} (${line}): ${option} is not ${expected}`);
      }
    }
    return arm;
  });
}

function serves(arm) {
  if (arm.random) return "random songs";
  const parts = [];
  if (arm.model_version != null) parts.push(`model v${arm.model_version}`);
  if (arm.blend != null) parts.push(`blend ${arm.blend}`);
  return parts.join(", ") || "as usual";
}

function rate(value) {
  return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "–";
}

function signed(value) {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value * 100).toFixed(1)}`;
}

function liftCells(arm, key) {
  const lift = arm.lift && arm.lift[key];
  if (!lift) return [el("td", {}, "–"), el("td", {}, "")];
  const change =
    lift.difference === null
      ? "–"
      : `${signed(lift.difference)} pts [${signed(lift.low)}, ${signed(lift.high)}]`;
  const verdictClass = `verdict ${lift.verdict.replaceAll(" ", "-")}`;
  return [
    el("td", { testid: `lift-${key}` }, change),
    el("td", { testid: `verdict-${key}`, class: verdictClass }, lift.verdict),
  ];
}

function experimentArmRow(arm) {
  const totals = arm.totals;
  return el(
    "tr",
    { testid: "experiment-arm", data: { arm: arm.name } },
    el("td", {}, arm.name, arm.control ? el("strong", { class: "badge" }, "control") : null),
    el("td", {}, `${Math.round(arm.share * 1000) / 10}%`),
    el("td", {}, serves(arm)),
    el("td", { testid: "arm-impressions" }, totals.impressions),
    el("td", {}, totals.playbacks),
    ...EXPERIMENT_RATES.flatMap(([key]) => [
      el("td", {}, rate(arm.rates[key])),
      ...liftCells(arm, key),
    ]),
  );
}

function experimentHead() {
  const columns = ["Arm", "Share", "Serves", "Impressions", "Playbacks"];
  for (const [, label] of EXPERIMENT_RATES) columns.push(label, "Lift", "Verdict");
  return el("thead", {}, el("tr", {}, ...columns.map((text) => el("th", {}, text))));
}

function experimentBlock(experiment) {
  const stoppable = experiment.status === "running" && !readOnly();
  const onclick = () => stopExperiment(experiment.name);
  const stopButton = stoppable
    ? el("button", { type: "button", testid: "experiment-stop", onclick }, "Stop")
    : null;
  const surface = experiment.surface === "home" ? "home page" : "Up Next";
  const status = el(
    "span",
    { testid: "experiment-status", class: `state ${experiment.status}` },
    experiment.status,
  );
  const stopped = experiment.stopped_at ? `, stopped ${when(experiment.stopped_at)}` : "";
  const notes = experiment.notes ? ` · ${experiment.notes}` : "";
  const data = { name: experiment.name, status: experiment.status };
  return el(
    "article",
    { class: "experiment", testid: "experiment", data },
    el("h3", {}, `${experiment.name} · ${surface} · `, status, " ", stopButton),
    el(
      "p",
      { class: "meta" },
      `started ${when(experiment.started_at)} by ${experiment.started_by}${stopped}${notes}`,
    ),
    el(
      "div",
      { class: "table-scroll" },
      el("table", {}, experimentHead(), el("tbody", {}, ...experiment.arms.map(experimentArmRow))),
    ),
  );
}

async function loadExperiments() {
  const error = byTestId("experiment-error");
  try {
    const { experiments } = await getJSON("/admin/experiments", { token: token() });
    const shown = await Promise.all(
      experiments
        .slice(0, EXPERIMENTS_SHOWN)
        .map((e) => getJSON(`/admin/experiments/${encodeURIComponent(e.name)}`, {
          token: token(),
        })),
    );
    byTestId("experiment-list").replaceChildren(...shown.map(experimentBlock));
    byTestId("experiments-empty").hidden = shown.length > 0;
  } catch (err) {
    showError(error, err);
  }
}

async function startExperiment(event) {
  event.preventDefault();
  const error = byTestId("experiment-error");
  showError(error, null);
  try {
    const notes = byTestId("experiment-notes").value.trim();
    const body = {
      name: byTestId("experiment-name").value.trim(),
      surface: byTestId("experiment-surface").value,
      arms: parseArms(byTestId("experiment-arms").value),
      ...(notes ? { notes } : {}),
    };
    await postJSON("/admin/experiments", body, { token: token() });
    byTestId("experiment-name").value = "";
    byTestId("experiment-notes").value = "";
    await loadExperiments();
  } catch (err) {
    showError(error, err);
  }
  await loadAudit();
}

async function stopExperiment(name) {
  const error = byTestId("experiment-error");
  showError(error, null);
  try {
    await postJSON(`/admin/experiments/${encodeURIComponent(name)}/stop`, {}, { token: token() });
    await loadExperiments();
  } catch (err) {
    showError(error, err);
  }
  await loadAudit();
}

// --- pipeline status -----------------------------------------------------------------------

function describeCounters(run) {
  const interval = `${when(run.interval_start)} → ${when(run.interval_end)}`;
  return `${interval}, ${run.events} events, counted ${when(run.counted_at)}`;
}

function describeResync(run) {
  const found = `${run.songs_ranked} songs ranked, ${run.intervals_corrected} intervals corrected`;
  return `day ${run.snapshot_date}, ${found}, at ${when(run.computed_at)}`;
}

function describeEmbedding(run) {
  return `${run.status}, ${run.songs_embedded ?? 0} embedded, started ${when(run.started_at)}`;
}

function freshnessEntries(freshness) {
  const { counters, resync, embeddings } = freshness;
  return [
    ["Events landed up to", when(freshness.last_landed_event_at)],
    ["Last counters run", counters ? describeCounters(counters) : "never"],
    ["Last trending resync", resync ? describeResync(resync) : "never"],
    ["Last lyrics embedding", embeddings ? describeEmbedding(embeddings) : "never"],
  ];
}

function alertSource(alert) {
  return alert.task_id ? `${alert.dag_id}.${alert.task_id}` : alert.dag_id;
}

function renderStatus(answer) {
  byTestId("freshness-list").replaceChildren(
    ...freshnessEntries(answer.freshness).flatMap(([term, detail]) => [
      el("dt", {}, term),
      el("dd", { testid: "freshness-value" }, detail),
    ]),
  );
  const airflow = byTestId("airflow-state");
  airflow.dataset.airflow = answer.airflow;
  airflow.textContent =
    answer.airflow === "available" ? "" : "Airflow is unreachable: no DAG runs to show.";
  const rows = Object.entries(answer.dag_runs || {}).flatMap(([dagId, runs]) =>
    runs.length
      ? runs.map((run) =>
          el(
            "tr",
            { testid: "dag-run", data: { state: run.state } },
            el("td", {}, dagId),
            el("td", {}, run.dag_run_id),
            el("td", { class: `state ${run.state}` }, run.state),
            el("td", {}, when(run.start_date)),
            el("td", {}, when(run.end_date)),
          ),
        )
      : [el("tr", {}, el("td", {}, dagId), el("td", { colspan: 4 }, "no runs"))],
  );
  byTestId("dag-runs").tBodies[0].replaceChildren(...rows);
  byTestId("alerts").replaceChildren(
    ...answer.alerts.map((alert) =>
      el(
        "li",
        { testid: "alert", class: alert.severity },
        el("span", { class: "meta" }, `${when(alert.occurred_at)} · ${alertSource(alert)}`),
        el("span", {}, alert.message),
      ),
    ),
  );
  byTestId("alerts-empty").hidden = answer.alerts.length > 0;
}

async function loadStatus() {
  const error = byTestId("status-error");
  try {
    renderStatus(await getJSON("/admin/status", { token: token() }));
    showError(error, null);
  } catch (err) {
    showError(error, err);
  }
}

// --- audit trail ---------------------------------------------------------------------------

const AUDIT_PAGE = 20;
let auditNext = null; // the query of the next older page, null on the last one
let auditLoads = 0; // a first page loaded since an older one was asked for supersedes it

function localTime(value) {
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

// The details as indented JSON, folded under the names of their fields.
function auditDetails(details) {
  const fields = Object.keys(details || {});
  if (fields.length === 0) return el("td", { testid: "audit-details" }, "–");
  return el(
    "td",
    { testid: "audit-details" },
    el(
      "details",
      { class: "audit-details" },
      el("summary", {}, fields.join(", ")),
      el("pre", {}, JSON.stringify(details, null, 2)),
    ),
  );
}

function auditRow(entry) {
  const ok = entry.outcome === "ok";
  const data = { id: entry.id, action: entry.action, outcome: entry.outcome };
  return el(
    "tr",
    { testid: "audit-row", data },
    el("td", { testid: "audit-at", title: when(entry.at) }, localTime(entry.at)),
    el("td", { testid: "audit-actor", title: `through the ${entry.via}` }, entry.actor),
    el("td", { testid: "audit-action" }, entry.action),
    el("td", { testid: "audit-target" }, entry.target),
    el("td", { testid: "audit-outcome", class: `outcome ${ok ? "ok" : "refused"}` }, entry.outcome),
    auditDetails(entry.details),
  );
}

// The newest page, or with older the page after the rows shown.
async function loadAudit({ older = false } = {}) {
  const error = byTestId("audit-error");
  const load = older ? auditLoads : ++auditLoads;
  const first = `?limit=${AUDIT_PAGE}`;
  const path = `/admin/audit${older && auditNext ? auditNext : first}`;
  const olderButton = byTestId("audit-older");
  olderButton.disabled = true;
  try {
    const answer = await getJSON(path, { token: token() });
    if (load !== auditLoads) return; // the newest page was reloaded meanwhile
    showError(error, null);
    const body = byTestId("audit-table").tBodies[0];
    const rows = answer.entries.map(auditRow);
    if (older) body.append(...rows);
    else body.replaceChildren(...rows);
    auditNext = answer.next;
    olderButton.hidden = !answer.next;
    byTestId("audit-empty").hidden = body.rows.length > 0;
  } catch (err) {
    if (load === auditLoads) showError(error, err);
  } finally {
    if (load === auditLoads) olderButton.disabled = false;
  }
}

// --- role ----------------------------------------------------------------------------------

const READ_ONLY_NOTES = ["read-only-note", "experiments-read-only", "runs-read-only"];

// Who the credential names ({name, role, via}), or the error that kept it from being known.
async function whoAmI() {
  try {
    return { who: await getJSON("/admin/me", { token: token() }) };
  } catch (err) {
    return { err };
  }
}

function applyRole(who, err) {
  role = who ? who.role : null;
  const line = byTestId("admin-who");
  if (who) line.textContent = `Signed in as ${who.name} (${who.role})`;
  else line.textContent = err ? `Signed in; the role is unknown (${err.message})` : "";
  line.hidden = !line.textContent;
  line.dataset.role = role || "";
  const locked = readOnly();
  for (const id of READ_ONLY_NOTES) byTestId(id).hidden = !locked;
  byTestId("experiment-form").hidden = locked;
  for (const id of ["retrain", "reembed"]) {
    const button = byTestId(id);
    button.disabled = locked;
    if (locked) button.title = "the operator role is read-only: this needs the admin role";
    else button.removeAttribute("title");
  }
}

// --- token ---------------------------------------------------------------------------------

async function open() {
  const error = byTestId("admin-error");
  if (!token()) return;
  showError(error, null);
  const me = await whoAmI();
  const refused = me.err && [401, 403, 503].includes(me.err.status);
  applyRole(me.who, refused ? null : me.err);
  if (refused) {
    showError(error, me.err);
    byTestId("admin-content").hidden = true;
    return;
  }
  const authorised = await loadModels();
  if (!authorised) {
    showError(error, byTestId("models-error").textContent);
    byTestId("admin-content").hidden = true;
    return;
  }
  byTestId("admin-content").hidden = false;
  drawCharts(); // again: hidden, they had no width
  await Promise.all([loadStatus(), loadExperiments(), loadAudit()]);
  document.body.dataset.ready = "true";
}

byTestId("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  tokenInput.value = "";
  open();
});
byTestId("token-forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  byTestId("admin-content").hidden = true;
  byTestId("audit-table").tBodies[0].replaceChildren();
  applyRole(null);
});
window.addEventListener(
  "resize",
  debounce(() => chartedVersions.length && drawCharts(), 200),
);
byTestId("retrain").addEventListener("click", () => startRun("/admin/retrain"));
byTestId("reembed").addEventListener("click", () => startRun("/admin/embed"));
byTestId("experiment-form").addEventListener("submit", startExperiment);
byTestId("audit-older").addEventListener("click", () => loadAudit({ older: true }));

open();
