"""Check codes of the national formats (GB/T 38540 / GM/T 0031 seals, signed OFD documents), with
their meaning and messages in Chinese and English, after the conventions of verifier/messages.py:
one failure meaning per code (its result and sub-indication fixed here), constant passing checks
built once, failure messages as `str.format` templates.

Codes that mean exactly what a code of verifier/messages.py means (signature.valid, key.*,
validity.*, trust.*, recognition.*, expect.*, identifier.uscc, format.size) are reused from
there; this table holds only the new ones. docs/national-formats.md shows this table."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from trust_lists.text import shown
from verifier import messages as base
from verifier.messages import SEAL_PREFIX, CheckSpec
from verifier.verdict import Check, CheckResult, SubIndication

_F = CheckResult.FAILED
_I = CheckResult.INDETERMINATE
_S = SubIndication

_SPECS: Final[tuple[CheckSpec, ...]] = (
    # -- structure ---------------------------------------------------------------------------
    CheckSpec(
        "ses.format",
        "印章或签章数据是合规的 DER 结构（GB/T 38540 / GM/T 0031）",
        "The seal or signature is well-formed DER (GB/T 38540 / GM/T 0031)",
        "结构合规：{format}",
        "Well-formed: {format}",
        _F,
        _S.FORMAT_FAILURE,
        "{what}不是合规的 GB/T 38540 / GM/T 0031 数据",
        "{what_en} is not well-formed GB/T 38540 / GM/T 0031 data: {detail}",
    ),
    CheckSpec(
        "ses.algorithm",
        "签名算法为 SM2（SM3 杂凑）",
        "The signature algorithm is SM2 with SM3",
        "签名算法为 SM2（SM3 杂凑）",
        "The signature algorithm is SM2 with SM3",
        _F,
        _S.CRYPTO_CONSTRAINTS_FAILURE,
        "签名算法 {oid} 不被允许：只接受 SM2（SM3 杂凑，1.2.156.10197.1.501）",
        "Signature algorithm {oid} is not allowed: only SM2 with SM3 (1.2.156.10197.1.501) is",
    ),
    CheckSpec(
        "ses.backend",
        "本机可进行 SM2 验签",
        "SM2 verification is available on this machine",
        result=_I,
        sub_indication=_S.CRYPTO_CONSTRAINTS_FAILURE,
        failed_zh="本机无法进行 SM2 验签，无法给出结论",
        failed_en="SM2 signatures cannot be verified on this machine ({detail}); no verdict",
    ),
    CheckSpec(
        "ses.certificate",
        "证书是合规的 SM2 X.509 证书",
        "The certificate is a well-formed SM2 X.509 certificate",
        "证书格式正确",
        "The certificates are well-formed",
        _F,
        _S.FORMAT_FAILURE,
        "{role_zh}证书格式不合规，无法使用",
        "The {role_en} certificate cannot be used: {detail}",
    ),
    CheckSpec(
        "ses.picture",
        "印章图像存在且格式与声明一致",
        "The seal picture is present and well-formed for its declared type",
        "印章图像存在且格式正确",
        "The seal picture is present and well-formed",
        _F,
        _S.FORMAT_FAILURE,
        "印章图像缺失，或与其声明的图像格式不符",
        "The seal picture is invalid: {detail}",
    ),
    CheckSpec(
        "ses.type",
        "印章类型可对应到互认目录的印章类型",
        "The seal type maps to a seal type of the recognition catalogue",
        "印章类型可识别",
        "The seal type is recognised",
        _F,
        _S.SIG_CONSTRAINTS_FAILURE,
        "印章类型 {value} 无法对应到互认目录中的印章类型",
        "Seal type {value} maps to no seal type of the recognition catalogue",
    ),
    # -- the seal maker ----------------------------------------------------------------------
    CheckSpec(
        "ses.maker_found",
        "制章者证书由某一辖区的信任列表认可",
        "The seal maker's certificate is vouched for by a jurisdiction's trust list",
        "制章者证书由信任列表认可",
        "The seal maker's certificate is vouched for by a trust list",
        _I,
        _S.NO_CERTIFICATE_CHAIN_FOUND,
        "印章未被改动，但无法确认制章者：制章者证书（{name}）不在任何辖区的信任列表中，"
        "也不是由其中列出的证书认证机构签发",
        "The seal is intact, but its maker cannot be confirmed: the maker's certificate ({name}) "
        "is in no jurisdiction's trust list, nor issued by a CA listed there",
    ),
    CheckSpec(
        "ses.maker_chain",
        "制章者证书可通过 SM2 签名链接到信任列表中的证书",
        "The seal maker's certificate chains, by SM2 signatures, to a certificate in a trust list",
        "制章者证书链验证通过",
        "The seal maker's certificate chain verifies",
        _F,
        _S.CHAIN_CONSTRAINTS_FAILURE,
        "制章者证书无法通过签名链接到信任列表中的证书",
        "The seal maker's certificate chain is invalid: {detail}",
    ),
    CheckSpec(
        "ses.vouched_once",
        "证书只由一个辖区的信任列表认可",
        "The certificate is vouched for by one jurisdiction's trust list only",
        "证书只由一个辖区的信任列表认可",
        "The certificate is vouched for by one jurisdiction's trust list only",
        _I,
        _S.NO_CERTIFICATE_CHAIN_FOUND,
        "证书（{name}）同时由 {first} 和 {second} 的信任列表认可，无法确定由哪个辖区负责，"
        "因此不采信任何一方",
        "The certificate ({name}) is vouched for by the trust lists of both {first} and "
        "{second}: which jurisdiction answers for it cannot be told, so neither is believed",
    ),
    # -- certificates' validity --------------------------------------------------------------
    CheckSpec(
        "cert.period",
        "证书在其被使用的时间处于有效期内",
        "Each certificate was inside its validity period when it was used",
        "证书在使用时处于有效期内",
        "The certificates were inside their validity periods when used",
    ),
    CheckSpec(
        "cert.not_yet_valid",
        "证书在被使用时已生效",
        "The certificate had become valid when it was used",
        result=_F,
        sub_indication=_S.NOT_YET_VALID,
        failed_zh="{role_zh}证书自 {nbf} 起生效，在其被使用的时间 {at} 尚未生效",
        failed_en="The {role_en} certificate is valid from {nbf}; it was not yet valid when it "
        "was used, at {at}",
    ),
    CheckSpec(
        "cert.expired",
        "证书在被使用时未过期",
        "The certificate had not expired when it was used",
        result=_F,
        sub_indication=_S.EXPIRED,
        failed_zh="{role_zh}证书有效期至 {exp}，在其被使用的时间 {at} 已经过期",
        failed_en="The {role_en} certificate was valid until {exp}; it had expired when it was "
        "used, at {at}",
    ),
    CheckSpec(
        "cert.key_usage",
        "证书的密钥用法允许签名",
        "The certificate's key usage allows signing",
        result=_F,
        sub_indication=_S.CHAIN_CONSTRAINTS_FAILURE,
        failed_zh="{role_zh}证书的密钥用法不允许签名",
        failed_en="The {role_en} certificate's key usage does not allow signing",
    ),
    CheckSpec(
        "ses.revocation_unchecked",
        "证书吊销状态（CRL/OCSP）",
        "Certificate revocation status (CRL/OCSP)",
        "未查询证书吊销状态：尚不支持 CRL/OCSP；制章机构的状态取自信任列表",
        "Certificate revocation was not looked up: CRL/OCSP are not supported yet; the seal "
        "maker's status comes from the trust list",
    ),
    # -- stamped documents -------------------------------------------------------------------
    CheckSpec(
        "ofd.package",
        "OFD 文件是安全、合规的 zip 包",
        "The OFD file is a safe, well-formed zip package",
        "OFD 包结构安全、合规",
        "The OFD package is safe and well-formed",
        _F,
        _S.FORMAT_FAILURE,
        "OFD 文件不是安全、合规的 zip 包，无法接受",
        "The OFD file cannot be accepted: {detail}",
    ),
    # -- one reading of the container (verifier/national/container.py) ----------------------
    CheckSpec(
        "ofd.zip_start",
        "zip 包从第一个本地文件头开始，前面没有其他数据",
        "The zip package starts with its first local header, nothing before it",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="OFD 文件不以 zip 本地文件头开始：前面附加了数据，不同的读取程序会读出不同的内容",
        failed_en="The OFD file does not start with a zip local header: data was put in front, "
        "and different readers would read different contents",
    ),
    CheckSpec(
        "ofd.zip_end",
        "zip 包只有一个结束记录，且位于文件末尾",
        "The zip package has exactly one end record, at the end of the file",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="OFD 文件末尾不是唯一的 zip 结束记录（附加了数据，或注释中另有结束记录）",
        failed_en="The OFD file does not end with exactly one zip end record (data appended, "
        "or a second end record inside the comment)",
    ),
    CheckSpec(
        "ofd.zip_central",
        "zip 中央目录完整，紧接结束记录",
        "The zip central directory is complete and ends at the end record",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="OFD 文件的 zip 中央目录残缺或与结束记录不符",
        failed_en="The OFD file's zip central directory is incomplete or disagrees with its end "
        "record",
    ),
    CheckSpec(
        "ofd.zip_layout",
        "zip 条目按中央目录顺序首尾相接，无重叠、无空隙",
        "The zip entries follow one another in central-directory order, without overlaps or gaps",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 与其他条目重叠、留有空隙或顺序不符：其中可能藏有另一份内容",
        failed_en="Zip entry {name} overlaps another, leaves a gap or is out of order: another "
        "content may be hidden there",
    ),
    CheckSpec(
        "ofd.zip_mismatch",
        "每个条目的本地文件头与中央目录记录一致（名称、标志、压缩方法、大小、CRC）",
        "Each entry's local header agrees with its central-directory record (name, flags, "
        "method, sizes, CRC)",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 的本地文件头与中央目录记录不一致："
        "不同的读取程序会读出不同的内容",
        failed_en="Zip entry {name}: its local header and central-directory record disagree, so "
        "different readers would read different contents",
    ),
    CheckSpec(
        "ofd.zip_name",
        "条目名称是包内的相对路径（UTF-8，无 ..、\\、盘符）",
        "Entry names are relative paths inside the package (UTF-8; no .., \\, drive letters)",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目名称 {name} 不可接受：不是包内唯一含义的相对路径",
        failed_en="Zip entry name {name} is not acceptable: not a relative path with one meaning "
        "inside the package",
    ),
    CheckSpec(
        "ofd.zip_symlink",
        "条目不是符号链接",
        "No entry is a symbolic link",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 是符号链接",
        failed_en="Zip entry {name} is a symbolic link",
    ),
    CheckSpec(
        "ofd.zip_duplicate",
        "条目名称在大小写、Unicode 规范化和百分号编码之后仍然唯一",
        "Entry names are unique after case folding, Unicode normalisation and percent-decoding",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 与 {other} 指向同一个文件：查看程序可能显示签名未保护的那一个",
        failed_en="Zip entries {name} and {other} name one file: a viewer may show the one the "
        "signature did not protect",
    ),
    CheckSpec(
        "ofd.zip_encrypted",
        "条目未加密",
        "No entry is encrypted",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 已加密",
        failed_en="Zip entry {name} is encrypted",
    ),
    CheckSpec(
        "ofd.zip_method",
        "条目只用存储或 deflate 压缩",
        "Entries are stored or deflated only",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 使用了不接受的压缩方法 {method}",
        failed_en="Zip entry {name} uses compression method {method}, which is not accepted",
    ),
    CheckSpec(
        "ofd.zip_large_format",
        "zip64 字段前后一致",
        "Zip64 fields are consistent",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="OFD 文件的 zip64 记录缺失或前后不一致",
        failed_en="The OFD file's zip64 records are missing or inconsistent",
    ),
    CheckSpec(
        "ofd.zip_data",
        "每个条目的压缩数据恰好在其末尾结束，解压后大小和 CRC 与声明一致",
        "Each entry's compressed data ends exactly at its end and inflates to its declared size "
        "and CRC",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="zip 条目 {name} 的压缩数据与声明不符（结束位置、大小或 CRC）",
        failed_en="Zip entry {name}: its compressed data does not match what is declared (end, "
        "size or CRC)",
    ),
    CheckSpec(
        "ofd.limits",
        "文档未超过处理上限",
        "The document is within the processing caps (OfdLimits)",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="OFD 文件超出处理上限：{what_zh}为 {value}，上限为 {limit}",
        failed_en="The OFD file exceeds a processing cap: {what_en} is {value}, the cap is {limit}",
    ),
    # -- one reading of every location ---------------------------------------------------------
    CheckSpec(
        "ofd.path",
        "文件中的位置都指向包内",
        "Locations (ST_Loc) stay inside the package",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="位置 {loc} {why}",
        failed_en="Location {loc} {why_en}",
    ),
    CheckSpec(
        "ofd.path_ambiguous",
        "每个位置只指向一个文件（标准读法与兼容读法不指向不同文件）",
        "Each location names one file (the standard and compatibility readings never name two)",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="{file} 中的位置 {loc} 既可读作 {a}，也可读作 {b}：验证与查看可能针对不同的文件",
        failed_en="Location {loc} in {file} reads as both {a} and {b}: verification and viewing "
        "could use different files",
    ),
    CheckSpec(
        "ofd.no_signature",
        "OFD 文件带有签名",
        "The OFD file carries signatures",
        result=_F,
        sub_indication=_S.FORMAT_FAILURE,
        failed_zh="OFD 文件中没有签章或签名",
        failed_en="The OFD file carries no seal or signature",
    ),
    CheckSpec(
        "ofd.signature",
        "签名描述文件（Signature.xml）合规",
        "The signature description (Signature.xml) is well-formed",
        "签名描述文件合规",
        "The signature description is well-formed",
        _F,
        _S.FORMAT_FAILURE,
        "签名 {sid} 的描述文件缺失或不合规，无法使用",
        "Signature {sid}'s description cannot be used: {detail}",
    ),
    CheckSpec(
        "ofd.check_method",
        "文件校验算法为 SM3",
        "The file check method is SM3",
        "文件校验算法为 SM3",
        "The file check method is SM3",
        _F,
        _S.CRYPTO_CONSTRAINTS_FAILURE,
        "文件校验算法 {method} 不被允许：只接受不带密钥的 SM3",
        "File check method {method} is not allowed: only SM3 without a key is",
    ),
    CheckSpec(
        "ofd.references",
        "签名保护的每个文件的校验值都一致",
        "Every file the signature protects matches its check value",
        "签名保护的文件均未被改动",
        "None of the files the signature protects has been altered",
        _F,
        _S.HASH_FAILURE,
        "文件 {file} 的校验值与签名时不符：该文件已被改动",
        "File {file} does not match its check value: it has been altered",
    ),
    CheckSpec(
        "ofd.reference_missing",
        "签名保护的文件都在包中",
        "Every file the signature protects is in the package",
        result=_F,
        sub_indication=_S.HASH_FAILURE,
        failed_zh="签名保护的文件 {file} 不在包中：文档已被改动",
        failed_en="File {file}, protected by the signature, is not in the package: the document "
        "has been altered",
    ),
    CheckSpec(
        "ses.data_hash",
        "签章数据中的原文杂凑值与签名描述文件一致",
        "The signature's data hash matches the signature description file",
        "原文杂凑值与签名描述文件一致",
        "The data hash matches the signature description file",
        _F,
        _S.HASH_FAILURE,
        "签章数据中的杂凑值与文件 {file} 不符：签名描述已被改动",
        "The signature's data hash does not match file {file}: the signature description has "
        "been altered",
    ),
    CheckSpec(
        "ses.signer_listed",
        "签章者证书是印章所列的证书之一（或其杂凑值在列）",
        "The signer's certificate is one the seal lists (or whose digest it lists)",
        "签章者证书在印章的证书列表中",
        "The signer's certificate is listed in the seal",
        _F,
        _S.SIG_CONSTRAINTS_FAILURE,
        "签章者证书（{name}）不在印章所列的证书中：此人无权使用该印章",
        "The signer's certificate ({name}) is not one the seal lists: the signer may not use "
        "this seal",
    ),
    CheckSpec(
        "ses.signer_found",
        "签名者的密钥或证书由签发地的信任列表认可",
        "The signer's key or certificate is vouched for by a trust list",
        "签名者由信任列表认可",
        "The signer is vouched for by a trust list",
        _I,
        _S.NO_CERTIFICATE_CHAIN_FOUND,
        "签名未被改动，但无法确认签名者：签名者证书（{name}）不是任何辖区信任列表所列的证照"
        "签发机构的证书，也不是由其中列出的证书认证机构签发",
        "The signature is intact, but its signer cannot be confirmed: the signer's certificate "
        "({name}) belongs to no licence issuer listed in any jurisdiction's trust list, nor was "
        "it issued by a CA listed there",
    ),
    CheckSpec(
        "ses.signer_key",
        "不具名的 SM2 签名可由信任列表所列某一证照签发机构的密钥验证",
        "A bare SM2 signature, which names no signer, verifies under a listed licence issuer's key",
        "签名由信任列表所列证照签发机构的密钥验证通过",
        "The signature verifies under a listed licence issuer's key",
        _I,
        _S.NO_SIGNING_CERTIFICATE_FOUND,
        "无法确认签名者：这个不具名的 SM2 签名不能由任何辖区信任列表所列证照签发机构的密钥验证。"
        "签名者可能不在信任列表中，也可能签名或签名描述文件已被改动，两者无法区分",
        "The signer cannot be confirmed: this bare SM2 signature, which names no signer, verifies "
        "under no listed licence issuer's key. Either its signer is not listed or the signature "
        "or its description was altered; the two cannot be told apart",
    ),
    CheckSpec(
        "ses.signature_value",
        "SM2 签名值是 DER 编码或 64 字节 r‖s，且 r、s 在取值范围内",
        "The SM2 signature value is DER or 64-byte r‖s, with r and s in range",
        result=_F,
        sub_indication=_S.SIG_CRYPTO_FAILURE,
        failed_zh="SM2 签名值既不是 DER 编码也不是 64 字节 r‖s，或 r、s 超出取值范围："
        "它不可能是有效签名",
        failed_en="The SM2 signature value is neither DER nor 64-byte r‖s, or r or s is out of "
        "range ({detail}): it cannot be a valid signature",
    ),
    CheckSpec(
        "ses.signed_data",
        "已提供被签名的数据（Signature.xml）",
        "The signed data (Signature.xml) was supplied",
        result=_I,
        sub_indication=_S.SIGNED_DATA_NOT_FOUND,
        failed_zh="未提供被签名的数据（Signature.xml），无法核对原文杂凑值；签名和印章已照常判断",
        failed_en="The signed data (Signature.xml) was not supplied, so the data hash cannot be "
        "checked; the signature and the seal were judged all the same",
    ),
    CheckSpec(
        "ses.signer_chain",
        "签名者证书可通过 SM2 签名链接到信任列表中的证书",
        "The signer's certificate chains, by SM2 signatures, to a certificate in a trust list",
        "签名者证书链验证通过",
        "The signer's certificate chain verifies",
        _F,
        _S.CHAIN_CONSTRAINTS_FAILURE,
        "签名者证书无法通过签名链接到信任列表中的证书",
        "The signer's certificate chain is invalid: {detail}",
    ),
    CheckSpec(
        "ses.signed_in_period",
        "签署时间在印章和证书的有效期内，验证时间仍在其内，或可证明签署时有效",
        "The validation time is inside the seal's and certificates' validity, or signing inside "
        "it is proven",
        "验证时间仍在印章和证书的有效期内",
        "The validation time is inside the seal's and certificates' validity",
        _I,
        _S.OUT_OF_BOUNDS_NO_POE,
        "{what_zh}已于 {exp} 到期；文档自称签于 {signed}（到期之前），"
        "但该时间由签署方自报，无法证明",
        "The {what_en} expired at {exp}; the document claims it was signed at {signed}, before "
        "that, but the signer states its own time and there is no proof of it",
    ),
    CheckSpec(
        "ofd.coverage",
        "查看程序显示的全部内容都受到文档签名的保护",
        "Everything a viewer shows is protected by the document's signatures",
        "显示的全部内容都受签名保护",
        "Everything shown is protected by the signatures",
        _F,
        _S.HASH_FAILURE,
        "显示的内容 {files} 不受任何签名保护：签名后被改动或添加",
        "Shown content {files} is protected by no signature: changed or added after signing",
    ),
    CheckSpec(
        "ofd.coverage_partial",
        "注释和其他文件也都受到签名保护",
        "Annotations and other files are protected by the signatures too",
        result=_I,
        sub_indication=_S.SIG_CONSTRAINTS_FAILURE,
        failed_zh="签名保护的内容未被改动，但注释或其他文件 {files} 不受任何签名保护"
        "（可能是签名后添加的）",
        failed_en="The signed content is intact, but annotations or other files {files} are "
        "protected by no signature (they may have been added after signing)",
    ),
    CheckSpec(
        "ofd.signature_result",
        "每个签名各自的验证结论",
        "The verdict of each signature on its own",
        result=_F,
        sub_indication=None,
        failed_zh="签名 {sid}：{indication}",
        failed_en="Signature {sid}: {indication}",
    ),
)

SPECS: Final[Mapping[str, CheckSpec]] = MappingProxyType({s.code: s for s in _SPECS})
assert len(SPECS) == len(_SPECS), "check codes must be unique"
assert not set(SPECS) & set(base.SPECS), "national codes must not redefine shared ones"

_SEAL_ZH: Final = "印章："
_SEAL_EN: Final = "Seal: "


def check(code: str, prefix: str = "", **params: object) -> Check:
    """A passing check (shared or national); its message may take parameters."""
    spec = SPECS.get(code)
    if spec is None:
        return base.passed(code, prefix)
    assert spec.passed_zh is not None and spec.passed_en is not None
    params = base.shown_params(params)
    zh, en = spec.passed_zh.format(**params), spec.passed_en.format(**params)
    if prefix:
        zh, en = _SEAL_ZH + zh, _SEAL_EN + en
    return Check(prefix + code, CheckResult.PASSED, zh, en)


def failed(code: str, prefix: str = "", **params: object) -> tuple[Check, SubIndication | None]:
    """The failure check for a shared or national code, with its sub-indication."""
    spec = SPECS.get(code)
    if spec is None:
        return base.failed(code, prefix, **params)
    assert spec.result is not None
    assert spec.failed_zh is not None and spec.failed_en is not None
    params = base.shown_params(params)
    zh = spec.failed_zh.format(**params)
    en = spec.failed_en.format(**params)
    if prefix:
        zh, en = _SEAL_ZH + zh, _SEAL_EN + en
    return Check(prefix + code, spec.result, zh, en), spec.sub_indication


def result_check(sid: str, indication: str, sub: str | None, passed: bool) -> Check:
    """ofd.signature_result: one line per signature in the overall verdict of a document."""
    text = indication + (f" / {sub}" if sub else "")
    sid = shown(sid)  # the ID a document gives its signature
    spec = SPECS["ofd.signature_result"]
    assert spec.failed_zh is not None and spec.failed_en is not None
    result = CheckResult.PASSED if passed else CheckResult(indication)
    return Check(
        "ofd.signature_result",
        result,
        spec.failed_zh.format(sid=sid, indication=text),
        spec.failed_en.format(sid=sid, indication=text),
    )


def markdown_table() -> str:
    """The table of docs/national-formats.md."""
    rows = ["| Code | On failure | 含义 | Meaning |", "|---|---|---|---|"]
    for s in _SPECS:
        if s.code == "ofd.signature_result":
            outcome = "that signature's indication"
        elif s.result is not None and s.sub_indication is not None:
            outcome = f"{s.result.value} {s.sub_indication.value}"
        else:
            outcome = "(never fails)"
        rows.append(f"| `{s.code}` | {outcome} | {s.meaning_zh} | {s.meaning_en} |")
    return "\n".join(rows) + "\n"


__all__ = ["SEAL_PREFIX", "SPECS", "check", "failed", "markdown_table", "result_check"]
