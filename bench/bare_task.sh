#!/bin/sh
# The work of one Optio task done by hand, for bench/spine.py's side-by-side baseline: clone the
# repository, run the same stand-in agent with the arguments the runner gives it, commit what it
# left, push the branch.
#   bench/bare_task.sh REPO_URL BRANCH PROMPT WORK_DIR
set -eu
repo_url=$1 branch=$2 prompt=$3 work=$4
agent=$(dirname "$0")/timed_agent
git clone --quiet "$repo_url" "$work/repo"
cd "$work/repo"
git checkout --quiet -b "$branch"
HOME=$work IS_SANDBOX=1 "$agent" -p "$prompt" --output-format stream-json --verbose \
  --permission-mode bypassPermissions --max-turns 10 >/dev/null
git add -A
git -c user.name=bench -c user.email=bench@localhost commit --quiet --no-verify -m "bare: $prompt"
git push --quiet origin "HEAD:refs/heads/$branch"
