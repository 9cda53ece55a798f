"""`huren verify FILE [--data SIGNED_FILE] --config DIR`: verify a file offline against a trust
store on disk.

FILE may be a signed OFD document (.ofd), a GB/T 38540 / GM/T 0031 seal (.esl), an SES_Signature
value (.dat, with the data it signs as --data when at hand), a compact JWS licence or seal, or a
licence's QR form: its HR1: text (as the argument itself or in a file) or a photo or scan of the
code; its kind is sniffed. DIR is a service directory holding huren.json (as made by `huren demo
init`), or the huren.json itself. The store is loaded read-only (nothing is written). Exit status
(EXIT_STATUS_HELP): the verdict's, or 2 when no verdict could be given.

cli/main.py registers it with `verify.add_parser(sub)` in build_parser()."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from trust_lists.errors import TrustStateError
from trust_lists.store import TrustStore
from trust_lists.text import shown
from trust_lists.timeutil import EARLIEST_VALIDATION_TIME, LATEST_VALIDATION_TIME
from verifier import (
    DocumentKind,
    Expectations,
    NationalFormat,
    Verdict,
    VerificationRequest,
    Verifier,
    hr1,
    scan,
)
from verifier.recognise import (
    OFD_AS_DATA,
    SUPPORTED_FORMATS,
    jws_kind,
    national_format,
    unsupported_format,
    unsupported_message,
)
from verifier.verdict import reported_checks

MAX_FILE_BYTES: Final = 64 * 1024 * 1024
EXIT: Final = {"PASSED": 0, "FAILED": 1, "INDETERMINATE": 3}
EXIT_USAGE: Final = 2
EXIT_STATUS_HELP: Final = """exit status:
  0  PASSED         the document verified
  1  FAILED         altered, forged, expired, revoked or refused by policy
  3  INDETERMINATE  could not be decided: unknown signer, missing signed data, stale trust
  2  no verdict     usage error, unreadable or unsupported file, unusable trust directory"""


class UnsupportedFormat(ValueError):
    """FILE is not a format `huren verify` judges (exit status 2, no verdict)."""


def add_parser(sub: Any) -> None:
    from cli.common import HelpFormatter, config_option

    g: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="verify a signed OFD document, a GB/T 38540 seal or signature, or a JWS offline",
        description="Verify a file offline against the trust store of a service directory.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=HelpFormatter,
    )
    g.add_argument(
        "file",
        metavar="FILE",
        help=".ofd, .esl, .dat, a compact JWS, a licence's QR code (its HR1: text given here or "
        "in a file, or a photo or scan of the code)",
    )
    g.add_argument(
        "--data",
        metavar="SIGNED_FILE",
        help="the data an SES_Signature value (.dat) signs (e.g. its Signature.xml)",
    )
    config_option(g, "--trust")  # --trust DIR: the old spelling, still accepted
    g.add_argument(
        "--relying",
        metavar="CODE",
        help="relying jurisdiction (default: the first configured one), e.g. --relying 442000",
    )
    g.add_argument(
        "--at",
        metavar="TIME",
        type=_time,
        help="validation time, RFC 3339 UTC or now (default: now), e.g. --at 2026-11-26T08:00:00Z",
    )
    g.add_argument(
        "--item",
        metavar="CODE",
        help="the service item being handled, by its code in the recognition catalogue: the "
        "document is judged for that item (`huren catalogue items` lists them), e.g. "
        "--item 440300-SCJG-0012",
    )
    g.add_argument("--json", action="store_true", help="print the full verdict(s) as JSON")
    g.add_argument(
        "--detailed",
        action="store_true",
        help="the detailed report: every check, the passing ones too (default: the simple "
        "report, the checks that did not pass), as text or with --json; e.g. "
        "huren verify doc.ofd --config .demo --detailed",
    )
    g.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the reasons")
    g.set_defaults(func=cmd_verify)


def _time(text: str) -> datetime:
    from cli.common import time_arg

    at = time_arg(text)
    if not EARLIEST_VALIDATION_TIME <= at <= LATEST_VALIDATION_TIME:
        raise argparse.ArgumentTypeError(
            f"validation time {text!r} outside {EARLIEST_VALIDATION_TIME:%Y-%m-%dT%H:%M:%SZ}"
            " .. 9999-12-31T23:59:59Z"
        )
    return at


def open_store(trust: str) -> TrustStore:
    """The trust store of a service directory, loaded and re-verified, never written."""
    from cli.common import read_config

    anchors, directory, grace = read_config(trust)
    store = TrustStore(anchors, directory, grace=grace)
    for problem in store.load():
        print(f"warning: {problem}", file=sys.stderr)
    store.directory = None  # verification only: nothing is ever written
    return store


def verify_file(
    data: bytes,
    store: TrustStore,
    relying: str,
    at: datetime | None,
    now: datetime,
    *,
    signed_data: bytes | None = None,
    data_name: str = "Signature.xml",
    item: str | None = None,
) -> tuple[Verdict, list[tuple[str, Verdict]]]:
    """(overall verdict, [(signature id, verdict)]) for any supported file; `signed_data` is
    what an SES_Signature value signs (only with one); `item` the service item asked about."""
    expect = Expectations(service_item=item) if item is not None else None
    found = national_format(data)
    if signed_data is not None and found is not NationalFormat.SIGNATURE:
        raise ValueError("signed data goes with an SES_Signature value (.dat) only")
    verifier = Verifier(store, clock=lambda: now)
    if found is not None:
        # The kind the API would ask on the endpoint taking this format.
        asked = DocumentKind.SEAL if found is NationalFormat.SEAL else DocumentKind.SEALED_DOCUMENT
        request = VerificationRequest(
            asked,
            data,
            relying,
            at,
            expect,
            document=signed_data,
            national=found,
            data_name=data_name,
        )
        verdict = verifier.verify(request)
        return verdict, _signatures(verdict) if found is NationalFormat.OFD else []
    if hr1.looks_like_hr1(data):  # a licence's QR form (its own rule on what surrounds it)
        return verifier.verify(VerificationRequest(DocumentKind.LICENCE, data, relying, at)), []
    text = data.strip()
    kind = jws_kind(text)
    if kind in (DocumentKind.LICENCE, DocumentKind.SEAL):
        return verifier.verify(VerificationRequest(kind, text, relying, at, expect)), []
    unsupported = unsupported_format(data)
    if unsupported in _PICTURES:  # a photo or scan of a licence's QR code
        try:
            qr_text = scan.read_qr(data)
        except scan.ScanError as exc:
            raise UnsupportedFormat(f"{unsupported_message(unsupported)}; {exc}") from exc
        return verifier.verify(VerificationRequest(DocumentKind.LICENCE, qr_text, relying, at)), []
    if unsupported is not None:
        raise UnsupportedFormat(unsupported_message(unsupported))
    if kind is DocumentKind.SEALED_DOCUMENT:
        raise UnsupportedFormat(
            "a JWS sealed-document signature is verified with its document: use the API "
            "(/v1/sealed-documents/verify, `file` and `signature`)"
        )
    raise UnsupportedFormat(
        "not a format huren verifies. Supported: " + "; ".join(SUPPORTED_FORMATS)
    )


_PICTURES: Final = frozenset({"png", "jpeg", "gif", "tiff", "webp", "bmp"})


def _signatures(overall: Verdict) -> list[tuple[str, Verdict]]:
    """The verdict of each signature of an OFD document, as its overall verdict carries them."""
    summary = overall.summary
    found = summary.extra.get("signatures", []) if summary is not None else []
    return [(s["id"], Verdict.from_dict(s)) for s in found]


# What the summary's document_id names, by summary kind.
_ID_LABEL: Final = {
    DocumentKind.LICENCE: "licence",
    DocumentKind.SEAL: "seal",
    DocumentKind.SEALED_DOCUMENT: "seal",
    DocumentKind.SIGNED_DOCUMENT: "signature",
}


def render(
    verdict: Verdict, signatures: list[tuple[str, Verdict]], lang: str, *, detailed: bool = False
) -> str:
    def line(v: Verdict) -> str:
        sub = f" / {v.sub_indication.value}" if v.sub_indication else ""
        return f"{v.indication.value}{sub}"

    def reasons(v: Verdict, indent: str) -> list[str]:
        out = []
        for c in reported_checks(v.checks, detailed=detailed):
            msg = c.message_zh if lang == "zh" else c.message_en
            out.append(f"{indent}{c.result.value:13} {c.code}: {msg}")
        return out

    lines = [f"verdict: {line(verdict)}"]
    s = verdict.summary
    if s is not None and not signatures:
        for label, value in (
            (_ID_LABEL.get(s.kind, "id"), s.document_id),
            ("name", s.holder_name),
            ("type", s.type_code or s.type_name_en),
            ("issuer", s.issuer_service),
            ("jurisdiction", s.issuing_jurisdiction),
        ):
            if value:
                lines.append(f"  {label}: {value}")
    lines += reasons(verdict, "  ") if not signatures else []
    for sid, v in signatures:
        summary = v.summary
        who = f" {summary.holder_name}" if summary is not None and summary.holder_name else ""
        lines.append(f"  signature {sid}:{who} {line(v)}")
        lines += reasons(v, "    ")
    # Names come from the document: each line printed as one line, control characters escaped.
    return "\n".join(map(shown, lines))


def _verify(args: argparse.Namespace) -> tuple[Verdict, list[tuple[str, Verdict]], str]:
    from cli.common import UsageError, read_bytes

    store = open_store(args.config)
    relying = args.relying or (store.jurisdictions[0] if store.jurisdictions else None)
    if relying is None or relying not in store.anchors:
        raise UsageError(f"relying jurisdiction {relying} is not configured in {args.config}")
    at: datetime | None = args.at
    # os.path.exists: a scanned text is no file name (it may be too long for one: False)
    if hr1.looks_like_hr1(args.file) and not os.path.exists(args.file):
        data = args.file.encode("utf-8", "surrogateescape")  # the text a scanner typed
    else:
        data = read_bytes(args.file, MAX_FILE_BYTES)
    signed = None
    if args.data is not None:
        if national_format(data) is not NationalFormat.SIGNATURE:
            raise UsageError(f"--data goes with an SES_Signature value (.dat); {args.file} is none")
        signed = read_bytes(args.data, MAX_FILE_BYTES)
        if national_format(signed) is NationalFormat.OFD:
            raise UsageError(f"--data {args.data}: {OFD_AS_DATA}")
    now = datetime.now(UTC)
    name = Path(args.data).name if args.data is not None else "Signature.xml"
    verdict, signatures = verify_file(
        data, store, relying, at, now, signed_data=signed, data_name=name, item=args.item
    )
    return verdict, signatures, relying


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit status: the verdict's (EXIT), or 2 when there is none: whatever stops a verdict is
    never reported as 1, which means FAILED."""
    from cli.common import PROG, UsageError, one_line

    try:
        verdict, signatures, relying = _verify(args)
    except UnsupportedFormat as exc:
        print(f"{PROG}: unsupported format: {args.file}: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError:
        raise  # main(): usage error, status 2
    except (OSError, TrustStateError, ValueError) as exc:
        where = f" {exc.filename}:" if isinstance(exc, OSError) and exc.filename else ""
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"{PROG}: no verdict:{where} {one_line(text)}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        out: dict[str, Any] = {"verdict": verdict.to_dict(detailed=args.detailed)}
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        if args.relying is None:
            print(f"(judged for relying jurisdiction {relying}; choose with --relying)")
        print(render(verdict, signatures, args.lang, detailed=args.detailed))
    return EXIT[verdict.indication.value]


__all__ = [
    "EXIT",
    "EXIT_STATUS_HELP",
    "EXIT_USAGE",
    "UnsupportedFormat",
    "add_parser",
    "cmd_verify",
    "open_store",
    "render",
    "verify_file",
]
