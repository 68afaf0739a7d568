#!/usr/bin/env node
// `make auth0`: applies auth0/tenant.yaml to an Auth0 tenant with Auth0's Deploy CLI (docs/auth0.md).
//
// Usage: node auth0/deploy.js [TENANT_FILE]   (default: auth0/tenant.yaml beside this script)
// Settings come from the environment only (see SETTINGS). The Deploy CLI is given them as a config
// object, never the environment (its `a0deploy` command would read AUTH0_CLIENT_ID, which is the
// app's dashboard client, as its own). It touches only the file's resource types and deletes
// nothing: an API, role, application or Action of the tenant that the file does not name is left alone,
// and so is an Action bound to a trigger that the file binds to (see keepOtherBindings).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SETTINGS = {
  AUTH0_DOMAIN: 'the tenant, e.g. my-tenant.eu.auth0.com (no https://)',
  AUTH0_DEPLOY_CLIENT_ID: "the Client ID of the tenant's machine-to-machine application for deploys",
  AUTH0_DEPLOY_CLIENT_SECRET: 'the Client Secret of that application',
  API_AUDIENCE: "the API's identifier, the app's API_AUDIENCE (e.g. casting-agency)",
  DASHBOARD_URLS: "the dashboard's addresses, comma-separated (e.g. https://casting-agency.herokuapp.com)",
};
const MANAGED = ['resourceServers', 'roles', 'clients', 'actions', 'triggers'];
// Pages of a trigger's bindings read at most (Auth0 lists at most 20 a page; a flow holds far fewer).
const MAX_BINDING_PAGES = 50;
// The rule casting/dashboard/views.py applies to the app's AUTH0_DOMAIN.
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

class SettingsError extends Error {}

class TenantError extends Error {
  constructor(message, statusCode) {
    super(message);
    this.statusCode = statusCode;
  }
}

// The dashboard lives at the root of the app's address: each URL must be an origin (an optional
// trailing slash aside), https, or http on a loopback name to try Auth0 locally.
function dashboardOrigin(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new SettingsError(`DASHBOARD_URLS: ${JSON.stringify(text)} is not a URL`);
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  if (!secure) {
    throw new SettingsError(`DASHBOARD_URLS: ${text} must use https (http only on localhost or 127.0.0.1)`);
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new SettingsError(`DASHBOARD_URLS: ${text} must be the app's address alone, such as ${url.origin}`);
  }
  return url.origin;
}

function readSettings(env) {
  const missing = Object.keys(SETTINGS).filter((name) => !(env[name] || '').trim());
  if (missing.length > 0) {
    throw new SettingsError(
      `make auth0 needs these settings in the environment (docs/auth0.md):\n` +
        missing.map((name) => `  ${name}: ${SETTINGS[name]}`).join('\n'),
    );
  }
  const domain = env.AUTH0_DOMAIN.trim();
  if (!HOSTNAME.test(domain)) {
    throw new SettingsError('AUTH0_DOMAIN must be a host name such as my-tenant.eu.auth0.com (no scheme, no path)');
  }
  const audience = env.API_AUDIENCE.trim();
  if (/[\s'"\\]/.test(audience)) {
    throw new SettingsError('API_AUDIENCE must not contain spaces, quotes or backslashes');
  }
  const origins = [
    ...new Set(
      env.DASHBOARD_URLS.split(',')
        .map((item) => item.trim())
        .filter(Boolean)
        .map(dashboardOrigin),
    ),
  ];
  if (origins.length === 0) {
    throw new SettingsError(`DASHBOARD_URLS must name at least one address: ${SETTINGS.DASHBOARD_URLS}`);
  }
  return {
    AUTH0_DOMAIN: domain,
    AUTH0_CLIENT_ID: env.AUTH0_DEPLOY_CLIENT_ID.trim(),
    AUTH0_CLIENT_SECRET: env.AUTH0_DEPLOY_CLIENT_SECRET.trim(),
    AUTH0_KEYWORD_REPLACE_MAPPINGS: {
      API_AUDIENCE: audience,
      DASHBOARD_URLS: origins.map((origin) => `${origin}/`),
      DASHBOARD_ORIGINS: origins,
    },
    AUTH0_ALLOW_DELETE: false,
    AUTH0_INCLUDED_ONLY: MANAGED,
  };
}

async function request(config, method, apiPath, body, token) {
  const response = await fetch(`https://${config.AUTH0_DOMAIN}${apiPath}`, {
    method,
    headers: {
      'Content-Type': 'application/json',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new TenantError(`${method} ${apiPath.split('?')[0]} answered ${response.status}: ${text.slice(0, 300)}`,
      response.status);
  }
  return text ? JSON.parse(text) : null;
}

// One Management API token (client credentials) for this script's calls and the Deploy CLI's.
async function managementToken(config) {
  const answer = await request(config, 'POST', '/oauth/token', {
    grant_type: 'client_credentials',
    client_id: config.AUTH0_CLIENT_ID,
    client_secret: config.AUTH0_CLIENT_SECRET,
    audience: `https://${config.AUTH0_DOMAIN}/api/v2/`,
  });
  return answer.access_token;
}

// The Deploy CLI replaces a trigger's whole list of bound Actions with the file's, which would unbind an
// Action the tenant runs for another app. The file's list is therefore given to it as: the Actions bound
// now that the file does not name, in their order, then the file's own. Returns the tenant document to deploy.
async function keepOtherBindings(config, token, tenant) {
  for (const [trigger, wanted] of Object.entries(tenant.triggers || {})) {
    if (!Array.isArray(wanted)) continue;  // the Deploy CLI's schema check says what is wrong
    const ours = new Set(wanted.map((binding) => binding.action_name));
    const bound = [];
    for (let page = 0; page < MAX_BINDING_PAGES; page += 1) {
      const answer = await request(config, 'GET',
        `/api/v2/actions/triggers/${encodeURIComponent(trigger)}/bindings?page=${page}&per_page=20`, undefined, token);
      bound.push(...answer.bindings);
      if (answer.bindings.length === 0 || bound.length >= (answer.total ?? bound.length)) break;
    }
    const others = bound
      .filter((binding) => !ours.has(binding.action.name))
      .map((binding) => ({ action_name: binding.action.name, display_name: binding.display_name }));
    tenant.triggers[trigger] = [...others, ...wanted];
  }
  return tenant;
}

async function main(argv) {
  const tenantFile = path.resolve(argv[0] || path.join(__dirname, 'tenant.yaml'));
  let config;
  try {
    config = readSettings(process.env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(error.message);
    return 2;
  }
  const cli = require.resolve('auth0-deploy-cli');
  const { deploy } = require(cli);
  const yaml = require(require.resolve('js-yaml', { paths: [cli] }));  // the Deploy CLI's own YAML reader
  const token = await managementToken(config);
  const tenant = await keepOtherBindings(config, token, yaml.load(fs.readFileSync(tenantFile, 'utf8')));
  // The file as deployed, markers and all; the Action's code is still read beside the tenant file.
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'make-auth0-'));
  try {
    const deployed = path.join(directory, 'tenant.yaml');
    fs.writeFileSync(deployed, yaml.dump(tenant, { lineWidth: -1 }));
    const { AUTH0_CLIENT_SECRET: _secret, ...rest } = config;
    await deploy({
      input_file: deployed,
      config: { ...rest, AUTH0_ACCESS_TOKEN: token, AUTH0_BASE_PATH: path.dirname(tenantFile) },
      env: false,
    });
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  console.log(
    `Applied ${path.relative(process.cwd(), tenantFile)} to ${config.AUTH0_DOMAIN}. The dashboard's ` +
      'client_id is in the "Casting Agency Dashboard" line above: set it as the app\'s AUTH0_CLIENT_ID.',
  );
  return 0;
}

// The SDK's errors say little ("fetch failed", "Unauthorized"); their causes and status say why.
function explain(error) {
  const lines = [`make auth0 failed: ${error.message || error}`];
  for (let cause = error.cause; cause; cause = cause.cause) {
    lines.push(`  because: ${cause.message || cause.code || cause}`);
  }
  if (error.statusCode === 401) {
    lines.push('  Auth0 refused the deploy application: check AUTH0_DEPLOY_CLIENT_ID and AUTH0_DEPLOY_CLIENT_SECRET');
  }
  return lines.join('\n');
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    console.error(explain(error));
    process.exit(1);
  },
);
