# Sourced by ./start and ./test: creates .venv with Python 3.11 and installs the given
# requirements file when it changed since the last install.
req="$1"
python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv ($("$python_bin" --version))..."
  "$python_bin" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=".venv/.installed-$(basename "$req")"
digest="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "Installing $req..."
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -r "$req"
  echo "$digest" >"$stamp"
fi
