// Demo SPA: sign in with Ostiary through oidc-client-ts, configured with nothing but the
// authority, the client id, the redirect URI and the scopes. Everything else (endpoints,
// keys, PKCE) the library finds through Ostiary's discovery document.
"use strict";

const CHECKED = "demo-spa:session-checked";

async function main() {
  const config = await (await fetch("/config.json")).json();
  const userManager = new oidc.UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: `${location.origin}/callback`,
    scope: "openid profile email offline_access",
  });

  document.getElementById("sign-in").onclick = () => userManager.signinRedirect();
  document.getElementById("sign-out").onclick = () =>
    userManager.signoutRedirect({ post_logout_redirect_uri: `${location.origin}/` });
  for (const button of document.querySelectorAll("#api button")) {
    button.onclick = () =>
      callApi(config.api_url, button.dataset.path, button.dataset.token === "yes", userManager);
  }

  if (location.pathname === "/login") {
    // Ostiary's "initiate login" URI: a sign-in that did not start here restarts from here.
    await userManager.signinRedirect();
    return;
  }
  let problem = null;
  let justSignedIn = false;
  if (location.pathname === "/callback") {
    try {
      await userManager.signinRedirectCallback();
      justSignedIn = true;
    } catch (err) {
      // prompt=none found no session: simply signed out. Anything else is worth showing.
      if (!["login_required", "interaction_required"].includes(err.error)) {
        problem = err.error_description || err.message || String(err);
      }
    }
    history.replaceState(null, "", "/");
  }

  let user = await userManager.getUser();
  if (user && user.refresh_token && !justSignedIn) {
    // Check at start-up that the shared session still lives: a refresh fails after a sign-out
    // in another app.
    try {
      user = await userManager.signinSilent();
    } catch {
      await userManager.removeUser();
      user = null;
    }
  }
  if (!user && !problem && !sessionStorage.getItem(CHECKED)) {
    // Once per tab, ask Ostiary without a login page whether the user is signed in elsewhere.
    sessionStorage.setItem(CHECKED, "yes");
    await userManager.signinRedirect({ prompt: "none" });
    return;
  }
  render(user, problem);
}

function render(user, problem) {
  document.getElementById("checking").hidden = true;
  document.getElementById("signed-out").hidden = !!user;
  document.getElementById("signed-in").hidden = !user;
  document.getElementById("api").hidden = !user;
  const problemBox = document.getElementById("problem");
  problemBox.hidden = !problem;
  problemBox.textContent = problem ? `Sign-in did not complete: ${problem}` : "";
  if (!user) return;
  const claims = user.profile;
  const text = (id, value) => (document.getElementById(id).textContent = value ?? "—");
  text("name", claims.name || claims.email || claims.sub);
  text("email", claims.email);
  text("sub", claims.sub);
  text("sid", claims.sid);
  text("org", claims.oid || "none");
  text("expiry", `expires at ${new Date(user.expires_at * 1000).toLocaleTimeString()}`);
}

async function callApi(apiUrl, path, withToken, userManager) {
  const headers = {};
  if (withToken) {
    const user = await userManager.getUser();
    if (user) headers.authorization = `Bearer ${user.access_token}`;
  }
  let status, body;
  try {
    const response = await fetch(apiUrl + path, { headers });
    status = response.status;
    body = await response.text();
    try {
      body = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      // not JSON: show it as it came
    }
    const challenge = response.headers.get("www-authenticate");
    if (challenge) body += `\n\nWWW-Authenticate: ${challenge}`;
  } catch (err) {
    status = "error";
    body = String(err);
  }
  const code = document.getElementById("result-status");
  code.textContent = status;
  code.className = `code ${status === 200 ? "ok" : status >= 400 && status < 500 ? "client" : "error"}`;
  document.getElementById("result-request").textContent =
    `GET ${path}${withToken ? "" : " (no token)"}`;
  document.getElementById("result-body").textContent = body;
  document.getElementById("result").hidden = false;
}

main().catch((err) => {
  render(null, err.message || String(err));
});
