"""SMT JWT API edge (urllib): request an access token. Plain values; no ORM.

Credentials go in the request body only; nothing here logs them or the token.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

BODY_MAX_BYTES = 64 * 1024


class SmtApiError(Exception):
    """SMT could not be reached; the message names the host, never a credential."""


@dataclass(frozen=True)
class SmtAnswer:
    status: int
    body: object  # parsed JSON, or the text when SMT answered something else


def token_request(*, base_url: str, username: str, password: str, timeout: float) -> SmtAnswer:
    """POST {base_url}/v2/token/ with the credentials; any HTTP answer is returned, not raised."""
    url = base_url.rstrip("/") + "/v2/token/"
    data = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return SmtAnswer(response.status, _body(response.read(BODY_MAX_BYTES)))
    except urllib.error.HTTPError as exc:
        with exc:
            return SmtAnswer(exc.code, _body(exc.read(BODY_MAX_BYTES)))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SmtApiError(f"cannot reach the SMT API at {urllib.parse.urlparse(url).netloc}: {reason}") from None


def _body(raw: bytes) -> object:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
