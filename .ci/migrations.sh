#!/usr/bin/env bash
# The committed migrations build the schema, tear it down and build it again, and agree with models.py.
set -euo pipefail
cd "$(dirname "$0")/.."
# Development mode: the migrations need a database, not the production settings (Auth0).
export APP_ENV=development
flask=(.venv/bin/flask --app app)
"${flask[@]}" db upgrade
"${flask[@]}" db check
"${flask[@]}" db downgrade base
"${flask[@]}" db upgrade
"${flask[@]}" db check
"${flask[@]}" db downgrade base
