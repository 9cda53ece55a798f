"""Every check code with its meaning and its messages in Chinese and English: the one table.

docs/verdicts.md is checked against this table by the tests. A code never changes meaning once
published; a new situation gets a new code.

Each code has at most one failure meaning (its result and sub-indication are fixed here), so a
client can act on the code alone. Some codes only ever pass and stand for several sub-checks that
each have their own failure code (format.jws covers format.alg, format.embedded_key, ...).

Passing checks carry constant messages and are built once (no formatting on the hot path);
failure messages are templates filled with `str.format`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from trust_lists.text import shown
from verifier.verdict import Check, CheckResult, SubIndication

_F = CheckResult.FAILED
_I = CheckResult.INDETERMINATE
_S = SubIndication


@dataclass(frozen=True, slots=True)
class CheckSpec:
    code: str
    meaning_zh: str
    meaning_en: str
    passed_zh: str | None = None  # None: the code is only ever reported as a failure
    passed_en: str | None = None
    result: CheckResult | None = None  # None: the code is only ever reported as passed
    sub_indication: SubIndication | None = None
    failed_zh: str | None = None
    failed_en: str | None = None
    # The passing messages are templates (filled per verdict by `passed_with`), not constants.
    passed_params: bool = False


_SPECS: Final[tuple[CheckSpec, ...]] = (
    # -- format ------------------------------------------------------------------------------
    CheckSpec(
        "format.size",
        "文档大小不超过上限",
        "The document is within the size limit",
        "文档大小在上限以内",
        "The document is within the size limit",
        _F,
        _S.FORMAT_FAILURE,
        "文档有 {size} 字节，超过上限 {limit} 字节",
        "The document is {size} bytes, over the {limit}-byte limit",
    ),
    CheckSpec(
        "format.jws",
        "紧凑 JWS 结构严格合规",
        "A strictly well-formed compact JWS",
        "紧凑 JWS 格式正确：算法在允许列表内，头部不携带密钥，无未知 crit 参数，无重复成员",
        "Well-formed compact JWS: allowed algorithm, no embedded keys, no unknown crit "
        "parameters, no duplicate members",
        _F,
        _S.FORMAT_FAILURE,
        "文档不是合规的紧凑 JWS",
        "The document is not a well-formed compact JWS ({detail})",
    ),
    CheckSpec(
        "format.whitespace",
        "文档中没有空格或换行",
        "The document has no spaces or line breaks",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="文档中有空格或换行（第一处在第 {position} 个字符）；JWS 中不能有空白。"
        "请删除所有空格和换行后重试（复制粘贴时常会带入换行）",
        failed_en="The document contains spaces or line breaks (the first at character "
        "{position}); a JWS has none. Remove all spaces and line breaks and try again (copying "
        "and pasting often adds them)",
    ),
    CheckSpec(
        "format.alg",
        "签名算法在允许列表内（ES256、EdDSA）",
        "The signature algorithm is on the allow-list (ES256, EdDSA)",
        result=_F,
        sub_indication=_S.CRYPTO_CONSTRAINTS_FAILURE,
        failed_zh="签名算法不被允许：只接受 ES256、EdDSA，拒绝 none 和 HMAC",
        failed_en="The signature algorithm is not allowed ({detail}); only ES256 and EdDSA are, "
        "none and HMAC are refused",
    ),
    CheckSpec(
        "format.embedded_key",
        "头部不携带密钥或证书（jwk、jku、x5u、x5c 等）",
        "The header carries no key or certificate (jwk, jku, x5u, x5c, ...)",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="头部携带了密钥或证书参数；密钥只能来自信任列表",
        failed_en="The header carries key or certificate parameters ({detail}); keys come only "
        "from trust lists",
    ),
    CheckSpec(
        "format.crit",
        "头部 crit 只列出已理解的参数",
        "The header's crit lists only understood parameters",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="头部 crit 参数列出了无法理解的参数，无法接受",
        failed_en="The header's crit parameter cannot be accepted ({detail})",
    ),
    CheckSpec(
        "format.duplicate_member",
        "JSON 中没有重复成员",
        "No duplicate JSON members",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="JSON 中有重复成员，存在两种读法，无法接受",
        failed_en="Duplicate JSON member ({detail})",
    ),
    CheckSpec(
        "format.typ",
        "文档类型（typ）与所验证的文档种类一致",
        "The document type (typ) is the kind being verified",
        "文档类型（typ）正确",
        "The document type (typ) is right",
        _F,
        _S.FORMAT_FAILURE,
        "这不是{expected_zh}：其类型为 {actual}{hint_zh}",
        "This is not {expected_en}: its type is {actual}{hint_en}",
    ),
    CheckSpec(
        "format.claims",
        "必需的声明齐全且类型正确，没有未知声明",
        "Required claims present and well-typed, no unknown claims",
        "必需的声明齐全且类型正确",
        "All required claims are present and well-typed",
        _F,
        _S.FORMAT_FAILURE,
        "文档内容不合规：缺少必需的声明、类型错误或含有未知声明",
        "The document's claims are malformed ({detail})",
    ),
    # -- the QR form of a licence (HR1: base45, zlib, CBOR, COSE_Sign1; docs/formats.md) -----
    CheckSpec(
        "format.qr_prefix",
        "二维码内容以版本前缀 HR1: 开头",
        "The QR content starts with the version prefix HR1:",
        "二维码内容以 HR1: 开头",
        "The QR content starts with HR1:",
        _F,
        _S.FORMAT_FAILURE,
        "这不是 huren 的二维码证照：内容应以 HR1: 开头",
        "This is not a huren QR licence: the content must start with HR1: ({detail})",
    ),
    CheckSpec(
        "format.qr_encoding",
        "前缀之后是合规的 Base45（RFC 9285）",
        "Well-formed Base45 (RFC 9285) after the prefix",
        "Base45 编码正确",
        "The Base45 encoding is well-formed",
        _F,
        _S.FORMAT_FAILURE,
        "二维码内容不是合规的 Base45 编码（可能扫描或复制时有字符损坏）",
        "The QR content is not well-formed Base45 ({detail}); characters may have been damaged "
        "in scanning or copying",
    ),
    CheckSpec(
        "format.qr_compression",
        "zlib 压缩数据完整，解压后不超过上限，其后没有多余数据",
        "Complete zlib data, within the size limit when inflated, nothing after it",
        "zlib 压缩数据完整",
        "The zlib data is complete",
        _F,
        _S.FORMAT_FAILURE,
        "二维码中的压缩数据损坏、过大或带有多余数据",
        "The compressed data in the QR code is broken, too large or followed by other data "
        "({detail})",
    ),
    CheckSpec(
        "format.cbor",
        "严格的 CBOR：定长、最短编码、无重复键、无浮点数、标签只在允许处",
        "Strict CBOR: definite lengths, shortest forms, no duplicate keys, no floats, tags only "
        "where allowed",
        "CBOR 编码严格合规",
        "The CBOR is strictly well-formed",
        _F,
        _S.FORMAT_FAILURE,
        "二维码中的 CBOR 数据不合规，存在两种读法或超出上限，无法接受",
        "The CBOR in the QR code is not well-formed ({detail})",
    ),
    CheckSpec(
        "format.cose",
        "严格的 COSE_Sign1：算法和 kid 在受保护头部，非受保护头部为空",
        "A strict COSE_Sign1: alg and kid in the protected header, an empty unprotected header",
        "COSE_Sign1 结构正确：算法和 kid 均受签名保护",
        "Well-formed COSE_Sign1: alg and kid are covered by the signature",
        _F,
        _S.FORMAT_FAILURE,
        "二维码中的签名结构（COSE_Sign1）不合规",
        "The signature structure (COSE_Sign1) in the QR code is not well-formed ({detail})",
    ),
    # -- issuer and key ----------------------------------------------------------------------
    CheckSpec(
        "issuer.jurisdiction",
        "签发地是本服务配置的辖区",
        "The issuing jurisdiction is configured here",
        "签发地是本服务配置的辖区",
        "The issuing jurisdiction is configured here",
        _I,
        _S.NO_SIGNING_CERTIFICATE_FOUND,
        "无法确认签发者：签发地 {jur} 不是本服务配置的辖区，没有它的信任列表",
        "The issuer cannot be confirmed: issuing jurisdiction {jur} is not configured here, so "
        "no trust list of it is held",
    ),
    CheckSpec(
        "trust.list_available",
        "持有签发地的信任列表",
        "The issuing jurisdiction's trust list is held",
        "持有签发地的信任列表",
        "The issuing jurisdiction's trust list is held",
        _I,
        _S.TRY_LATER,
        "尚未取得签发地 {jur} 的信任列表，请稍后再试",
        "No trust list for issuing jurisdiction {jur} is held yet; try later",
    ),
    CheckSpec(
        "key.found",
        "签名密钥在签发地的信任列表中",
        "The signing key is in the issuing jurisdiction's trust list",
        "签名密钥在签发地的信任列表中",
        "The signing key is in the issuing jurisdiction's trust list",
        _I,
        _S.NO_SIGNING_CERTIFICATE_FOUND,
        "无法确认签发者：签名密钥 {kid} 不在{jur_zh}（{jur}）的信任列表中，签名无法核验",
        "The issuer cannot be confirmed: signing key {kid} is not in the trust list of {jur_en} "
        "({jur}), so the signature cannot be checked",
    ),
    CheckSpec(
        "key.issuer",
        "签名密钥属于文档所称的签发机构",
        "The signing key belongs to the issuer the document names",
        "签名密钥属于文档所称的签发机构",
        "The signing key belongs to the issuer the document names",
        _F,
        _S.CHAIN_CONSTRAINTS_FAILURE,
        "文档自称由 {claimed} 签发，但签名密钥属于 {actual}",
        "The document names {claimed} as its issuer, but the signing key belongs to {actual}",
    ),
    CheckSpec(
        "key.service_kind",
        "签发机构是能签发此种文档的受信服务",
        "The issuer is a trusted service of the kind that issues this document",
        "签发机构的服务类型正确",
        "The issuer is the right kind of trusted service",
        _F,
        _S.CHAIN_CONSTRAINTS_FAILURE,
        "{service_zh}是{kind_zh}，不能签发{doc_zh}",
        "{service_en} is a {kind_en} and may not issue {doc_en}",
    ),
    CheckSpec(
        "key.scope",
        "签发机构获授权签发此类型",
        "The issuer is authorised for this type",
        "签发机构获授权签发此类型",
        "The issuer is authorised for this type",
        _F,
        _S.CHAIN_CONSTRAINTS_FAILURE,
        "{service_zh}未获授权签发「{type_zh}」",
        "{service_en} is not authorised to issue “{type_en}”",
    ),
    CheckSpec(
        "signature.valid",
        "签名在密码学上有效",
        "The signature is cryptographically valid",
        "签名验证通过",
        "The signature verifies",
        _F,
        _S.SIG_CRYPTO_FAILURE,
        "签名验证失败：文档可能已被篡改",
        "The signature does not verify: the document may have been altered",
    ),
    CheckSpec(
        "key.status",
        "签名时签名密钥处于授权状态（按信任列表的状态历史判断）",
        "The signing key was in force at the signing time (from the trust list's status history)",
        "签名时签名密钥处于授权状态",
        "The signing key was in force at the signing time",
    ),
    CheckSpec(
        "key.not_yet_granted",
        "签名时签名密钥尚未获授权",
        "The signing key had not been granted yet at the signing time",
        result=_F,
        sub_indication=_S.NOT_YET_VALID,
        failed_zh="签名时间 {signed} 时签名密钥尚未获授权",
        failed_en="At the signing time {signed} the signing key had not been granted yet",
    ),
    CheckSpec(
        "key.withdrawn",
        "签名时签名密钥已停用",
        "The signing key had been withdrawn before the signing time",
        result=_F,
        sub_indication=_S.EXPIRED,
        failed_zh="签名密钥自 {since} 起已停用，而签名时间 {signed} 在此之后",
        failed_en="The signing key was withdrawn from {since}; the signing time {signed} is after "
        "that",
    ),
    CheckSpec(
        "key.revoked",
        "签名时签名密钥已被吊销（泄露）",
        "The signing key had been revoked (compromised) before the signing time",
        result=_F,
        sub_indication=_S.REVOKED,
        failed_zh="签名密钥自 {since} 起因泄露被吊销，而签名时间 {signed} 在此之后",
        failed_en="The signing key was revoked as compromised from {since}; the signing time "
        "{signed} is after that",
    ),
    CheckSpec(
        "key.revocation",
        "签名密钥在验证时间未被吊销，或吊销前的签名可以证明",
        "The signing key is not revoked at the validation time",
        "签名密钥在验证时间未被吊销",
        "The signing key is not revoked at the validation time",
        _I,
        _S.REVOKED_NO_POE,
        "签名密钥自 {since} 起因泄露被吊销。文档自称签于 {signed}（吊销之前），但该时间由签名方"
        "自报，无法证明",
        "The signing key was revoked as compromised from {since}. The document claims it was "
        "signed at {signed}, before that, but the signer states its own time and there is no "
        "proof of it",
    ),
    # -- identifiers -------------------------------------------------------------------------
    CheckSpec(
        "identifier.uscc",
        "统一社会信用代码的校验位正确（GB 32100）",
        "Unified social credit codes have a correct check character (GB 32100)",
        "统一社会信用代码校验位正确",
        "Unified social credit codes have a correct check character",
        _F,
        _S.FORMAT_FAILURE,
        "统一社会信用代码 {code} 无效（GB 32100：字符集或校验位错误）",
        "Unified social credit code {code} is invalid (GB 32100: wrong characters or check "
        "character)",
    ),
    CheckSpec(
        "identifier.pid",
        "公民身份号码的校验码正确（GB 11643）",
        "The citizen identity number has a correct check character (GB 11643)",
        "公民身份号码校验码正确",
        "The citizen identity number has a correct check character",
        _F,
        _S.FORMAT_FAILURE,
        "公民身份号码 {code} 无效（GB 11643：格式或校验码错误）",
        "Citizen identity number {code} is invalid (GB 11643: wrong form or check character)",
    ),
    # -- trust freshness ---------------------------------------------------------------------
    CheckSpec(
        "trust.fresh",
        "签发地的信任列表未过下次更新时间",
        "The issuing jurisdiction's trust list is not past its next update",
        "签发地的信任列表在有效期内",
        "The issuing jurisdiction's trust list is fresh",
        _I,
        _S.TRY_LATER,
        "签发地的信任列表自 {stale_from} 起已过期（应更新而未更新），"
        "更新前无法给出结论，请稍后再试",
        "The issuing jurisdiction's trust list is stale since {stale_from} (its update is "
        "overdue); no verdict until it is refreshed, try later",
    ),
    # -- validity ----------------------------------------------------------------------------
    CheckSpec(
        "validity.window",
        "在验证时间处于有效期内",
        "Inside its validity period at the validation time",
        "在验证时间处于有效期内",
        "Inside its validity period at the validation time",
    ),
    CheckSpec(
        "validity.not_yet_issued",
        "签发（签署）时间不晚于验证时间",
        "Issued (signed) no later than the validation time",
        result=_F,
        sub_indication=_S.NOT_YET_VALID,
        failed_zh="签发（签署）时间 {iat} 晚于所判断的时间 {at}",
        failed_en="Issued (signed) at {iat}, after the time judged ({at})",
    ),
    CheckSpec(
        "validity.not_yet_valid",
        "有效期已开始",
        "The validity period has begun",
        result=_F,
        sub_indication=_S.NOT_YET_VALID,
        failed_zh="有效期自 {nbf} 开始，所判断的时间 {at} 在其之前",
        failed_en="Valid from {nbf}; the time judged, {at}, is before that",
    ),
    CheckSpec(
        "validity.expired",
        "有效期未结束",
        "The validity period has not ended",
        result=_F,
        sub_indication=_S.EXPIRED,
        failed_zh="有效期至 {exp}，所判断的时间 {at} 已在其后",
        failed_en="Valid until {exp}; the time judged, {at}, is after that",
    ),
    # -- status lists ------------------------------------------------------------------------
    CheckSpec(
        "status.not_referenced",
        "文档未引用状态列表",
        "The document references no status list",
        "文档未引用状态列表，不做吊销查询",
        "The document references no status list; no revocation lookup was made",
    ),
    CheckSpec(
        "status.valid",
        "状态列表显示文档有效",
        "The status list shows the document as valid",
        "状态列表显示为有效（未吊销、未暂停）",
        "The status list shows it as valid (neither revoked nor suspended)",
    ),
    CheckSpec(
        "status.undeclared",
        "引用的状态列表由签发机构在信任列表中声明",
        "The referenced status list is declared by the issuer in its trust list",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="状态列表 {uri} 不是签发机构在信任列表中声明的状态列表",
        failed_en="Status list {uri} is not one the issuer declares in its trust list",
    ),
    CheckSpec(
        "status.missing",
        "持有引用的状态列表",
        "The referenced status list is held",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="尚未取得状态列表 {uri}，请稍后再试",
        failed_en="Status list {uri} is not held yet; try later",
    ),
    CheckSpec(
        "status.untrusted",
        "持有的状态列表由签发此文档的机构以在用密钥签发",
        "The held status list was signed by this document's issuer with a key in force",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="持有的状态列表 {uri} 不可采信：{reason_zh}",
        failed_en="The status list held for {uri} cannot be relied on: {reason_en}",
    ),
    CheckSpec(
        "status.expired",
        "状态列表未过期",
        "The status list has not expired",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="状态列表 {uri} 已于 {exp} 过期，请稍后再试",
        failed_en="Status list {uri} expired at {exp}; try later",
    ),
    CheckSpec(
        "status.out_of_range",
        "状态序号在状态列表范围内",
        "The status index lies inside the status list",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="状态列表 {uri} 中没有序号 {idx}（列表共 {size} 项）",
        failed_en="Status list {uri} has no index {idx} (it has {size} entries)",
    ),
    CheckSpec(
        "status.revoked",
        "文档未被签发机构吊销",
        "The issuer has not revoked the document",
        result=_F,
        sub_indication=_S.REVOKED,
        failed_zh="签发机构已吊销（注销）此文档",
        failed_en="The issuer has revoked this document",
    ),
    CheckSpec(
        "status.suspended",
        "文档未被签发机构暂停",
        "The issuer has not suspended the document",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="签发机构已暂停此文档，暂停期间不能认定有效",
        failed_en="The issuer has suspended this document; it cannot be accepted while suspended",
    ),
    CheckSpec(
        "status.unknown_value",
        "状态值有定义",
        "The status value is defined",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="状态列表给出未定义的状态值 {value}",
        failed_en="The status list gives the undefined status value {value}",
    ),
    # -- recognition -------------------------------------------------------------------------
    CheckSpec(
        "recognition.accepted",
        "互认目录认可此类型",
        "The recognition catalogue accepts this type",
        "依据互认目录，本辖区认可签发地签发的此类型",
        "Under the recognition catalogue this jurisdiction accepts this type from the issuing "
        "jurisdiction",
    ),
    CheckSpec(
        "recognition.catalogue_missing",
        "持有互认目录",
        "A recognition catalogue is held",
        result=_I,
        sub_indication=_S.TRY_LATER,
        failed_zh="尚未取得互认目录，无法判断是否互认，请稍后再试",
        failed_en="No recognition catalogue is held, so recognition cannot be decided; try later",
    ),
    CheckSpec(
        "recognition.type_unknown",
        "类型在互认目录的类型清单中",
        "The type is listed in the recognition catalogue",
        result=_F,
        sub_indication=_S.SIG_CONSTRAINTS_FAILURE,
        failed_zh="「{type}」不在互认目录（第 {seq} 版）的类型清单中",
        failed_en="“{type}” is not a type listed in the recognition catalogue (version {seq})",
    ),
    CheckSpec(
        "recognition.refused",
        "依据互认目录，本辖区认可签发地签发的此类型",
        "Under the recognition catalogue this jurisdiction accepts this type from the issuing one",
        result=_F,
        sub_indication=_S.SIG_CONSTRAINTS_FAILURE,
        failed_zh="依据互认目录（第 {seq} 版），{relying_zh}不认可{issuing_zh}签发的「{type_zh}」",
        failed_en="Under the recognition catalogue (version {seq}), {relying_en} does not accept "
        "“{type_en}” issued in {issuing_en}",
    ),
    # -- service items -----------------------------------------------------------------------
    CheckSpec(
        "item.accepted",
        "依据互认目录，所办理的政务服务事项认可此文档",
        "Under the recognition catalogue, the service item being handled accepts this document",
        "依据互认目录（第 {seq} 版），{relying_zh}办理事项「{item_zh}」（{item}）认可"
        "{issuing_zh}签发的「{type_zh}」{basis_zh}",
        "Under the recognition catalogue (version {seq}), {relying_en} accepts “{type_en}” "
        "issued in {issuing_en} for the service item “{item_en}” ({item}){basis_en}",
        passed_params=True,
    ),
    CheckSpec(
        "item.refused",
        "依据互认目录，所办理的政务服务事项认可此文档",
        "Under the recognition catalogue, the service item being handled accepts this document",
        result=_F,
        sub_indication=_S.SIG_CONSTRAINTS_FAILURE,
        failed_zh="文档本身有效，但依据互认目录（第 {seq} 版），{relying_zh}办理事项「{item_zh}」"
        "（{item}）不认可{issuing_zh}签发的「{type_zh}」{why_zh}",
        failed_en="The document itself is valid, but under the recognition catalogue (version "
        "{seq}), {relying_en} does not accept “{type_en}” issued in {issuing_en} for the service "
        "item “{item_en}” ({item}){why_en}",
    ),
    # -- caller expectations -----------------------------------------------------------------
    CheckSpec(
        "expect.holder",
        "持有人与调用方的预期一致",
        "The holder is the one the caller expects",
        "持有人与预期一致",
        "The holder is the one expected",
        _F,
        _S.SIG_CONSTRAINTS_FAILURE,
        "持有人证件号码为 {actual}，与预期的 {expected} 不符",
        "The holder's identifier is {actual}, not the expected {expected}",
    ),
    CheckSpec(
        "expect.type",
        "文档类型与调用方的预期一致",
        "The document type is the one the caller expects",
        "文档类型与预期一致",
        "The document type is the one expected",
        _F,
        _S.SIG_CONSTRAINTS_FAILURE,
        "文档类型为「{actual_zh}」，与预期的「{expected_zh}」不符",
        "The document type is “{actual_en}”, not the expected “{expected_en}”",
    ),
    # -- seals -------------------------------------------------------------------------------
    CheckSpec(
        "seal.image",
        "随附的印章图片就是随印章签发的图片（逐字节一致）",
        "The seal picture given is the one issued with the seal (the same bytes)",
        "印章图片就是随印章签发的图片",
        "The seal picture is the one issued with the seal",
    ),
    # Not HASH_FAILURE: the seal is intact; the caller's picture is another file, like an unmet
    # expectation. Only the exact bytes match: pictures are never decoded here.
    CheckSpec(
        "seal.image_not_issued",
        "随附的图片不是随印章签发的图片",
        "The picture given is not the one issued with the seal",
        result=_F,
        sub_indication=_S.SIG_CONSTRAINTS_FAILURE,
        failed_zh="所附图片不是随此印章签发的图片：其 SHA-256 为 {actual}，"
        "印章记录的是 {expected}。转换成其他格式或重新保存过的图片，"
        "即使看起来一样，也不是签发的那个文件。"
        "这并不表明印章被改动；印章本身由其他检查项判断",
        failed_en="The picture given is not the one issued with this seal: its SHA-256 is "
        "{actual}, the seal records {expected}. A picture converted or re-saved (for example "
        "as JPEG) is not the issued file, even when it looks the same. This is not evidence that "
        "the seal was altered; the other checks judge the seal itself",
    ),
    # -- sealed documents --------------------------------------------------------------------
    CheckSpec(
        "sealed.seal_ref",
        "签名所引用的印章已附上且一致",
        "The seal the signature refers to was supplied and matches",
        "签名所引用的印章已附上且一致",
        "The seal the signature refers to was supplied and matches",
        _I,
        _S.NO_SIGNING_CERTIFICATE_FOUND,
        "签名引用印章 {seal_id}，但未附上该印章，或所附印章与引用不符",
        "The signature refers to seal {seal_id}, but that seal was not supplied or the supplied "
        "seal does not match",
    ),
    CheckSpec(
        "sealed.key_binding",
        "签名密钥是印章绑定的企业密钥",
        "The signing key is the enterprise key bound to the seal",
        "签名密钥是印章绑定的企业密钥",
        "The signing key is the enterprise key bound to the seal",
        _F,
        _S.SIG_CONSTRAINTS_FAILURE,
        "签名密钥 {kid} 不是印章绑定的企业密钥",
        "Signing key {kid} is not the enterprise key bound to the seal",
    ),
    CheckSpec(
        "sealed.hash",
        "文档的 SHA-256 与签名时的摘要一致",
        "The document's SHA-256 is the one that was signed",
        "文档摘要一致，内容未被改动",
        "The document's SHA-256 matches the signed digest",
        _F,
        _S.HASH_FAILURE,
        "文档内容与签名时的摘要不符：文档已被改动",
        "The document does not match the digest that was signed: it has been altered",
    ),
    CheckSpec(
        "sealed.seal_revoked",
        "印章未被吊销，或可证明签署先于吊销",
        "The seal is not revoked, or signing before the revocation is proven",
        result=_I,
        sub_indication=_S.REVOKED_NO_POE,
        failed_zh="印章已被吊销；文档自称签于 {signed}，但无法证明签署时印章尚未吊销",
        failed_en="The seal has been revoked; the document claims it was signed at {signed}, but "
        "there is no proof that the seal was not yet revoked then",
    ),
    CheckSpec(
        "sealed.seal_period",
        "验证时间仍在印章有效期内，或可证明签署时印章有效",
        "The validation time is inside the seal's validity, or signing inside it is proven",
        "验证时间仍在印章有效期内",
        "The validation time is inside the seal's validity",
        _I,
        _S.OUT_OF_BOUNDS_NO_POE,
        "印章已于 {exp} 到期；文档自称签于 {signed}（到期之前），但该时间由签署方自报，无法证明",
        "The seal expired at {exp}; the document claims it was signed at {signed}, before that, "
        "but the signer states its own time and there is no proof of it",
    ),
)

SPECS: Final[Mapping[str, CheckSpec]] = MappingProxyType({s.code: s for s in _SPECS})
assert len(SPECS) == len(_SPECS), "check codes must be unique"

# In a sealed-document verdict the checks of the embedded seal carry this prefix on their code.
SEAL_PREFIX: Final = "seal:"
_SEAL_ZH: Final = "印章："
_SEAL_EN: Final = "Seal: "


def _build_passed(prefix: str, zh: str, en: str) -> dict[str, Check]:
    out: dict[str, Check] = {}
    for spec in _SPECS:
        if spec.passed_zh is not None and spec.passed_en is not None and not spec.passed_params:
            out[prefix + spec.code] = Check(
                prefix + spec.code, CheckResult.PASSED, zh + spec.passed_zh, en + spec.passed_en
            )
    return out


# Immutable PASSED checks, shared by every verdict.
PASSED: Final[Mapping[str, Check]] = MappingProxyType(
    {**_build_passed("", "", ""), **_build_passed(SEAL_PREFIX, _SEAL_ZH, _SEAL_EN)}
)


def passed(code: str, prefix: str = "") -> Check:
    return PASSED[prefix + code]


def passed_with(code: str, prefix: str = "", /, **params: object) -> Check:
    """A passing check whose messages take parameters (CheckSpec.passed_params)."""
    spec = SPECS[code]
    assert spec.passed_params and spec.passed_zh is not None and spec.passed_en is not None
    params = shown_params(params)
    zh, en = spec.passed_zh.format(**params), spec.passed_en.format(**params)
    if prefix:
        zh, en = _SEAL_ZH + zh, _SEAL_EN + en
    return Check(prefix + code, CheckResult.PASSED, zh, en)


# The longest a parameter may run in a message (callers clip to less; this bounds the rest).
_MAX_PARAM_CHARS: Final = 500


def shown_params(params: Mapping[str, object]) -> dict[str, object]:
    """Message parameters as a message may show them: a document's names and paths can carry
    terminal escapes, line breaks and bidi overrides (written as visible escapes by
    trust_lists.text.shown) and run to megabytes (cut at _MAX_PARAM_CHARS)."""
    return {k: _shown_param(v) if isinstance(v, str) else v for k, v in params.items()}


def _shown_param(text: str) -> str:
    if len(text) > _MAX_PARAM_CHARS:
        text = text[: _MAX_PARAM_CHARS - 1] + "…"
    return shown(text)


def failed(code: str, prefix: str = "", /, **params: object) -> tuple[Check, SubIndication]:
    """The failure check for `code` with its parameters filled in, and its sub-indication."""
    spec = SPECS[code]
    assert spec.result is not None and spec.sub_indication is not None
    assert spec.failed_zh is not None and spec.failed_en is not None
    params = shown_params(params)
    zh = spec.failed_zh.format(**params)
    en = spec.failed_en.format(**params)
    if prefix:
        zh, en = _SEAL_ZH + zh, _SEAL_EN + en
    return Check(prefix + code, spec.result, zh, en), spec.sub_indication


def markdown_table() -> str:
    """The check-code table of docs/verdicts.md."""
    rows = [
        "| Code | On failure | 含义 | Meaning |",
        "|---|---|---|---|",
    ]
    for s in _SPECS:
        outcome = (
            f"{s.result.value} {s.sub_indication.value}"
            if s.result is not None and s.sub_indication is not None
            else "(never fails)"
        )
        rows.append(f"| `{s.code}` | {outcome} | {s.meaning_zh} | {s.meaning_en} |")
    return "\n".join(rows) + "\n"


__all__ = [
    "PASSED",
    "SEAL_PREFIX",
    "SPECS",
    "CheckSpec",
    "failed",
    "markdown_table",
    "passed",
    "passed_with",
    "shown_params",
]
