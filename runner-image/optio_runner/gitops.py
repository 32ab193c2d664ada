"""The task branch's life in one attempt: check it out, commit what the agent left, push it."""

from __future__ import annotations

import re
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

    def head(self) -> str:
        return self.check("rev-parse", "HEAD", what="reading HEAD")


def check_out(git: Git, repo_url: str, base_branch: str, branch: str, reset: bool = False) -> Checkout:
    """Clones (or refreshes a previous clone) and puts the task branch in the work tree.

    A task branch already on the remote is continued, so a retry builds on what earlier attempts
    pushed; otherwise, or when `reset` (a redo from scratch), it starts from the base branch.
    The agent starts only after this, so it runs as few git processes as it can: a fresh clone
    checks out nothing but the task branch, gets the identity in the same process, and is blobless
    when the remote is reached over a transport (the branch's files come with the checkout, the
    rest of history's on demand; every commit is there, so comparing with the base still works).
    """
    fresh = not (git.repo_dir / ".git").is_dir()
    if fresh:
        git.repo_dir.parent.mkdir(parents=True, exist_ok=True)
        identity = [arg for key, value in IDENTITY.items() for arg in ("--config", f"{key}={value}")]
        git.check("clone", "--quiet", "--no-checkout", *_partial(repo_url), *identity, repo_url, str(git.repo_dir),
                  what=f"cloning {repo_url}", in_repo=False)
    else:
        git.check("remote", "set-url", "origin", repo_url, what="setting the remote")
        git.check("fetch", "--prune", "origin", what=f"fetching {repo_url}")
        for key, value in IDENTITY.items():
            git.check("config", key, value, what="setting the git identity")
    base_ref, branch_ref = f"refs/remotes/origin/{base_branch}", f"refs/remotes/origin/{branch}"
    # One process for both refs. for-each-ref also matches refs below a pattern: keep exact names.
    listed = git.check("for-each-ref", "--format=%(objectname) %(refname)", base_ref, branch_ref,
                       what="reading the remote branches")
    shas = {ref: sha for sha, ref in (line.split(" ", 1) for line in listed.splitlines())}
    if base_ref not in shas:
        raise GitError(f"base branch {base_branch!r} not found in {repo_url}")
    on_remote = branch_ref in shas
    replaces = shas[branch_ref] if on_remote and reset else None
    existed = on_remote and not reset
    start_point = branch_ref if existed else base_ref
    git.check(
        "checkout", "--quiet", "-f", "--no-track", "-B", branch, start_point, what=f"checking out {branch}"
    )
    if not fresh:
        # -f above and clean: a reused workspace may hold a crashed attempt's unpushed leftovers.
        git.check("clean", "-ffdq", what="cleaning the work tree")
    return Checkout(start_sha=shas[start_point], branch_existed=existed, replaces_sha=replaces)


def _partial(repo_url: str) -> list[str]:
    """A blobless clone for a remote reached over a transport (https, ssh, file://): a large
    repository's history costs its commits and trees, not every version of every file. A plain
    path clones by hard links, which a filter would only turn into a copy. A server without
    filtering sends everything, as a plain clone."""
    over_transport = "://" in repo_url or re.match(r"^[^/]+@[^/:]+:", repo_url) is not None
    return ["--filter=blob:none"] if over_transport else []


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
