"""A local OpenID Connect provider for tests: oidc-provider-mock on a free loopback port.

How a mock user gets the dashboard's claims (``huinong_role`` …), three equivalent ways:

- at start: ``--user-claims '{"sub": "zhang@example.cn", "huinong_role": "township", …}'``
  (``running_provider(users=[…])`` passes one per user); such users also appear as one-click
  buttons on the provider's sign-in page;
- at run time: ``PUT {base}/users/{sub}`` with the claims as a JSON object (``put_user``);
  this replaces that user's claims;
- in-process: ``oidc_provider_mock.run_server_in_thread(user_claims=[User(sub=…, claims={…})])``.

Every claim that is not a standard OIDC claim goes into the ID token whatever the requested
scope; standard ones (``name``, ``email`` …) only with their scope (``profile``, ``email``),
which Streamlit asks for by default ("openid email profile"). ``st.user`` is the ID token's
claims, so ``st.user["huinong_role"]`` is what was set here. On the provider's page (a browser
test), the user is chosen by typing its ``sub`` into the "sub" field and pressing "Authorize",
or by pressing the button named after a predefined user's sub. A sub that was never
configured signs in with only ``{"email": sub}``, which the dashboard refuses (no role).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

REDIRECT_URI = "http://localhost:8501/oauth2callback"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@contextmanager
def running_provider(users: Sequence[dict] = (), timeout: float = 30) -> Iterator[str]:
    """``python -m oidc_provider_mock`` on a free port of 127.0.0.1; yields its base URL
    (also the issuer and what ``server_metadata_url`` starts with). ``users``: claims objects,
    each with a ``sub``."""
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    for user in users:
        command += ["--user-claims", json.dumps(user, ensure_ascii=False)]
    # Its log goes to a file: it writes a line per request, and a full pipe would stall it.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"oidc-provider-mock exited: {log.read()}")
                try:
                    _get_json(f"{base}/.well-known/openid-configuration")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def discovery(base: str) -> dict:
    return _get_json(f"{base}/.well-known/openid-configuration")


def put_user(base: str, sub: str, claims: dict) -> int:
    request = urllib.request.Request(
        f"{base}/users/{urllib.parse.quote(sub, safe='')}",
        data=json.dumps(claims, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in_code_flow(base: str, sub: str, scope: str = "openid email profile") -> dict:
    """What a relying party (Streamlit's Authlib client) does: authorize as ``sub``, exchange
    the code, verify the ID token against the provider's keys; returns the token's claims."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    metadata = discovery(base)
    query = urllib.parse.urlencode(
        {
            "client_id": "huinong-dashboard",
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": scope,
            "state": "state-1",
            "nonce": "nonce-1",
        }
    )
    opener = urllib.request.build_opener(_NoRedirect)
    form = urllib.parse.urlencode({"sub": sub}).encode()
    try:
        opener.open(f"{metadata['authorization_endpoint']}?{query}", data=form, timeout=5)
        raise AssertionError("the provider did not redirect back with a code")
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
    answer = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert answer["state"] == ["state-1"]
    token_request = urllib.request.Request(
        metadata["token_endpoint"],
        data=urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": answer["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": "huinong-dashboard",
                "client_secret": "any",
            }
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(token_request, timeout=5) as response:
        token = json.load(response)
    keys = KeySet.import_key_set(_get_json(metadata["jwks_uri"]))
    claims = jwt.decode(token["id_token"], keys).claims  # raises on a bad signature
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": "huinong-dashboard"},
        nonce={"essential": True, "value": "nonce-1"},
    ).validate(claims)
    return dict(claims)
