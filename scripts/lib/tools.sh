# Shared by scripts/check-template and scripts/sam-build: the pinned tool versions, and the
# virtualenvs under .tools/ (git-ignored) that hold them. Source it; it defines functions only.
#
# aws-sam-cli and checkov pin dependencies that clash with the project's, so each lives in its
# own virtualenv, created on first use with the pinned version and reused afterwards.
#
# Environment: PYTHON (interpreter for the tool virtualenvs, default python3).

SAM_CLI_VERSION="1.170.0"
CHECKOV_VERSION="3.3.30"

TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$TOOLS_ROOT/.tools"

# tool_venv NAME REQUIREMENT [INTERPRETER]: print the path of a virtualenv holding exactly
# REQUIREMENT, made with INTERPRETER (default $PYTHON, else python3) when it has to be (re)made.
tool_venv() {
    local name="$1" requirement="$2" interpreter="${3:-${PYTHON:-python3}}"
    local venv="$TOOLS/$name"
    if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirement" 2>/dev/null)" != "$requirement" ]]; then
        echo "installing $requirement into .tools/$name (first run only)" >&2
        rm -rf "$venv"
        # Explicit checks: callers run this in $(...), where `set -e` does not apply, and a
        # failed install must neither be reported as a virtualenv nor be reused next time.
        if ! "$interpreter" -m venv "$venv" >&2 ||
            ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                "$requirement" >&2; then
            rm -rf "$venv"
            echo "error: could not install $requirement into .tools/$name" >&2
            return 1
        fi
        echo "$requirement" >"$venv/.requirement"
    fi
    echo "$venv"
}

# sam_venv: print the path of the virtualenv holding the pinned SAM CLI.
sam_venv() {
    tool_venv sam "aws-sam-cli==$SAM_CLI_VERSION"
}

# checkov_venv: print the path of the virtualenv holding the pinned checkov.
checkov_venv() {
    tool_venv checkov "checkov==$CHECKOV_VERSION"
}
