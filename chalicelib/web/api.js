// The JSON API on the same origin: the HttpOnly session cookie goes with every request.

// The path the app is served under: "" locally and on a custom domain, the stage ("/api") at an
// API Gateway stage URL. Paths in the scripts are the app's own ("/tasks", "/api/tasks"): `url`
// puts the base in front for the browser, `appPath` takes it off the current location.
export const BASE = document.querySelector('meta[name="optio-base"]')?.content ?? "";

export function url(path) {
  return path.startsWith("/") ? BASE + path : path;
}

export function appPath(pathname = location.pathname) {
  return (BASE && pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname) || "/";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `request failed (${status})`);
    this.status = status;
    this.details = body?.details ?? [];
    this.body = body;
  }
}

let signedOut = () => {};

/** Called whenever the API answers 401: the session is missing or no longer valid. */
export function onSignedOut(handler) {
  signedOut = handler;
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answer(path, await fetch(url(path), init));
}

async function answer(path, response) {
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text.slice(0, 200) };
  }
  if (response.status === 401 && !path.startsWith("/api/auth/session")) signedOut();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** A GET that downloads `path` again only if it changed since the answer tagged `etag`: resolves
 * `{ changed: false }` on the server's 304, else `{ changed: true, body, etag }`. The request says
 * so itself (the browser's own revalidation is invisible to the page, and skipped for a response
 * it chose not to cache). */
export async function getIfChanged(path, etag) {
  const headers = { Accept: "application/json" };
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(url(path), { credentials: "same-origin", headers, cache: "no-store" });
  if (response.status === 304) return { changed: false };
  return { changed: true, body: await answer(path, response), etag: response.headers.get("ETag") };
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** Every item of a paged list, following `nextCursor` up to `maxPages` pages. */
export async function all(path, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const joiner = path.includes("?") ? "&" : "?";
    const url = `${path}${joiner}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const body = await get(url);
    items.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return items;
}

/** Whether the API serves `path` (routes other teams add arrive over time). */
export async function hasRoute(path) {
  const document = await get("/api/openapi.json");
  return Object.prototype.hasOwnProperty.call(document.paths, path);
}
