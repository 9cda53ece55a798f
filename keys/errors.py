"""Exceptions raised by the keys package. Each carries a stable machine-readable code."""


class KeyMaterialError(ValueError):
    """A key, JWK, PEM or signature container could not be used."""

    code = "key_material_invalid"


class UnsupportedAlgorithm(KeyMaterialError):
    """The algorithm is not on the allow-list (see keys.algorithms)."""

    code = "algorithm_not_allowed"


class MalformedJSON(ValueError):
    """JSON that is not strict: duplicate members, NaN, too deep, not UTF-8, too large."""

    code = "malformed_json"


class MalformedJWS(ValueError):
    """A JWS that does not parse as the strict form we accept."""

    code = "malformed_jws"
