"""Property-based conformance of the service to its own OpenAPI document (schemathesis, in
process over ASGI): every response status and body is documented, errors are problem+json,
invalid requests are rejected with 4xx, nothing answers 500.

Two default checks are relaxed where they cannot hold by design:
- positive_data_acceptance on trust-state uploads: a schema-valid JWS envelope with random
  content is (rightly) refused with 422; only correctly signed lists are accepted;
- negative_data_rejection on multipart bodies: schemathesis "violates" a binary file part by
  sending other bytes, which are still a file;
- positive_data_acceptance on a verification upload refused for its content (a file part in a
  format huren does not verify, a `data` part without a signature value): see
  _refused_by_content;
- positive_data_acceptance on a verification naming a service item the catalogue does not list
  for the relying jurisdiction (422 unknown_service_item): which codes exist is signed data, not
  schema."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.app import create_app
from api.http.models import TimeOutOfRange, validation_time
from demo.world import DEMO_EPOCH, build_demo_world
from tests.support.api_support import Clock, RecordingSync, auth, service_dir, settings_for

_root = service_dir(build_demo_world(DEMO_EPOCH), Path(tempfile.mkdtemp(prefix="huren-schema-")))
app = create_app(
    settings_for(_root, max_body_bytes=256 * 1024),
    clock=Clock(DEMO_EPOCH),
    sync=RecordingSync(),  # type: ignore[arg-type]
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# Status list tokens are text.
schemathesis.serializer.alias("application/statuslist+jwt", "text/plain")
schemathesis.serializer.alias("application/jose", "text/plain")


def _outside_the_validation_times(body: Any) -> bool:
    if isinstance(body, dict):
        when = body.get("validation_time")
        if isinstance(when, str):
            try:
                validation_time(when)
            except TimeOutOfRange:
                return True
            except ValueError:
                pass
        return any(_outside_the_validation_times(v) for v in body.values())
    if isinstance(body, list):
        return any(_outside_the_validation_times(v) for v in body)
    return False


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    excluded = []
    if (
        case.method in {"PUT", "POST"}
        and not case.path.endswith("verify")
        and "batch" not in case.path
    ):
        excluded.append(positive_data_acceptance)
    if case.media_type == "multipart/form-data":
        excluded.append(negative_data_rejection)
    if _outside_the_validation_times(case.body):
        # The range is in the field's description (a JSON Schema cannot say "in UTC"): 422
        # validation_time_out_of_range for a well-formed time outside it.
        excluded.append(positive_data_acceptance)
    response = case.call(headers=auth("admin"))
    if _refused_by_content(response):
        excluded.append(positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)


# A licence's `image` part that is no picture, or a picture without exactly one QR code.
_NO_ONE_QR_CODE = ("image_unreadable", "qr_not_found", "qr_several")


def _refused_by_content(response: Any) -> bool:
    """What a schema cannot say about a schema-valid request: its `file` part (PNG bytes, as the
    generator makes for `format: binary`) is a format huren does not verify, a licence's `image`
    holds no single QR code, a `data` part comes with a file that is no SES_Signature value, or
    the service item named is not in the catalogue. All are documented refusals."""
    if response.status_code not in (415, 422):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if body.get("code") in ("unsupported_format", "unknown_service_item", *_NO_ONE_QR_CODE):
        return True
    errors = body.get("errors") or []
    return (
        body.get("code") == "invalid_request"
        # a `data` part without a signature value; a licence sent as `file` and `image` at
        # once (the schema's oneOf, which the generator does not always keep to)
        and all(e.get("loc") in (["body", "data"], ["body", "image"]) for e in errors)
        and bool(errors)
    )
