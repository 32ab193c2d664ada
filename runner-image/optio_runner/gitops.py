"""The task branch's life in one attempt: check it out, commit what the agent left, push it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from optio_runner.loglines import truncate
from optio_runner.process import Supervisor

IDENTITY = {"user.name": "Optio", "user.email": "optio@localhost", "commit.gpgsign": "false"}
MAX_GIT_MESSAGE = 2000


class GitError(Exception):
    """A git step failed; the message says which and what git answered."""


@dataclass(frozen=True)
class Checkout:
    start_sha: str
    branch_existed: bool  # the task branch was on the remote already: a retry or a resume
    # A redo starts the branch again from the base: the push must replace exactly this remote sha.
    replaces_sha: str | None = None


class Git:
    def __init__(self, supervisor: Supervisor, repo_dir: Path, env: Mapping[str, str]) -> None:
        self._supervisor = supervisor
        self.repo_dir = repo_dir
        # Never wait for a credential prompt nobody can answer.
        self._env = {**env, "GIT_TERMINAL_PROMPT": "0"}

    def check(self, *args: str, what: str, in_repo: bool = True) -> str:
        """Runs git and returns its stdout; GitError naming `what` if it fails."""
        code, out, err = self.run(*args, in_repo=in_repo)
        if code != 0:
            raise GitError(f"{what} failed: {truncate(err.strip() or out.strip(), MAX_GIT_MESSAGE)}")
        return out.strip()

    def run(self, *args: str, in_repo: bool = True) -> tuple[int, str, str]:
        cwd = self.repo_dir if in_repo else self.repo_dir.parent
        done = self._supervisor.run(["git", *args], cwd=cwd, env=self._env)
        return done.returncode, done.stdout, done.stderr

    def ref_exists(self, ref: str) -> bool:
        code, _, _ = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        return code == 0

    def head(self) -> str:
        return self.check("rev-parse", "HEAD", what="reading HEAD")


def check_out(git: Git, repo_url: str, base_branch: str, branch: str, reset: bool = False) -> Checkout:
    """Clones (or refreshes a previous clone) and puts the task branch in the work tree.

    A task branch already on the remote is continued, so a retry builds on what earlier attempts
    pushed; otherwise, or when `reset` (a redo from scratch), it starts from the base branch.
    """
    if (git.repo_dir / ".git").is_dir():
        git.check("remote", "set-url", "origin", repo_url, what="setting the remote")
        git.check("fetch", "--prune", "origin", what=f"fetching {repo_url}")
    else:
        git.repo_dir.parent.mkdir(parents=True, exist_ok=True)
        git.check("clone", "--quiet", repo_url, str(git.repo_dir), what=f"cloning {repo_url}", in_repo=False)
    for key, value in IDENTITY.items():
        git.check("config", key, value, what="setting the git identity")
    if not git.ref_exists(f"refs/remotes/origin/{base_branch}"):
        raise GitError(f"base branch {base_branch!r} not found in {repo_url}")
    on_remote = git.ref_exists(f"refs/remotes/origin/{branch}")
    replaces = git.check("rev-parse", f"origin/{branch}", what="reading the old branch") if on_remote and reset else None
    existed = on_remote and not reset
    start_point = f"origin/{branch}" if existed else f"origin/{base_branch}"
    # -f and clean: a reused workspace may hold a crashed attempt's unpushed leftovers.
    git.check(
        "checkout", "--quiet", "-f", "--no-track", "-B", branch, start_point, what=f"checking out {branch}"
    )
    git.check("clean", "-ffdq", what="cleaning the work tree")
    return Checkout(start_sha=git.head(), branch_existed=existed, replaces_sha=replaces)


def commit_leftovers(git: Git, message: str) -> bool:
    """Commits whatever the agent changed but did not commit; True if a commit was made."""
    git.check("add", "-A", what="staging changes")
    code, _, err = git.run("diff", "--cached", "--quiet")
    if code == 0:
        return False
    if code != 1:
        raise GitError(f"inspecting staged changes failed: {err.strip()}")
    # Hooks a setup command may have installed must not lose the agent's work.
    git.check("commit", "--quiet", "--no-verify", "-m", message, what="committing changes")
    return True


def has_changes(git: Git, checkout: Checkout, base_branch: str) -> bool:
    """True if the branch carries work: new commits now, or earlier attempts' commits."""
    if git.head() != checkout.start_sha:
        return True
    if not checkout.branch_existed:
        return False
    ahead = git.check("rev-list", "--count", f"origin/{base_branch}..HEAD", what="comparing with base")
    return int(ahead) > 0


def push(git: Git, branch: str, replaces_sha: str | None = None) -> None:
    # Plain push: a retry's branch descends from what is on the remote, so no force is needed,
    # and a rejection means someone else moved the branch, which must not be overwritten. A redo
    # replaces the old branch, but only the exact commit it saw (force with lease).
    lease = [f"--force-with-lease={branch}:{replaces_sha}"] if replaces_sha else []
    git.check("push", "--quiet", *lease, "origin", f"HEAD:refs/heads/{branch}", what=f"pushing {branch}")
