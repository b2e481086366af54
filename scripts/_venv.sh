# Sourced by scripts/test and scripts/demo: make .venv with Python >= 3.11 and install leadsync.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "leadsync needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
# The editable install follows the tree by itself; it is redone only when
# pyproject.toml (dependencies, extras, entry points) changed since the last one.
stamp=".venv/.leadsync-install"
wanted="$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "== installing leadsync and its test tools into .venv"
    # setuptools warns on every editable install with a package_dir mapping
    # (connectors/ -> leadsync.connectors) that a folder of the same name in the
    # working directory could shadow it; nothing imports a top-level `connectors`
    # at run time, so the warning is only noise in front of the demo.
    PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    echo "$wanted" > "$stamp"
fi
