// Auth0 post-login Action "Casting Agency Claims" (auth0/tenant.yaml; `make auth0` deploys it and binds it to the
// Login flow). Auth0 puts neither the user's name nor their email in an access token; the app keeps both with
// each change it records (the history names people, not token ids), so this adds them as claims namespaced by
// the app's own URL, the namespace casting/tokens/claims.py reads. Each is added only when the user's profile
// has it: without them the app names the editor by the token's subject.
//
// Only tokens for the Casting Agency API get them: the tenant's other APIs are not told who the user is. The
// email goes in only when it is verified: an unverified address is whatever was typed at sign-up, and the
// history would show it as the editor's. The name is the profile's display name as the connection gives it.
'use strict';

const NAMESPACE = 'https://casting-agency/';
// The API's identifier, the app's API_AUDIENCE: the Deploy CLI writes it in for the marker when it deploys.
const AUDIENCE = '##API_AUDIENCE##';

exports.onExecutePostLogin = async (event, api) => {
  if (!event.resource_server || event.resource_server.identifier !== AUDIENCE) return;
  const { name, email, email_verified: emailVerified } = event.user || {};
  if (typeof name === 'string' && name.trim()) {
    api.accessToken.setCustomClaim(`${NAMESPACE}name`, name.trim());
  }
  if (typeof email === 'string' && email && emailVerified === true) {
    api.accessToken.setCustomClaim(`${NAMESPACE}email`, email);
  }
};
