"""Adversarial review of issue 19's boundaries between cities: what one city's operators, acting
alone, could still do to another city's verdicts. Each case fails without its fix."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from cli.lists import render_diff
from demo.world import CITY
from issuing import national as issue
from keys import GeneralJWS, canonical_json
from keys.sm2 import Sm2PrivateKey, Sm2PublicKey
from tests.attack.test_boundaries import (  # noqa: F401 (fixtures)
    JSON,
    Pair,
    live_world,
    next_sz_list,
    now,
    pair,
)
from tests.attack.test_trust_state import Service, assert_problem, refused, svc  # noqa: F401
from tests.support.api_support import auth
from tests.support.national_world import IN_2021, SZ, ZS, _service, cert, key, trust_lists, world
from tests.support.trust_world import with_status_uri
from tests.unit.test_national_documents import failing, make_seal, stamped_files
from trust_lists import authoring
from trust_lists.catalogue import CATALOGUE_TYP
from trust_lists.diff import ChangeKind, diff_trust_lists
from trust_lists.model import KeyStatus, ServiceKind, replace_services
from verifier import Indication, SubIndication

REVOKED_FROM = datetime(2020, 12, 1, tzinfo=UTC)


def _zhongshan_also_lists(listed: Sm2PublicKey, kind: ServiceKind) -> dict[str, object]:
    """Zhongshan's operators (alone) add to their own list, as a service of `kind` revoked since
    REVOKED_FROM, a certificate (or its bare key) that Shenzhen vouches for through its CA. The
    key is not Shenzhen's CA key, so no key is in two lists and the store accepts the list."""
    lists = trust_lists()
    lists[ZS] = _service(lists[ZS], "zs-squat", kind, 7, [listed])
    lists[ZS] = authoring.change_key_status(
        lists[ZS], listed.kid, KeyStatus.REVOKED, effective=REVOKED_FROM
    )
    return lists  # type: ignore[return-value]


@pytest.mark.parametrize("form", ["certificate", "bare key"])
def test_a_city_cannot_take_over_seals_made_under_another_citys_ca(form: str) -> None:
    """Shenzhen lists ofdrw's ROOT as the CA of its seal-making authority; SealBuilder (issued by
    ROOT) makes Shenzhen's seals. Zhongshan listing SealBuilder directly made every such seal
    FAILED (REVOKED) at every counter, attributed to Zhongshan: a direct listing was preferred
    over Shenzhen's CA whatever the city. Two cities vouching for one certificate is ambiguous:
    INDETERMINATE, naming both, never the other city's verdict."""
    maker = cert("SealBuilder")
    listed = Sm2PublicKey.from_certificate(maker) if form == "certificate" else None
    listed = listed or Sm2PublicKey(maker.public_point)
    w = world(lists=_zhongshan_also_lists(listed, ServiceKind.SEAL_AUTHORITY))  # type: ignore[arg-type]
    for relying in (SZ, ZS):
        v = w.verifier.verify_seal(make_seal(), relying, IN_2021)
        assert (v.indication, v.sub_indication) == (
            Indication.INDETERMINATE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
        ), failing(v)
        assert failing(v) == ["ses.vouched_once"]
        message = next(c for c in v.checks if c.code == "ses.vouched_once")
        assert SZ in message.message_en and ZS in message.message_en
        assert SZ in message.message_zh and ZS in message.message_zh
        doc = w.verifier.verify_document(issue.package(stamped_files()), relying, IN_2021)
        assert doc.overall.indication is Indication.INDETERMINATE
        assert "seal:ses.vouched_once" in failing(doc.signatures[0].verdict)
    # Without Zhongshan's listing, the same seal passes, Shenzhen's.
    v = world().verifier.verify_seal(make_seal(), ZS, IN_2021)
    assert v.indication is Indication.PASSED and v.summary.issuing_jurisdiction == SZ


def test_a_city_cannot_take_over_signatures_under_another_citys_ca() -> None:
    """The same for a licence issuer's signer (GB/T 35275 SignedData): Shenzhen vouches for
    USER through ofdrw's ROOT; Zhongshan lists USER's bare key as its own revoked issuer."""
    lists = trust_lists()
    root = Sm2PublicKey.from_certificate(cert("ROOT"))
    user = Sm2PublicKey.from_certificate(cert("USER"))
    for sid in ("sz-amr", "sz-seal"):  # ROOT becomes the CA of Shenzhen's licence issuer
        lists[SZ] = authoring.remove_service(lists[SZ], sid)
    lists[SZ] = _service(lists[SZ], "sz-amr-ca", ServiceKind.LICENCE_ISSUER, 8, [root])
    signed = issue.stamp_ofd(
        issue.make_ofd(["许可证"], doc_id="licence-1"),
        seal=None,
        signer_key=key("USER"),
        signer_certificate=cert("USER").der,
        signed_at=datetime(2021, 3, 1, tzinfo=UTC),
        signed_data=True,
    )
    files = issue.package(signed)
    base = world(lists=lists).verifier.verify_document(files, ZS, IN_2021)
    assert base.overall.indication is Indication.PASSED, failing(base.signatures[0].verdict)
    lists[ZS] = _service(
        lists[ZS], "zs-squat", ServiceKind.LICENCE_ISSUER, 7, [Sm2PublicKey(user.point)]
    )
    lists[ZS] = authoring.change_key_status(
        lists[ZS], user.kid, KeyStatus.REVOKED, effective=REVOKED_FROM
    )
    doc = world(lists=lists).verifier.verify_document(files, ZS, IN_2021)
    v = doc.signatures[0].verdict
    assert (v.indication, v.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    ), failing(v)
    assert failing(v) == ["ses.vouched_once"]


def test_a_city_cannot_use_up_the_trial_keys_of_another_citys_bare_signatures() -> None:
    """A bare SM2 signature names no signer: the listed licence-issuer keys are tried, at most
    `max_trial_keys` of them, in jurisdiction order. Shenzhen listing that many keys of its own
    (two services of 16) left Zhongshan's keys untried: every bare signature of Zhongshan's was
    INDETERMINATE ('no listed key verifies'). The bound now holds per jurisdiction."""
    lists = trust_lists()
    user = Sm2PublicKey(cert("USER").public_point)
    lists[SZ] = authoring.remove_service(lists[SZ], "sz-amr")
    lists[ZS] = _service(lists[ZS], "zs-amr", ServiceKind.LICENCE_ISSUER, 9, [user])
    signed = issue.stamp_ofd(
        issue.make_ofd(["许可证"], doc_id="licence-2"),
        seal=None,
        signer_key=key("USER"),
        signer_certificate=None,
        signed_at=datetime(2021, 3, 1, tzinfo=UTC),
    )
    files = issue.package(signed)
    base = world(lists=lists).verifier.verify_document(files, SZ, IN_2021)
    assert base.overall.indication is Indication.PASSED, failing(base.signatures[0].verdict)
    w = world(lists=lists)
    limit = w.verifier.policy.max_trial_keys
    for n in range(0, limit, 16):
        keys = [Sm2PrivateKey.generate().public_key for _ in range(min(16, limit - n))]
        lists[SZ] = _service(lists[SZ], f"sz-many-{n}", ServiceKind.LICENCE_ISSUER, 10 + n, keys)
    doc = world(lists=lists).verifier.verify_document(files, SZ, IN_2021)
    v = doc.signatures[0].verdict
    assert v.indication is Indication.PASSED, failing(v)
    assert v.summary.issuing_jurisdiction == ZS


# -- uploads are judged against the shared trust state, not a lagging copy ------------------------


def test_an_upload_is_judged_after_catching_up_with_the_other_instances(
    pair: Pair,  # noqa: F811
) -> None:
    """Redis pub/sub delivers at most once: an instance that lost a notification catches up only
    before its next verdict. Uploads were judged without it, so Shenzhen could claim, on such an
    instance, the status URI Zhongshan had just declared through the other one: each instance
    then refused the other's list for good (split ownership of one URI). Now an upload first
    catches up, as a verdict does, and the claim is refused on the lagging instance too."""
    w = pair.world
    ctx_a = pair.a.app.state.ctx  # type: ignore[attr-defined]

    def lose_notifications() -> None:  # A's subscriber is gone: it sees nothing published
        for task in ctx_a.sync._tasks:
            task.cancel()

    pair.a.portal.call(lose_notifications)  # type: ignore[union-attr]
    uri = "https://status.zs.huren.example/zs-amr/new"
    zs = authoring.next_version(w.trust_lists[ZS], issued_at=now(), validity=timedelta(days=30))
    zs_signed = w.sign_list(with_status_uri(zs, CITY[ZS].issuer_id, uri))
    r = pair.b.put(f"/v1/trust-lists/{ZS}", content=zs_signed, headers={**auth("admin"), **JSON})
    assert r.status_code == 200, r.text
    sz = with_status_uri(next_sz_list(w), CITY[SZ].issuer_id, uri)
    r = pair.a.put(
        f"/v1/trust-lists/{SZ}", content=w.sign_list(sz), headers={**auth("admin"), **JSON}
    )
    assert_problem(r, 422, "status_uri_claimed")
    for client in pair.clients:
        assert client.get(f"/v1/trust-lists/{ZS}").content == zs_signed


# -- a 500 on a hostile catalogue ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [[[]], [{}], ["licence", ["x"]]])
def test_a_catalogue_with_a_non_string_type_code_is_refused_not_500(
    svc: Service,  # noqa: F811
    bad: list[object],
) -> None:
    """A recognition's type list holding a list or an object made set() raise TypeError while
    the catalogue was parsed, before any signature was checked: PUT /v1/catalogue answered 500."""
    w = svc.world
    doc = w.catalogue.to_dict()
    doc["sequence"] += 1
    doc["recognitions"][0]["licence_types"] = bad
    signers = [*w.operators(SZ)[:2], *w.operators(ZS)[:2]]
    body = GeneralJWS.sign(canonical_json(doc), signers, typ=CATALOGUE_TYP).to_json()
    refused(svc, "PUT", "/v1/catalogue", body, JSON, 422, "malformed")


# -- the operators' review shows what a key's certificate makes it vouch for -----------------------


def test_list_diff_shows_a_keys_certificate_changing() -> None:
    """An SM2 key's identity is its point, so a draft giving a listed bare key a CA certificate
    (or swapping its certificate) keeps the kid: `huren list diff` said nothing, yet the key then
    vouches for every certificate that CA issued. A proposer could widen trust past the review."""
    root = cert("ROOT")
    after = trust_lists()[SZ]  # sz-seal lists ROOT's key with ROOT's CA certificate
    bare = Sm2PublicKey(root.public_point)
    before = replace_services(
        after,
        [
            dataclasses.replace(s, keys=tuple(dataclasses.replace(k, key=bare) for k in s.keys))
            if s.id == "sz-seal"
            else s
            for s in after.services
        ],
    )
    d = diff_trust_lists(before, after)
    (change,) = d.of_kind(ChangeKind.KEY_CERTIFICATE)  # (and the sequence not bumped)
    assert change.warning and "CA certificate" in change.warning
    text = render_diff(before, after)
    assert root.sha256[:16] in text and "CA" in text
    assert not diff_trust_lists(after, after).changes
