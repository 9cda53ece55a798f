"""Property-based tests: no input bytes make a verify function raise, and no single-byte change
of a valid document yields PASSED."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.world import SHENZHEN, ZHONGSHAN, DemoWorld
from keys import b64url_encode
from trust_lists.store import TrustStore
from verifier import Indication, Verdict, Verifier

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def verifier(demo_world: DemoWorld) -> Verifier:
    return demo_world.verifier()


def _all(verifier: Verifier, world: DemoWorld, data: bytes) -> list[Verdict]:
    return [
        verifier.verify_licence(data, ZHONGSHAN),
        verifier.verify_seal(data, ZHONGSHAN, image=data),
        verifier.verify_sealed_document(data, data, SHENZHEN),
        verifier.verify_sealed_document(world.sealed_document, data, SHENZHEN, seal=data),
    ]


@SETTINGS
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(
    verifier: Verifier, demo_world: DemoWorld, data: bytes
) -> None:
    for verdict in _all(verifier, demo_world, data):
        assert verdict.indication is Indication.FAILED
        assert verdict.checks and verdict.checks[-1].code.startswith("format.")


@SETTINGS
@given(text=st.text(max_size=512))
def test_arbitrary_text_never_raises(verifier: Verifier, text: str) -> None:
    assert verifier.verify_licence(text, ZHONGSHAN).indication is Indication.FAILED
    assert verifier.verify_seal(text, ZHONGSHAN).indication is Indication.FAILED


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@SETTINGS
@given(
    parts=st.lists(st.text(alphabet=_B64 + ".=", max_size=200), min_size=1, max_size=5),
)
def test_jws_shaped_garbage_never_raises(verifier: Verifier, parts: list[str]) -> None:
    token = ".".join(parts)
    assert verifier.verify_licence(token, ZHONGSHAN).indication is Indication.FAILED


# JSON values that stress the claim parsers: wrong types, nesting, odd numbers.
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@SETTINGS
@given(
    claims=st.dictionaries(
        st.sampled_from(
            [
                "jur",
                "iss",
                "lic_no",
                "lic_type",
                "holder",
                "iat",
                "nbf",
                "exp",
                "data",
                "status",
                "seal_id",
                "seal_type",
                "ent",
                "img",
                "cnf",
                "doc",
                "seal",
                "seal_ref",
                "name",
            ]
        ),
        _json,
        max_size=10,
    )
)
def test_signed_garbage_claims_never_raise(
    verifier: Verifier, demo_world: DemoWorld, claims: dict[str, object]
) -> None:
    """Validly signed by a trusted key, but claims of any shape: never raises, never passes."""
    import json

    from tests.support.verifier_support import header_for, raw_jws
    from verifier import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP

    payload = json.dumps(claims).encode()
    lic_key = demo_world.issuer_key(SHENZHEN)
    seal_key = demo_world.seal_authority_key(SHENZHEN)
    licence = raw_jws(header_for(lic_key, LICENCE_TYP), payload, lic_key)
    seal = raw_jws(header_for(seal_key, SEAL_TYP), payload, seal_key)
    sealed = raw_jws(header_for(lic_key, SEALED_DOC_TYP), payload, lic_key)
    assert verifier.verify_licence(licence, ZHONGSHAN).indication is not Indication.PASSED
    assert verifier.verify_seal(seal, ZHONGSHAN).indication is not Indication.PASSED
    verdict = verifier.verify_sealed_document(demo_world.sealed_document, sealed, ZHONGSHAN)
    assert verdict.indication is not Indication.PASSED


def _flip(data: bytes, index: int, mask: int) -> bytes:
    i = index % len(data)
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


_flips = {"index": st.integers(min_value=0, max_value=10**6), "mask": st.integers(1, 255)}


@SETTINGS
@given(**_flips)
def test_flipped_licence_never_passes(
    verifier: Verifier, demo_world: DemoWorld, index: int, mask: int
) -> None:
    for token in (demo_world.licence_sz, demo_world.licence_zs):
        bad = _flip(token.encode(), index, mask)
        assert verifier.verify_licence(bad, SHENZHEN).indication is not Indication.PASSED


@SETTINGS
@given(**_flips)
def test_flipped_seal_or_image_never_passes(
    verifier: Verifier, demo_world: DemoWorld, index: int, mask: int
) -> None:
    seal = demo_world.seal_sz.encode()
    image = demo_world.seal_image
    bad_seal = verifier.verify_seal(_flip(seal, index, mask), ZHONGSHAN, image=image)
    assert bad_seal.indication is not Indication.PASSED
    bad_image = verifier.verify_seal(seal, ZHONGSHAN, image=_flip(image, index, mask))
    assert bad_image.indication is not Indication.PASSED


@SETTINGS
@given(**_flips)
def test_flipped_sealed_document_never_passes(
    verifier: Verifier, demo_world: DemoWorld, index: int, mask: int
) -> None:
    doc, sig = demo_world.sealed_document, demo_world.sealed_signature.encode()
    assert (
        verifier.verify_sealed_document(_flip(doc, index, mask), sig, ZHONGSHAN).indication
        is not Indication.PASSED
    )
    assert (
        verifier.verify_sealed_document(doc, _flip(sig, index, mask), ZHONGSHAN).indication
        is not Indication.PASSED
    )


def test_the_unflipped_documents_pass(verifier: Verifier, demo_world: DemoWorld) -> None:
    """The properties above mean something only if the originals pass."""
    w = demo_world
    assert verifier.verify_licence(w.licence_sz, SHENZHEN).passed
    assert verifier.verify_licence(w.licence_zs, SHENZHEN).passed
    assert verifier.verify_seal(w.seal_sz, ZHONGSHAN, image=w.seal_image).passed
    assert verifier.verify_sealed_document(w.sealed_document, w.sealed_signature, ZHONGSHAN).passed


def test_every_single_byte_flip_of_the_licence_fails(
    verifier: Verifier, demo_world: DemoWorld
) -> None:
    """Exhaustive over positions (one mask each), next to the sampled property above."""
    token = demo_world.licence_sz.encode()
    for i in range(len(token)):
        bad = _flip(token, i, 0x01)
        assert verifier.verify_licence(bad, SHENZHEN).indication is not Indication.PASSED, i


def test_garbage_around_a_valid_token(verifier: Verifier, demo_world: DemoWorld) -> None:
    token = demo_world.licence_sz
    h, p, s = token.split(".")
    for bad in [
        token + "." + s,
        h + "." + p + "." + s + "AA",
        "." + token,
        token + "\x00",
        h + "." + b64url_encode(b"{}") + "." + s,
    ]:
        assert verifier.verify_licence(bad, SHENZHEN).indication is Indication.FAILED


def test_store_is_never_mutated(demo_world: DemoWorld) -> None:
    """Verification only reads the snapshot: its version does not move."""
    store: TrustStore = demo_world.store()
    before = store.state.version
    v = demo_world.verifier(store)
    v.verify_licence(b"garbage", ZHONGSHAN)
    v.verify_licence(demo_world.licence_sz, ZHONGSHAN)
    assert store.state.version == before
