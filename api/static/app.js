/* huren self-check page and trust-list view. Plain JavaScript, no build step, no dependencies:
 * everything it loads comes from this service. It calls the JSON API with fetch; an API key
 * typed in stays in sessionStorage (this tab only). Text from the server is only ever put into
 * the page as text (textContent), never as HTML. */
"use strict";

(function () {
  // -- texts ---------------------------------------------------------------------------------
  const TEXT = {
    zh: {
      "skip": "跳到主要内容",
      "app.title": "电子证照与电子印章自助核验",
      "nav.label": "页面",
      "nav.check": "自助核验",
      "nav.trust": "信任列表",
      "key.label": "API 密钥",
      "key.hint": "证照核验需柜台密钥，上传信任列表需管理员密钥；密钥只保存在本标签页。",
      "check.heading": "核验电子证照、电子印章或盖章文档",
      "drop.text": "把文件拖放到这里，或",
      "drop.choose": "选择文件",
      "drop.hint": "证照文件（.jws）、电子印章及其图片（.jws / .esl、.png）、盖章文档及其签名（原文件 + .sig.jws，或 .ofd；签章数据 .dat 可附原文）",
      "paste.label": "或粘贴令牌（紧凑 JWS，或二维码内容 HR1:）",
      "scan.heading": "柜台扫码：证照二维码",
      "scan.camera": "用摄像头扫码",
      "scan.photo": "上传照片",
      "scan.hint": "扫描手机上或纸上的证照二维码（HR1: 开头）。扫码枪可直接扫入下面的文本框。",
      "scan.stop": "停止扫码",
      "scan.looking": "请把证照二维码对准摄像头…",
      "scan.notLicence": "扫到的二维码不是电子证照（应以 HR1: 开头），请扫描证照上的二维码。",
      "scan.noCamera": "此浏览器无法使用摄像头（需要 HTTPS 或本机地址）；请改用“上传照片”或扫码枪。",
      "scan.denied": "无法打开摄像头（未获允许或没有摄像头）；请改用“上传照片”或扫码枪。",
      "kind.label": "文件种类",
      "kind.auto": "自动识别",
      "kind.licence": "电子证照",
      "kind.seal": "电子印章",
      "kind.sealed_document": "盖章文档",
      "relying.label": "核验方城市",
      "item.label": "办理事项（可选）",
      "item.placeholder": "输入事项名称或编码，例如：食品",
      "item.none": "未选择事项：按全市互认核验",
      "item.chosen": "按事项核验：{name}（{code}）",
      "item.clear": "不限事项",
      "item.noMatch": "本城市没有符合“{q}”的事项",
      "tc.item": "办理事项",
      "refusal.unknown_service_item": "互认目录中没有这个办理事项",
      "verify.button": "核验",
      "clear.button": "清空",
      "busy": "正在核验…",
      "foot.text": "互认 huren · 深圳 440300 · 中山 442000 · 本页面的脚本与样式均由本服务提供，无需互联网",
      "foot.api": "API 文档",
      "role.token": "证照 / 印章令牌",
      "role.seal": "印章（JWS）",
      "role.signature": "盖章签名",
      "role.document": "文档原件",
      "role.image": "印章图片",
      "role.label": "用途",
      "file.remove": "移除",
      "file.removeNamed": "移除 {name}",
      "pasted": "粘贴的令牌",
      "err.nothing": "请先选择文件或粘贴令牌。",
      "err.duplicate": "“{role}”只能有一个文件，请移除多余的文件。",
      "err.noSignature": "盖章文档需要同时提供文档原件和盖章签名（.sig.jws）。",
      "err.noDocument": "盖章签名需要与文档原件一起核验，请添加文档原件。",
      "err.unknownKind": "无法识别文件种类，请在“文件种类”中选择。",
      "err.noRelying": "请选择核验方城市。",
      "err.unsupportedFormat": "无法核验此文件：它是{format}，不在本服务支持的格式之内。",
      "err.supportedFormats": "支持的格式：签章 OFD 文档（.ofd）；GB/T 38540 / GM/T 0031 电子印章（.esl）；签章数据（.dat，可附所签原文）；JWS 电子证照和电子印章；文档原件及其 JWS 盖章签名。",
      "fmt.pdf": "PDF 文档",
      "fmt.png": "PNG 图片",
      "fmt.jpeg": "JPEG 图片",
      "fmt.gif": "GIF 图片",
      "fmt.tiff": "TIFF 图片",
      "fmt.webp": "WebP 图片",
      "fmt.bmp": "BMP 图片",
      "fmt.ms-office": "旧版 Microsoft Office 文档",
      "fmt.zip": "不是 OFD 文档的 zip 压缩包",
      "fmt.unknown": "未知格式",
      "err.network": "无法连接核验服务：{detail}",
      "err.http": "请求被拒绝（{status}）",
      "err.key401": "需要有效的 API 密钥：请在页面顶部输入柜台或管理员密钥。",
      "err.key403": "此密钥的角色无权执行此操作。",
      "ind.PASSED": "通过",
      "ind.FAILED": "未通过",
      "ind.INDETERMINATE": "无法确定",
      "res.PASSED": "通过",
      "res.FAILED": "未通过",
      "res.INDETERMINATE": "无法确定",
      "sub.none": "所有检查均已通过。",
      "sub.FORMAT_FAILURE": "格式错误：文件无法按规定格式读取",
      "sub.HASH_FAILURE": "已被改动：文档内容与签名时的内容不一致",
      "sub.SIG_CRYPTO_FAILURE": "已被改动或伪造：签名校验失败",
      "sub.REVOKED": "已吊销：证照、印章或签名密钥已被吊销",
      "sub.REVOKED_NO_POE": "签名密钥已吊销，且无法证明文件签署于吊销之前",
      "sub.EXPIRED": "已过期或已停用",
      "sub.NOT_YET_VALID": "尚未生效",
      "sub.OUT_OF_BOUNDS_NO_POE": "超出有效期，且无法证明签署时间",
      "sub.NO_SIGNING_CERTIFICATE_FOUND": "无法确认签名者：签发机构或其密钥不在信任列表中，签名无法核验",
      "sub.NO_CERTIFICATE_CHAIN_FOUND": "无法确认签名者：文档未被改动，但签名者不是信任列表所列的机构",
      "sub.SIGNED_DATA_NOT_FOUND": "缺少被签名的原文：签名本身已核验，原文无法核对",
      "sub.CHAIN_CONSTRAINTS_FAILURE": "信任约束不满足：签发机构无权签发此类文件，或核验方城市不认可",
      "sub.SIG_CONSTRAINTS_FAILURE": "与要求不符：文件内容不满足核验方的要求",
      "sub.CRYPTO_CONSTRAINTS_FAILURE": "算法不被接受",
      "sub.TRY_LATER": "暂时无法判断：信任列表或状态列表不是最新的，请稍后再试",
      "reason": "原因：",
      "checks.heading": "检查项（按顺序）",
      "summary.heading": "文件摘要",
      "summary.none": "文件内容无法读取。",
      "summary.unverified": "以下内容仅为文件自身的声明，未得到核验确认，不可作为依据。",
      "sum.type": "类型",
      "sum.id": "编号",
      "sum.holder": "持有人",
      "sum.credit": "统一社会信用代码",
      "sum.issuer": "签发机构",
      "sum.issuingCity": "签发地",
      "sum.issued": "签发时间",
      "sum.signed": "盖章时间",
      "sum.validity": "有效期",
      "sum.validFrom": "自 {from} 起",
      "sum.noEnd": "长期有效",
      "sum.documentName": "文档名称",
      "sum.sealName": "印章名称",
      "sum.sealId": "印章编号",
      "sum.data": "证照内容",
      "kindName.licence": "电子证照",
      "kindName.seal": "电子印章",
      "kindName.sealed_document": "盖章文档",
      "seal.heading": "印章图片",
      "seal.match": "此图片就是随印章签发的图片",
      "seal.mismatch": "此图片不是随印章签发的图片（印章本身未被判定为改动）",
      "sub.picture": "图片不符：此图片不是随印章签发的图片；这并不表明印章被改动",
      "paste.stripped": "已从粘贴的令牌中删除 {n} 个空格或换行。",
      "seal.unchecked": "图片未核对（核验在此之前已结束）",
      "seal.none": "未提供印章图片。",
      "seal.digest": "印章记录的图片摘要（SHA-256）",
      "seal.alt": "上传的印章图片：{name}",
      "trustctx.heading": "信任依据",
      "tc.relying": "核验方城市",
      "tc.issuing": "签发地",
      "tc.list": "信任列表",
      "tc.listValue": "{city}信任列表 第 {seq} 版",
      "tc.noList": "无可用信任列表",
      "tc.digest": "列表摘要",
      "tc.stale": "列表过期时间",
      "tc.catalogue": "互认目录",
      "tc.catalogueValue": "第 {seq} 版",
      "tc.validation": "核验时间",
      "tc.validUntil": "结论有效至",
      "tc.validUntilNone": "仅随信任状态变化",
      "tc.document": "输入摘要（SHA-256）",
      "tc.cached": "来自缓存",
      "yes": "是",
      "no": "否",
      "receipt.download": "下载签名回执",
      "receipt.hint": "回执由本服务签名，可用 /v1/receipts/jwks.json 中的公钥离线核对。",
      "in": "还有 {d}",
      "ago": "已过 {d}",
      "days": "{n} 天 ",
      "trust.heading": "信任列表",
      "trust.intro": "每个城市发布签名的信任列表，列出其认可的签发机构及其密钥。列表过期后，核验结果只能是“无法确定”。",
      "trust.caption": "各城市的信任列表",
      "trust.col.city": "城市",
      "trust.col.sequence": "序号",
      "trust.col.issued": "签发时间",
      "trust.col.next": "下次更新（倒计时）",
      "trust.col.state": "状态",
      "trust.col.history": "历史",
      "trust.fresh": "有效",
      "trust.soon": "即将过期",
      "trust.stale": "已过期：核验结果将为“无法确定”",
      "trust.missing": "没有列表",
      "trust.showHistory": "查看历史",
      "history.heading": "{city}（{code}）的历史版本",
      "history.next": "下次更新",
      "history.digest": "摘要（SHA-256）",
      "history.compare": "对比",
      "history.comparePrev": "与第 {seq} 版对比",
      "history.first": "首个版本",
      "history.current": "当前",
      "diff.from": "从版本",
      "diff.to": "到版本",
      "diff.button": "对比这两个版本",
      "diff.heading": "第 {from} 版 → 第 {to} 版的变化",
      "diff.none": "两个版本没有差别。",
      "diff.warnings": "需要注意",
      "cat.jurisdiction": "城市变更",
      "cat.name": "名称变更",
      "cat.sequence": "序号",
      "cat.issued_at": "签发时间",
      "cat.next_update": "下次更新时间",
      "cat.operator_added": "新增运营方密钥",
      "cat.operator_removed": "移除运营方密钥",
      "cat.operator_threshold": "运营方签名门限",
      "cat.service_added": "新增服务",
      "cat.service_removed": "移除服务",
      "cat.service_changed": "服务信息变更",
      "cat.key_added": "新增密钥",
      "cat.key_removed": "移除密钥（连同历史）",
      "cat.key_moved": "密钥转移",
      "cat.key_granted": "密钥恢复启用",
      "cat.key_withdrawn": "撤回密钥（停用）",
      "cat.key_revoked": "吊销密钥",
      "cat.key_status": "密钥状态变更",
      "cat.key_history_rewritten": "密钥历史被改写",
      "diff.service": "服务 {id}",
      "diff.since": "自 {t} 起",
      "diff.listFields": "列表本身",
      "upload.heading": "上传新的签名信任列表（需管理员密钥）",
      "upload.jurisdiction": "城市",
      "upload.file": "签名的列表文件（JSON）",
      "upload.check": "先检查（不上传）",
      "upload.submit": "上传",
      "upload.noFile": "请选择签名的列表文件。",
      "upload.before": "上传前：服务的判断",
      "upload.after": "上传后：服务的结果",
      "upload.acceptable": "可以接受",
      "upload.refused": "将被拒绝",
      "upload.unchangedNote": "与当前列表相同，上传不会改变任何内容。",
      "upload.seqChange": "序号：{from} → {to}",
      "upload.accepted": "已接受",
      "upload.unchanged": "未变化（已是当前列表）",
      "upload.rejected": "被拒绝",
      "upload.nowSequence": "{city}现在的信任列表：第 {seq} 版",
      "upload.nextUpdate": "下次更新：{t}",
      "upload.code": "代码",
      "file.choose": "选择文件",
      "file.none": "未选择文件",
      "font.missing": "本机没有中文字体，页面上的中文会显示为方框。请安装中文字体（如 Noto Sans CJK SC，Debian 软件包 fonts-noto-cjk），或切换为英文。",
      "en.detail": "英文原文：",
      "refusal.trust_state_invalid": "信任状态文件被拒绝",
      "refusal.malformed": "文件格式不正确，无法读取",
      "refusal.unsafe_text": "文件中的名称或地址含有控制字符或隐藏字符",
      "refusal.too_large": "文件太大",
      "refusal.threshold_not_met": "有效的运营方签名数量未达到门限",
      "refusal.rotation_not_authorised": "更换运营方密钥需要足够数量的原运营方签名",
      "refusal.rollback": "序号没有高于当前列表：旧版本不能替换新版本",
      "refusal.jurisdiction_mismatch": "列表所属城市与上传的城市不一致",
      "refusal.unknown_jurisdiction": "本服务未配置此城市",
      "refusal.issued_in_future": "签发时间晚于现在",
      "refusal.already_expired": "列表已过期",
      "refusal.duplicate_kid": "密钥编号重复",
      "refusal.untrusted_signer": "签名者不是受信任的运营方",
      "refusal.catalogue_overreach": "互认目录删除了其他城市的条目，却没有该城市运营方的签名",
      "refusal.status_uri_claimed": "状态列表地址已由另一项服务声明",
      "refusal.key_of_other_jurisdiction": "列表中的密钥属于另一个城市",
      "refusal.storage_failed": "无法保存，未做任何更改",
      "refusal.not_found": "未找到",
      "refusal.malformed_json": "请求内容不是有效的 JSON",
      "refusal.invalid_request": "请求参数不正确",
      "refusal.unsupported_media_type": "请求的内容类型不受支持",
      "refusal.internal_error": "服务内部错误",
    },
    en: {
      "skip": "Skip to the main content",
      "app.title": "Self-check of e-licences and e-seals",
      "nav.label": "Pages",
      "nav.check": "Self-check",
      "nav.trust": "Trust lists",
      "key.label": "API key",
      "key.hint": "Licences need a counter key, trust-list uploads an admin key; the key stays in this tab only.",
      "check.heading": "Verify an e-licence, an e-seal or a stamped document",
      "drop.text": "Drop files here, or",
      "drop.choose": "choose files",
      "drop.hint": "Licence files (.jws), e-seals and their picture (.jws / .esl, .png), stamped documents with their signature (the file + .sig.jws, or .ofd; a .dat signature value with the data it signs)",
      "paste.label": "Or paste a token (compact JWS, or a QR code's HR1: text)",
      "scan.heading": "At the counter: a licence's QR code",
      "scan.camera": "Scan with camera",
      "scan.photo": "Upload a photo",
      "scan.hint": "Scan the licence's QR code on a phone or on paper (it starts with HR1:). A barcode scanner can type into the text box below.",
      "scan.stop": "Stop scanning",
      "scan.looking": "Hold the licence's QR code in front of the camera…",
      "scan.notLicence": "That QR code is not an e-licence (it should start with HR1:); scan the code on the licence.",
      "scan.noCamera": "This browser cannot use a camera here (it needs HTTPS or a local address); use “Upload a photo” or a barcode scanner.",
      "scan.denied": "The camera could not be opened (not allowed, or none); use “Upload a photo” or a barcode scanner.",
      "kind.label": "Kind of document",
      "kind.auto": "Detect",
      "kind.licence": "E-licence",
      "kind.seal": "E-seal",
      "kind.sealed_document": "Stamped document",
      "relying.label": "Relying city",
      "item.label": "Service item (optional)",
      "item.placeholder": "Type an item's name or code, e.g. food",
      "item.none": "No item chosen: checked against the city-wide recognitions",
      "item.chosen": "Checked for the item: {name} ({code})",
      "item.clear": "Any item",
      "item.noMatch": "No item of this city matches “{q}”",
      "tc.item": "Service item",
      "verify.button": "Verify",
      "clear.button": "Clear",
      "busy": "Verifying…",
      "foot.text": "huren 互认 · Shenzhen 440300 · Zhongshan 442000 · every script and style of this page comes from this service; no internet needed",
      "foot.api": "API documentation",
      "role.token": "Licence / seal token",
      "role.seal": "Seal (JWS)",
      "role.signature": "Seal signature",
      "role.document": "Document",
      "role.image": "Seal picture",
      "role.label": "Used as",
      "file.remove": "Remove",
      "file.removeNamed": "Remove {name}",
      "pasted": "Pasted token",
      "err.nothing": "Choose a file or paste a token first.",
      "err.duplicate": "Only one file can be used as “{role}”: remove the others.",
      "err.noSignature": "A stamped document needs both the document and its seal signature (.sig.jws).",
      "err.noDocument": "A seal signature is verified together with its document: add the document.",
      "err.unknownKind": "The kind of document could not be recognised: choose it under “Kind of document”.",
      "err.noRelying": "Choose the relying city.",
      "err.unsupportedFormat": "This file cannot be verified: it is {format}, which this service does not support.",
      "err.supportedFormats": "Supported: signed OFD documents (.ofd); GB/T 38540 / GM/T 0031 e-seals (.esl); SES_Signature values (.dat, with the data they sign when at hand); JWS e-licences and e-seals; a document with its JWS seal signature.",
      "fmt.pdf": "a PDF document",
      "fmt.png": "a PNG image",
      "fmt.jpeg": "a JPEG image",
      "fmt.gif": "a GIF image",
      "fmt.tiff": "a TIFF image",
      "fmt.webp": "a WebP image",
      "fmt.bmp": "a BMP image",
      "fmt.ms-office": "an old Microsoft Office document",
      "fmt.zip": "a zip package that is not an OFD document",
      "fmt.unknown": "an unknown format",
      "err.network": "The verification service could not be reached: {detail}",
      "err.http": "Request refused ({status})",
      "err.key401": "A valid API key is needed: enter a counter or admin key at the top of the page.",
      "err.key403": "This key's role may not do this.",
      "ind.PASSED": "PASSED",
      "ind.FAILED": "FAILED",
      "ind.INDETERMINATE": "INDETERMINATE",
      "res.PASSED": "passed",
      "res.FAILED": "failed",
      "res.INDETERMINATE": "indeterminate",
      "sub.none": "Every check passed.",
      "sub.FORMAT_FAILURE": "Format failure: the document cannot be read in its format",
      "sub.HASH_FAILURE": "Altered: the content differs from what was signed",
      "sub.SIG_CRYPTO_FAILURE": "Altered or forged: the signature does not verify",
      "sub.REVOKED": "Revoked: the document, seal or signing key was revoked",
      "sub.REVOKED_NO_POE": "Signing key revoked, with no proof the document was signed before",
      "sub.EXPIRED": "Expired or withdrawn",
      "sub.NOT_YET_VALID": "Not yet valid",
      "sub.OUT_OF_BOUNDS_NO_POE": "Outside its validity, with no proof of the signing time",
      "sub.NO_SIGNING_CERTIFICATE_FOUND": "Could not confirm the signer: the issuer or its key is in no trust list, so the signature could not be checked",
      "sub.NO_CERTIFICATE_CHAIN_FOUND": "Could not confirm the signer: the document is intact, but its signer is no listed authority",
      "sub.SIGNED_DATA_NOT_FOUND": "Signed content missing: the signature was checked, the content it signs could not be",
      "sub.CHAIN_CONSTRAINTS_FAILURE": "Trust constraints not met: the issuer may not issue this, or the relying city does not recognise it",
      "sub.SIG_CONSTRAINTS_FAILURE": "Not as expected: the document does not meet the relying party's expectations",
      "sub.CRYPTO_CONSTRAINTS_FAILURE": "Algorithm not accepted",
      "sub.TRY_LATER": "Cannot tell now: the trust list or status list is not current; try later",
      "reason": "Reason: ",
      "checks.heading": "Checks, in order",
      "summary.heading": "Document",
      "summary.none": "The document could not be read.",
      "summary.unverified": "What the document claims about itself, not confirmed by the verification: do not rely on it.",
      "sum.type": "Type",
      "sum.id": "Number",
      "sum.holder": "Holder",
      "sum.credit": "Unified social credit code",
      "sum.issuer": "Issuer",
      "sum.issuingCity": "Issued in",
      "sum.issued": "Issued",
      "sum.signed": "Stamped",
      "sum.validity": "Validity",
      "sum.validFrom": "from {from}",
      "sum.noEnd": "no end date",
      "sum.documentName": "Document name",
      "sum.sealName": "Seal name",
      "sum.sealId": "Seal number",
      "sum.data": "Contents",
      "kindName.licence": "E-licence",
      "kindName.seal": "E-seal",
      "kindName.sealed_document": "Stamped document",
      "seal.heading": "Seal picture",
      "seal.match": "This picture is the one issued with the seal",
      "seal.mismatch": "This picture is NOT the one issued with the seal (the seal itself is not judged altered)",
      "sub.picture": "Picture does not match: this is not the picture issued with the seal; that does not mean the seal was altered",
      "paste.stripped": "Removed {n} spaces or line breaks from the pasted token.",
      "seal.unchecked": "The picture was not checked (the verification ended before)",
      "seal.none": "No seal picture was given.",
      "seal.digest": "Picture digest recorded in the seal (SHA-256)",
      "seal.alt": "The seal picture given: {name}",
      "trustctx.heading": "Trust context",
      "tc.relying": "Relying city",
      "tc.issuing": "Issued in",
      "tc.list": "Trust list",
      "tc.listValue": "{city} trust list, sequence {seq}",
      "tc.noList": "no trust list available",
      "tc.digest": "List digest",
      "tc.stale": "List goes stale",
      "tc.catalogue": "Recognition catalogue",
      "tc.catalogueValue": "sequence {seq}",
      "tc.validation": "Judged at",
      "tc.validUntil": "Verdict holds until",
      "tc.validUntilNone": "only trust changes can change it",
      "tc.document": "Input digest (SHA-256)",
      "tc.cached": "From the cache",
      "yes": "yes",
      "no": "no",
      "receipt.download": "Download the signed receipt",
      "receipt.hint": "Signed by this service; check it offline with the keys at /v1/receipts/jwks.json.",
      "in": "in {d}",
      "ago": "{d} ago",
      "days": "{n} d ",
      "trust.heading": "Trust lists",
      "trust.intro": "Each city publishes a signed trust list of the authorities it vouches for and their keys. Once a list is stale, verdicts can only be INDETERMINATE.",
      "trust.caption": "Every city's trust list",
      "trust.col.city": "City",
      "trust.col.sequence": "Sequence",
      "trust.col.issued": "Issued",
      "trust.col.next": "Next update (countdown)",
      "trust.col.state": "State",
      "trust.col.history": "History",
      "trust.fresh": "current",
      "trust.soon": "goes stale soon",
      "trust.stale": "STALE: verdicts will be INDETERMINATE",
      "trust.missing": "no list",
      "trust.showHistory": "Show history",
      "history.heading": "History of {city} ({code})",
      "history.next": "Next update",
      "history.digest": "Digest (SHA-256)",
      "history.compare": "Compare",
      "history.comparePrev": "Compare with sequence {seq}",
      "history.first": "first version",
      "history.current": "current",
      "diff.from": "From sequence",
      "diff.to": "To sequence",
      "diff.button": "Compare these versions",
      "diff.heading": "Changes from sequence {from} to {to}",
      "diff.none": "The two versions do not differ.",
      "diff.warnings": "Read twice",
      "cat.jurisdiction": "Jurisdiction changed",
      "cat.name": "Name changed",
      "cat.sequence": "Sequence",
      "cat.issued_at": "Issue time",
      "cat.next_update": "Next update",
      "cat.operator_added": "Operator keys added",
      "cat.operator_removed": "Operator keys removed",
      "cat.operator_threshold": "Operator threshold",
      "cat.service_added": "Services added",
      "cat.service_removed": "Services removed",
      "cat.service_changed": "Services changed",
      "cat.key_added": "Keys added",
      "cat.key_removed": "Keys removed (with their history)",
      "cat.key_moved": "Keys moved",
      "cat.key_granted": "Keys granted again",
      "cat.key_withdrawn": "Keys withdrawn",
      "cat.key_revoked": "Keys revoked",
      "cat.key_status": "Key status changed",
      "cat.key_history_rewritten": "Key history rewritten",
      "diff.service": "service {id}",
      "diff.since": "from {t}",
      "diff.listFields": "The list itself",
      "upload.heading": "Upload a new signed trust list (admin key)",
      "upload.jurisdiction": "City",
      "upload.file": "Signed list file (JSON)",
      "upload.check": "Check first (no upload)",
      "upload.submit": "Upload",
      "upload.noFile": "Choose the signed list file.",
      "upload.before": "Before: the service's verdict",
      "upload.after": "After: the service's answer",
      "upload.acceptable": "Would be accepted",
      "upload.refused": "Would be refused",
      "upload.unchangedNote": "It is the current list: an upload changes nothing.",
      "upload.seqChange": "Sequence: {from} → {to}",
      "upload.accepted": "Accepted",
      "upload.unchanged": "Unchanged (already the current list)",
      "upload.rejected": "Refused",
      "upload.nowSequence": "{city} trust list now: sequence {seq}",
      "upload.nextUpdate": "Next update: {t}",
      "upload.code": "Code",
      "file.choose": "Choose file",
      "file.none": "No file chosen",
      "font.missing": "No Chinese font on this computer: Chinese text on this page shows as boxes. Install a CJK font (such as Noto Sans CJK SC, Debian package fonts-noto-cjk), or switch to English.",
    },
  };

  const KEY_STORE = "huren.apiKey";
  const LANG_STORE = "huren.lang";
  const RELYING_STORE = "huren.relying";
  const IMAGE_EXT = new Set(["png", "jpg", "jpeg", "gif", "webp", "bmp", "svg"]);
  const ROLES = ["token", "seal", "signature", "document", "image"];
  // A licence's QR form (docs/formats.md): its prefix, and the typ the page gives it.
  const HR1 = /^HR1:/i;
  const QR_TYP = "huren-licence+qr";
  const SOON_MS = 3 * 24 * 3600 * 1000;

  let lang = "zh";
  try {
    lang = localStorage.getItem(LANG_STORE) === "en" ? "en" : "zh";
  } catch (e) {
    lang = "zh";
  }

  const state = {
    files: [], // {file, role, typ, national, url}
    result: null, // {kind, response, image: {url, name} | null}
    formError: null, // {key, vars} or {problem, status}
    jurisdictions: [], // from GET /v1/trust-lists
    trustVersion: null,
    trustError: null,
    history: null, // {code, versions}
    diff: null, // the diff body
    uploadBefore: null,
    uploadAfter: null,
    item: null, // the service item chosen: {code, name_zh, name_en}
    itemResults: null, // {q, items} of the last search
  };

  function t(key, vars) {
    let s = TEXT[lang][key];
    if (s === undefined) s = TEXT.zh[key];
    if (s === undefined) return key;
    if (vars) {
      for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    }
    return s;
  }

  const $ = (sel) => document.querySelector(sel);

  // Control and hiding characters (Unicode Cc, Cf, Zl, Zp, as in trust_lists/text.py) written
  // as visible escapes: text from a document or a list can neither run terminal-style tricks
  // nor hide or reorder the text around it (bidi overrides, zero-width characters).
  const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
  function escaped(s) {
    return String(s).replace(UNSAFE, (c) => {
      const n = c.codePointAt(0);
      const [prefix, width] = n <= 0xff ? ["\\x", 2] : n <= 0xffff ? ["\\u", 4] : ["\\U", 8];
      return prefix + n.toString(16).padStart(width, "0");
    });
  }

  /** An element with attributes and children (strings become text nodes, never HTML, with
   * control characters shown escaped). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = escaped(v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(escaped(c)));
    }
    return el;
  }

  // -- formatting ------------------------------------------------------------------------------

  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
      timeZoneName: "short",
    });
  }

  function fmtDuration(ms) {
    const abs = Math.abs(ms);
    const total = Math.floor(abs / 1000);
    const days = Math.floor(total / 86400);
    const hh = String(Math.floor((total % 86400) / 3600)).padStart(2, "0");
    const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
    const ss = String(total % 60).padStart(2, "0");
    const text = (days ? t("days", { n: days }) : "") + hh + ":" + mm + ":" + ss;
    return ms >= 0 ? t("in", { d: text }) : t("ago", { d: text });
  }

  function countdown(iso) {
    const el = h("span", { class: "countdown", "data-deadline": iso || "" });
    updateCountdown(el);
    return el;
  }

  function updateCountdown(el) {
    const iso = el.getAttribute("data-deadline");
    if (!iso) {
      el.textContent = "—";
      return;
    }
    el.textContent = fmtDuration(new Date(iso).getTime() - Date.now());
  }

  function shortHash(hex) {
    return hex ? hex.slice(0, 16) + "…" : "—";
  }

  function cityName(code) {
    const j = state.jurisdictions.find((x) => x.jurisdiction === code);
    if (!j) return code || "—";
    const name = lang === "zh" ? j.name_zh : j.name_en;
    return name ? name + " (" + code + ")" : code;
  }

  function cityShort(code) {
    const j = state.jurisdictions.find((x) => x.jurisdiction === code);
    return (j && (lang === "zh" ? j.name_zh : j.name_en)) || code;
  }

  function fmtSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  // -- API -------------------------------------------------------------------------------------

  function apiKey() {
    return $("#api-key").value.trim();
  }

  function authHeaders(extra) {
    const headers = Object.assign({}, extra || {});
    const key = apiKey();
    if (key) headers["Authorization"] = "Bearer " + key;
    return headers;
  }

  /** fetch, then {ok, status, body}; a problem+json body comes back as body on !ok. */
  async function call(path, options) {
    let resp;
    try {
      resp = await fetch(path, Object.assign({ credentials: "omit", cache: "no-store" }, options));
    } catch (e) {
      return { ok: false, status: 0, body: { detail: String(e && e.message ? e.message : e) } };
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    return { ok: resp.ok, status: resp.status, body };
  }

  function problemNode(status, body) {
    if (status === 0) {
      return h("div", {}, t("err.network", { detail: (body && body.detail) || "" }));
    }
    const lines = [];
    if (body && body.code === "unsupported_format") {
      // Named in the page's language; the English detail adds nothing a clerk needs.
      const fmt = TEXT.zh["fmt." + body.format] !== undefined ? "fmt." + body.format : "fmt.unknown";
      lines.push(h("strong", {}, t("err.unsupportedFormat", { format: t(fmt) })));
      lines.push(h("span", {}, " " + t("err.supportedFormats")));
      lines.push(h("span", { class: "mono" }, " (" + status + " " + body.code + ")"));
      return h("div", { "data-problem": body.code }, lines);
    }
    if (status === 401) lines.push(h("strong", {}, t("err.key401")));
    else if (status === 403) lines.push(h("strong", {}, t("err.key403")));
    else if (lang === "zh") lines.push(h("strong", {}, refusalLead(body && body.code) || t("err.http", { status })));
    else lines.push(h("strong", {}, (body && body.title) || t("err.http", { status })));
    if (body && body.detail) lines.push(englishDetail(body.detail));
    if (body && Array.isArray(body.errors)) {
      for (const e of body.errors.slice(0, 5)) {
        lines.push(h("span", { class: "mono" }, " " + (e.loc || []).join(".") + ": " + e.msg));
      }
    }
    if (body && body.code) lines.push(h("span", { class: "mono" }, " (" + status + " " + body.code + ")"));
    return h("div", {}, lines);
  }

  /** The page's own words for a refusal code, or null: the API words refusals in English only. */
  function refusalLead(code) {
    return lang === "zh" && code && TEXT.zh["refusal." + code] !== undefined ? t("refusal." + code) : null;
  }

  /** English text from the service; on the Chinese page marked as such (and as lang="en"). */
  function englishDetail(text) {
    if (lang !== "zh") return h("span", { class: "detail" }, " " + text);
    return h("span", { class: "detail detail-en" }, " " + t("en.detail"), h("span", { lang: "en" }, text));
  }

  // -- jurisdictions ---------------------------------------------------------------------------

  async function loadJurisdictions() {
    const r = await call("/v1/trust-lists", { headers: { Accept: "application/json" } });
    if (!r.ok || !r.body) {
      state.trustError = { status: r.status, body: r.body };
      renderTrust();
      return;
    }
    state.trustError = null;
    state.jurisdictions = r.body.jurisdictions || [];
    state.trustVersion = r.body.trust_state_version;
    renderCitySelects();
    renderTrust();
  }

  function renderCitySelects() {
    const relying = $("#relying");
    let wanted = relying.value;
    if (!wanted) {
      try {
        wanted = localStorage.getItem(RELYING_STORE) || "";
      } catch (e) {
        wanted = "";
      }
    }
    for (const sel of [relying, $("#upload-jurisdiction")]) {
      const keep = sel === relying ? wanted : sel.value;
      sel.replaceChildren(
        ...state.jurisdictions.map((j) =>
          h("option", { value: j.jurisdiction }, cityName(j.jurisdiction))
        )
      );
      if (keep && state.jurisdictions.some((j) => j.jurisdiction === keep)) sel.value = keep;
    }
  }

  // -- service items ---------------------------------------------------------------------------

  let itemTimer = null;

  function itemName(item) {
    return lang === "zh" ? item.name_zh : item.name_en;
  }

  function itemLabel(item) {
    return lang === "zh" ? item.name_zh + "（" + item.code + "）" : item.name_en + " (" + item.code + ")";
  }

  function searchItemsSoon() {
    if (itemTimer) clearTimeout(itemTimer);
    itemTimer = setTimeout(searchItems, 150);
  }

  async function searchItems() {
    const q = $("#item-search").value.trim();
    const relying = $("#relying").value;
    if (!q || !relying) {
      state.itemResults = null;
      renderItems();
      return;
    }
    const query = new URLSearchParams({ relying, q: q.slice(0, 100), limit: "20" });
    const r = await call("/v1/catalogue/items?" + query, { headers: { Accept: "application/json" } });
    if ($("#item-search").value.trim() !== q) return; // typed on meanwhile: a newer search runs
    state.itemResults = { q, items: r.ok && r.body ? r.body.items || [] : [] };
    renderItems();
  }

  function chooseItem(item) {
    state.item = item ? Object.assign({ relying: $("#relying").value }, item) : null;
    state.itemResults = null;
    $("#item-search").value = "";
    renderItems();
  }

  function renderItems() {
    const list = $("#item-results");
    const input = $("#item-search");
    const res = state.itemResults;
    if (!res) {
      list.hidden = true;
      list.replaceChildren();
    } else {
      list.hidden = false;
      list.replaceChildren(
        ...(res.items.length
          ? res.items.map((item) =>
              h(
                "li",
                { role: "option", "aria-selected": "false" },
                h(
                  "button",
                  { type: "button", class: "item-option", "data-code": item.code, onclick: () => chooseItem(item) },
                  h("span", {}, itemName(item)),
                  h("span", { class: "mono" }, " " + item.code)
                )
              )
            )
          : [h("li", { class: "hint" }, t("item.noMatch", { q: res.q }))])
      );
    }
    input.setAttribute("aria-expanded", res && res.items.length ? "true" : "false");
    const chosen = $("#item-chosen");
    if (state.item) {
      chosen.replaceChildren(
        h("span", { "data-item": state.item.code }, t("item.chosen", { name: itemName(state.item), code: state.item.code })),
        " ",
        h("button", { type: "button", id: "item-clear", class: "linklike", onclick: () => chooseItem(null) }, t("item.clear"))
      );
    } else {
      chosen.replaceChildren(t("item.none"));
    }
  }

  // -- files -----------------------------------------------------------------------------------

  function b64urlText(part) {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    const bin = atob(padded);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }

  /** The typ of a compact JWS ("" if it has none), or null if text is not one. */
  function jwsTyp(text) {
    const s = text.trim();
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(s)) return null;
    try {
      const header = JSON.parse(b64urlText(s.split(".")[0]));
      return header && typeof header.typ === "string" ? header.typ : "";
    } catch (e) {
      return null;
    }
  }

  function roleForTyp(typ) {
    if (typ === "huren-sealed-doc+jwt") return "signature";
    if (typ === "huren-seal+jwt") return "seal";
    return "token";
  }

  async function classify(file) {
    const name = file.name.toLowerCase();
    const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1) : "";
    if ((file.type || "").startsWith("image/") || IMAGE_EXT.has(ext)) return { role: "image" };
    if (ext === "ofd") return { role: "document", national: "ofd" };
    if (ext === "esl" || ext === "ses") return { role: "token", national: "seal" };
    if (ext === "dat") return { role: "signature", national: "signature" };
    if (file.size <= 1024 * 1024) {
      const text = await file.text();
      if (HR1.test(text.replace(/^[\r\n\t]+/, ""))) return { role: "token", typ: QR_TYP };
      const typ = jwsTyp(text);
      if (typ !== null) return { role: roleForTyp(typ), typ };
    }
    return { role: "document" };
  }

  async function addFiles(list) {
    for (const file of Array.from(list)) {
      const info = await classify(file);
      const entry = Object.assign({ file, url: null }, info);
      if (entry.role === "image") entry.url = URL.createObjectURL(file);
      // One file per role: a new file of the same role replaces the old one.
      const same = state.files.findIndex((f) => f.role === entry.role);
      if (same >= 0) {
        releaseFile(state.files[same]);
        state.files.splice(same, 1, entry);
      } else {
        state.files.push(entry);
      }
    }
    renderFiles();
  }

  function releaseFile(entry) {
    if (entry.url) URL.revokeObjectURL(entry.url);
  }

  function renderFiles() {
    const ul = $("#file-list");
    ul.replaceChildren(
      ...state.files.map((entry, i) => {
        const id = "role-" + i;
        const select = h(
          "select",
          {
            id,
            "aria-label": t("role.label") + ": " + entry.file.name,
            onchange: (ev) => {
              entry.role = ev.target.value;
              if (entry.role === "image" && !entry.url) entry.url = URL.createObjectURL(entry.file);
            },
          },
          ROLES.map((r) => h("option", { value: r, selected: r === entry.role }, t("role." + r)))
        );
        return h(
          "li",
          { "data-role": entry.role },
          h("span", { class: "file-name" }, entry.file.name),
          h("span", { class: "file-size" }, fmtSize(entry.file.size)),
          h("label", { for: id, class: "visually-hidden" }, t("role.label")),
          select,
          h(
            "button",
            {
              type: "button",
              "aria-label": t("file.removeNamed", { name: entry.file.name }),
              onclick: () => {
                releaseFile(entry);
                state.files.splice(state.files.indexOf(entry), 1);
                renderFiles();
                $("#file-input").focus();
              },
            },
            t("file.remove")
          )
        );
      })
    );
  }

  /** Whether a document without a signature goes to the service anyway: a PDF or binary
   * (image, zip, ...) may be a format the service does not verify, and it says which it does. */
  async function looksBinary(file) {
    const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
    return String.fromCharCode(...head.slice(0, 5)) === "%PDF-" || head.includes(0);
  }

  /** The pasted token. Spaces and line breaks (copied from an e-mail or chat) are removed from a
   * compact JWS here, where the user sees it and is told; the service refuses them (one reading). */
  function pastedToken() {
    const area = $("#token-text");
    const note = $("#paste-note");
    // A QR licence: only what a scanner adds around it goes (Base45 has spaces of its own).
    const scanned = area.value.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
    if (HR1.test(scanned)) return scanned;
    const blanks = (area.value.match(/\s/g) || []).length;
    const token = area.value.replace(/\s+/g, "");
    const jws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
    if (!jws || !blanks) return area.value.trim();
    area.value = token;
    note.textContent = t("paste.stripped", { n: blanks });
    note.hidden = false;
    return token;
  }

  /** What to send: {kind, parts: {file, image, signature, seal, data}} or {error}. */
  async function plan() {
    const byRole = {};
    for (const entry of state.files) {
      if (byRole[entry.role]) return { error: { key: "err.duplicate", vars: { role: t("role." + entry.role) } } };
      byRole[entry.role] = entry;
    }
    const pasted = pastedToken();
    if (pasted) {
      const typ = HR1.test(pasted) ? QR_TYP : jwsTyp(pasted);
      const role = typ === null ? "token" : roleForTyp(typ);
      const entry = {
        file: new File([pasted], "pasted.jws", { type: "application/jose" }),
        role,
        typ,
        pasted: true,
      };
      if (byRole[role]) return { error: { key: "err.duplicate", vars: { role: t("role." + role) } } };
      byRole[role] = entry;
    }
    if (!Object.keys(byRole).length) return { error: { key: "err.nothing" } };

    let kind = $("#kind").value;
    if (kind === "auto") {
      if (byRole.document || byRole.signature) kind = "sealed_document";
      else if (byRole.token && byRole.token.national === "seal") kind = "seal";
      else if (byRole.token && byRole.token.typ === "huren-licence+jwt") kind = "licence";
      else if (byRole.token && byRole.token.typ === QR_TYP) kind = "licence";
      else if (byRole.token && byRole.token.typ === "huren-seal+jwt") kind = "seal";
      else if (byRole.seal && !byRole.token) kind = "seal";
      else if (byRole.token) return { error: { key: "err.unknownKind" } };
      else if (byRole.image) kind = "seal"; // a picture alone: the service says what it verifies
      else return { error: { key: "err.nothing" } };
    }
    const parts = {};
    if (kind === "sealed_document") {
      if (byRole.signature && byRole.signature.national === "signature") {
        // An SES_Signature value (.dat): the file, and the data it signs when given.
        parts.file = byRole.signature;
        if (byRole.document) parts.data = byRole.document;
        return { kind, parts };
      }
      if (!byRole.document) return { error: { key: "err.noDocument" } };
      if (!byRole.signature && byRole.document.national !== "ofd" && !(await looksBinary(byRole.document.file))) {
        return { error: { key: "err.noSignature" } };
      }
      parts.file = byRole.document;
      if (byRole.signature) parts.signature = byRole.signature;
      if (byRole.seal) parts.seal = byRole.seal;
      if (byRole.image) parts.image = byRole.image;
    } else {
      const main =
        byRole.token || (kind === "seal" ? byRole.seal : null) || byRole.document || (kind === "seal" ? byRole.image : null);
      if (!main) return { error: { key: "err.nothing" } };
      parts.file = main;
      if (kind === "seal" && byRole.image && main !== byRole.image) parts.image = byRole.image;
    }
    return { kind, parts };
  }

  // The page lists every check in order, so it asks for the detailed report.
  const ENDPOINT = {
    licence: "/v1/licences/verify?report=detailed",
    seal: "/v1/seals/verify?report=detailed",
    sealed_document: "/v1/sealed-documents/verify?report=detailed",
  };

  async function verify(ev) {
    ev.preventDefault();
    state.formError = null;
    state.result = null; // an old verdict must never be read as this check's
    renderResult();
    $("#paste-note").hidden = true;
    const p = await plan();
    const relying = $("#relying").value;
    if (!p.error && !relying) p.error = { key: "err.noRelying" };
    if (p.error) {
      state.formError = p.error;
      renderFormError();
      return;
    }
    try {
      localStorage.setItem(RELYING_STORE, relying);
    } catch (e) {
      /* private mode: fine */
    }
    const fd = new FormData();
    for (const [name, entry] of Object.entries(p.parts)) {
      fd.append(name, entry.file, entry.file.name);
    }
    const image = p.parts.image ? { url: p.parts.image.url || URL.createObjectURL(p.parts.image.file), name: p.parts.image.file.name } : null;
    await submit(p.kind, fd, relying, image);
  }

  /** Send a verification (the form's, or a photo of a QR code) and show its verdict. */
  async function submit(kind, fd, relying, image) {
    fd.append("relying_jurisdiction", relying);
    if (state.item) fd.append("expect_service_item", state.item.code);
    fd.append("receipt", "true");
    const button = $("#verify-btn");
    button.disabled = true;
    $("#busy").textContent = t("busy");
    const r = await call(ENDPOINT[kind], { method: "POST", body: fd, headers: authHeaders() });
    button.disabled = false;
    $("#busy").textContent = "";
    if (!r.ok || !r.body || !r.body.verdict) {
      state.formError = { status: r.status, body: r.body };
      renderFormError();
      return;
    }
    state.result = { kind, response: r.body, image, item: state.item };
    renderFormError();
    renderResult();
    // The verdict at the top of the screen, with the focus (a screen reader reads it out).
    const badge = $("#result .badge");
    if (badge) {
      $("#result").scrollIntoView({ block: "start" });
      badge.focus({ preventScroll: true });
    }
    // The trust context shows when the list goes stale: refresh the index quietly.
    loadJurisdictions();
  }

  // -- at the counter: the QR code of a licence ----------------------------------------------

  let scanStream = null;
  let scanCanvas = null;

  function scanProblem(key) {
    state.formError = { key };
    renderFormError();
  }

  async function startCamera() {
    state.formError = null;
    renderFormError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      scanProblem("scan.noCamera");
      return;
    }
    try {
      scanStream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (e) {
      scanProblem("scan.denied");
      return;
    }
    const video = $("#scan-video");
    video.srcObject = scanStream;
    $("#scan-box").hidden = false;
    $("#scan-status").textContent = t("scan.looking");
    try {
      await video.play();
    } catch (e) {
      /* autoplay of a muted stream is allowed; if not, frames still come */
    }
    scanCanvas = scanCanvas || document.createElement("canvas");
    scanFrame();
  }

  function scanFrame() {
    if (!scanStream) return;
    const video = $("#scan-video");
    if (video.readyState >= 2 && video.videoWidth) {
      const w = video.videoWidth;
      const hgt = video.videoHeight;
      scanCanvas.width = w;
      scanCanvas.height = hgt;
      const ctx = scanCanvas.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, w, hgt);
      const found = window.jsQR(ctx.getImageData(0, 0, w, hgt).data, w, hgt, {
        inversionAttempts: "attemptBoth",
      });
      if (found && found.data) {
        if (HR1.test(found.data)) {
          stopCamera();
          $("#token-text").value = found.data;
          $("#kind").value = "licence";
          $("#check-form").requestSubmit();
          return;
        }
        $("#scan-status").textContent = t("scan.notLicence");
      }
    }
    setTimeout(scanFrame, 120);
  }

  function stopCamera() {
    if (scanStream) for (const track of scanStream.getTracks()) track.stop();
    scanStream = null;
    $("#scan-video").srcObject = null;
    $("#scan-box").hidden = true;
  }

  /** A photo or scan of the QR code: read by the service (multipart `image`). */
  async function verifyPhoto() {
    const input = $("#photo-input");
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    stopCamera();
    state.formError = null;
    state.result = null;
    renderResult();
    const relying = $("#relying").value;
    if (!relying) {
      scanProblem("err.noRelying");
      return;
    }
    const fd = new FormData();
    fd.append("image", file, file.name);
    await submit("licence", fd, relying, { url: URL.createObjectURL(file), name: file.name });
  }

  /** A barcode scanner types the text and presses Enter: that is a submit, not a new line. */
  function scannerEnter(ev) {
    if (ev.key === "Enter" && !ev.shiftKey && HR1.test(ev.target.value.trim())) {
      ev.preventDefault();
      $("#check-form").requestSubmit();
    }
  }

  function renderFormError() {
    const box = $("#form-error");
    const e = state.formError;
    if (!e) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.hidden = false;
    box.replaceChildren(e.key ? h("strong", {}, t(e.key, e.vars)) : problemNode(e.status, e.body));
  }

  function clearForm() {
    stopCamera();
    for (const f of state.files) releaseFile(f);
    state.files = [];
    state.result = null;
    state.formError = null;
    $("#token-text").value = "";
    $("#paste-note").hidden = true;
    $("#file-input").value = "";
    $("#kind").value = "auto";
    renderFiles();
    renderFormError();
    renderResult();
    $("#file-input").focus();
  }

  // -- verdict ---------------------------------------------------------------------------------

  const MARK = { PASSED: "✓", FAILED: "✗", INDETERMINATE: "?" };

  function decidingCheck(checks) {
    return (
      checks.find((c) => c.result === "FAILED") ||
      checks.find((c) => c.result === "INDETERMINATE") ||
      null
    );
  }

  function msg(check) {
    return lang === "zh" ? check.message_zh : check.message_en;
  }

  function facts(rows) {
    const dl = h("dl", { class: "facts" });
    for (const [label, value, attrs] of rows) {
      if (value === null || value === undefined || value === "") continue;
      dl.append(h("dt", {}, label), h("dd", attrs || {}, value));
    }
    return dl;
  }

  function renderResult() {
    const box = $("#result");
    const res = state.result;
    if (!res) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const v = res.response.verdict;
    const checks = v.checks || [];
    const ind = v.indication;
    const deciding = decidingCheck(checks);
    const klass = ind.toLowerCase();

    const badge = h(
      "div",
      { class: "badge badge-" + klass, "data-indication": ind, tabindex: "-1", role: "status" },
      h("div", { class: "badge-icon", "aria-hidden": "true" }, MARK[ind] || "?"),
      h("div", { class: "badge-word" }, t("ind." + ind)),
      lang === "zh" ? h("div", { class: "badge-code", lang: "en" }, ind) : null,
      h(
        "div",
        { class: "badge-sub", "data-sub-indication": v.sub_indication || "" },
        v.sub_indication
          ? t(deciding && /seal\.image_not_issued$/.test(deciding.code) ? "sub.picture" : "sub." + v.sub_indication) +
              " (" + v.sub_indication + ")"
          : t("sub.none")
      ),
      deciding ? h("p", { class: "badge-reason" }, t("reason") + msg(deciding)) : null
    );

    const checkList = h(
      "ol",
      { class: "checks" },
      checks.map((c) =>
        h(
          "li",
          { class: "check-" + c.result.toLowerCase(), "data-code": c.code, "data-result": c.result },
          h("span", { class: "check-mark", "aria-hidden": "true" }, MARK[c.result] || "?"),
          h("span", { class: "check-result" }, t("res." + c.result)),
          h("span", { class: "check-msg" }, msg(c)),
          h("code", { class: "check-code" }, c.code)
        )
      )
    );

    const grid = h(
      "div",
      { class: "result-grid" },
      h("section", { class: "card", id: "result-checks" }, h("h2", {}, t("checks.heading")), checkList),
      h(
        "div",
        { class: "result-side" },
        summaryCard(v, res.kind),
        res.kind !== "licence" ? sealCard(v, res) : null,
        trustCard(v, res.response)
      )
    );

    const actions = h("div", { class: "card actions-bar" });
    if (res.response.receipt) {
      actions.append(
        h("button", { type: "button", id: "download-receipt", class: "primary", onclick: downloadReceipt }, t("receipt.download")),
        h("span", { class: "hint" }, t("receipt.hint"))
      );
    }
    box.replaceChildren(badge, res.response.receipt ? actions : "", grid);
    box.hidden = false;
  }

  function summaryCard(v, kind) {
    const s = v.summary;
    const card = h("section", { class: "card", id: "result-summary" }, h("h2", {}, t("summary.heading")));
    if (!s) {
      card.append(h("p", {}, t("summary.none")));
      return card;
    }
    if (v.indication !== "PASSED") {
      card.append(h("p", { class: "alert unverified", role: "note" }, "⚠ " + t("summary.unverified")));
    }
    const typeName = lang === "zh" ? s.type_name_zh : s.type_name_en;
    const issuerName = lang === "zh" ? s.issuer_name_zh : s.issuer_name_en;
    const extra = s.extra || {};
    let validity = null;
    if (s.valid_from || s.valid_to) {
      validity = s.valid_to
        ? fmtTime(s.valid_from || s.issued_at) + " – " + fmtTime(s.valid_to)
        : t("sum.validFrom", { from: fmtTime(s.valid_from || s.issued_at) }) + (lang === "zh" ? "，" : ", ") + t("sum.noEnd");
    }
    card.append(
      facts([
        [t("sum.type"), [t("kindName." + (s.kind || kind)), typeName ? " · " + typeName : (s.type_code ? " · " + s.type_code : "")].join("")],
        [kind === "sealed_document" ? t("sum.documentName") : t("sum.id"), kind === "sealed_document" ? extra.document_name || null : s.document_id],
        [t("sum.holder"), s.holder_name],
        [t("sum.credit"), s.holder_id, { class: "mono" }],
        [t("sum.issuer"), issuerName ? issuerName + " (" + s.issuer_service + ")" : s.issuer_service],
        [t("sum.issuingCity"), s.issuing_jurisdiction ? cityName(s.issuing_jurisdiction) : null],
        [kind === "sealed_document" || kind === "signed_document" ? t("sum.signed") : t("sum.issued"), s.issued_at ? fmtTime(s.issued_at) : null],
        [t("sum.validity"), validity],
        [t("sum.sealName"), extra.seal_name || null],
        [t("sum.sealId"), extra.seal_id || null],
      ])
    );
    if (extra.data && typeof extra.data === "object") {
      const rows = Object.entries(extra.data).map(([k, val]) => [k, typeof val === "string" ? val : JSON.stringify(val)]);
      if (rows.length) card.append(h("div", { class: "sub-facts" }, h("h3", {}, t("sum.data")), facts(rows)));
    }
    return card;
  }

  function sealCard(v, res) {
    const checks = v.checks || [];
    const imageCheck = checks.find((c) => /^(seal:)?seal\.image(_not_issued)?$/.test(c.code));
    const digest = v.summary && v.summary.extra ? v.summary.extra.image_sha256 : null;
    const card = h("section", { class: "card", id: "result-seal" }, h("h2", {}, t("seal.heading")));
    if (!res.image) {
      card.append(h("p", {}, t("seal.none")));
    } else {
      let tag;
      if (!imageCheck) tag = h("span", { class: "tag tag-warn", "data-image-check": "unchecked" }, t("seal.unchecked"));
      else if (imageCheck.result === "PASSED") tag = h("span", { class: "tag tag-ok", "data-image-check": "match" }, "✓ " + t("seal.match"));
      else tag = h("span", { class: "tag tag-bad", "data-image-check": "mismatch" }, "✗ " + t("seal.mismatch"));
      card.append(
        h(
          "figure",
          { class: "seal-figure" },
          h("img", { src: res.image.url, alt: t("seal.alt", { name: res.image.name }), id: "seal-image" }),
          h("figcaption", {}, tag)
        )
      );
    }
    if (digest) card.append(h("p", { class: "digest-block" }, t("seal.digest"), h("code", {}, digest)));
    return card;
  }

  function trustCard(v, response) {
    const tc = v.trust || {};
    const issuing = tc.issuing_jurisdiction;
    const j = state.jurisdictions.find((x) => x.jurisdiction === issuing);
    const staleFrom = j && j.sequence === tc.list_sequence ? j.stale_from : null;
    const listText =
      tc.list_sequence !== null && tc.list_sequence !== undefined
        ? t("tc.listValue", { city: cityShort(issuing), seq: tc.list_sequence })
        : t("tc.noList");
    const stale = staleFrom
      ? h("span", {}, fmtTime(staleFrom), " ", h("span", { class: "countdown", "data-deadline": staleFrom }))
      : null;
    const card = h(
      "section",
      { class: "card", id: "result-trust" },
      h("h2", {}, t("trustctx.heading")),
      facts([
        [t("tc.relying"), cityName(tc.relying_jurisdiction)],
        [t("tc.item"), state.result && state.result.item ? itemLabel(state.result.item) : null, { "data-item": state.result && state.result.item ? state.result.item.code : "" }],
        [t("tc.issuing"), issuing ? cityName(issuing) : null],
        [t("tc.list"), listText, { "data-list-sequence": tc.list_sequence === null ? "" : tc.list_sequence }],
        [t("tc.stale"), stale],
        [t("tc.digest"), tc.list_digest ? shortHash(tc.list_digest) : null, { class: "mono", title: tc.list_digest || "" }],
        [t("tc.catalogue"), tc.catalogue_sequence ? t("tc.catalogueValue", { seq: tc.catalogue_sequence }) : null],
        [t("tc.validation"), fmtTime(v.validation_time)],
        [t("tc.validUntil"), v.valid_until ? fmtTime(v.valid_until) : t("tc.validUntilNone")],
        [t("tc.document"), shortHash(v.document_sha256), { class: "mono", title: v.document_sha256 }],
        [t("tc.cached"), response.cached ? t("yes") : t("no")],
      ])
    );
    card.querySelectorAll(".countdown").forEach(updateCountdown);
    return card;
  }

  function downloadReceipt() {
    const res = state.result;
    if (!res || !res.response.receipt) return;
    const blob = new Blob([res.response.receipt + "\n"], { type: "application/jwt" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: "huren-receipt-" + res.response.verdict.document_sha256.slice(0, 12) + ".jwt" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // -- trust-list view -------------------------------------------------------------------------

  function listState(j) {
    if (j.sequence === null || j.sequence === undefined) return "missing";
    if (j.stale) return "stale";
    if (j.stale_from && new Date(j.stale_from).getTime() - Date.now() < SOON_MS) return "soon";
    return "fresh";
  }

  function renderTrust() {
    const err = $("#trust-error");
    if (state.trustError) {
      err.hidden = false;
      err.replaceChildren(problemNode(state.trustError.status, state.trustError.body));
    } else {
      err.hidden = true;
    }
    const tbody = $("#trust-table tbody");
    tbody.replaceChildren(
      ...state.jurisdictions.map((j) => {
        const st = listState(j);
        const tagClass = { fresh: "tag-ok", soon: "tag-warn", stale: "tag-bad", missing: "tag-bad" }[st];
        return h(
          "tr",
          { class: st, "data-jurisdiction": j.jurisdiction },
          h("th", { scope: "row" }, cityName(j.jurisdiction)),
          h("td", { "data-label": t("trust.col.sequence") }, h("span", { class: "seq", "data-sequence": j.sequence === null ? "" : j.sequence }, j.sequence === null ? "—" : String(j.sequence))),
          h("td", { "data-label": t("trust.col.issued") }, fmtTime(j.issued_at)),
          h("td", { "data-label": t("trust.col.next") }, fmtTime(j.next_update), countdown(j.next_update)),
          h("td", { "data-label": t("trust.col.state") }, h("span", { class: "tag " + tagClass, "data-state": st }, (st === "stale" || st === "missing" ? "⚠ " : "") + t("trust." + st))),
          h(
            "td",
            { class: "cell-actions" },
            h("button", { type: "button", class: "history-btn", "data-jurisdiction": j.jurisdiction, onclick: () => loadHistory(j.jurisdiction) }, t("trust.showHistory"))
          )
        );
      })
    );
    renderHistory();
    renderDiff();
    renderUpload();
  }

  async function loadHistory(code) {
    const r = await call("/v1/trust-lists/" + encodeURIComponent(code) + "/history");
    if (!r.ok) {
      state.trustError = { status: r.status, body: r.body };
      renderTrust();
      return;
    }
    state.history = { code, versions: r.body.versions || [] };
    state.diff = null;
    renderHistory();
    renderDiff();
    const section = $("#history");
    section.scrollIntoView({ block: "start" });
    $("#history-heading").setAttribute("tabindex", "-1");
    $("#history-heading").focus();
  }

  function renderHistory() {
    const section = $("#history");
    const hist = state.history;
    if (!hist) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    $("#history-heading").textContent = t("history.heading", { city: cityShort(hist.code), code: hist.code });
    const versions = hist.versions;
    const current = versions.length ? versions[versions.length - 1].sequence : null;
    $("#history tbody").replaceChildren(
      ...versions
        .slice()
        .reverse()
        .map((ver) => {
          const idx = versions.indexOf(ver);
          const prev = idx > 0 ? versions[idx - 1] : null;
          return h(
            "tr",
            { "data-sequence": ver.sequence },
            h("td", { "data-label": t("trust.col.sequence") }, h("span", { class: "seq" }, String(ver.sequence)), ver.sequence === current ? h("span", { class: "tag tag-info" }, t("history.current")) : null),
            h("td", { "data-label": t("trust.col.issued") }, fmtTime(ver.issued_at)),
            h("td", { "data-label": t("history.next") }, fmtTime(ver.next_update)),
            h("td", { class: "mono", title: ver.digest, "data-label": t("history.digest") }, shortHash(ver.digest)),
            h(
              "td",
              { class: "cell-actions" },
              prev
                ? h("button", { type: "button", class: "compare-btn", onclick: () => loadDiff(hist.code, prev.sequence, ver.sequence) }, t("history.comparePrev", { seq: prev.sequence }))
                : h("span", { class: "hint" }, t("history.first"))
            )
          );
        })
    );
    for (const [id, pick] of [["#diff-from", versions.length > 1 ? versions.length - 2 : 0], ["#diff-to", versions.length - 1]]) {
      const sel = $(id);
      const keep = sel.value;
      sel.replaceChildren(...versions.map((ver) => h("option", { value: ver.sequence }, String(ver.sequence))));
      if (keep && versions.some((ver) => String(ver.sequence) === keep)) sel.value = keep;
      else if (versions.length) sel.value = String(versions[pick].sequence);
    }
  }

  async function loadDiff(code, from, to) {
    const q = "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    const r = await call("/v1/trust-lists/" + encodeURIComponent(code) + "/diff" + q);
    if (!r.ok) {
      state.diff = { error: { status: r.status, body: r.body } };
    } else {
      state.diff = r.body;
    }
    renderDiff();
    const heading = $("#diff h3");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  // What matters first (keys and services), the list's own fields last.
  const CATEGORY_ORDER = [
    "key_revoked", "key_withdrawn", "key_added", "key_granted", "key_status", "key_removed",
    "key_moved", "key_history_rewritten",
    "service_added", "service_removed", "service_changed",
    "operator_added", "operator_removed", "operator_threshold",
    "jurisdiction", "name", "sequence", "issued_at", "next_update",
  ];
  const LIST_FIELDS = new Set(["jurisdiction", "name", "sequence", "issued_at", "next_update"]);
  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

  function changeClass(category) {
    if (category.endsWith("_added")) return "added";
    if (category.endsWith("_withdrawn")) return "withdrawn";
    if (category.endsWith("_revoked")) return "revoked";
    if (category.endsWith("_removed")) return "removed";
    return "changed";
  }

  function shown(value) {
    if (value === null || value === undefined) return "∅";
    return ISO.test(value) ? fmtTime(value) : value;
  }

  /** One change, in words: what, where, from when; old → new only where that says more. */
  function changeItem(c) {
    const parts = [];
    if (c.subject) parts.push(h("code", {}, c.subject));
    if (c.service) parts.push(" · " + t("diff.service", { id: c.service }));
    if (c.field) parts.push(" · " + c.field);
    if (c.since) {
      parts.push(" · " + t("diff.since", { t: fmtTime(c.since) }));
    } else if (c.category === "operator_added") {
      parts.push(h("span", { class: "mono" }, " (" + c.new + ")"));
    } else if (c.category === "operator_removed" || c.category === "key_removed") {
      parts.push(h("span", { class: "mono" }, " (" + c.old + ")"));
    } else if (c.category === "service_added") {
      parts.push(" · " + c.new);
    } else if (c.category === "service_removed") {
      parts.push(" · " + c.old);
    } else if (c.old !== null || c.new !== null) {
      parts.push(h("span", { class: "mono" }, " " + (c.old === null ? "" : shown(c.old) + " → ") + shown(c.new)));
    }
    return h(
      "li",
      { class: changeClass(c.category) },
      parts,
      c.warning ? h("span", { class: "diff-warning", title: c.warning }, " ⚠") : null
    );
  }

  /** A diff body (from /diff or /preview) as grouped, plain lists. */
  function diffNode(d) {
    const wrap = h("div", { class: "diff-body", "data-from": d.from_sequence, "data-to": d.to_sequence });
    wrap.append(h("h3", {}, t("diff.heading", { from: d.from_sequence, to: d.to_sequence })));
    if (!d.changes.length) {
      wrap.append(h("p", {}, t("diff.none")));
      return wrap;
    }
    const groups = new Map();
    for (const c of d.changes) {
      if (!groups.has(c.category)) groups.set(c.category, []);
      groups.get(c.category).push(c);
    }
    const rank = (cat) => (CATEGORY_ORDER.indexOf(cat) < 0 ? 99 : CATEGORY_ORDER.indexOf(cat));
    const cats = Array.from(groups.keys()).sort((a, b) => rank(a) - rank(b));
    // At a glance: how many of each, substantive changes only.
    const chips = cats
      .filter((cat) => !LIST_FIELDS.has(cat))
      .map((cat) => h("span", { class: "tag chip chip-" + changeClass(cat) }, t("cat." + cat) + " " + groups.get(cat).length));
    if (chips.length) wrap.append(h("p", { class: "chips" }, chips));
    if (d.warnings && d.warnings.length) {
      wrap.append(h("div", { class: "alert" }, h("strong", {}, "⚠ " + t("diff.warnings")), d.warnings.map((w) => h("span", { class: "diff-warning-line" }, englishDetail(w)))));
    }
    const section = (cat) =>
      h(
        "section",
        { class: "diff-group", "data-category": cat },
        h("h4", {}, t("cat." + cat) + " (" + groups.get(cat).length + ")"),
        h("ul", { class: "diff-list" }, groups.get(cat).map(changeItem))
      );
    cats.filter((cat) => !LIST_FIELDS.has(cat)).forEach((cat) => wrap.append(section(cat)));
    const listCats = cats.filter((cat) => LIST_FIELDS.has(cat));
    if (listCats.length) {
      wrap.append(h("details", { class: "diff-list-fields" }, h("summary", {}, t("diff.listFields")), listCats.map(section)));
    }
    return wrap;
  }

  function renderDiff() {
    const box = $("#diff");
    const d = state.diff;
    if (!d) {
      box.replaceChildren();
      return;
    }
    if (d.error) {
      box.replaceChildren(h("div", { class: "alert" }, problemNode(d.error.status, d.error.body)));
      return;
    }
    box.replaceChildren(diffNode(d));
  }

  async function readUploadFile() {
    const f = $("#upload-file").files[0];
    if (!f) return null;
    return new Uint8Array(await f.arrayBuffer());
  }

  async function uploadCheck() {
    const data = await readUploadFile();
    const code = $("#upload-jurisdiction").value;
    if (!data) {
      state.uploadBefore = { localError: t("upload.noFile") };
      renderUpload();
      return null;
    }
    const r = await call("/v1/trust-lists/" + encodeURIComponent(code) + "/preview", {
      method: "POST",
      body: data,
      headers: authHeaders({ "Content-Type": "application/json" }),
    });
    state.uploadBefore = r.ok ? { preview: r.body } : { status: r.status, body: r.body };
    renderUpload();
    return r;
  }

  async function uploadSubmit(ev) {
    ev.preventDefault();
    const code = $("#upload-jurisdiction").value;
    const check = await uploadCheck();
    if (!check) return;
    const data = await readUploadFile();
    const r = await call("/v1/trust-lists/" + encodeURIComponent(code), {
      method: "PUT",
      body: data,
      headers: authHeaders({ "Content-Type": "application/json" }),
    });
    state.uploadAfter = r.ok ? { accepted: r.body } : { status: r.status, body: r.body };
    await loadJurisdictions();
    if (state.history && state.history.code === code) await loadHistory(code);
    renderUpload();
    const after = $("#upload-after");
    after.setAttribute("tabindex", "-1");
    after.focus();
  }

  function renderUpload() {
    const before = $("#upload-before");
    const after = $("#upload-after");
    const b = state.uploadBefore;
    if (!b) {
      before.hidden = true;
    } else {
      before.hidden = false;
      const kids = [h("h3", {}, t("upload.before"))];
      let cls = "upload-verdict";
      if (b.localError) {
        kids.push(h("p", {}, b.localError));
      } else if (b.preview) {
        const p = b.preview;
        cls += p.acceptable ? " ok" : " bad";
        kids.push(
          h("p", {}, h("span", { class: "tag " + (p.acceptable ? "tag-ok" : "tag-bad"), "data-acceptable": String(p.acceptable) }, (p.acceptable ? "✓ " : "✗ ") + t(p.acceptable ? "upload.acceptable" : "upload.refused"))),
          p.sequence !== null && p.sequence !== undefined
            ? h("p", {}, t("upload.seqChange", { from: p.current_sequence === null ? "—" : p.current_sequence, to: p.sequence }))
            : null,
          p.unchanged ? h("p", {}, t("upload.unchangedNote")) : null,
          p.code ? h("p", { class: "refusal" }, refusalLead(p.code) ? h("strong", {}, refusalLead(p.code) + " ") : null, h("span", {}, t("upload.code") + ": "), h("code", {}, p.code), p.detail ? englishDetail(p.detail) : null) : null,
          p.diff ? diffNode(p.diff) : null
        );
      } else {
        cls += " bad";
        kids.push(problemNode(b.status, b.body));
      }
      before.className = cls;
      before.replaceChildren(...kids.filter(Boolean));
    }
    const a = state.uploadAfter;
    if (!a) {
      after.hidden = true;
    } else {
      after.hidden = false;
      const kids = [h("h3", {}, t("upload.after"))];
      let cls = "upload-verdict";
      if (a.accepted) {
        const acc = a.accepted;
        cls += " ok";
        kids.push(
          h("p", {}, h("span", { class: "tag tag-ok", "data-outcome": acc.changed ? "accepted" : "unchanged" }, "✓ " + t(acc.changed ? "upload.accepted" : "upload.unchanged"))),
          h("p", { class: "now-sequence", "data-sequence": acc.sequence }, t("upload.nowSequence", { city: cityShort(acc.jurisdiction), seq: acc.sequence })),
          h("p", {}, t("upload.seqChange", { from: acc.previous_sequence === null ? "—" : acc.previous_sequence, to: acc.sequence })),
          h("p", {}, t("upload.nextUpdate", { t: fmtTime(acc.next_update) }), " ", countdown(acc.next_update))
        );
      } else {
        cls += " bad";
        kids.push(h("p", {}, h("span", { class: "tag tag-bad", "data-outcome": "refused" }, "✗ " + t("upload.rejected"))), problemNode(a.status, a.body));
      }
      after.className = cls;
      after.replaceChildren(...kids);
    }
  }

  // -- language, views, wiring -----------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = lang === "zh" ? "互认 · 电子证照与电子印章自助核验" : "huren · self-check of e-licences and e-seals";
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.setAttribute("placeholder", t(el.getAttribute("data-i18n-placeholder")));
    });
    document.querySelectorAll("[data-i18n-aria]").forEach((el) => {
      el.setAttribute("aria-label", t(el.getAttribute("data-i18n-aria")));
    });
    const toggle = $("#lang-toggle");
    toggle.textContent = lang === "zh" ? "English" : "中文";
    toggle.setAttribute("lang", lang === "zh" ? "en" : "zh-CN");
    toggle.setAttribute("aria-label", lang === "zh" ? "Switch to English" : "切换到中文");
    renderCitySelects();
    renderUploadFileName();
    renderItems();
    renderFontNote();
    renderFiles();
    renderFormError();
    renderResult();
    renderTrust();
  }

  function renderUploadFileName() {
    const f = $("#upload-file").files[0];
    $("#upload-file-name").textContent = f ? f.name : t("file.none");
  }

  // Without a CJK font every Chinese character is drawn as the same missing-glyph box: a CJK
  // character then renders exactly like a code point no font has (U+FFFF is a noncharacter).
  let cjkMissing = null;
  function cjkFontMissing() {
    if (cjkMissing !== null) return cjkMissing;
    const canvas = document.createElement("canvas");
    canvas.width = 40;
    canvas.height = 40;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) return (cjkMissing = false);
    ctx.font = "32px " + getComputedStyle(document.documentElement).fontFamily;
    const pixels = (ch) => {
      ctx.clearRect(0, 0, 40, 40);
      ctx.fillText(ch, 2, 34);
      return ctx.getImageData(0, 0, 40, 40).data.join(",");
    };
    cjkMissing = ["互", "认", "证"].every((ch) => pixels(ch) === pixels("\uFFFF"));
    return cjkMissing;
  }

  function renderFontNote() {
    const note = $("#font-note");
    note.hidden = !cjkFontMissing();
    // Both languages, English first: that is the one this browser can draw.
    note.replaceChildren(h("span", { lang: "en" }, "⚠ " + TEXT.en["font.missing"]), " ", h("span", { lang: "zh-CN" }, TEXT.zh["font.missing"]));
  }

  function showView() {
    const trust = location.hash === "#trust";
    $("#view-check").hidden = trust;
    $("#view-trust").hidden = !trust;
    $(trust ? "#nav-trust" : "#nav-check").setAttribute("aria-current", "page");
    $(trust ? "#nav-check" : "#nav-trust").removeAttribute("aria-current");
    if (trust) loadJurisdictions();
  }

  function wireDropzone() {
    const zone = $("#dropzone");
    const input = $("#file-input");
    input.addEventListener("change", () => {
      addFiles(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach((type) =>
      zone.addEventListener(type, (ev) => {
        ev.preventDefault();
        zone.classList.add("over");
      })
    );
    ["dragleave", "drop"].forEach((type) =>
      zone.addEventListener(type, (ev) => {
        ev.preventDefault();
        zone.classList.remove("over");
      })
    );
    zone.addEventListener("drop", (ev) => {
      if (ev.dataTransfer && ev.dataTransfer.files.length) addFiles(ev.dataTransfer.files);
    });
    // Files dropped next to the zone should not make the browser leave the page.
    window.addEventListener("dragover", (ev) => ev.preventDefault());
    window.addEventListener("drop", (ev) => ev.preventDefault());
  }

  function init() {
    const keyInput = $("#api-key");
    try {
      keyInput.value = sessionStorage.getItem(KEY_STORE) || "";
    } catch (e) {
      keyInput.value = "";
    }
    keyInput.addEventListener("input", () => {
      try {
        if (keyInput.value) sessionStorage.setItem(KEY_STORE, keyInput.value);
        else sessionStorage.removeItem(KEY_STORE);
      } catch (e) {
        /* storage refused: the key lives in the field only */
      }
    });
    $("#lang-toggle").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      try {
        localStorage.setItem(LANG_STORE, lang);
      } catch (e) {
        /* fine */
      }
      applyLanguage();
    });
    $("#check-form").addEventListener("submit", verify);
    $("#clear-btn").addEventListener("click", clearForm);
    $("#scan-camera").addEventListener("click", startCamera);
    $("#scan-stop").addEventListener("click", stopCamera);
    $("#photo-input").addEventListener("change", verifyPhoto);
    $("#token-text").addEventListener("keydown", scannerEnter);
    $("#diff-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (state.history) loadDiff(state.history.code, $("#diff-from").value, $("#diff-to").value);
    });
    $("#item-search").addEventListener("input", searchItemsSoon);
    $("#relying").addEventListener("change", () => {
      // Items belong to the city that handles them: another city forgets the choice.
      if (state.item && state.item.relying === $("#relying").value) return;
      state.item = null;
      state.itemResults = null;
      $("#item-search").value = "";
      renderItems();
    });
    $("#upload-check").addEventListener("click", uploadCheck);
    $("#upload-file").addEventListener("change", renderUploadFileName);
    $("#upload-form").addEventListener("submit", uploadSubmit);
    wireDropzone();
    window.addEventListener("hashchange", showView);
    setInterval(() => document.querySelectorAll(".countdown[data-deadline]").forEach(updateCountdown), 1000);
    applyLanguage();
    showView();
    loadJurisdictions();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
