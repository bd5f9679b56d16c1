#!/usr/bin/env node
// A strict OpenID Connect relying party built on `openid-client` (v6), driven one step at a time
// by the pytest interop tests (tests/interop/conftest.py, fixture `node_rp`).
//
//   node rp.mjs STEP '{"issuer": "http://127.0.0.1:8000", "client_id": "web_…"}'
//   echo '{"issuer": "…"}' | node rp.mjs STEP
//
// Parameters are one JSON object (argv[3], or stdin when argv[3] is absent or "-"). On success the
// step prints one JSON object on stdout and exits 0. On failure it prints
// {"error": {name, message, code, …}} on stdout, a one-line summary on stderr, and exits 1
// (2 for a usage error). Every step is a fresh process: whatever a later step needs (state, nonce,
// PKCE verifier, tokens) is returned by the earlier step and passed back in by the caller.
//
// Common parameters of every step:
//   issuer                      (required) the issuer URL; discovery runs against it every time
//   client_id                   (required except for `jwks`) the OAuth client
//   client_secret               web apps only
//   token_endpoint_auth_method  "client_secret_post" (openid-client's default when a secret is
//                               given), "client_secret_basic", or "none" (default without secret)
//   discovery                   "oidc" (default: /.well-known/openid-configuration) or "oauth2"
//                               (RFC 8414: /.well-known/oauth-authorization-server)
//   timeout                     seconds for each HTTP request (default 30)
//
// No step relaxes openid-client's checks except `allowInsecureRequests` (the test issuer is
// http://127.0.0.1); no state, nonce, issuer or PKCE check is skipped.

import { Buffer } from 'node:buffer';
import process from 'node:process';

import * as jose from 'jose';
import * as client from 'openid-client';

class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
    this.code = 'RP_USAGE';
  }
}

class CheckError extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'CheckError';
    this.code = 'RP_CHECK_FAILED';
    this.details = details;
  }
}

function check(condition, message, details) {
  if (!condition) {
    throw new CheckError(message, details);
  }
}

function required(params, name) {
  const value = params[name];
  if (value === undefined || value === null || value === '') {
    throw new UsageError(`missing parameter "${name}"`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// configuration

function clientAuthentication(params) {
  const method =
    params.token_endpoint_auth_method ??
    (params.client_secret ? 'client_secret_post' : 'none');
  switch (method) {
    case 'client_secret_post':
      return client.ClientSecretPost(required(params, 'client_secret'));
    case 'client_secret_basic':
      return client.ClientSecretBasic(required(params, 'client_secret'));
    case 'none':
      return client.None();
    default:
      throw new UsageError(`unsupported token_endpoint_auth_method "${method}"`);
  }
}

async function configure(params) {
  const issuer = new URL(required(params, 'issuer'));
  const clientId = required(params, 'client_id');
  const metadata = params.client_secret ? { client_secret: params.client_secret } : undefined;
  const options = { execute: [client.allowInsecureRequests] };
  if (params.discovery !== undefined) {
    if (params.discovery !== 'oidc' && params.discovery !== 'oauth2') {
      throw new UsageError('"discovery" must be "oidc" or "oauth2"');
    }
    options.algorithm = params.discovery;
  }
  if (params.timeout !== undefined) {
    options.timeout = params.timeout;
  }
  return client.discovery(issuer, clientId, metadata, clientAuthentication(params), options);
}

// Token endpoint responses: the raw fields plus what openid-client validated.
function tokenView(tokens) {
  const view = { ...tokens };
  view.expires_in_remaining = tokens.expiresIn();
  view.claims = tokens.claims() ?? null;
  return view;
}

function stringParams(input) {
  const out = {};
  for (const [key, value] of Object.entries(input ?? {})) {
    if (value !== undefined && value !== null) {
      out[key] = String(value);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// steps

const JWS_ALGS = {
  RS256: 'RSA',
  RS384: 'RSA',
  RS512: 'RSA',
  PS256: 'RSA',
  PS384: 'RSA',
  PS512: 'RSA',
  ES256: 'EC',
  ES384: 'EC',
  ES512: 'EC',
  EdDSA: 'OKP',
  Ed25519: 'OKP',
};
const EC_CURVES = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
// RFC 7518 §6 and RFC 8037 private (or symmetric) members: none may appear in a public JWKS.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

const steps = {
  /** Discovery as openid-client performs it; prints the server metadata it accepted. */
  async discover(params) {
    const config = await configure(params);
    const metadata = config.serverMetadata();
    return {
      metadata,
      supports_pkce_s256: metadata.supportsPKCE('S256'),
      client_id: config.clientMetadata().client_id,
    };
  },

  /** Fetches the discovered jwks_uri and imports every key with jose; prints the kids. */
  async jwks(params) {
    const config = await configure({ client_id: 'rp-jwks-check', ...params });
    const metadata = config.serverMetadata();
    check(typeof metadata.jwks_uri === 'string', 'discovery has no jwks_uri', metadata);
    const jwksUri = new URL(metadata.jwks_uri);
    const response = await fetch(jwksUri, {
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout((params.timeout ?? 30) * 1000),
    });
    check(response.status === 200, `GET ${jwksUri} answered ${response.status}`);
    const contentType = response.headers.get('content-type')?.split(';')[0].trim();
    check(
      contentType === 'application/json' || contentType === 'application/jwk-set+json',
      `JWKS content-type is ${contentType}`,
    );
    const body = await response.json();
    check(body !== null && Array.isArray(body.keys), 'JWKS has no "keys" array', body);
    const seen = new Set();
    const keys = [];
    for (const jwk of body.keys) {
      check(typeof jwk.kid === 'string' && jwk.kid.length > 0, 'JWK without "kid"', jwk);
      check(!seen.has(jwk.kid), `duplicate kid ${jwk.kid}`);
      seen.add(jwk.kid);
      check(typeof jwk.alg === 'string' && jwk.alg in JWS_ALGS, `kid ${jwk.kid}: bad alg`, jwk);
      check(jwk.use === 'sig', `kid ${jwk.kid}: "use" must be "sig"`, jwk);
      check(jwk.kty === JWS_ALGS[jwk.alg], `kid ${jwk.kid}: kty ${jwk.kty} for ${jwk.alg}`, jwk);
      const leaked = PRIVATE_MEMBERS.filter((name) => name in jwk);
      check(leaked.length === 0, `kid ${jwk.kid}: private members ${leaked.join(', ')}`);
      if (jwk.key_ops !== undefined) {
        check(jwk.key_ops.includes('verify'), `kid ${jwk.kid}: key_ops lacks "verify"`, jwk);
      }
      const summary = { kid: jwk.kid, kty: jwk.kty, alg: jwk.alg, use: jwk.use };
      if (jwk.kty === 'RSA') {
        // oauth4webapi refuses RSA keys under 2048 bits when verifying ID tokens.
        summary.modulus_bits = Buffer.from(jwk.n, 'base64url').length * 8;
        check(summary.modulus_bits >= 2048, `kid ${jwk.kid}: RSA modulus under 2048 bits`);
      }
      if (jwk.kty === 'EC') {
        summary.crv = jwk.crv;
        check(jwk.crv === EC_CURVES[jwk.alg], `kid ${jwk.kid}: crv ${jwk.crv} for ${jwk.alg}`);
      }
      const key = await jose.importJWK(jwk, jwk.alg);
      check(key.type === 'public', `kid ${jwk.kid}: imported as a ${key.type} key`);
      keys.push(summary);
    }
    return {
      jwks_uri: jwksUri.href,
      content_type: contentType,
      cache_control: response.headers.get('cache-control'),
      kids: keys.map((k) => k.kid),
      keys,
    };
  },

  /**
   * Authorization URL with PKCE S256, state and nonce. Parameters: redirect_uri (required),
   * scope (default "openid profile email"), extra (object of more authorization parameters:
   * prompt, max_age, login_hint, organization_id, ui_locales, …), require_pkce_support (default
   * true: fail unless discovery lists S256 in code_challenge_methods_supported).
   * Returns {url, state, nonce, code_verifier, code_challenge}: pass them to `callback`.
   */
  async 'auth-url'(params) {
    const config = await configure(params);
    if (params.require_pkce_support ?? true) {
      check(
        config.serverMetadata().supportsPKCE('S256'),
        'discovery does not list S256 in code_challenge_methods_supported',
      );
    }
    const codeVerifier = client.randomPKCECodeVerifier();
    const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: required(params, 'redirect_uri'),
      scope: params.scope ?? 'openid profile email',
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state,
      nonce,
      ...stringParams(params.extra),
    });
    return {
      url: url.href,
      state,
      nonce,
      code_verifier: codeVerifier,
      code_challenge: codeChallenge,
    };
  },

  /**
   * Completes the code flow from the URL the browser was sent back to. Parameters: callback_url
   * (required), state, nonce, code_verifier (from `auth-url`), max_age (number, optional).
   * Validates iss (RFC 9207), state, the token response, the ID token and its nonce.
   */
  async callback(params) {
    const config = await configure(params);
    const checks = {
      expectedState: required(params, 'state'),
      expectedNonce: required(params, 'nonce'),
      pkceCodeVerifier: required(params, 'code_verifier'),
      idTokenExpected: true,
    };
    if (params.max_age !== undefined) {
      checks.maxAge = params.max_age;
    }
    const tokens = await client.authorizationCodeGrant(
      config,
      new URL(required(params, 'callback_url')),
      checks,
      stringParams(params.token_parameters),
    );
    return tokenView(tokens);
  },

  /** refresh_token grant. Parameters: refresh_token (required), scope (optional). */
  async refresh(params) {
    const config = await configure(params);
    const extra = stringParams({ scope: params.scope, ...params.token_parameters });
    const tokens = await client.refreshTokenGrant(
      config,
      required(params, 'refresh_token'),
      extra,
    );
    return tokenView(tokens);
  },

  /** client_credentials grant (web apps). Parameters: scope (optional). */
  async 'client-credentials'(params) {
    const config = await configure(params);
    const extra = stringParams({ scope: params.scope, ...params.token_parameters });
    return tokenView(await client.clientCredentialsGrant(config, extra));
  },

  /** UserInfo. Parameters: access_token and expected_subject (the ID token's sub), required. */
  async userinfo(params) {
    const config = await configure(params);
    const userinfo = await client.fetchUserInfo(
      config,
      required(params, 'access_token'),
      required(params, 'expected_subject'),
    );
    return { userinfo };
  },

  /** RFC 7009 revocation. Parameters: token (required), token_type_hint (optional). */
  async revoke(params) {
    const config = await configure(params);
    await client.tokenRevocation(
      config,
      required(params, 'token'),
      stringParams({ token_type_hint: params.token_type_hint }),
    );
    return { revoked: true };
  },

  /** RFC 7662 introspection. Parameters: token (required), token_type_hint (optional). */
  async introspect(params) {
    const config = await configure(params);
    const introspection = await client.tokenIntrospection(
      config,
      required(params, 'token'),
      stringParams({ token_type_hint: params.token_type_hint }),
    );
    return { introspection };
  },

  /**
   * RP-initiated logout URL. Parameters (all optional): id_token_hint, post_logout_redirect_uri,
   * state (generated when post_logout_redirect_uri is given and state is not), extra.
   */
  async 'end-session-url'(params) {
    const config = await configure(params);
    const state =
      params.state ?? (params.post_logout_redirect_uri ? client.randomState() : undefined);
    const url = client.buildEndSessionUrl(
      config,
      stringParams({
        id_token_hint: params.id_token_hint,
        post_logout_redirect_uri: params.post_logout_redirect_uri,
        state,
        ...params.extra,
      }),
    );
    return { url: url.href, state: state ?? null };
  },
};

// ---------------------------------------------------------------------------------------------
// JSON in, JSON out

function jsonable(value, depth = 0) {
  if (depth > 6) return '…';
  if (value === null || value === undefined) return value ?? null;
  if (['string', 'number', 'boolean'].includes(typeof value)) return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined;
  if (value instanceof Error) return describeError(value, depth + 1);
  if (value instanceof URL) return value.href;
  if (value instanceof URLSearchParams) return Object.fromEntries(value.entries());
  if (value instanceof Response) {
    return {
      status: value.status,
      url: value.url,
      headers: Object.fromEntries(value.headers.entries()),
    };
  }
  if (value instanceof Headers) return Object.fromEntries(value.entries());
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return '(bytes)';
  if (globalThis.CryptoKey && value instanceof CryptoKey) {
    return { crypto_key: value.type, algorithm: value.algorithm?.name };
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => jsonable(v, depth + 1));
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    const converted = jsonable(v, depth + 1);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

function describeError(err, depth = 0) {
  const out = { name: err?.name ?? typeof err, message: String(err?.message ?? err) };
  for (const field of ['code', 'error', 'error_description', 'error_uri', 'status']) {
    if (err?.[field] !== undefined) out[field] = jsonable(err[field], depth + 1);
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    out.challenges = jsonable(err.cause, depth + 1);
  } else if (err?.cause !== undefined) {
    out.cause = jsonable(err.cause, depth + 1);
  }
  if (err?.details !== undefined) out.details = jsonable(err.details, depth + 1);
  return out;
}

async function readParams(arg) {
  let text = arg;
  if (text === undefined || text === '-') {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    text = Buffer.concat(chunks).toString('utf8');
  }
  if (!text.trim()) return {};
  let params;
  try {
    params = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`parameters are not JSON: ${err.message}`);
  }
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new UsageError('parameters must be a JSON object');
  }
  return params;
}

async function main(argv) {
  const [step, arg] = argv;
  if (!step || step === '--help' || !Object.hasOwn(steps, step)) {
    const known = Object.keys(steps).join(', ');
    throw new UsageError(`usage: node rp.mjs STEP [JSON|-]; steps: ${known}`);
  }
  const params = await readParams(arg);
  return steps[step](params);
}

try {
  const result = await main(process.argv.slice(2));
  process.stdout.write(`${JSON.stringify(jsonable(result))}\n`);
} catch (err) {
  const error = describeError(err);
  process.stdout.write(`${JSON.stringify({ error })}\n`);
  process.stderr.write(`rp.mjs: ${error.name}: ${error.message}${error.code ? ` [${error.code}]` : ''}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
