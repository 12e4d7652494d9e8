from __future__ import annotations

from core.otp import codes

KEY = b"k" * 32


def test_a_nonce_always_derives_the_same_code_of_the_configured_length() -> None:
    nonce = codes.new_nonce()
    first = codes.derive_code(KEY, nonce, 8)
    assert first == codes.derive_code(KEY, nonce, 8)
    assert len(first) == 8
    assert first.isdigit()
    assert len(codes.derive_code(KEY, nonce, 12)) == 12


def test_different_nonces_and_keys_give_different_codes() -> None:
    nonces = [codes.new_nonce() for _ in range(200)]
    derived = {codes.derive_code(KEY, nonce, 8) for nonce in nonces}
    assert len(derived) == 200
    nonce = nonces[0]
    assert codes.derive_code(KEY, nonce, 8) != codes.derive_code(b"j" * 32, nonce, 8)


def test_lookup_hash_binds_the_code_to_user_and_client_and_hides_it() -> None:
    digest = codes.lookup_hash(KEY, user_id="u1", client_id="c1", code="12345678")
    assert digest == codes.lookup_hash(KEY, user_id="u1", client_id="c1", code="12345678")
    assert digest != codes.lookup_hash(KEY, user_id="u2", client_id="c1", code="12345678")
    assert digest != codes.lookup_hash(KEY, user_id="u1", client_id="c2", code="12345678")
    assert digest != codes.lookup_hash(KEY, user_id="u1", client_id="c1", code="12345679")
    assert b"12345678" not in digest
    assert len(digest) == 32


def test_only_digit_strings_of_the_right_length_look_like_codes() -> None:
    assert codes.looks_like_code("01234567", 8)
    assert not codes.looks_like_code("0123456", 8)
    assert not codes.looks_like_code("0123456a", 8)
    assert not codes.looks_like_code(
        "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17", 8
    )  # full-width digits
