#!/usr/bin/env bash
# A template of the production environment: copy it outside the repository, fill in the
# placeholders, then `source` it (or set the same names as Heroku config vars).
# Never commit real values: no secret belongs in this file.

export APP_ENV=production
# PostgreSQL; Heroku sets DATABASE_URL itself (postgres:// is accepted).
export DATABASE_URL="postgresql://USER:PASSWORD@HOST:5432/DBNAME"
# Auth0 tenant domain, without https:// (e.g. my-tenant.eu.auth0.com)
export AUTH0_DOMAIN="YOUR_TENANT.auth0.com"
# The Identifier of the Auth0 API (the `aud` of its tokens)
export API_AUDIENCE="casting-agency"
# Comma-separated browser origins allowed by CORS (empty: none)
export CORS_ORIGINS=""
# true: anyone may read movies and actors; writes still need a token
export PUBLIC_READS=false
