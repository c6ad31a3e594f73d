#!/usr/bin/env python3
"""Writes the mail fixtures in this folder, byte for byte as the named clients send them.

The bytes are built by hand (not with email.generator) so that every header, charset label
and transfer encoding is exactly what an old Japanese mailer, Outlook, Thunderbird or an
iPhone puts on the wire; CRLF line ends throughout. Run from anywhere:
    python3 tests/data/mail/make_fixtures.py
The output is deterministic; the tests assert on the decoded text, not on these bytes.
"""

import base64
import hashlib
import os
import quopri

HERE = os.path.dirname(os.path.abspath(__file__))


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def sjis_pair_to_jis(c1: int, c2: int) -> bytes:
    """One Shift_JIS (CP932) double-byte character as its 7-bit JIS row/cell pair."""
    if c1 >= 0xE0:
        c1 -= 0x40
    row = (c1 - 0x81) * 2
    if c2 >= 0x9F:
        row += 1
        cell = c2 - 0x9F
    else:
        cell = c2 - 0x40 - (1 if c2 >= 0x80 else 0)
    return bytes([row + 0x21, cell + 0x21])


def iso2022jp(text: str) -> bytes:
    """ISO-2022-JP as Outlook and iPhone write it: CP932 repertoire (①, ㈱, №, 髙 included)
    mapped onto JIS rows, ESC $ B into kanji, ESC ( B back to ASCII before every line end."""
    sj = text.encode("cp932")
    out = bytearray()
    kanji = False
    i = 0
    while i < len(sj):
        b = sj[i]
        if b < 0x80:
            if kanji:
                out += b"\x1b(B"
                kanji = False
            out.append(b)
            i += 1
        else:
            if not kanji:
                out += b"\x1b$B"
                kanji = True
            out += sjis_pair_to_jis(b, sj[i + 1])
            i += 2
    if kanji:
        out += b"\x1b(B"
    return bytes(out)


def b_word(charset: str, raw: bytes) -> str:
    return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="


def b64_lines(data: bytes) -> str:
    enc = base64.b64encode(data).decode()
    return "\n".join(enc[i : i + 76] for i in range(0, len(enc), 76)) + "\n"


def qp(data: bytes) -> str:
    return quopri.encodestring(data).decode().replace("\r\n", "\n")


def write(name: str, head: str, body: bytes) -> None:
    """`head` is ASCII text with \\n line ends; `body` is bytes whose \\n become CRLF."""
    data = crlf(head).encode("ascii") + b"\r\n" + body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def write_raw(name: str, data: bytes) -> None:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# --- ISO-2022-JP with the Windows extensions, Outlook style --------------------------------
ISO_BODY = """センターのご担当者様

はじめてご連絡します。佐藤と申します。
①息子（２３歳）が３年ほど家から出ていません。
②以前は㈱サッポロ物産に勤めていました。
③№１の窓口はこちらでよいでしょうか～
髙橋先生にも以前お世話になりました。

よろしくお願いいたします。
"""
write(
    "iso2022jp-extensions.eml",
    f"""Return-Path: <Hanako.Sato@Example.NE.JP>
Received: from mx.example.ne.jp (mx.example.ne.jp [192.0.2.10])
\tby mail.example.org (Postfix) with ESMTP id 4ABCD1234
\tfor <soudan@example.org>; Mon,  2 Jun 2025 10:15:03 +0900 (JST)
Date: Mon, 2 Jun 2025 10:15:00 +0900
From: {b_word("ISO-2022-JP", iso2022jp("佐藤花子"))} <Hanako.Sato@Example.NE.JP>
To: soudan@example.org
Subject: {b_word("ISO-2022-JP", iso2022jp("面談の予約について①"))}
 {b_word("ISO-2022-JP", iso2022jp("㈱サッポロ№3"))}
Message-ID: <20250602101500.A1B2C3@example.ne.jp>
MIME-Version: 1.0
Content-Type: text/plain;
\tcharset="iso-2022-jp"
Content-Transfer-Encoding: 7bit
X-Mailer: Microsoft Outlook 16.0
""",
    iso2022jp(ISO_BODY),
)

# --- Shift_JIS (CP932) in 8bit, an old Windows mailer ---------------------------------------
SJIS_BODY = """髙橋と申します。
毎日１０時～１５時は家にいます。
電話番号：０１１－２３４－５６７８
①について　ご相談させてください。
"""
write(
    "shift_jis-cp932.eml",
    f"""Date: Tue, 3 Jun 2025 09:00:00 +0900
From: {b_word("Shift_JIS", "髙橋一郎".encode("cp932"))} <takahashi@example.co.jp>
To: soudan@example.org
Subject: {b_word("Shift_JIS", "髙橋です～ご相談".encode("cp932"))}
Message-Id: <200506030900.AA00042@pc01.example.co.jp>
MIME-Version: 1.0
Content-Type: text/plain; charset=Shift_JIS
Content-Transfer-Encoding: 8bit
X-Mailer: Becky! ver. 2.75.04 [ja]
""",
    SJIS_BODY.encode("cp932"),
)

# --- UTF-8, 8bit body, raw UTF-8 display name (RFC 6532) and a Q-encoded subject -----------
write(
    "utf8-8bit.eml",
    "Date: Wed, 4 Jun 2025 12:00:00 +0900\n"
    "From: =?UTF-8?Q?=E5=B1=B1=E7=94=B0_=E5=A4=AA=E9=83=8E?= <taro@example.com>\n"
    "To: soudan@example.org\n"
    "Subject: =?UTF-8?Q?Hello_=E3=81=93=E3=82=93=E3=81=AB=E3=81=A1=E3=81=AF?=\n"
    "Message-ID: <utf8-8bit-0001@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n",
    "こんにちは。相談したいことがあります🙏\n波ダッシュ〜と全角チルダ～は別の文字です。\n".encode(),
)

# --- UTF-8 in base64, Android Gmail style, subject split into two whole-character words ---
write(
    "utf8-base64.eml",
    "MIME-Version: 1.0\n"
    "Date: Wed, 4 Jun 2025 13:30:00 +0900\n"
    "Message-ID: <CAF+abc123=xyz@mail.gmail.com>\n"
    "Subject: " + b_word("UTF-8", "息子のことで".encode()) + "\n"
    " " + b_word("UTF-8", "相談です".encode()) + "\n"
    "From: " + b_word("UTF-8", "田中 恵".encode()) + " <megumi.tanaka@gmail.example>\n"
    "To: soudan@example.org\n"
    'Content-Type: text/plain; charset="UTF-8"\n'
    "Content-Transfer-Encoding: base64\n",
    b64_lines(crlf("はじめまして。\n息子が部屋から出てきません。\n\n田中\n").encode()).encode(),
)

# --- UTF-8 in quoted-printable with soft breaks inside a multi-byte character --------------
QP_TEXT = "夜になると不安で眠れません。話を聞いてもらえますか？ 1+1=2 のような簡単なこともできない日があります。\n"
write(
    "utf8-qp.eml",
    "Date: Thu, 5 Jun 2025 23:45:00 +0900\n"
    "From: yuki@example.net\n"
    "To: soudan@example.org\n"
    "Subject: =?utf-8?Q?=E7=9C=A0=E3=82=8C=E3=81=BE=E3=81=9B=E3=82=93?=\n"
    "Message-ID: <qp.20250605234500@example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n",
    qp(QP_TEXT.encode()).encode(),
)

# --- RFC 2231 filenames, Thunderbird style (single and continued) --------------------------
MEMO = "1. 朝起きられない\n2. 夜眠れない\n".replace("\n", "\r\n").encode()
PDF = b"%PDF-1.4\n% tiny\n%%EOF\n"
write(
    "rfc2231-filename.eml",
    """Message-ID: <b3c1f0aa-1c2d-4e5f-8a9b-0c1d2e3f4a5b@example.org.invalid>
Date: Fri, 6 Jun 2025 08:00:00 +0900
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
From: Kenji <kenji@example.org.invalid>
To: soudan@example.org
Subject: =?UTF-8?B?44Oh44Oi44KS5re75LuY44GX44G+44GZ?=
Content-Type: multipart/mixed; boundary="------------0fQx9Z3abc"
""",
    (
        """This is a multi-part message in MIME format.
--------------0fQx9Z3abc
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

メモを添付します。

--------------0fQx9Z3abc
Content-Type: text/plain; charset=UTF-8; name="=?UTF-8?B?55u46KuH44Oh44OiLnR4dA==?="
Content-Disposition: attachment;
 filename*=UTF-8''%E7%9B%B8%E8%AB%87%E3%83%A1%E3%83%A2.txt
Content-Transfer-Encoding: base64

"""
        + b64_lines(MEMO)
        + """
--------------0fQx9Z3abc
Content-Type: application/pdf
Content-Disposition: attachment;
 filename*0*=UTF-8''%E5%AE%B6%E6%97%8F%E3%81%AE;
 filename*1*=%E6%A7%98%E5%AD%90.pdf
Content-Transfer-Encoding: base64

"""
        + b64_lines(PDF)
        + """
--------------0fQx9Z3abc--
"""
    ).encode(),
)

# --- RFC 2047 filenames, Outlook / Japanese mailer style -----------------------------------
JPEG = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(range(32)) + bytes([0xFF, 0xD9])
write(
    "rfc2047-filename.eml",
    f"""From: {b_word("ISO-2022-JP", iso2022jp("佐藤"))} <hanako.sato@example.ne.jp>
To: <soudan@example.org>
Subject: {b_word("ISO-2022-JP", iso2022jp("診断書の送付"))}
Date: Sat, 7 Jun 2025 10:00:00 +0900
Message-ID: <000001dbd1a2$3b4c5d60$b2e51820$@example.ne.jp>
MIME-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="----=_NextPart_000_0001_01DBD1A2.3B4C5D60"
X-Mailer: Microsoft Outlook 16.0
""",
    (
        b"This is a multipart message in MIME format.\n\n"
        b"------=_NextPart_000_0001_01DBD1A2.3B4C5D60\n"
        b'Content-Type: text/plain;\n\tcharset="iso-2022-jp"\n'
        b"Content-Transfer-Encoding: 7bit\n\n"
        + iso2022jp("診断書を送ります。\n写真も付けます。\n")
        + b"\n------=_NextPart_000_0001_01DBD1A2.3B4C5D60\n"
        + f'Content-Type: application/pdf;\n\tname="{b_word("iso-2022-jp", iso2022jp("診断書（写し）.pdf"))}"\n'.encode()
        + b"Content-Transfer-Encoding: base64\n"
        + f'Content-Disposition: attachment;\n\tfilename="{b_word("iso-2022-jp", iso2022jp("診断書（写し）.pdf"))}"\n\n'.encode()
        + b64_lines(PDF).encode()
        + b"\n------=_NextPart_000_0001_01DBD1A2.3B4C5D60\n"
        + f'Content-Type: image/jpeg;\n\tname="{b_word("Shift_JIS", "写真１.jpg".encode("cp932"))}"\n'.encode()
        + b"Content-Transfer-Encoding: base64\n\n"
        + b64_lines(JPEG).encode()
        + b"\n------=_NextPart_000_0001_01DBD1A2.3B4C5D60--\n"
    ),
)

# --- HTML only, with head, style, script, comment and entities -----------------------------
HTML = """<html><head><meta charset="utf-8"><title>件名</title>
<style type="text/css">p { color: red; } .x > a { margin: 0 }</style></head>
<body><script type="text/javascript">if (a < b && c > d) { alert("x"); }</script>
<p>ご担当者様</p><p>Q&amp;Aを読みました。<br>5 &lt; 10 &gt; 3、&quot;ok&quot;&nbsp;です&#x3002;</p>
<div>よろしく<br/>お願いします</div>
<!-- a comment <p>hidden</p> -->
<div><br></div>
<div>山田&#12288;&copy;&yen;</div>
</body></html>
"""
write(
    "html-only.eml",
    "From: Yamada <yamada@example.com>\n"
    "To: soudan@example.org\n"
    "Subject: HTML only\n"
    "Date: Sun, 8 Jun 2025 11:00:00 +0900\n"
    "Message-ID: <html-only-1@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n",
    qp(HTML.encode()).encode(),
)

# --- An old mailer: no MIME at all, raw JIS in the body, the Subject and the From name -----
write_raw(
    "unlabelled-iso2022jp.eml",
    b"From: " + iso2022jp("鈴木") + b" <suzuki@example.ne.jp>\r\n"
    b"To: soudan@example.org\r\n"
    b"Subject: " + iso2022jp("外に出られません") + b"\r\n"
    b"Date: Mon, 9 Jun 2025 07:30:00 +0900\r\n"
    b"Message-Id: <199901010000.AA00001@old.example.ne.jp>\r\n"
    b"\r\n"
    + iso2022jp("鈴木です。\n長い間、外に出られません。\n").replace(b"\n", b"\r\n"),
)

# --- No Message-ID (a web form script) ----------------------------------------------------
write(
    "no-message-id.eml",
    "From: form@example.jp\n"
    "To: soudan@example.org\n"
    "Subject: contact\n"
    "Date: Mon, 9 Jun 2025 08:00:00 +0900\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n",
    "お問い合わせがありました。\n".encode(),
)

# --- An Outlook out-of-office answer to our acknowledgement --------------------------------
write(
    "auto-replied.eml",
    f"""From: {b_word("iso-2022-jp", iso2022jp("伊藤"))} <ito@example.co.jp>
To: soudan@example.org
Subject: {b_word("iso-2022-jp", iso2022jp("自動応答: 相談受付のお知らせ"))}
Date: Mon, 9 Jun 2025 09:00:00 +0900
Message-ID: <oof-20250609@example.co.jp>
In-Reply-To: <ack-8f3a2c91@soudan.example.org>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-2022-jp"
Content-Transfer-Encoding: 7bit
""",
    iso2022jp("不在です。6月16日に戻ります。\n"),
)

# --- A mailing list post ------------------------------------------------------------------
write(
    "list.eml",
    "From: news@lists.example.jp\n"
    "To: shimin@lists.example.jp\n"
    "Subject: [shimin:0123] =?UTF-8?B?5LuK6YCx44Gu44GK55+l44KJ44Gb?=\n"
    "Date: Mon, 9 Jun 2025 10:00:00 +0900\n"
    "Message-ID: <list-0123@lists.example.jp>\n"
    "List-Id: =?UTF-8?B?5biC5rCR44ON44OD44OI?= <shimin.lists.example.jp>\n"
    "List-Unsubscribe: <mailto:shimin-request@lists.example.jp?subject=unsubscribe>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n",
    "今週のお知らせです。\n".encode(),
)

# --- A bulk newsletter, multipart/alternative (text/plain must win) ------------------------
write(
    "bulk.eml",
    "From: Newsletter <info@shop.example.com>\n"
    "To: soudan@example.org\n"
    "Subject: =?UTF-8?B?44K744O844Or44Gu44GK55+l44KJ44Gb?=\n"
    "Date: Mon, 9 Jun 2025 11:00:00 +0900\n"
    "Message-ID: <bulk-77@shop.example.com>\n"
    "Precedence: bulk\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="alt-77"\n',
    (
        "--alt-77\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "セール開催中です。\n"
        "詳細はウェブで。\n"
        "--alt-77\n"
        "Content-Type: text/html; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "<p>HTMLのセール開催中です。</p>\n"
        "--alt-77--\n"
    ).encode(),
)

# --- A Postfix bounce for one of our staff replies ----------------------------------------
write(
    "dsn.eml",
    """Return-Path: <>
Received: by mail.example.org (Postfix)
\tid 5B6C7D8E9F; Mon,  9 Jun 2025 10:50:00 +0900 (JST)
Date: Mon,  9 Jun 2025 10:50:00 +0900 (JST)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: soudan@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="5B6C7D8E9F.1749433800/mail.example.org"
Content-Transfer-Encoding: 7bit
Message-Id: <20250609015000.5B6C7D8E9F@mail.example.org>
""",
    b"""This is a MIME-encapsulated message.

--5B6C7D8E9F.1749433800/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<taro@example.jp>: host mx.example.jp[192.0.2.25] said: 550 5.1.1
    <taro@example.jp>: Recipient address rejected: User unknown

--5B6C7D8E9F.1749433800/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 5B6C7D8E9F
X-Postfix-Sender: rfc822; soudan@example.org
Arrival-Date: Mon,  9 Jun 2025 10:49:58 +0900 (JST)

Final-Recipient: rfc822; taro@example.jp
Original-Recipient: rfc822;taro@example.jp
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.jp
Diagnostic-Code: smtp; 550 5.1.1 <taro@example.jp>: Recipient address rejected:
    User unknown

--5B6C7D8E9F.1749433800/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <soudan@example.org>
From: soudan@example.org
To: taro@example.jp
Subject: =?UTF-8?B?UmU6IOmdouirh+OBruS6iOe0hA==?= [#K7QM-4WXZ]
Message-ID: <reply-5f2e9c1a@soudan.example.org>
Date: Mon, 09 Jun 2025 01:49:57 +0000

--5B6C7D8E9F.1749433800/mail.example.org--
""",
)

# --- An iPhone reply with our reference tag, In-Reply-To and a quote -----------------------
IPHONE_TEXT = """ご返信ありがとうございます。
来週の火曜日でお願いします。

iPhoneから送信

> 2025/06/03 18:30、札幌市ひきこもり地域支援センター <soudan@example.org>のメール:
> 
> 佐藤様
> ご連絡ありがとうございます。
"""
IPHONE_HTML = """<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto">ご返信ありがとうございます。<div>来週の火曜日でお願いします。<br><br><div dir="ltr">iPhoneから送信</div></div></body></html>
"""
write(
    "iphone-reply.eml",
    "Content-Type: multipart/alternative; boundary=Apple-Mail-6C1E1B0F-2D3A-4B5C\n"
    "Content-Transfer-Encoding: 7bit\n"
    "From: " + b_word("utf-8", "佐藤花子".encode()) + " <hanako.sato@example.ne.jp>\n"
    "Mime-Version: 1.0 (1.0)\n"
    "Date: Tue, 10 Jun 2025 21:04:11 +0900\n"
    "Subject: " + b_word("utf-8", "Re: 面談の予約について [#K7QM-4WXZ]".encode()) + "\n"
    "Message-Id: <6C1E1B0F-2D3A-4B5C-9D8E-7F6A5B4C3D2E@example.ne.jp>\n"
    "References: <20250602101500.A1B2C3@example.ne.jp>\n"
    " <ack-8f3a2c91@soudan.example.org> <reply-5f2e9c1a@soudan.example.org>\n"
    "In-Reply-To: <reply-5f2e9c1a@soudan.example.org>\n"
    "To: soudan@example.org\n"
    "X-Mailer: iPhone Mail (22E240)\n",
    (
        "\n--Apple-Mail-6C1E1B0F-2D3A-4B5C\n"
        "Content-Type: text/plain;\n\tcharset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        + qp(IPHONE_TEXT.encode())
        + "--Apple-Mail-6C1E1B0F-2D3A-4B5C\n"
        "Content-Type: text/html;\n\tcharset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        + qp(IPHONE_HTML.encode())
        + "--Apple-Mail-6C1E1B0F-2D3A-4B5C--\n"
    ).encode(),
)

# --- Attachments against the size limit: 600, 3000 and 300 bytes ---------------------------
def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) % 256 for i in range(n))


write(
    "big-attachment.eml",
    "From: kenji@example.org.invalid\n"
    "To: soudan@example.org\n"
    "Subject: photos\n"
    "Date: Tue, 10 Jun 2025 12:00:00 +0900\n"
    "Message-ID: <big-1@example.org.invalid>\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="mix-big"\n',
    (
        "--mix-big\n"
        "Content-Type: text/plain; charset=UTF-8\n\n"
        "写真と動画です。\n"
        "--mix-big\n"
        'Content-Type: image/jpeg; name="photo1.jpg"\n'
        'Content-Disposition: attachment; filename="photo1.jpg"\n'
        "Content-Transfer-Encoding: base64\n\n" + b64_lines(pattern(600, 1)) + "--mix-big\n"
        'Content-Type: video/mp4; name="video.mp4"\n'
        'Content-Disposition: attachment; filename="video.mp4"\n'
        "Content-Transfer-Encoding: base64\n\n" + b64_lines(pattern(3000, 2)) + "--mix-big\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        'Content-Disposition: attachment; filename="memo.txt"\n'
        "Content-Transfer-Encoding: base64\n\n" + b64_lines(pattern(300, 3)) + "--mix-big--\n"
    ).encode(),
)

# --- Binary garbage with no headers -------------------------------------------------------
junk = bytearray(b"\x00\x89PNG\x1a\x00")
seed = b"madoguchi"
while len(junk) < 512:
    seed = hashlib.sha256(seed).digest()
    junk += seed
write_raw("garbage.bin", bytes(junk[:512]))
