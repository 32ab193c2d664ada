"""Real git repositories for tests: a bare 'remote' with one commit on main."""
from __future__ import annotations

import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@localhost",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@localhost",
}


def git(*args: str, cwd: Path) -> str:
    import os

    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                         env={**os.environ, **GIT_ENV})
    return out.stdout.strip()


def make_bare_repo(root: Path, name: str = "remote.git") -> Path:
    bare = root / name
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=root)
    seed = root / f"{name}-seed"
    git("clone", str(bare), str(seed), cwd=root)
    (seed / "README.md").write_text("# test repo\n")
    git("add", "README.md", cwd=seed)
    git("commit", "-m", "initial", cwd=seed)
    git("push", "origin", "HEAD:refs/heads/main", cwd=seed)
    return bare


def branch_file(bare: Path, branch: str, path: str) -> str | None:
    try:
        return git("show", f"{branch}:{path}", cwd=bare)
    except subprocess.CalledProcessError:
        return None
