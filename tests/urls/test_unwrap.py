"""The unwrap table: each protector and redirector, nesting, opaque wrappers, depth limit."""

from __future__ import annotations

import base64
from urllib.parse import quote

from service.urls import resolve
from service.urls.unwrap import WRAPPERS, unwrap

ORIGINAL = "https://evil.example.net/login?id=1&next=a"


def proofpoint_v3(url: str) -> str:
    """Proofpoint URL Defense v3: some characters become '*', listed base64url after '__;'."""
    swapped = [c for c in url if c in "?&="]
    readable = "".join("*" if c in "?&=" else c for c in url)
    enc = base64.urlsafe_b64encode("".join(swapped).encode()).decode().rstrip("=")
    return f"https://urldefense.com/v3/__{readable}__;{enc}!!AbCdEf!Zz9$"


def proofpoint_v2(url: str) -> str:
    enc = quote(url, safe="").replace("%", "-").replace("/", "_")
    return f"https://urldefense.proofpoint.com/v2/url?u={enc}&d=DwMFaQ&c=abc&r=x&m=y&s=z&e="


def safelinks(url: str) -> str:
    return (f"https://nam12.safelinks.protection.outlook.com/?url={quote(url, safe='')}"
            "&data=05%7C02%7Cbob%40corp.example%7C&sdata=abc%3D&reserved=0")


def test_safelinks_around_proofpoint_v3_comes_out_as_the_original() -> None:
    wrapped = safelinks(proofpoint_v3(ORIGINAL))
    result = resolve(wrapped)
    assert result is not None
    assert result.url == ORIGINAL
    assert result.chain == ("safelinks", "proofpoint_v3")


def test_proofpoint_v3_runs() -> None:
    # '**A' is a run of two swapped characters.
    enc = base64.urlsafe_b64encode(b"?&").decode().rstrip("=")
    wrapped = f"https://urldefense.com/v3/__https://evil.example.net/p**Ax=1__;{enc}!!Q!R$"
    assert unwrap(wrapped).url == "https://evil.example.net/p?&x=1"


def test_proofpoint_v3_bad_encoding_keeps_the_wrapper() -> None:
    wrapped = "https://urldefense.com/v3/__https://evil.example.net/p*x*y__;Pw!!Q!R$"
    result = unwrap(wrapped)
    assert result.url == wrapped
    assert result.chain == ()


def test_proofpoint_v2_and_v1() -> None:
    assert unwrap(proofpoint_v2(ORIGINAL)).url == ORIGINAL
    v1 = f"https://urldefense.proofpoint.com/v1/url?u={quote(ORIGINAL, safe='')}&k=abc"
    assert unwrap(v1).url == ORIGINAL


def test_each_redirector() -> None:
    q = quote(ORIGINAL, safe="")
    cases = {
        f"https://www.google.com/url?q={q}&sa=D": "google",
        f"https://l.facebook.com/l.php?u={q}&h=AT0": "facebook",
        f"https://www.linkedin.com/redir/redirect?url={q}&urlhash=x": "linkedin",
        f"https://linkprotect.cudasvc.com/url?a={q}&c=E,1,x&typo=1": "barracuda",
        f"https://secure-web.cisco.com/1AbCtoken/{q}": "cisco",
        f"https://www.youtube.com/redirect?q={q}&v=x": "youtube",
        f"https://tracker.example.org/click?redirect={q}": "redirector",
    }
    for wrapped, name in cases.items():
        result = unwrap(wrapped)
        assert (result.url, result.chain) == (ORIGINAL, (name,)), wrapped


def test_mimecast_token_is_opaque_but_query_form_unwraps() -> None:
    token = "https://protect-eu.mimecast.com/s/AbCdEfGh?domain=evil.example.net"
    result = unwrap(token)
    assert (result.url, result.opaque) == (token, "mimecast")
    with_query = f"https://protect-us.mimecast.com/r?url={quote(ORIGINAL, safe='')}"
    assert unwrap(with_query).url == ORIGINAL


def test_depth_limit_stops_a_loop_of_wrappers() -> None:
    url = ORIGINAL
    for _ in range(6):
        url = f"https://www.google.com/url?q={quote(url, safe='')}"
    result = unwrap(url, max_depth=4)
    assert len(result.chain) == 4
    assert result.url.startswith("https://www.google.com/url?q=")
    assert unwrap(url, max_depth=8).url == ORIGINAL


def test_plain_url_untouched_and_table_is_data() -> None:
    assert unwrap(ORIGINAL).url == ORIGINAL
    assert unwrap(ORIGINAL).chain == ()
    assert all(w.hosts and w.name for w in WRAPPERS)
