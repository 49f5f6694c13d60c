"""Password harvesting: where phish writes the password, in several languages, ranked."""

from __future__ import annotations

import pytest

from service.passwords import MAX_CANDIDATES, harvest
from tests.factories import attachment, message


def top(text: str = "", html: str | None = None, subject: str = "Hi") -> list[str]:
    return [c.password for c in harvest(message(text=text, html=html, subject=subject))]


@pytest.mark.parametrize(("text", "expected"), [
    ("The password is: Summer2024!", "Summer2024!"),
    ("Password for the zip: infected", "infected"),
    ("pwd=Inv2024", "Inv2024"),
    ("Das Passwort lautet 4711.", "4711"),
    ("Das Kennwort zum Öffnen: \u201eRechnung#7\u201c", "Rechnung#7"),
    ("Le mot de passe : \u00ab abc123 \u00bb", "abc123"),
    ("La contraseña es 'Clave99'", "Clave99"),
    ("A senha é: Xy7788", "Xy7788"),
    ("La password per aprire il file è 998877", "998877"),
    ("Het wachtwoord is Geheim12", "Geheim12"),
    ("Use code: ABC-778 to open the invoice", "ABC-778"),
    ("PIN 1234", "1234"),
])
def test_finds_the_password_first(text: str, expected: str) -> None:
    assert top(f"Hello,\nplease find the file attached.\n{text}\nRegards")[0] == expected


def test_remembers_where_each_candidate_came_from() -> None:
    msg = message(text="nothing here", subject="Invoice (password: Sub123)",
                  html="<p>Your <b>password</b>: <span>Html456</span></p>",
                  attachments=(attachment(b"x", filename="scan 20240611.zip"),))
    by_password = {c.password: c.source for c in harvest(msg)}
    assert by_password["Sub123"] == "subject"
    assert by_password["Html456"] == "body part 1.2"
    assert by_password["20240611"] == "filename part 2"


def test_explicit_value_outranks_a_loose_quoted_token() -> None:
    ranked = top('We said "hello" earlier. Password: Real-Pass9')
    assert ranked.index("Real-Pass9") < ranked.index("hello")


def test_ordinary_prose_about_passwords_yields_nothing() -> None:
    assert top("Your password has expired, reset it here please.") == []


def test_candidates_are_capped_and_unique() -> None:
    text = "\n".join(f"password: pw{i:04d}" for i in range(100)) + "\npassword: pw0001"
    ranked = top(text)
    assert len(ranked) == MAX_CANDIDATES
    assert len(set(ranked)) == len(ranked)


def test_huge_hostile_body_is_fast() -> None:
    import time

    started = time.perf_counter()
    top("password " * 200_000 + "'" * 100_000)
    assert time.perf_counter() - started < 10.0  # ~0.5 s idle; wide margin for CI
