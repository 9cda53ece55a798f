"""The verification endpoints, as the tests call them."""

LICENCE = "/v1/licences/verify"
SEAL = "/v1/seals/verify"
SEALED = "/v1/sealed-documents/verify"
BATCH = "/v1/verify/batch"
