"""`huren licence qr LICENCE --key KEY`: a JWS e-licence in its QR form (docs/formats.md).

Prints the HR1: text (or writes it with --out) and, with --png / --svg, the QR code, saying its
version and error-correction level. The key must be the issuer's key that signed the licence.

cli/main.py registers it (`licence.add_parser(sub)`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

from keys import SigningKey

MAX_LICENCE_BYTES: Final = 64 * 1024
DEFAULT_ERROR: Final = "M"  # issuing.qr.DEFAULT_ERROR, which loads only when the command runs


def add_parser(sub: Any) -> None:
    from cli.common import HelpFormatter

    group = sub.add_parser(
        "licence", help="e-licences: their QR form for phones and counters"
    ).add_subparsers(dest="licence_command", required=True, metavar="COMMAND")
    g: argparse.ArgumentParser = group.add_parser(
        "qr",
        help="turn a JWS licence into its QR form (HR1: text, PNG, SVG)",
        description="Sign a licence's claims again in its QR form with the issuer's key, print "
        "the HR1: text and the QR code's version and error-correction level.",
        epilog="e.g. huren licence qr licence.jws --key issuer.pem --png licence.png",
        formatter_class=HelpFormatter,
    )
    g.add_argument("licence", metavar="LICENCE", help="the licence (compact JWS) file; - for stdin")
    g.add_argument("--key", required=True, metavar="KEY", help="the issuer's private key (PEM)")
    g.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="the private key's passphrase is in this environment variable",
    )
    g.add_argument("--out", metavar="FILE", help="write the HR1: text here (default: print it)")
    g.add_argument("--png", metavar="FILE", help="write the QR code as PNG")
    g.add_argument("--svg", metavar="FILE", help="write the QR code as SVG")
    g.add_argument(
        "--error",
        choices=("L", "M", "Q", "H"),
        default=DEFAULT_ERROR,
        help=f"error-correction level (default {DEFAULT_ERROR})",
    )
    g.add_argument("--scale", type=int, default=4, help="pixels per module in PNG (default 4)")
    g.set_defaults(func=cmd_licence_qr)


def cmd_licence_qr(args: argparse.Namespace) -> int:
    from cli.common import UsageError, load_part, read_bytes, read_passphrase, write_output

    # Issuing is no part of the service's image: loaded only by the command that issues.
    qr = load_part("issuing.qr", "issuing (making QR licences)")

    raw = (
        sys.stdin.buffer.read(MAX_LICENCE_BYTES + 1)
        if args.licence == "-"
        else read_bytes(args.licence, MAX_LICENCE_BYTES)
    )
    key = SigningKey.load(args.key, read_passphrase(args.passphrase_env))
    if not 1 <= args.scale <= 40:
        raise UsageError("--scale is 1..40 pixels per module")
    try:
        text = qr.qr_from_jws(raw.strip(), key)
    except ValueError as exc:
        raise UsageError(f"{args.licence}: {exc}") from exc
    code = qr.qr_code(text, args.error)
    if args.png is not None:
        write_output(args.png, qr.qr_image(text, "png", error=args.error, scale=args.scale).data)
    if args.svg is not None:
        write_output(args.svg, qr.qr_image(text, "svg", error=args.error, scale=args.scale).data)
    if args.out is not None:
        write_output(args.out, text.encode("ascii") + b"\n")
    else:
        print(text)
    print(
        f"QR code: version {code.version} ({code.symbol_size(border=0)[0]} modules), error "
        f"correction {args.error}, {len(text)} characters",
        file=sys.stderr,
    )
    return 0


__all__ = ["add_parser", "cmd_licence_qr"]
