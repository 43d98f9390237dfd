"""What an incoming e-mail says: sender, subject, the Message-IDs it answers, its text
and its attachments, read with the email package (policy=email.policy.default).

Nothing here touches the database; controller.desk.mail_in decides what the desk does.
Malformed mail is the norm rather than the exception, so every reading falls back to
something usable instead of raising.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser

TAG = re.compile(r"\[#(\d{1,18})\]")
# Reply and forward prefixes in the languages mail clients commonly use, with Re[2]: too.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|tr|antw|rif|enc)(?:\[\d+\])?\s*:\s*)+", re.I
)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,296}>")
MESSAGE_ID_MAX = 300  # mail_threads.message_id
MAX_REFERENCES = 50
TITLE_MAX = 300
TEXT_MAX = 100_000
NO_SUBJECT = "(no subject)"
# "On Mon, 1 Jan 2024, Jane <jane@example.com> wrote:" and its common translations.
_ATTRIBUTION = re.compile(
    r"^\s*(on|am|le|el|il|op|em)\b.{0,300}\b(wrote|schrieb|a écrit|escribió|ha scritto|"
    r"schreef|escreveu)\s*:\s*$",
    re.I,
)
_SEPARATOR = re.compile(r"^\s*(-{2,}\s*original message\s*-{2,}|_{20,})\s*$", re.I)
_FILENAME_OK = frozenset(" ._-()+,@=[]")


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender_name: str
    sender_email: str
    subject: str
    # The Message-IDs the mail answers, the most telling first: In-Reply-To, then
    # References from the newest back.
    references: list[str]
    text: str
    attachments: list[Part] = field(default_factory=list)
    # An auto-reply, a bounce or another machine's mail: answering it could loop.
    automatic: bool = False

    @property
    def tag(self) -> int | None:
        """The ticket number of a [#N] in the subject."""
        match = TAG.search(self.subject)
        return int(match.group(1)) if match else None


def parse(raw: bytes, envelope_from: str | None = None) -> Mail:
    """envelope_from: the SMTP MAIL FROM ("" for a bounce's null sender; None: unknown)."""
    msg = message_from_bytes(raw, policy=policy.default)
    name, address = parseaddr(_header(msg, "From"))
    if "@" not in address:
        name, address = name or address, envelope_from or ""
    body = _body_part(msg)
    text = ""
    if body is not None:
        text = _text_of(body)
        if body.get_content_type() == "text/html":
            text = html_to_text(text)
    return Mail(
        message_id=_message_id(msg, raw),
        sender_name=name.strip(),
        sender_email=address.strip() if _plausible_address(address) else "",
        subject=_header(msg, "Subject"),
        references=_references(msg),
        text=text.replace("\r\n", "\n").strip()[:TEXT_MAX],
        attachments=list(_attachments(msg, body)),
        automatic=_automatic(msg, envelope_from, address),
    )


def clean_subject(subject: str) -> str:
    """The ticket title a subject makes: no Re:/Fwd: prefixes, no [#N] tags."""
    title = " ".join(TAG.sub(" ", subject).split())
    while True:
        stripped = _PREFIX.sub("", title).strip()
        if stripped == title:
            break
        title = stripped
    return title[:TITLE_MAX] or NO_SUBJECT


def strip_quoted(text: str) -> str:
    """A reply without what it quotes: lines starting with ">", and everything from an
    "On ... wrote:" line (one or two lines long) or an "Original Message" separator on."""
    lines = text.splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _SEPARATOR.match(line) or _ATTRIBUTION.match(line):
            break
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following and _ATTRIBUTION.match(f"{line} {following}") and not line.endswith(":"):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def sanitise_filename(name: str, content_type: str, index: int) -> str:
    """A file name that is safe to show and to save: no path, no control characters, no
    leading dots, at most 255 characters (the extension kept)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c if c.isalnum() or c in _FILENAME_OK else "_" for c in name)
    name = " ".join(name.split()).strip(" .")
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{index}{extension}"
    if len(name) > 255:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 16:
            name = f"{stem[: 254 - len(extension)]}.{extension}"
        else:
            name = name[:255]
    return name


class _TextOfHtml(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "table", "blockquote", "pre", "hr", "h1", "h2", "h3"}
        | {"h4", "h5", "h6", "ul", "ol"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Crude but readable: the text, a line break per block, no scripts or styles."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _header(msg: EmailMessage, name: str) -> str:
    """The decoded header on one line; "" when absent or too broken to parse."""
    try:
        value = msg.get(name)
    except Exception:  # the header parser has failed on malformed input before
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _plausible_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(local and at and domain) and len(address) <= 254 and address.isprintable()


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    """The Message-ID, or one made from the content (so a resent copy is still known)."""
    match = _MESSAGE_ID.search(_header(msg, "Message-ID"))
    if match:
        return match.group(0)
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@intake.deskside>"


def _references(msg: EmailMessage) -> list[str]:
    answered = _MESSAGE_ID.findall(_header(msg, "In-Reply-To"))
    answered += reversed(_MESSAGE_ID.findall(_header(msg, "References")))
    return [m for m in dict.fromkeys(answered) if len(m) <= MESSAGE_ID_MAX][:MAX_REFERENCES]


def _automatic(msg: EmailMessage, envelope_from: str | None, address: str) -> bool:
    """RFC 3834 auto-replies, bounces (null sender, delivery reports), bulk mail."""
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    return (
        (bool(auto_submitted) and auto_submitted != "no")
        or envelope_from == ""
        or _header(msg, "Precedence").lower() in ("bulk", "junk", "auto_reply")
        or bool(_header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"))
        or msg.get_content_type() == "multipart/report"
        or address.lower().startswith("mailer-daemon@")
    )


def _body_part(msg: EmailMessage) -> EmailMessage | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))  # type: ignore[return-value]
    except Exception:  # a structure too broken to walk: no text, the ticket still opens
        return None


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):  # unknown charset etc.
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    if part.get_content_maintype() == "multipart":
        for sub in part.iter_parts():
            yield from _leaves(sub)  # type: ignore[arg-type]
    else:
        yield part


def _content_of(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    try:
        content = part.get_content()  # message/rfc822: a forwarded mail, kept whole
    except Exception:
        return b""
    if isinstance(content, EmailMessage):
        return content.as_bytes()
    return content.encode() if isinstance(content, str) else b""


def _attachments(msg: EmailMessage, body: EmailMessage | None) -> Iterator[Part]:
    for index, part in enumerate(_leaves(msg), start=1):
        if part is body:
            continue
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
        if part.get_content_disposition() != "attachment" and not filename:
            continue  # an alternative body or a footer: not a file someone attached
        content_type = part.get_content_type()[:100]
        yield Part(
            sanitise_filename(filename, content_type, index), content_type, _content_of(part)
        )
