// Small DOM helpers: pages build their markup with `h` so that every value is text, never HTML.

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

export function link(href, ...children) {
  return h("a", { href, "data-link": true }, ...children);
}

/** A time in the viewer's own time zone. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function money(value) {
  return `$${Number(value || 0).toFixed(2)}`;
}

export function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, state.replaceAll("_", " "));
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
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint" }, hint) : null, error);
}

export function select(name, options, selected) {
  return h("select", { name },
    options.map(([value, text]) => h("option", { value, selected: value === selected }, text)));
}

/** Shows an API error next to the fields it names, or at the form's foot when it names none. */
export function showErrors(form, error) {
  clearErrors(form);
  let placed = false;
  for (const detail of error.details ?? []) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(detail.field.split(".")[0])}"]`);
    if (!slot) continue;
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

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), 4000);
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
