// The log viewer of a task (or a run): every line it has read, held by sequence number, and only
// the rows in view (plus a margin) in the DOM, so a 50,000-line log scrolls as a 50-line one does.
//
// Its interface, all a page (or a live feed) needs:
//   element       the section to place in the page
//   open()        reads the newest page (`order=desc`): a long log opens at its end
//   add(items)    log items ({seq, type, content, at}) in any order and with any overlap: each seq is
//                 held and shown once. The page's polls and the WebSocket feed (W1) both deliver here.
//   after()       the highest seq held (0 when none): where a poll or a reconnecting feed resumes
//   clear()       forgets every line (force redo deletes the log; the numbering goes on)
// Older lines are read page by page (`order=desc&before=<oldest held>`) as the reader scrolls up.
import { get } from "./api.js";
import { field, h, select, when } from "./dom.js";

const PAGE = 200; // the API's largest page
const MARGIN = 40; // rows kept in the DOM above and below the visible ones
const NEAR_TOP = 20; // rows from the top at which scrolling up reads the next older page
// The types the runner's adapters write; a type not listed here gets its option when it first shows.
const KNOWN_TYPES = ["text", "thinking", "tool_use", "tool_result", "permission", "retry", "error", "system"];
const SHORT = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];

/** "12 s ago", "5 min ago": short enough for every row; the exact time is on hover. */
function since(iso, now) {
  const seconds = Math.max(0, Math.round((now - new Date(iso)) / 1000));
  const [unit, size] = SHORT.find(([, n]) => seconds >= n) ?? ["s", 1];
  return `${Math.floor(seconds / size)} ${unit} ago`;
}

/** The text of `content` with each occurrence of `needle` (lower case) marked. */
function marked(content, lower, needle) {
  if (!needle) return [content];
  const parts = [];
  let from = 0;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, from)) {
    parts.push(content.slice(from, at), h("mark", {}, content.slice(at, at + needle.length)));
    from = at + needle.length;
  }
  parts.push(content.slice(from));
  return parts;
}

/** A log viewer reading `path` (`/api/tasks/<id>/logs`); `filename` names the download. */
export function logView(path, { filename = "log.txt", label = "Agent logs" } = {}) {
  let lines = []; // every line held, by ascending seq
  const bySeq = new Map();
  let shown = lines; // the lines the type filter lets through
  let matches = []; // indexes into `shown` of the lines that contain the search
  let current = -1; // the match in focus, an index into `matches`
  let filter = "";
  let needle = "";
  let olderCursor = null; // the `before` of the next older page; null once the start is held
  let reading = null; // the older page being read, so scrolling and searching share one request
  let frame = 0;
  let ours = -1; // the scrollTop this view set itself: a scroll there is not the reader's
  const rows = new Map(); // seq -> its row, for the rows in the DOM

  const list = h("ol", { class: "logs" });
  // The scrolling box around the list: the list's padding stands for the rows not in the DOM, and
  // only a box that is not itself padded can grow that tall.
  // Until the first read answers, the box keeps the room a log takes (what is below it does not
  // jump when the lines come) and says it is reading.
  const box = h("div", { class: "log-scroll reading", tabindex: "0", role: "region", "aria-label": label, "aria-busy": "true" }, list);
  const waiting = h("p", { class: "muted", hidden: true }, "No log lines yet: they appear here as the agent works.");
  let opened = false;
  const typeSelect = select("logType", [["", "All types"], ...KNOWN_TYPES.map((t) => [t, t.replace("_", " ")])], "");
  const search = h("input", { name: "logSearch", type: "search", placeholder: "Find in logs", autocomplete: "off",
    title: "Enter: previous (older) match; Shift+Enter: next (newer)" });
  const follow = h("input", { name: "follow", type: "checkbox", checked: true });
  const status = h("span", { class: "muted log-status", role: "status" });
  const held = h("span", { class: "muted log-held" });
  const older = h("button", { type: "button", class: "secondary small", hidden: true, onclick: () => readOlder().catch(failed) }, "Show older lines");
  const previous = h("button", { type: "button", class: "secondary small", disabled: true, title: "Previous match (older)",
    onclick: () => step(-1) }, h("span", { "aria-hidden": "true" }, "↑ "), "Previous");
  const next = h("button", { type: "button", class: "secondary small", disabled: true, title: "Next match (newer)",
    onclick: () => step(1) }, h("span", { "aria-hidden": "true" }, "↓ "), "Next");

  // The row height and the list's end padding, from the stylesheet: read once (a style read in
  // every scroll frame would cost a style recalculation each time).
  let metrics = null;
  const measure = () => {
    if (!metrics && list.isConnected) {
      const style = getComputedStyle(list);
      metrics = { row: parseFloat(style.getPropertyValue("--log-row")) || 20, pad: parseFloat(style.getPropertyValue("--log-pad")) || 0 };
    }
    return metrics ?? { row: 20, pad: 0 };
  };
  const rowHeight = () => measure().row;
  const padding = () => measure().pad;
  const scrollTo = (top) => {
    box.scrollTop = top;
    ours = box.scrollTop;
  };
  const atEnd = () => box.scrollHeight - box.scrollTop - box.clientHeight < 2;
  const indexOfSeq = (seq) => {
    // Binary search in `shown` (ascending seq): the first line at or after `seq`.
    let low = 0;
    let high = shown.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (shown[mid].seq < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  };

  const row = (line, now) => h("li", { class: `log-line log-${line.type}${matches[current] !== undefined && shown[matches[current]] === line ? " current" : ""}`,
    dataset: { seq: String(line.seq), type: line.type } },
  h("span", { class: "log-seq", "aria-hidden": "true" }, String(line.seq)),
  line.at ? h("time", { class: "log-time", datetime: line.at, title: (line.exact ??= when(line.at)) }, since(line.at, now)) : h("span", { class: "log-time" }),
  h("span", { class: "log-type" }, line.type.replace("_", " ")),
  h("span", { class: "log-content" }, ...marked(line.display, line.lower, needle)));

  /** Puts the rows in view (and MARGIN either side) in the list; the padding stands for the rest. */
  const render = () => {
    frame = 0;
    const size = rowHeight();
    const pad = padding();
    const top = Math.max(0, box.scrollTop - pad);
    const first = Math.max(0, Math.floor(top / size) - MARGIN);
    const last = Math.min(shown.length, Math.ceil((top + (box.clientHeight || 420)) / size) + MARGIN);
    list.style.paddingTop = `${pad + first * size}px`;
    list.style.paddingBottom = `${pad + (shown.length - last) * size}px`;
    const now = new Date();
    const keep = new Map();
    const children = [];
    for (let i = first; i < last; i += 1) {
      const line = shown[i];
      const item = rows.get(line.seq) ?? row(line, now);
      keep.set(line.seq, item);
      children.push(item);
    }
    rows.clear();
    for (const [seq, item] of keep) rows.set(seq, item);
    list.replaceChildren(...children);
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(render);
  };
  /** Redraws every row (a new search, a new current match): rows are cached until then. */
  const redraw = () => {
    rows.clear();
    render();
  };

  /** Where the reader is: the first line in view and how far into it, to stay there when lines arrive above. */
  const anchor = () => {
    const size = rowHeight();
    const index = Math.floor(Math.max(0, box.scrollTop - padding()) / size);
    return shown[index] ? { seq: shown[index].seq, offset: box.scrollTop - index * size } : null;
  };
  const restore = (mark) => {
    if (mark) scrollTo(indexOfSeq(mark.seq) * rowHeight() + mark.offset);
  };
  const toEnd = () => {
    render();
    scrollTo(box.scrollHeight);
    render();
  };

  const findMatches = () => {
    const focus = matches[current] !== undefined ? shown[matches[current]]?.seq : undefined;
    matches = [];
    if (needle) shown.forEach((line, index) => { if (line.lower.includes(needle)) matches.push(index); });
    current = focus === undefined ? -1 : matches.findIndex((index) => shown[index].seq === focus);
  };
  const failed = (error) => { status.textContent = `Could not read older lines: ${error.message}`; };
  const describe = () => {
    previous.disabled = next.disabled = !needle;
    if (!needle) status.textContent = "";
    else if (!matches.length) status.textContent = olderCursor === null ? "No match" : `No match in the ${lines.length.toLocaleString()} newest lines: Previous reads older ones`;
    else status.textContent = `${current >= 0 ? current + 1 : "–"} of ${matches.length.toLocaleString()}${olderCursor === null ? "" : "+"}`;
    held.textContent = lines.length ? `${lines.length.toLocaleString()} lines${olderCursor === null ? "" : " (newest)"}` : "";
  };

  /** Re-derives what shows after lines arrived or the filter changed, keeping the reader's place. */
  const refresh = () => {
    const mark = follow.checked ? null : anchor();
    shown = filter ? lines.filter((line) => line.type === filter) : lines;
    findMatches();
    if (opened || lines.length) {
      box.classList.remove("reading");
      box.removeAttribute("aria-busy");
      waiting.hidden = lines.length > 0;
      box.hidden = !lines.length;
    }
    older.hidden = olderCursor === null;
    describe();
    if (follow.checked) toEnd();
    else {
      render();
      restore(mark);
      render();
    }
  };

  const add = (items) => {
    const fresh = [];
    for (const item of items) {
      if (bySeq.has(item.seq)) continue;
      const content = String(item.content ?? "");
      // One row per line: a multi-line message shows its breaks as ↵ (the download keeps them).
      const line = { seq: item.seq, type: item.type ?? "text", content, at: item.at, display: content.replace(/\r?\n/g, " ↵ ") };
      line.lower = line.display.toLowerCase(); // what search matches and marks: the text as shown
      bySeq.set(line.seq, line);
      fresh.push(line);
      if (![...typeSelect.options].some((o) => o.value === line.type)) typeSelect.append(h("option", { value: line.type }, line.type.replace("_", " ")));
    }
    if (!fresh.length) return;
    fresh.sort((a, b) => a.seq - b.seq);
    if (!lines.length || fresh[0].seq > lines[lines.length - 1].seq) {
      for (const line of fresh) lines.push(line);
    } else if (fresh[fresh.length - 1].seq < lines[0].seq) {
      lines = fresh.concat(lines);
    } else {
      // Lines that fell between held ones (a batch written late): merge the two ordered runs.
      const merged = [];
      let i = 0;
      let j = 0;
      while (i < lines.length || j < fresh.length) {
        merged.push(j >= fresh.length || (i < lines.length && lines[i].seq < fresh[j].seq) ? lines[i++] : fresh[j++]);
      }
      lines = merged;
    }
    refresh();
  };

  /** The next older page; one at a time, however many ask. */
  const readOlder = () => {
    if (olderCursor === null) return Promise.resolve();
    reading ??= (async () => {
      try {
        const page = await get(`${path}?order=desc&limit=${PAGE}&before=${olderCursor}`);
        olderCursor = page.nextCursor ?? null;
        add(page.items);
        refresh();
      } finally {
        reading = null;
      }
    })();
    return reading;
  };

  const go = (index) => {
    current = index;
    follow.checked = false;
    const size = rowHeight();
    scrollTo(padding() + matches[index] * size - Math.max(0, (box.clientHeight - size) / 2));
    describe();
    redraw();
  };
  /** To the previous (older, -1) or next (newer, +1) match. Past the oldest match held, reads
   * older pages until one holds a match or the log's start is reached. */
  let hunting = 0; // bumped by a new search: an older hunt then stops
  const step = async (direction) => {
    if (!needle) return;
    if (direction > 0) {
      if (matches.length) go(current < 0 || current >= matches.length - 1 ? 0 : current + 1);
      return;
    }
    if (current > 0) {
      go(current - 1);
      return;
    }
    if (current < 0 && matches.length) {
      go(matches.length - 1);
      return;
    }
    const oldest = matches.length ? shown[matches[0]].seq : Infinity;
    const hunt = (hunting += 1);
    try {
      while (olderCursor !== null && hunt === hunting) {
        status.textContent = `Searching older lines… (${lines.length.toLocaleString()} read)`;
        await readOlder();
        if (matches.length && shown[matches[0]].seq < oldest) break;
      }
    } catch (error) {
      failed(error);
      return;
    }
    if (hunt !== hunting) return;
    const later = matches.findIndex((index) => shown[index].seq >= oldest);
    const found = (later < 0 ? matches.length : later) - 1;
    if (found >= 0) go(found);
    else if (matches.length) go(matches.length - 1); // past the start: round to the newest again
    else describe();
  };

  const download = async (button) => {
    button.disabled = true;
    try {
      while (olderCursor !== null) {
        status.textContent = `Reading the whole log… (${lines.length.toLocaleString()} lines)`;
        await readOlder();
      }
      for (;;) {
        const page = await get(`${path}?after=${after()}&limit=${PAGE}`);
        add(page.items);
        if (!page.nextCursor) break;
      }
      const text = lines.map((line) => `${line.seq}\t${line.at ?? ""}\t${line.type}\t${line.content}`).join("\n");
      const link = h("a", { href: URL.createObjectURL(new Blob([`${text}\n`], { type: "text/plain" })), download: filename });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 0);
      describe();
      status.textContent = `Downloaded ${lines.length.toLocaleString()} lines.`;
    } catch (error) {
      status.textContent = `Could not download: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  };

  const after = () => (lines.length ? lines[lines.length - 1].seq : 0);
  const jumpToEnd = () => {
    follow.checked = true;
    toEnd();
  };

  box.addEventListener("scroll", () => {
    schedule();
    if (box.scrollTop === ours) return;
    ours = -1;
    // The reader scrolled: away from the end stops following; back at the end follows again.
    follow.checked = atEnd();
    const index = Math.floor(Math.max(0, box.scrollTop - padding()) / rowHeight());
    if (index < NEAR_TOP && olderCursor !== null) readOlder().catch(failed);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "End") {
      event.preventDefault();
      jumpToEnd();
    }
  });
  follow.addEventListener("change", () => { if (follow.checked) toEnd(); });
  typeSelect.addEventListener("change", () => {
    filter = typeSelect.value;
    rows.clear();
    refresh();
  });
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      needle = search.value.trim().toLowerCase();
      hunting += 1;
      current = -1;
      findMatches();
      // The newest match first: the log opened at its end.
      if (matches.length) go(matches.length - 1);
      else {
        describe();
        redraw();
      }
    }, 150);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    clearTimeout(typing);
    const value = search.value.trim().toLowerCase();
    if (value !== needle) {
      needle = value;
      current = -1;
      findMatches();
    }
    step(event.shiftKey ? 1 : -1);
  });

  const element = h("section", { class: "log-view", "aria-labelledby": "logs-h" },
    h("div", { class: "page-head" }, h("h2", { id: "logs-h" }, "Logs"), held, field("Show", typeSelect)),
    h("div", { class: "log-tools" },
      h("div", { class: "log-find" }, field("Find", search), previous, next, status),
      h("div", { class: "actions" }, field("Follow", follow),
        h("button", { type: "button", class: "secondary small", onclick: jumpToEnd }, "Jump to end"),
        h("button", { type: "button", class: "secondary small", onclick: (event) => download(event.currentTarget) }, "Download"))),
    older, waiting, box);

  return {
    element,
    /** The newest page first: one request however long the log. */
    open: async () => {
      try {
        const page = await get(`${path}?order=desc&limit=${PAGE}`);
        olderCursor = page.nextCursor ?? null;
        add(page.items);
      } finally {
        opened = true;
        refresh();
      }
    },
    add,
    after,
    clear: () => {
      lines = [];
      bySeq.clear();
      rows.clear();
      olderCursor = null;
      refresh();
    },
  };
}
