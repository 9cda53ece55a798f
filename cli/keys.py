"""`huren keys` (generate, public, inspect) and `huren anchors add`: operator keys and the
pins of each jurisdiction's operators."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.common import (
    _KID,
    UsageError,
    command_group,
    operators_arg,
    pad,
    passphrase_arg,
    read_certificate_key,
    read_passphrase,
    read_public_key,
    say,
    threshold_arg,
    utc_now,
    write_output,
)
from keys import (
    ALLOWED_ALGORITHMS,
    SigningKey,
)
from trust_lists.anchors import anchors_to_json, load_anchors, parse_anchors
from trust_lists.signed import (
    Anchor,
)
from trust_lists.timeutil import format_time

# -- commands: keys and anchors ----------------------------------------------------------------


def cmd_keys_generate(args: argparse.Namespace) -> int:
    if args.out == "-":
        raise UsageError("private keys are never printed; give a file name to --out")
    out = Path(args.out)
    jwk_path = Path(f"{out}.jwk.json")
    for path in (out, jwk_path):
        if path.exists():
            raise UsageError(f"{path} already exists; keys are never overwritten")
    passphrase = read_passphrase(args.passphrase_env)
    key = SigningKey.generate(args.alg)
    key.save(out, passphrase)
    public = json.dumps(key.public_key.to_jwk(), indent=2) + "\n"
    write_output(str(jwk_path), public.encode("ascii"))
    print(key.kid)
    print(f"  {key.alg} private key: {out} (mode 0600{', encrypted' if passphrase else ''})")
    print(f"  public JWK: {jwk_path}")
    return 0


def cmd_keys_public(args: argparse.Namespace) -> int:
    key = SigningKey.load(args.key, read_passphrase(args.passphrase_env))
    public = json.dumps(key.public_key.to_jwk(), indent=2) + "\n"
    if args.out:
        write_output(args.out, public.encode("ascii"))
        say(args, key.kid)
    else:
        sys.stdout.write(public)
    return 0


def cmd_keys_inspect(args: argparse.Namespace) -> int:
    """What a certificate says, and the key a trust list will hold for it."""
    ck = read_certificate_key(args.file)
    now = utc_now()
    usage = ", ".join(sorted(ck.key_usage)) if ck.key_usage is not None else "(no keyUsage)"
    kind = "CA" if ck.is_ca else "end-entity"
    rows = [
        ("subject", ck.subject),
        ("issuer", ck.issuer + (" (self-issued)" if ck.self_issued else "")),
        ("serial", f"{ck.serial:x}"),
        (
            "validity",
            f"{format_time(ck.not_before)} .. {format_time(ck.not_after)} "
            f"({ck.validity_at(now)} at {format_time(now)})",
        ),
        ("key", f"{ck.curve} (alg {ck.key.alg}), {kind} certificate"),
        ("key usage", usage),
        ("sha256", ck.sha256),
    ]
    print(f"CERTIFICATE {args.file}")
    print("\n".join(f"  {pad(k, 11)}{v}" for k, v in rows))
    jwk: dict[str, Any] = dict(ck.key.to_jwk())
    if "x5c" in jwk:  # the certificate itself, shown above by its digest
        jwk["x5c"] = [f"<this certificate: {len(jwk['x5c'][0])} base64 characters>"]
    print("")
    print("TRUST-LIST KEY (what `--cert` adds)")
    print(f"  kid        {ck.key.kid}")
    print(f"  alg        {ck.key.alg}")
    print(f"  jwk        {json.dumps(jwk, ensure_ascii=False)}")
    print(f"  vouches    {ck.vouches_for()}")
    return 0


def cmd_anchors_add(args: argparse.Namespace) -> int:
    path = Path(args.anchors)
    anchors: list[Anchor] = load_anchors(path) if path.exists() else []
    keys = tuple(read_public_key(p) for p in args.operator or ())
    extra = set(args.kid or ())
    for kid in extra:
        if not _KID.match(kid):
            raise UsageError(f"{kid!r} is not an RFC 7638 thumbprint (43 base64url characters)")
    kids = frozenset(extra | {k.kid for k in keys})
    if not kids:
        raise UsageError("give at least one --operator key file or --kid thumbprint")
    anchor = Anchor(args.jurisdiction, args.threshold, kids, () if args.thumbprints_only else keys)
    anchors = [a for a in anchors if a.jurisdiction != args.jurisdiction] + [anchor]
    data = anchors_to_json(sorted(anchors, key=lambda a: a.jurisdiction))
    parse_anchors(data)  # the same checks the service applies at start-up
    write_output(str(path), data)
    print(
        f"pinned {args.jurisdiction}: {args.threshold} of {len(kids)} operator keys "
        f"({'thumbprints only' if args.thumbprints_only or not keys else 'public keys'}) "
        f"in {path}"
    )
    return 0


def add_parser(sub: Any) -> None:
    keys = command_group(sub, "keys", "create signing keys, inspect certificates")
    g = keys.add_parser("generate", help="generate a key pair (private PEM, mode 0600)")
    g.add_argument(
        "--alg",
        required=True,
        choices=sorted(ALLOWED_ALGORITHMS),
        help="signature algorithm, e.g. --alg ES256",
    )
    g.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="private key file; the public JWK goes to FILE.jwk.json, e.g. --out op1.pem",
    )
    passphrase_arg(g)
    g.set_defaults(func=cmd_keys_generate)
    g = keys.add_parser("public", help="print the public JWK of a private key")
    g.add_argument("key", metavar="KEY", help="the private key file (PEM)")
    passphrase_arg(g)
    g.add_argument("--out", metavar="FILE", help="write the JWK here (default: print it)")
    g.set_defaults(func=cmd_keys_public)
    g = keys.add_parser(
        "inspect", help="show an X.509 certificate and the trust-list key it becomes (--cert)"
    )
    g.add_argument("file", metavar="CERTIFICATE", help="DER or PEM; SM2 or P-256")
    g.set_defaults(func=cmd_keys_inspect)

    anchors = command_group(sub, "anchors", "pin operator keys per jurisdiction")
    g = anchors.add_parser("add", help="pin (or re-pin) one jurisdiction in an anchors file")
    g.add_argument("anchors", metavar="ANCHORS", help="anchors.json (created if missing)")
    g.add_argument("--jurisdiction", required=True, help="six-digit GB/T 2260 code, e.g. 440300")
    threshold_arg(g, "of these operator keys")
    operators_arg(g, required=False)
    g.add_argument(
        "--kid",
        action="append",
        help="an operator key's RFC 7638 thumbprint, when its public key is not at hand "
        "(repeatable)",
    )
    g.add_argument(
        "--thumbprints-only",
        action="store_true",
        help="pin only the thumbprints of the --operator keys, not the keys themselves",
    )
    g.set_defaults(func=cmd_anchors_add)
