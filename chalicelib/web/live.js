// Live logs pushed over a WebSocket (README "Live updates"). The server says where the socket is
// (`GET /api/live`, with a one-minute ticket: on AWS the socket is on another host, where the
// session cookie does not go). A subscribe resumes after the last sequence number the page has;
// the server replays what came since, then pushes new lines and state changes. While the socket is
// not open the page polls, as before; it reconnects with a growing back-off.
import { get } from "./api.js";

const BACKOFF_MS = [250, 1000, 2000, 5000, 10000, 30000];
// The server finds a socket's followers through an index that may lag its write by a moment: a
// line written in that moment, after the replay read, might not be pushed. The page goes on
// polling this long after each replay, which fills such a gap, before it relies on the socket.
const SETTLE_MS = 2000;

/**
 * Follows one task (`kind` "taskId") or standalone run ("runId"):
 * - `after()`: where the first subscribe resumes (the page's lines up to it are read); a reconnect
 *   resumes after the highest line the socket gave, if that is later;
 * - `onLines(lines)`: new lines, each sequence number once, in order within a message;
 * - `onState(change)`: `{id, state, version, updatedAt}` when the execution changed;
 * - `onLive(live)`: true a moment after the replay is done (polling may stop), false when the
 *   socket drops.
 * Returns a function that stops following.
 */
export function follow(id, { kind = "taskId", after, onLines, onState, onLive }) {
  const delivered = new Set();
  let highest = 0; // the highest sequence number the socket gave: a reconnect resumes there
  let socket = null;
  let stopped = false;
  let failures = 0;
  let timer = 0;
  let settling = 0;

  const retry = () => {
    if (stopped) return;
    timer = setTimeout(open, BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]);
    failures += 1;
  };

  const receive = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.id !== id) return;
    if (message.type === "lines") {
      const fresh = message.lines.filter((line) => !delivered.has(line.seq));
      for (const line of fresh) { delivered.add(line.seq); highest = Math.max(highest, line.seq); }
      if (fresh.length) onLines(fresh);
    } else if (message.type === "replayed") {
      failures = 0;
      const replayedOn = socket;
      clearTimeout(settling);
      settling = setTimeout(() => { if (!stopped && socket === replayedOn) onLive(true); }, SETTLE_MS);
    } else if (message.type === "state") {
      onState(message);
    }
  };

  async function open() {
    if (stopped) return;
    let where;
    try {
      where = await get("/api/live");
    } catch {
      retry();
      return;
    }
    if (!where.url || stopped) return; // no socket here: the page keeps polling
    const url = new URL(where.url, location.href);
    if (where.token) url.searchParams.set("token", where.token);
    const opened = new WebSocket(url);
    socket = opened;
    opened.addEventListener("open", () => opened.send(JSON.stringify({ action: "subscribe", [kind]: id, after: Math.max(after(), highest) })));
    opened.addEventListener("message", receive);
    opened.addEventListener("close", () => {
      if (socket === opened) socket = null;
      onLive(false);
      retry();
    });
  }

  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(settling);
    socket?.close();
  };
}
