"""The Japanese text pipeline every part of madoguchi uses.

Steps: careful NFKC normalisation, e-mail clean-up (HTML, quoted replies, signatures), fugashi +
unidic-lite tokens with lemma and part of speech, a content-word filter, and language detection.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import version

import fugashi
from bs4 import BeautifulSoup
from lingua import Language, LanguageDetectorBuilder

# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

# Plain NFKC turns these into something else: a fullwidth tilde used as a range mark would become
# "~", an ellipsis "...", a lone dakuten a space plus a combining mark. Japanese text keeps them.
_KEPT_AS_IS = {"〜": "〜", "～": "〜", "…": "…", "‥": "‥", "゛": "゛", "゜": "゜"}
_VARIATION_SELECTOR_EMOJI = "\ufe0f"
# Characters NFKC would flatten but which are emoji here (🈁 -> ココ, ℹ️ -> i).
_ENCLOSED_EMOJI = re.compile(r"[\U0001F100-\U0001F2FF]")
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u00ad]")
_DASHES_BETWEEN_DIGITS = re.compile(r"(?<=\d)[‐‑‒–—―−ｰーｰ－﹣](?=\d)")
_SPACES = re.compile(r"[ \t\u00a0]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def _is_protected(text: str, index: int) -> bool:
    char = text[index]
    if char in _KEPT_AS_IS or _ENCLOSED_EMOJI.match(char):
        return True
    followed_by_selector = index + 1 < len(text) and text[index + 1] == _VARIATION_SELECTOR_EMOJI
    return followed_by_selector


def normalize(text: str) -> str:
    """NFKC with care: 半角カナ -> 全角, full-width ASCII and digits -> half-width, while 〜, ー,
    …, and emoji survive. Also unifies line ends, drops invisible characters, turns dashes
    between digits (03ー1234ー5678) into '-', and collapses runs of spaces. Idempotent."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    pieces: list[str] = []
    run_start = 0
    for index in range(len(text)):
        if _is_protected(text, index):
            pieces.append(unicodedata.normalize("NFKC", text[run_start:index]))
            pieces.append(_KEPT_AS_IS.get(text[index], text[index]))
            run_start = index + 1
    pieces.append(unicodedata.normalize("NFKC", text[run_start:]))
    text = "".join(pieces)
    text = _DASHES_BETWEEN_DIGITS.sub("-", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# ---------------------------------------------------------------------------------------------
# E-mail clean-up
# ---------------------------------------------------------------------------------------------

_HTML_HINT = re.compile(r"<\s*(html|body|div|p|br|table|span|blockquote)\b[^>]*>", re.IGNORECASE)
_HTML_BLOCKS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
_HTML_QUOTE_CLASSES = re.compile(r"gmail_quote|moz-cite|yahoo_quoted|OutlookMessageHeader")
_HTML_QUOTE_IDS = re.compile(r"appendonsend|divRplyFwdMsg|mail-editor-reference-message")

_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(original message|forwarded message|元のメッセージ|転送されたメッセージ"
    r"|転送メッセージ|オリジナルメッセージ)\s*-{2,}$",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^(from|sent|date|to|cc|subject|差出人|送信者|送信日時|日付|日時|宛先|件名)\s*:", re.IGNORECASE
)
_HEADER_START = re.compile(r"^(from|差出人|送信者)\s*:", re.IGNORECASE)
_REPLY_INTRO = re.compile(
    r"^(on\s.{4,200}wrote:|.{0,80}\d{1,2}:\d{2}.{0,120}(wrote|書きました|のメッセージ)?\s*[:：]"
    r"|.{0,120}(さんは書きました|wrote)\s*[:：])$",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(
    r"\d{4}[/年-]\s?\d{1,2}[/月-]\s?\d{1,2}|\b(mon|tue|wed|thu|fri|sat|sun)\b", re.IGNORECASE
)
_RULE_CHARS = r"\-=_*~#+.・◆◇■□★☆━─―‐＝〜"
_SEPARATOR = re.compile(
    rf"^[{_RULE_CHARS}\s]{{2,}}$|^[{_RULE_CHARS}]{{3,}}.{{0,40}}[{_RULE_CHARS}]{{3,}}$"
)
_SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_FOOTER = re.compile(
    r"^(sent from my \w+|get outlook for \w+|iphoneから送信|android\s*で.*送信|.*から送信$"
    r"|outlook for (ios|android)\s*を入手)",
    re.IGNORECASE,
)
_CONTACT_CUES = re.compile(
    r"(tel|fax|phone|mobile|携帯|電話|内線|〒|e-?mail|mail\s*[:：]|https?://|www\.|@[\w-]+\.\w"
    r"|株式会社|有限会社|合同会社|\(株\)|\(有\)|法人|事務所|病院|クリニック|大学|学校|役所|役場"
    r"|組合|\b(inc|ltd|llc|corp|gmbh|k\.k|g\.k)\b\.?|\d{2,4}-\d{2,4}-\d{3,4}|\+\d{1,3} \d)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[。!?！？]|(ます|ません|ください|でした|です|した)[)」』]?$")
_FORM_FIELD = re.compile(r"^【[^】]{1,12}】")
_CLOSING_PHRASE = re.compile(r"よろしく|宜しく|以上|お願い|regards|thanks|thank you", re.IGNORECASE)


@dataclass
class CleanedEmail:
    """What is left of a message once it is only the sender's own words, and what was taken out."""

    text: str
    removed: list[tuple[str, str]] = field(default_factory=list)  # (kind, removed text)


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Visible text of an HTML mail, one line per block, and the quoted earlier messages
    (blockquote, Gmail / Outlook / Thunderbird quote containers) taken out of it."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup(["script", "style", "head", "title"]):
        element.decompose()
    quoted = soup.find_all("blockquote")
    quoted += soup.find_all(class_=_HTML_QUOTE_CLASSES)
    quoted += soup.find_all(id=_HTML_QUOTE_IDS)
    outermost = [element for element in quoted if not any(p in quoted for p in element.parents)]
    removed = []
    for element in outermost:
        removed.append(element.get_text(" ", strip=True))
        element.decompose()
    # Line breaks in HTML source are plain whitespace; only <br> and blocks break lines.
    for node in soup.find_all(string=True):
        if not node.find_parent("pre"):
            node.replace_with(re.sub(r"\s+", " ", node))
    for line_break in soup.find_all("br"):
        line_break.replace_with("\n")
    for block in soup.find_all(_HTML_BLOCKS):
        block.append("\n")
    return soup.get_text(), [text for text in removed if text]


def looks_like_html(text: str) -> bool:
    return len(_HTML_HINT.findall(text)) >= 2


def _is_quoted(line: str) -> bool:
    return line.startswith(">")


def _find_earlier_message(lines: list[str]) -> int | None:
    """Index of the first line that starts an earlier message pasted below the reply (Outlook's
    From:/Sent: block, "-----Original Message-----"). "> " quotes are handled line by line, so
    that answers written between quoted lines survive."""
    for index, line in enumerate(lines):
        if _ORIGINAL_MESSAGE.match(line):
            return index
        if _HEADER_START.match(line):
            following = lines[index + 1 : index + 6]
            if sum(bool(_HEADER_FIELD.match(nearby)) for nearby in following) >= 2:
                return index
        outlook_rule = set(line) == {"_"} and len(line) >= 10
        if outlook_rule and index + 1 < len(lines) and _HEADER_START.match(lines[index + 1]):
            return index
    return None


def _is_signature_line(line: str) -> bool:
    """Could this line belong to a signature? Sentences, web-form fields (【環境】…) and long lines
    are the customer's content, even when they hold a phone number or an address."""
    if _SENTENCE_END.search(line) or _FORM_FIELD.match(line) or len(line) > 60:
        return False
    if _CONTACT_CUES.search(line):
        return True
    return len(line) <= 30 and not _CLOSING_PHRASE.search(line)


def _find_signature(lines: list[str]) -> int | None:
    """Index where a trailing signature block starts, if the end of the message is one."""
    for index, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line) and index > 0:
            return index
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and lines[start - 1].strip() and _is_signature_line(lines[start - 1]):
        start -= 1
    block = lines[start:end]
    if start > 0 and _SEPARATOR.match(lines[start - 1]):
        start -= 1
    elif start > 1 and not lines[start - 1].strip() and _SEPARATOR.match(lines[start - 2]):
        start -= 2
    contact_lines = sum(bool(_CONTACT_CUES.search(line)) for line in block)
    above = lines[start - 1] if start > 0 else ""
    framed = 0 < start < end and (
        _SEPARATOR.match(lines[start]) or not above.strip() or _CLOSING_PHRASE.search(above)
    )
    # A name with one contact line under a blank line, a rule or "Regards," is a signature;
    # without that frame it takes two contact lines.
    needed_contacts = 1 if framed and len(block) >= 2 else 2
    if not block or len(block) > 14 or contact_lines < needed_contacts:
        return None
    if not any(line.strip() for line in lines[:start]):
        return None
    return start


def clean_email(text: str, html: bool | None = None) -> CleanedEmail:
    """The customer's own words from a mail: HTML to text, quoted earlier messages, mobile
    footers and the signature block removed. What was removed is returned beside the text.
    Nothing is removed if it would leave the message empty."""
    removed: list[tuple[str, str]] = []
    if html or (html is None and looks_like_html(text)):
        text, html_quotes = html_to_text(text)
        removed += [("quoted_reply", normalize(quote)) for quote in html_quotes]
    lines = normalize(text).split("\n")

    earlier = _find_earlier_message(lines)
    if earlier is not None and any(line.strip() for line in lines[:earlier]):
        removed.append(("earlier_message", "\n".join(lines[earlier:])))
        lines = lines[:earlier]

    quoted = [line for line in lines if _is_quoted(line)]
    if quoted and len(quoted) < len([line for line in lines if line.strip()]):
        removed.append(("quoted_reply", "\n".join(quoted)))
        lines = _drop_quotes_and_their_intro(lines)

    footers = [line for line in lines if _MOBILE_FOOTER.match(line)]
    if footers:
        removed.append(("mobile_footer", "\n".join(footers)))
        lines = [line for line in lines if not _MOBILE_FOOTER.match(line)]

    signature = _find_signature(lines)
    if signature is not None:
        removed.append(("signature", "\n".join(lines[signature:]).strip()))
        lines = lines[:signature]

    cleaned = _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return CleanedEmail(text=cleaned, removed=removed)


def _drop_quotes_and_their_intro(lines: list[str]) -> list[str]:
    kept: list[str] = []
    for line in lines:
        if _is_quoted(line):
            while kept and not kept[-1].strip():
                kept.pop()
            if kept and _REPLY_INTRO.match(kept[-1]) and _DATE_LIKE.search(kept[-1]):
                kept.pop()
            kept.append("")
            continue
        kept.append(line)
    return kept


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------

_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞"}
# Light verbs and formal nouns carry grammar, not topic.
_STOP_LEMMAS = set(
    "為る 出来る 居る 成る 有る 在る 仕舞う 呉れる 貰う 下さる 頂く 致す 御座る 申す 言う 思う 来る"
    " 行く 置く 見る 事 物 為 様 所 方 時 よう こと もの ため ところ とき いつも 少し ちょっと よく"
    " まだ もう 又 とても 大変 宜しい 良い 無い なる する ある いる できる お世話 世話 何卒 何 其れ"
    " 此れ 其の さん 様 氏 殿 君 ちゃん 達 等 頃 毎 件".split()
)
_ENGLISH_STOPWORDS = set(
    "a an and are as at be but by can cannot could do does for from has have how i if in into is it"
    " its me my no not of on or our please so that the their there this to was we were what when"
    " where which who why will with would you your".split()
)
_ASCII_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_GLOSS_SUFFIX = re.compile(r"-[A-Za-z][A-Za-z ]*$")


@dataclass(frozen=True)
class Token:
    surface: str
    lemma: str
    pos: str  # coarse part of speech (UniDic pos1), e.g. 名詞
    pos_detail: str  # UniDic pos2, e.g. 普通名詞


@lru_cache(maxsize=1)
def _tagger() -> fugashi.Tagger:
    return fugashi.Tagger()


def tokenize(text: str) -> list[Token]:
    """fugashi + unidic-lite tokens of normalised text. The lemma is UniDic's without its English
    gloss ("ログ-log" -> "ログ"); Latin words get their lower-cased surface, proper nouns and
    unknown words their surface."""
    tokens = []
    for word in _tagger()(normalize(text)):
        feature = word.feature
        surface = word.surface
        if _ASCII_WORD.match(surface):
            lemma = surface.lower()
        elif feature.pos2 == "固有名詞":  # UniDic's lemma of a name is its reading (ヤマダ)
            lemma = surface
        else:
            lemma = _GLOSS_SUFFIX.sub("", feature.lemma) if feature.lemma else surface
        tokens.append(Token(surface, lemma, feature.pos1 or "", feature.pos2 or ""))
    return tokens


def is_content_word(token: Token) -> bool:
    """Nouns (with noun-like suffixes), verbs, adjectives and adverbs that say what a text is
    about; Latin words and numbers (SSO, Zoom, 1023) count; particles, auxiliaries, prefixes,
    symbols, light verbs and honorifics do not."""
    if _ASCII_WORD.match(token.surface):
        meaningful = len(token.lemma) > 1 or token.lemma.isdigit()
        return meaningful and token.lemma not in _ENGLISH_STOPWORDS
    if token.lemma in _STOP_LEMMAS:
        return False
    if token.pos == "接尾辞":
        # 請求「書」, 議事「録」: noun-like suffixes carry topic; honorifics are in the stop list.
        return token.pos_detail == "名詞的"
    if token.pos not in _CONTENT_POS:
        return False
    return token.pos_detail not in {"代名詞", "助動詞語幹", "非自立可能"} or token.pos == "動詞"


def content_words(text: str) -> list[str]:
    """Lemmas of the content words of a text, in order, for keyword search and features."""
    return [token.lemma for token in tokenize(text) if is_content_word(token)]


# ---------------------------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------------------------

SUPPORTED_LANGUAGES = ("ja", "en", "zh", "ko")
# Languages besides ours that arrive often enough that lingua should be able to name them,
# so that they come out as "other" instead of being forced onto ja/en/zh/ko.
_OTHER_LANGUAGES = (
    Language.FRENCH,
    Language.GERMAN,
    Language.SPANISH,
    Language.PORTUGUESE,
    Language.ITALIAN,
    Language.DUTCH,
    Language.RUSSIAN,
    Language.VIETNAMESE,
    Language.THAI,
    Language.INDONESIAN,
    Language.TAGALOG,
    Language.ARABIC,
    Language.HINDI,
)
_OURS = {
    Language.JAPANESE: "ja",
    Language.ENGLISH: "en",
    Language.CHINESE: "zh",
    Language.KOREAN: "ko",
}
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")
_HAN_OR_HANGUL = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uac00-\ud7af]")
_LETTERS = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # ja, en, zh, ko or other
    confidence: float


@lru_cache(maxsize=1)
def _language_detector():  # noqa: ANN202 - lingua's detector type is not importable
    return LanguageDetectorBuilder.from_languages(*_OURS, *_OTHER_LANGUAGES).build()


def detect_language(text: str, min_confidence: float = 0.4) -> LanguageGuess:
    """ja / en / zh / ko / other, by lingua. Kana is written only in Japanese, so a message whose
    CJK characters are a fair share kana is Japanese, even when a pasted English log makes up most
    of its words; a Chinese or Korean message quoting a Japanese error message stays zh / ko."""
    text = normalize(text)
    if not _LETTERS.search(text):
        return LanguageGuess("other", 0.0)
    kana = len(_KANA.findall(text))
    kana_share = kana / max(1, kana + len(_HAN_OR_HANGUL.findall(text)))
    if kana >= 2 and kana_share >= 0.2:
        return LanguageGuess("ja", round(min(1.0, 0.8 + kana_share), 3))
    # lingua calls any text with kana Japanese; a few quoted kana must not outvote the rest.
    without_stray_kana = _KANA.sub("", text) if kana else text
    best = _language_detector().compute_language_confidence_values(without_stray_kana)[0]
    code = _OURS.get(best.language, "other")
    if best.value < min_confidence:
        return LanguageGuess("other", round(best.value, 3))
    return LanguageGuess(code, round(best.value, 3))


def pipeline_versions() -> dict[str, str]:
    """Versions of what the pipeline runs on, for /ready and model manifests."""
    return {
        "fugashi": version("fugashi"),
        "unidic-lite": version("unidic-lite"),
        "lingua-language-detector": version("lingua-language-detector"),
    }


def warm_up() -> None:
    """Load the dictionary and the language models now, not on the first request."""
    tokenize("準備")
    detect_language("language models load on first use")


@dataclass
class TextAnalysis:
    """Everything the pipeline says about one text."""

    language: LanguageGuess
    normalized: str
    cleaned: CleanedEmail
    tokens: list[Token]
    content_words: list[str]


def analyze(
    text: str, html: bool | None = None, strip_email: bool = True, min_confidence: float = 0.4
) -> TextAnalysis:
    """Run the whole pipeline: clean-up (when asked), normalisation, tokens, language."""
    cleaned = clean_email(text, html=html) if strip_email else CleanedEmail(text=normalize(text))
    tokens = tokenize(cleaned.text)
    return TextAnalysis(
        language=detect_language(cleaned.text, min_confidence=min_confidence),
        normalized=normalize(text),
        cleaned=cleaned,
        tokens=tokens,
        content_words=[token.lemma for token in tokens if is_content_word(token)],
    )
