#!/usr/bin/env bash
# Installs the `docker compose` CLI plugin by building it from its Go module.
# Why: the project's machines have the docker CLI but no compose plugin and no Docker engine;
# tests/test_compose.py only needs `docker compose config`, which parses without an engine.
# Needs Go (>= the version the pinned compose release requires) and the Go module proxy.
# Usage: deploy/install-compose-plugin.sh            (COMPOSE_VERSION=v5.6.0 by default)
set -euo pipefail

version="${COMPOSE_VERSION:-v5.6.0}"
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

if docker compose version >/dev/null 2>&1; then
  echo "docker compose already present: $(docker compose version)"
  exit 0
fi
command -v go >/dev/null || { echo "install-compose-plugin: go is not installed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# compose's go.mod has `exclude` directives, so `go install pkg@version` refuses it: build it from a
# throw-away module that repeats those excludes instead.
cat >go.mod <<'MOD'
module composeplugin

go 1.24

exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)
MOD
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/docker/compose/v5/cmd"\n' >tools.go
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
go get "github.com/docker/compose/v5@${version}"
go mod tidy
go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=${version}" \
  -o docker-compose github.com/docker/compose/v5/cmd
mkdir -p "$plugins"
install -m 0755 docker-compose "$plugins/docker-compose"
docker compose version
