// Small DOM helpers: pages build their markup with `h` so that every value is text, never HTML.
import { url } from "./api.js";

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** A link to a page of the app: `href` is the app's path ("/tasks"), served under the base. */
export function link(href, ...children) {
  return h("a", { href: url(href), "data-link": true }, ...children);
}

/** A time in the viewer's own time zone. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

/** A time relative to now ("3 minutes ago"), the exact local time on hover and for screen readers' `datetime`. */
export function ago(iso) {
  if (!iso) return h("span", {}, "—");
  const seconds = (new Date(iso) - new Date()) / 1000;
  const [unit, size] = UNITS.find(([, n]) => Math.abs(seconds) >= n) ?? ["second", 1];
  return h("time", { datetime: iso, title: when(iso) }, RELATIVE.format(Math.round(seconds / size), unit));
}

/** How long from `start` to `end` (or to now, while it runs): "42 s", "3 min 5 s", "1 h 2 min". */
export function duration(start, end) {
  if (!start) return "—";
  const seconds = Math.max(0, Math.round(((end ? new Date(end) : new Date()) - new Date(start)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** A repository as a list shows it: "owner/name" of a hosted URL, the folder of a local one; the
 * whole URL on hover. */
export function repoName(repoUrl) {
  if (!repoUrl) return h("span", {}, "no repository");
  const parts = repoUrl.replace(/\.git$/, "").split(/[/:]/).filter(Boolean);
  const local = repoUrl.startsWith("file:") || repoUrl.startsWith("/");
  return h("span", { title: repoUrl }, local ? parts.at(-1) : parts.slice(-2).join("/"));
}

export function money(value) {
  return `$${Number(value || 0).toFixed(2)}`;
}

export function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, String(state).replaceAll("_", " "));
}

/** Whether a config or trigger runs: "active" or "paused". */
export function enabledBadge(enabled) {
  return h("span", { class: `badge ${enabled === false ? "state-cancelled" : "state-completed"}` }, enabled === false ? "paused" : "active");
}

export function empty(title, hint, ...actions) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), h("p", {}, hint), ...actions);
}

export function heading(title, ...actions) {
  return h("div", { class: "page-head" }, h("h1", {}, title), h("div", { class: "actions" }, ...actions));
}

/** A labelled input; its error line sits right under it, named by `field` (the API's details[].field). */
export function field(label, control, hint) {
  const id = control.id || `f-${control.name}`;
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": control.name });
  control.setAttribute("aria-describedby", error.id);
  // An error speaks of the value that was sent: editing it clears the error.
  const clear = () => { error.textContent = ""; control.removeAttribute("aria-invalid"); };
  control.addEventListener("input", clear);
  control.addEventListener("change", clear);
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint" }, hint) : null, error);
}

export function select(name, options, selected) {
  return h("select", { name },
    options.map(([value, text]) => h("option", { value, selected: value === selected }, text)));
}

/** Shows an API error next to the fields it names, or at the form's foot when it names none. A
 * detail's field is matched whole (`config.cronExpression`, `params.COUNT`), else by its longest leading part;
 * `aliases` maps the API's field names onto the form's where they differ. */
export function showErrors(form, error, aliases = {}) {
  clearErrors(form);
  let placed = false;
  const slotFor = (name) => form.querySelector(`[data-error-for="${CSS.escape(aliases[name] ?? name)}"]`);
  for (const detail of error.details ?? []) {
    // The longest leading part of the path that names a field: `environment.secrets.0` -> `environment.secrets`.
    const parts = String(detail.field ?? "").split(".");
    let slot = null;
    for (let n = parts.length; n > 0 && !slot; n -= 1) slot = slotFor(parts.slice(0, n).join("."));
    if (!slot || slot.closest("[hidden]")) continue;
    slot.textContent = `${slot.textContent ? `${slot.textContent}; ` : ""}${detail.problem}`;
    form.querySelector(`[name="${CSS.escape(slot.dataset.errorFor)}"]`)?.setAttribute("aria-invalid", "true");
    placed = true;
  }
  const general = form.querySelector(".form-error");
  if (general) general.textContent = placed ? "" : error.message;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((slot) => { slot.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((control) => control.removeAttribute("aria-invalid"));
}

/** Announces `message` (a polite live region). With `undo`, an Undo button runs it, and the
 * message stays long enough to reach it. */
export function toast(message, undo) {
  const box = document.getElementById("toast");
  box.replaceChildren(message);
  if (undo) {
    box.append(" ", h("button", { type: "button", class: "small undo", onclick: async (event) => {
      event.currentTarget.disabled = true;
      box.classList.remove("shown");
      try {
        await undo();
      } catch (error) {
        toast(`Could not undo: ${error.message}`);
      }
    } }, "Undo"));
  }
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), undo ? 8000 : 4000);
}

/** An icon of the vendored set (static/icons.svg, Lucide), decorative: the text beside it names the action. */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `${url("/static/icons.svg")}#${name}`);
  svg.append(use);
  return svg;
}

/** A button that copies `text` (an id, a token, a URL) to the clipboard, named after `what`. */
export function copyButton(text, what) {
  return h("button", { type: "button", class: "secondary small copy", "aria-label": `Copy ${what}`, title: `Copy ${what}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast(`Copied ${what}.`);
      } catch {
        toast(`Could not copy: select the ${what} and copy it by hand.`);
      }
    } }, icon("copy"), "Copy");
}

/** A placeholder of `lines` grey bars while a part of a page loads. */
export function skeleton(lines = 3) {
  return h("div", { class: "skeleton", "aria-busy": "true", "aria-label": "Loading" },
    Array.from({ length: lines }, () => h("span", { class: "skeleton-line" })));
}

/** One part of a page that loads on its own: a skeleton first, then what `draw` returns; a failed
 * request shows its error here with a Retry button, and the rest of the page carries on. Returns
 * the element and `load()`, which redraws in place (a failed refresh keeps what was shown). */
export function widget(draw, lines = 3) {
  const box = h("div", { class: "widget" }, skeleton(lines));
  let shown = false;
  const load = async () => {
    try {
      box.replaceChildren(await draw());
      shown = true;
    } catch (error) {
      if (shown) return;
      box.replaceChildren(h("div", { class: "widget-error", role: "alert" },
        h("p", {}, `Could not load this: ${error.message}`),
        h("button", { type: "button", class: "secondary small", onclick: () => { box.replaceChildren(skeleton(lines)); load(); } }, icon("refresh-cw"), "Retry")));
    }
  };
  return { element: box, load };
}

/** Asks before a destructive action, in a modal dialog: resolves true only when `confirm` (the
 * button's label, naming what happens and to how many) is chosen. Escape or Go back keep things. */
export function confirmAction(title, message, confirm) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, title), h("p", {}, message),
        h("div", { class: "actions" },
          h("button", { value: "cancel", class: "secondary", autofocus: true }, "Go back"),
          h("button", { value: "confirm", class: "danger" }, confirm))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Runs `action` from a button: disabled while it runs, errors shown as a toast. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (error) {
    toast(error.message);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export const AGENT_TYPES = ["claude-code", "codex", "copilot", "gemini", "opencode", "custom"];
export const TASK_STATES = ["pending", "waiting_on_deps", "queued", "provisioning", "running",
  "needs_attention", "pr_opened", "completed", "failed", "cancelled"];
