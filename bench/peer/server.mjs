// The benchmark's peer: panva's oidc-provider, configured as close to Ostiary as it allows.
//
//   node bench/peer/server.mjs            (configuration from environment variables below)
//
// PEER_PORT        port on 127.0.0.1 (required)
// PEER_ISSUER      issuer URL (default http://127.0.0.1:PEER_PORT)
// PEER_WORKERS     worker processes (node:cluster); default 1 = a single process
// PEER_STORE       "memory" (oidc-provider's own MemoryAdapter, larger LRU) or "postgres"
// PEER_DATABASE_URL  postgres://… when PEER_STORE=postgres (tables are created if missing)
// PEER_STATE       JSON file written by bench/run.py: clients, users (with argon2 hashes made here
//                  on first start), signing key, cookie keys. Created/completed on first start.
//
// What is equivalent to Ostiary (see bench/README.md for the full list of differences):
//  * RS256 JWT access tokens (RFC 9068 style, via a resource server with accessTokenFormat 'jwt'),
//    300 s, signed with an RSA-2048 key; RS256 ID tokens, 30 min; client_credentials 1 h.
//  * refresh tokens rotate on every use (rotateRefreshToken: true); reuse revokes the grant.
//  * the same confidential web client (client_secret_basic and _post; authorization_code,
//    refresh_token, client_credentials), no PKCE for it; authorization codes live 10 min.
//  * the same paths as Ostiary (/oauth/authorize, /oauth/token, /userinfo, /keys, …).
//  * login: a hosted HTML form with a double-submit CSRF cookie; the password is checked with
//    argon2id with the same parameters (t=3, m=64 MiB, p=4) as Ostiary's; unknown emails cost one
//    argon2 verification too. First-party apps are not asked for consent (the grant is made at
//    login, as Ostiary does for first-party apps).
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { URLSearchParams } from 'node:url';

import argon2 from 'argon2';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const PORT = Number(process.env.PEER_PORT);
const ISSUER = process.env.PEER_ISSUER || `http://127.0.0.1:${PORT}`;
const WORKERS = Math.max(1, Number(process.env.PEER_WORKERS || 1));
const STORE = process.env.PEER_STORE || 'memory';
const STATE_FILE = process.env.PEER_STATE;
const ARGON2 = {
  type: argon2.argon2id,
  timeCost: Number(process.env.PEER_ARGON2_TIME_COST || 3),
  memoryCost: Number(process.env.PEER_ARGON2_MEMORY_KIB || 65536),
  parallelism: Number(process.env.PEER_ARGON2_PARALLELISM || 4),
};
const API_RESOURCE = `${ISSUER}/api`; // the resource server whose access tokens are JWTs
// The access token's scope claim, as in Ostiary's ("openid profile email"; offline_access is
// dropped by oidc-provider without prompt=consent, see issueRefreshToken).
const API_SCOPE = 'openid profile email';
const USERINFO_CLIENT_SUFFIX = '-userinfo'; // see useGrantedResource below

if (!PORT || !STATE_FILE) {
  console.error('PEER_PORT and PEER_STATE are required');
  process.exit(2);
}
if (STORE === 'memory' && WORKERS > 1) {
  console.error('PEER_STORE=memory cannot be shared by several workers; use postgres');
  process.exit(2);
}

// -- state: clients, users, keys (made once, by the primary) -------------------------------------

async function prepareState() {
  const state = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
  let changed = false;
  if (!state.jwk) {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    state.jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
    changed = true;
  }
  if (!state.cookieKeys) {
    state.cookieKeys = [crypto.randomBytes(32).toString('base64url')];
    changed = true;
  }
  for (const user of state.users) {
    if (!user.password_hash) {
      user.password_hash = await argon2.hash(user.password, ARGON2);
      changed = true;
    }
  }
  if (!state.dummyHash) {
    state.dummyHash = await argon2.hash('peer-dummy-password', ARGON2);
    changed = true;
  }
  if (changed) fs.writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  return state;
}

// -- storage -------------------------------------------------------------------------------------

function memoryStore(state) {
  // oidc-provider's own MemoryAdapter; its default LRU keeps only 1000 entries, which evicts
  // live grants and codes under load, so it gets a larger one (the only change).
  const lru = new LRU({ maxSize: 5_000_000 });
  const accounts = new Map(state.users.map((u) => [u.id, u]));
  const byEmail = new Map(state.users.map((u) => [u.email.toLowerCase(), u]));
  return {
    Adapter: class extends MemoryAdapter {
      constructor(model) { super(model, lru); }
    },
    account: async (id) => accounts.get(id),
    accountByEmail: async (email) => byEmail.get(email.toLowerCase()),
    close: async () => {},
  };
}

async function postgresStore(state, { init }) {
  const { default: pg } = await import('pg');
  // pool size 20 = Ostiary's default (pool_size 10 + max_overflow 10)
  const pool = new pg.Pool({ connectionString: process.env.PEER_DATABASE_URL, max: 20 });
  if (init) {
    await pool.query(`
      CREATE TABLE IF NOT EXISTS oidc_models (
        model text NOT NULL, id text NOT NULL, payload jsonb NOT NULL,
        grant_id text, user_code text, uid text,
        expires_at timestamptz, consumed_at timestamptz,
        PRIMARY KEY (model, id));
      CREATE INDEX IF NOT EXISTS oidc_models_grant ON oidc_models (grant_id);
      CREATE INDEX IF NOT EXISTS oidc_models_uid ON oidc_models (uid);
      CREATE INDEX IF NOT EXISTS oidc_models_user_code ON oidc_models (user_code);
      CREATE TABLE IF NOT EXISTS accounts (
        id text PRIMARY KEY, email text NOT NULL UNIQUE, name text, password_hash text NOT NULL);`);
    for (const u of state.users) {
      await pool.query(
        `INSERT INTO accounts (id, email, name, password_hash) VALUES ($1, lower($2), $3, $4)
         ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name,
           password_hash = excluded.password_hash`,
        [u.id, u.email, u.name, u.password_hash],
      );
    }
  }
  const found = (row) => {
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at / 1000) } : row.payload;
  };
  const live = '(expires_at IS NULL OR expires_at > now())';
  class PgAdapter {
    constructor(model) { this.model = model; }

    async upsert(id, payload, expiresIn) {
      await pool.query(
        `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload,
           grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid,
           expires_at = excluded.expires_at`,
        [this.model, id, payload, payload.grantId ?? null, payload.userCode ?? null,
          payload.uid ?? null, expiresIn ?? null],
      );
    }

    async find(id) {
      const { rows } = await pool.query(
        `SELECT payload, consumed_at FROM oidc_models WHERE model = $1 AND id = $2 AND ${live}`,
        [this.model, id],
      );
      return found(rows[0]);
    }

    async findByUid(uid) {
      const { rows } = await pool.query(
        `SELECT payload, consumed_at FROM oidc_models WHERE model = $1 AND uid = $2 AND ${live}`,
        [this.model, uid],
      );
      return found(rows[0]);
    }

    async findByUserCode(userCode) {
      const { rows } = await pool.query(
        `SELECT payload, consumed_at FROM oidc_models WHERE model = $1 AND user_code = $2 AND ${live}`,
        [this.model, userCode],
      );
      return found(rows[0]);
    }

    async consume(id) {
      await pool.query(
        'UPDATE oidc_models SET consumed_at = now() WHERE model = $1 AND id = $2',
        [this.model, id],
      );
    }

    async destroy(id) {
      await pool.query('DELETE FROM oidc_models WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async revokeByGrantId(grantId) {
      await pool.query('DELETE FROM oidc_models WHERE grant_id = $1', [grantId]);
    }
  }
  const one = async (sql, args) => (await pool.query(sql, args)).rows[0];
  return {
    Adapter: PgAdapter,
    account: (id) => one('SELECT id, email, name, password_hash FROM accounts WHERE id = $1', [id]),
    accountByEmail: (email) => one(
      'SELECT id, email, name, password_hash FROM accounts WHERE email = lower($1)', [email],
    ),
    close: () => pool.end(),
  };
}

// -- the provider --------------------------------------------------------------------------------

function buildProvider(state, store) {
  const clients = state.clients.flatMap((c) => [
    {
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // The same client again under another id: oidc-provider accepts only its own opaque access
    // tokens at userinfo (a JWT access token has an audience, which userinfo refuses), so the
    // userinfo scenario takes its token from this twin, whose tokens are not for the API.
    {
      client_id: c.client_id + USERINFO_CLIENT_SUFFIX,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ]);
  const configuration = {
    adapter: store.Adapter,
    clients,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    jwks: { keys: [state.jwk] },
    cookies: { keys: state.cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      userinfo: '/userinfo',
      jwks: '/keys',
      revocation: '/oauth/revoke',
      introspection: '/oauth/introspect',
      end_session: '/oidc/logout',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Every token request of the main client is for the API, whose tokens are JWTs.
        defaultResource: async () => API_RESOURCE,
        useGrantedResource: async (ctx) => !ctx.oidc.client?.clientId.endsWith(USERINFO_CLIENT_SUFFIX),
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (resourceIndicator !== API_RESOURCE) throw new Provider.errors.InvalidTarget();
          const clientCredentials = ctx.oidc.params?.grant_type === 'client_credentials';
          return {
            scope: API_SCOPE,
            audience: API_RESOURCE,
            accessTokenTTL: clientCredentials ? 3600 : 300, // Ostiary: 1 h and 5 min
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: 300,
      ClientCredentials: 3600,
      AuthorizationCode: 600,
      IdToken: 1800,
      RefreshToken: 30 * 24 * 3600, // Ostiary: bound to the session, absolute timeout 30 days
      Interaction: 1800, // Ostiary's login transaction: 30 min
      Session: 30 * 24 * 3600,
      Grant: 30 * 24 * 3600,
    },
    // OIDC Core lets a provider drop offline_access unless prompt=consent is sent, and
    // oidc-provider does; Ostiary keeps it for first-party apps. So refresh tokens are issued
    // whenever the client may use them; without offline_access they expire with the session
    // (expiresWithSession), which is exactly Ostiary's rule for every refresh token.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, id) => {
      const user = await store.account(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: user.email, email_verified: false, name: user.name ?? undefined }),
      };
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Error</title><p>${escapeHtml(out.error)}</p>`;
    },
  };
  const provider = new Provider(ISSUER, configuration);
  provider.proxy = false;
  return provider;
}

// -- hosted login (interaction) pages --------------------------------------------------------------

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function loginPage(res, { uid, csrf, email, error, status = 200, setCsrf }) {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title></head>
<body><main class="card">
<header class="card-header"><h1>Sign in</h1><p class="lede">Sign in to continue</p></header>
${error ? `<div class="banner banner--error" role="alert">${escapeHtml(error)}</div>` : ''}
<form class="form" method="post" action="/interaction/${escapeHtml(uid)}/login">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">
<div class="field"><label for="email">Email address</label>
<input name="email" type="email" autocomplete="username" required id="email" value="${escapeHtml(email)}"></div>
<div class="field"><label for="password">Password</label>
<input name="password" type="password" autocomplete="current-password" required id="password"></div>
<button type="submit">Continue</button>
</form></main></body></html>`;
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  };
  if (setCsrf) headers['set-cookie'] = `peer_csrf=${csrf}; Path=/; HttpOnly; SameSite=Lax`;
  res.writeHead(status, headers);
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function makeInteractions(provider, store, state) {
  return async function interactions(req, res) {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url.split('?')[0]);
    if (!match) return false;
    const details = await provider.interactionDetails(req, res); // checks the interaction cookie
    const jar = cookies(req);
    let csrf = jar.peer_csrf;
    const setCsrf = !csrf || csrf.length !== 43;
    if (setCsrf) csrf = crypto.randomBytes(32).toString('base64url');
    if (req.method === 'GET' && !match[2]) {
      loginPage(res, { uid: details.uid, csrf, email: details.params.login_hint, setCsrf });
      return true;
    }
    if (req.method !== 'POST' || !match[2]) {
      res.writeHead(405).end();
      return true;
    }
    const form = await readForm(req);
    const sent = Buffer.from(form.get('csrf_token') || '');
    if (setCsrf || sent.length !== Buffer.byteLength(csrf)
        || !crypto.timingSafeEqual(sent, Buffer.from(csrf))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('CSRF token missing or wrong');
      return true;
    }
    const email = (form.get('email') || '').slice(0, 1024).trim();
    const password = (form.get('password') || '').slice(0, 1024);
    const user = email ? await store.accountByEmail(email) : undefined;
    const ok = await argon2.verify(user?.password_hash ?? state.dummyHash, password);
    if (!ok || !user) {
      loginPage(res, { uid: details.uid, csrf, email, error: 'The email or password is not right.', status: 401 });
      return true;
    }
    // First-party app: no consent page; the grant covers what was asked (like Ostiary).
    const grant = new provider.Grant({ accountId: user.id, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    grant.addResourceScope(API_RESOURCE, API_SCOPE);
    const grantId = await grant.save();
    await provider.interactionFinished(
      req, res,
      { login: { accountId: user.id, amr: ['pwd'] }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    return true;
  };
}

// -- start ---------------------------------------------------------------------------------------

async function serve(state, { init }) {
  const store = STORE === 'postgres' ? await postgresStore(state, { init }) : memoryStore(state);
  const provider = buildProvider(state, store);
  const callback = provider.callback();
  const interactions = makeInteractions(provider, store, state);
  const server = http.createServer(async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        if (await interactions(req, res)) return;
      } catch (err) {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(String(err?.message || err));
        return;
      }
    }
    callback(req, res);
  });
  server.listen(PORT, '127.0.0.1');
  const stop = () => server.close(() => store.close().finally(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (cluster.isPrimary) {
  const state = await prepareState();
  if (WORKERS === 1) {
    await serve(state, { init: true });
    console.log(`peer (oidc-provider, ${STORE}) on ${ISSUER} with 1 worker`);
  } else {
    if (STORE === 'postgres') (await postgresStore(state, { init: true })).close();
    for (let i = 0; i < WORKERS; i += 1) cluster.fork();
    const stop = () => {
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      setTimeout(() => process.exit(0), 2000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    console.log(`peer (oidc-provider, ${STORE}) on ${ISSUER} with ${WORKERS} workers`);
  }
} else {
  const state = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
  await serve(state, { init: false });
}
