// fetch helpers for the JSON API and a small DOM builder.
// Everything shown to the user goes through el()/text nodes, never parsed as markup: names
// and titles come from users and the catalog and must render as text.

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.message ? body.message : `HTTP ${status}`;
    const fields = body && Array.isArray(body.errors)
      ? body.errors.map((e) => `${e.field}: ${e.reason}`).join("; ")
      : "";
    super(fields ? `${detail} (${fields})` : detail);
    this.status = status;
    this.body = body;
  }
}

// Sent on every call: a request the player's sign-in cookie authenticates must carry it when
// it changes something (webapp/identity.py), which a page of another site cannot do.
const CSRF_HEADER = "X-Musicrec-Request";

async function request(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json", [CSRF_HEADER]: "1" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { message: `the server cannot be reached (${err.message})` });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const getJSON = (path, options) => request("GET", path, options);
export const postJSON = (path, body, options) => request("POST", path, { ...options, body });
// PATCH, PUT and DELETE: send("PUT", path, body)
export const send = (method, path, body, options) => request(method, path, { ...options, body });

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  return search.toString();
}

// el("li", {class: "song", testid: "rec-item", data: {songId: "s1"}, onclick: fn}, "text", child)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "testid") node.dataset.testid = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The "Because you listened to …" line of a recommended song, when it has one.
export function reasonOf(item, testid) {
  const text = item.reason && item.reason.text;
  return text ? el("span", { class: "reason", testid }, text) : null;
}

export function byTestId(id, root = document) {
  return root.querySelector(`[data-testid="${id}"]`);
}

export function showError(node, err) {
  node.textContent = err ? (err.message || String(err)) : "";
}

export function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function debounce(fn, waitMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), waitMs);
  };
}
