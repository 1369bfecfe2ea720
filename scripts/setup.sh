#!/usr/bin/env bash
# Installs everything alignmon needs on a fresh Debian machine of the project's kind; safe to repeat
# (a second run checks and returns in seconds). `make setup`, `make test` and `make demo` call it.
#   - Debian packages: Prometheus, Alertmanager (the real ones the stack runs), Maven + Java (Kafka's jars come
#     from Maven Central), the X11 tools the agent's tests drive (Xvfb, a window manager, small X programs),
#     Chromium and poppler-utils (the report's tests print it to PDF and read its pages back);
#   - a Python >= 3.11 virtualenv in .venv with alignmon and its dev tools;
#   - the Kafka broker's jars (fetched once into ~/.cache/alignmon);
#   - the docker compose CLI plugin (built from its Go module) when the docker CLI is there without it.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(prometheus prometheus-alertmanager maven default-jre-headless xvfb openbox x11-apps xterm xdotool chromium poppler-utils)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postinst may start the packaged services; alignmon runs its own on other ports, so
# leave nothing of the distribution's running that could confuse a reader of `ss -ltn`.
for svc in prometheus prometheus-alertmanager; do
  command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null && systemctl stop "$svc" || true
done

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: alignmon needs Python >= 3.11 (DuckDB 2.0); $python is $("$python" --version)" >&2
  exit 1
}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.alignmon-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing alignmon and its dev tools into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  echo "$want" >"$stamp"
fi

.venv/bin/python -c 'from alignmon.stack.kafka import fetch_jars; print("setup: Kafka jars in", fetch_jars())'

if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1; then
  echo "setup: building the docker compose CLI plugin (docker CLI found without it)"
  bash deploy/install-compose-plugin.sh
fi
echo "setup: done"
