// The page shell: client-side routing over the history API, and the sign-in that sets the session.
import { ApiError, BASE, api, appPath, onSignedOut, url } from "./api.js";
import { clearErrors, field, h, link, showErrors, toast } from "./dom.js";

// Each page's module is fetched when its route is first shown: a visit downloads the page it
// opens, not all nine (Lighthouse on a phone: fewer bytes before the first content).
const ROUTES = [
  [/^\/$/, () => import("./page-overview.js"), "Overview"],
  [/^\/tasks$/, () => import("./page-tasks.js"), "Tasks"],
  [/^\/tasks\/new$/, () => import("./page-task-new.js"), "New Task"],
  [/^\/tasks\/scheduled(?:\/([^/]+))?$/, () => import("./page-scheduled.js"), "Scheduled"],
  [/^\/tasks\/([^/]+)$/, () => import("./page-task-detail.js"), "Task"],
  [/^\/templates$/, () => import("./page-templates.js"), "Templates"],
  [/^\/issues$/, () => import("./page-issues.js"), "Issues"],
  [/^\/repos$/, () => import("./page-repos.js"), "Repos"],
  [/^\/settings$/, () => import("./page-settings.js"), "Settings"],
];

const main = document.getElementById("main");
let leave = () => {};
let rendering = 0;

/** Shows the app's page at `path` ("/tasks/123?x=1#y"). */
function navigate(path) {
  history.pushState(null, "", url(path));
  render();
}

async function render() {
  leave();
  leave = () => {};
  const run = ++rendering;
  const path = appPath();
  const [pattern, load, title] = ROUTES.find(([re]) => re.test(path)) ?? [];
  markCurrent();
  if (!load) {
    document.title = "Page not found · Optio";
    document.body.classList.remove("signed-out");
    main.replaceChildren(h("div", { class: "page empty-page" }, h("h1", {}, "Page not found"),
      h("p", {}, "Nothing lives at ", h("code", {}, path), ": the address may be mistyped, or the page moved."),
      h("p", { class: "actions" }, link("/", "Go to the overview"), link("/tasks", "See the tasks"))));
    return;
  }
  document.title = `${title} · Optio`;
  const view = h("div", { class: "page" });
  main.replaceChildren(view);
  try {
    const page = (await load()).default;
    const stop = await page(view, { params: path.match(pattern).slice(1), navigate });
    if (run === rendering && typeof stop === "function") leave = stop;
    else if (typeof stop === "function") stop();
    if (run === rendering) document.body.classList.remove("signed-out");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    document.body.classList.remove("signed-out");
    view.replaceChildren(h("h1", {}, title), h("p", { class: "form-error", role: "alert" }, `Could not load this page: ${error.message}`));
  }
}

function markCurrent() {
  for (const anchor of document.querySelectorAll("nav a")) {
    const href = anchor.getAttribute("href");
    const current = href === location.pathname;
    if (current) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
}

/** The sign-in form; `signedIn` runs once the session is set. */
function signInForm(signedIn, note) {
  const token = h("input", { name: "token", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card sign-in", novalidate: true, method: "dialog" },
    h("h1", {}, "Sign in to Optio"),
    h("p", { class: "muted" }, note),
    field("Token", token),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await api("POST", "/api/auth/session", { token: token.value.trim() });
      signedIn();
    } catch (error) {
      showErrors(form, error.status === 401 ? new ApiError(400, { error: "That token is not valid.", details: [{ field: "token", problem: "is not a valid token" }] }) : error);
      token.focus();
    }
  });
  // With an identity provider configured, people sign in there rather than with a token.
  api("GET", "/api/setup/status").then((status) => {
    if (!status?.identityProvider || !form.isConnected) return;
    form.insertBefore(h("p", {}, h("a", { class: "button", href: url("/api/auth/login") },
      "Sign in with your identity provider")), form.children[1]);
  }, () => {});
  return { form, token };
}

function signIn() {
  // Several requests of one page may all answer 401: one form is enough.
  if (document.querySelector(".sign-in")) return;
  // A session that ends while a page is in use: sign in over the page, which keeps what was typed.
  if (!document.body.classList.contains("signed-out")) {
    const dialog = h("dialog", { class: "sign-in-dialog", "aria-labelledby": "sign-in-again" });
    const { form, token } = signInForm(() => {
      dialog.close();
      // A page that the ended session kept from loading loads now; one in use stays as it is.
      if (!main.querySelector(".page")?.childElementCount) render();
      else toast("Signed in again: your page is as you left it.");
    }, "Your session has ended. Sign in again to carry on: this page keeps what you typed.");
    form.querySelector("h1").id = "sign-in-again";
    dialog.addEventListener("close", () => dialog.remove());
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
    token.focus();
    return;
  }
  leave();
  leave = () => {};
  rendering += 1;
  document.title = "Sign in · Optio";
  document.body.classList.add("signed-out");
  const { form, token } = signInForm(render, "Paste the admin token (printed by make dev) or an API key.");
  main.replaceChildren(form);
  token.focus();
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[data-link]");
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  const target = new URL(anchor.href);
  if (target.pathname + target.search !== location.pathname + location.search) {
    navigate(appPath(target.pathname) + target.search + target.hash);
  }
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/auth/session");
  history.replaceState(null, "", url("/"));
  document.body.classList.add("signed-out");
  signIn();
});

// On a phone the navigation folds into a menu: opened by its button, closed by choosing a page.
const menu = document.getElementById("menu");
const setMenu = (open) => {
  menu.setAttribute("aria-expanded", String(open));
  document.querySelector("header.bar").classList.toggle("menu-open", open);
};
menu.addEventListener("click", () => setMenu(menu.getAttribute("aria-expanded") !== "true"));
document.querySelector("header nav").addEventListener("click", (event) => {
  if (event.target.closest("a")) setMenu(false);
});

// The theme toggle: pressed means dark. It starts from what is in effect (the remembered choice,
// else the system's) and remembers what is chosen.
const themeToggle = document.getElementById("theme");
const systemDark = matchMedia("(prefers-color-scheme: dark)");
const isDark = () => (document.documentElement.dataset.theme ?? (systemDark.matches ? "dark" : "light")) === "dark";
const showTheme = () => themeToggle.setAttribute("aria-pressed", String(isDark()));
themeToggle.addEventListener("click", () => {
  const next = isDark() ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("optio-theme", next);
  showTheme();
});
systemDark.addEventListener("change", showTheme);
showTheme();

window.addEventListener("popstate", render);
// The stage URL without its slash ("/api") is the overview too; with it, links compare equal.
if (BASE && location.pathname === BASE) history.replaceState(null, "", url("/") + location.search + location.hash);
onSignedOut(signIn);
render();
