// Where a repo task stands on its way from the queue to a merged pull request, and which of the
// API's actions its state allows (SPEC §3 and §4).

export const STEPS = ["Queued", "Provisioning", "Running", "PR", "CI checks", "Review", "Merge", "Done"];

const FORCE_OK = ["provisioning", "running", "needs_attention", "pr_opened", "failed", "cancelled"];

export const ACTIONS = {
  cancel: (t) => ["waiting_on_deps", "queued", "provisioning", "running", "needs_attention", "pr_opened"].includes(t.state),
  retry: (t) => ["failed", "cancelled"].includes(t.state),
  resume: (t) => ["needs_attention", "failed"].includes(t.state),
  "force-restart": (t) => FORCE_OK.includes(t.state),
  "force-redo": (t) => FORCE_OK.includes(t.state),
  review: (t) => Boolean(t.prUrl) && t.state !== "completed",
};

/** The index of the step reached, and whether the task stopped there (failed, cancelled, attention). */
export function progress(task) {
  const stopped = ["failed", "cancelled", "needs_attention"].includes(task.state);
  if (task.state === "completed") return { reached: STEPS.length - 1, stopped: false };
  if (task.prUrl) {
    let reached = 3;
    if (task.prChecksStatus === "passing") reached = 4;
    if (reached === 4 && task.prReviewStatus === "approved") reached = 5;
    if (task.prState === "merged") reached = 6;
    return { reached, stopped };
  }
  if (task.state === "running" || (stopped && task.startedAt)) return { reached: 2, stopped };
  if (task.state === "provisioning") return { reached: 1, stopped };
  return { reached: 0, stopped };
}
