// The theme chosen with the header's toggle (remembered in this browser), applied before the page
// paints so that it never flashes the other one. Without a choice the system setting decides.
(() => {
  const chosen = localStorage.getItem("optio-theme");
  if (chosen === "light" || chosen === "dark") document.documentElement.dataset.theme = chosen;
})();
