"""Personal data in ticket text, found and masked before anything is stored or logged: phone
numbers, e-mail addresses, postal codes, street addresses, マイナンバー, card numbers, bank
accounts and people's names.

Numbers are found by their shape and, where the shape is ambiguous, checked: a マイナンバー must
carry its check digit, a card number must pass Luhn, a bank account or postal code needs its
context (普通 / 口座番号, 〒 / 郵便番号 or an address after it). Names come from UniDic's person
names (固有名詞-人名, through fugashi) and from the context they sit in: an honorific after them
(様 / さん / 氏), a title, 「と申します」, a form field or a signature block; English, Chinese and
Korean names from their own cues (Mr. / Regards, 先生 / 女士, 님 / 씨).

Everything is matched on a copy of the text in which each character is NFKC-normalised on its
own (full-width digits and letters become ASCII), so offsets are the original text's and a
span always masks exactly what the customer wrote. `madoguchi eval pii` measures recall and
precision per kind on the labelled set in tests/data/."""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import fugashi

from common.pii_tagger import (
    TAGGED_KINDS,
    Token,
    default_tagger,
    token_features,
    token_labels,
)

GIVEN_NAMES_FILE = Path(__file__).resolve().parent / "config" / "romanised_given_names.txt"

PiiKind = Literal[
    "phone",
    "email",
    "postal_code",
    "address",
    "my_number",
    "credit_card",
    "bank_account",
    "person_name",
]
PII_KINDS: tuple[str, ...] = get_args(PiiKind)
# What a masked span is replaced with: the kind stays readable for agents and models.
MASK_TOKENS = {
    "phone": "<PHONE>",
    "email": "<EMAIL>",
    "postal_code": "<POSTAL_CODE>",
    "address": "<ADDRESS>",
    "my_number": "<MY_NUMBER>",
    "credit_card": "<CARD_NUMBER>",
    "bank_account": "<BANK_ACCOUNT>",
    "person_name": "<NAME>",
}
# When two detectors claim overlapping characters, the more specific one keeps them.
_PRECEDENCE = {
    kind: rank
    for rank, kind in enumerate(
        (
            "email",
            "credit_card",
            "my_number",
            "phone",
            "bank_account",
            "postal_code",
            "address",
            "person_name",
        )
    )
}


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    start: int
    end: int
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class MaskedText:
    text: str
    spans: list[PiiSpan]  # positions in the original text

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for span in self.spans:
            counted[span.kind] = counted.get(span.kind, 0) + 1
        return counted


@dataclass(frozen=True)
class FoldedText:
    """`text` as the detectors read it: each character NFKC-normalised (０９０－ -> 090-,
    ＠ -> @, ﾀｶﾊｼ -> タカハシ, a half-width kana and its voicing mark -> one character) and
    dashes between digits as "-", with where each character came from, so a span found here
    masks exactly what the customer wrote."""

    text: str
    starts: list[int]  # original offset of each character
    ends: list[int]

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def fold_width(text: str) -> FoldedText:
    characters: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    index = 0
    while index < len(text):
        character = text[index]
        if index + 1 < len(text) and text[index + 1] in _HALF_WIDTH_VOICING:
            combined = unicodedata.normalize("NFKC", text[index : index + 2])
            if len(combined) == 1:
                characters.append(combined)
                starts.append(index)
                ends.append(index + 2)
                index += 2
                continue
        normalised = unicodedata.normalize("NFKC", character)
        characters.append(normalised if len(normalised) == 1 else character)
        starts.append(index)
        ends.append(index + 1)
        index += 1
    return FoldedText(_DASH_LIKE.sub("-", "".join(characters)), starts, ends)


_HALF_WIDTH_VOICING = "\uff9e\uff9f"
_DASH_LIKE = re.compile(r"(?<=[0-9])[‐‑‒–—―−ーｰ﹣](?=[0-9])")

# --- numbers ---------------------------------------------------------------------------------

_NOT_BEFORE = r"(?<![0-9A-Za-z+\-])"
_NOT_AFTER = r"(?![0-9A-Za-z]|-[0-9])"
_PHONE = re.compile(
    _NOT_BEFORE
    + r"(?:\+81[ -]?(?:\(0\))?[ -]?\(?[1-9][0-9]{0,3}\)?|\(?0[0-9]{1,4}\)?)"
    + r"[ -]?\(?[0-9]{1,4}\)?[ -]?[0-9]{3,4}"
    + _NOT_AFTER
)
_MOBILE_AND_FREE_DIAL = ("050", "070", "080", "090", "0800")
# Numbers from abroad (+886-2-..., +1 415 ...): a country code and 7 to 13 more digits.
_INTERNATIONAL_PHONE = re.compile(
    _NOT_BEFORE + r"\+(?!81)[1-9][0-9]{0,2}(?:[ -]?\(?[0-9]{1,4}\)?){2,5}" + _NOT_AFTER
)
# Each pattern that can start inside a long run of letters or digits begins with a look-behind,
# so it is tried once per run, not once per character (quadratic on a long run).
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_TWELVE_DIGITS = re.compile(_NOT_BEFORE + r"[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}" + _NOT_AFTER)
_CARD = re.compile(
    _NOT_BEFORE
    + r"(?:[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{1,7}|[0-9]{4}[ -]?[0-9]{6}[ -]?[0-9]{5})"
    + _NOT_AFTER
)
_POSTAL_CUE = re.compile(
    r"(〒|郵便番号|ゆうびんばんごう|邮编|郵遞區號|郵政編碼|우편번호"
    r"|postal code|post code|postcode|zip(?: code)?)(?:は|が)?[ :：】\u3000]*",
    re.IGNORECASE,
)
# The 47 prefectures and the designated cities in Latin letters: an English-format address ends
# with one of them just before its postal code (…, Aoba-ku, Sendai, Miyagi 980-0811).
_ROMANISED_PLACES = (
    "Hokkaido Aomori Iwate Miyagi Akita Yamagata Fukushima Ibaraki Tochigi Gunma Saitama Chiba "
    "Tokyo Kanagawa Niigata Toyama Ishikawa Fukui Yamanashi Nagano Gifu Shizuoka Aichi Mie Shiga "
    "Kyoto Osaka Hyogo Nara Wakayama Tottori Shimane Okayama Hiroshima Yamaguchi Tokushima "
    "Kagawa Ehime Kochi Fukuoka Saga Nagasaki Kumamoto Oita Miyazaki Kagoshima Okinawa "
    "Sapporo Sendai Kawasaki Yokohama Sagamihara Hamamatsu Nagoya Sakai Kobe Kitakyushu"
).split()
_AFTER_ADDRESS = re.compile(
    rf"(?:{'|'.join(_ROMANISED_PLACES)}|Japan|-ku|-shi|-ken|Prefecture|[都道府県])[ ,]*$"
)
_POSTAL = re.compile(_NOT_BEFORE + r"[0-9]{3}-?[0-9]{4}" + _NOT_AFTER)
_CITY = re.compile(r"[一-龥々ヶ]{1,5}[市区町村郡](?!役所|場|長|内|民|立)")
# Postcodes abroad: five or six digits (US ZIP, ZIP+4, China, Korea, Singapore) or a British
# postcode (WC1N 1PZ); only taken after a cue or an address.
_FOREIGN_POSTAL = re.compile(
    r"(?:[0-9]{5}(?:-[0-9]{4})?|[0-9]{6}|[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2})(?![0-9A-Za-z])"
)
_BANK_CUE = re.compile(
    r"(普通預金|当座預金|貯蓄預金|普通|当座|貯蓄|口座番号|口座|\("
    r"普\)|\(当\)|account (?:no\.?|number)|フツウ|トウザ|コウザバンゴウ|コウザ"
    r"|記号)[ :：]*(?:預金)?[ :：]*(?:口座)?[ :：]*(?:番号)?[ :：]*(?:の|は|で)?[、,]?[ :：]*",
    re.IGNORECASE,
)
_BANK_NUMBER = re.compile(r"[0-9]{5}-[0-9]{6,8}|[0-9]{6,8}" + _NOT_AFTER)
_YUCHO = re.compile(
    r"記号[ :：]*([0-9]{5})[\s、,]*番号[ :：]*([0-9]{6,8})|"
    + _NOT_BEFORE
    + r"(1[0-9]{4}-[0-9]{7,8})"
    + _NOT_AFTER
)


def my_number_is_valid(digits: str) -> bool:
    """The check digit of a 12-digit individual number (番号法施行令 第8条)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(character) for character in digits[:11]]
    total = 0
    for position in range(1, 12):
        weight = position + 1 if position <= 6 else position - 5
        total += body[11 - position] * weight
    remainder = total % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for index, character in enumerate(reversed(digits)):
        value = int(character)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def _phone_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _PHONE.finditer(folded):
        digits = _digits(match.group())
        if match.group().startswith("+81"):
            national = digits[2:].removeprefix("0")
            plausible = len(national) in (9, 10)
        elif len(digits) == 10:
            plausible = True
        else:
            plausible = len(digits) == 11 and digits.startswith(_MOBILE_AND_FREE_DIAL)
        if plausible:
            yield match.start(), match.end()
    for match in _INTERNATIONAL_PHONE.finditer(folded):
        if 9 <= len(_digits(match.group())) <= 15:
            yield match.start(), match.end()


def _my_number_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _TWELVE_DIGITS.finditer(folded):
        if my_number_is_valid(_digits(match.group())):
            yield match.start(), match.end()


def _card_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _CARD.finditer(folded):
        digits = _digits(match.group())
        if 13 <= len(digits) <= 19 and digits[0] in "3456" and luhn_is_valid(digits):
            yield match.start(), match.end()


def _email_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _EMAIL.finditer(folded):
        yield match.start(), match.end()


def _postal_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _POSTAL.finditer(folded):
        before = folded[max(0, match.start() - 12) : match.start()]
        cue = re.search(_POSTAL_CUE.pattern + r"$", before, re.IGNORECASE)
        after = folded[match.end() : match.end() + 12].lstrip(" \u3000、,，")
        if (
            cue
            or after.startswith((*_PREFECTURES, "Japan"))
            or _CITY.match(after)  # 460-0008 名古屋市中区栄…
            or _AFTER_ADDRESS.search(before)
        ):
            yield match.start(), match.end()
    # other countries' codes: after a cue (우편번호 02842), or right after an address
    # (…, Madison, WI 53706; Singapore 068895; London WC1N 1PZ)
    for cue in _POSTAL_CUE.finditer(folded):
        code = _FOREIGN_POSTAL.match(folded, cue.end())
        if code:
            yield code.start(), code.end()
    for _start, end in _address_spans(folded):
        at = end + len(re.match(r"[ ,\n（(]{0,3}", folded[end:])[0])
        code = _FOREIGN_POSTAL.match(folded, at) or _POSTAL.match(folded, at)
        if code:  # …御成町21番3号（248-0012）; …, Madison, WI 53706
            yield code.start(), code.end()


def _bank_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _YUCHO.finditer(folded):
        if match.group(3):
            yield match.start(3), match.end(3)
        else:
            yield match.start(1), match.end(1)
            yield match.start(2), match.end(2)
    for cue in _BANK_CUE.finditer(folded):
        number = _BANK_NUMBER.match(folded, cue.end())
        if number:
            yield number.start(), number.end()


# --- addresses -------------------------------------------------------------------------------

_PREFECTURES = tuple(
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都"
    " 神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府"
    " 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県"
    " 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県"
    " 东京都 神奈川县 埼玉县 千叶县 爱知县 兵库县 福冈县".split()  # as Chinese writes them
)
_NAME_CHARS = r"[一-龥々〆ヶぁ-んァ-ヴー〇○]"
_NUMERAL = r"(?:[0-9]+|[一二三四五六七八九十百千〇]+)"
_STREET_NUMBER = (
    rf"(?:{_NUMERAL}(?:条|線)[東西南北]?)?"
    rf"{_NUMERAL}(?:丁目|番地|番|号|-|[のノ](?={_NUMERAL}))"
    rf"(?:[ ]?[東西南北]?{_NUMERAL}(?:丁目|番地|番|号|-|[のノ](?={_NUMERAL}))?)*"
    rf"|{_NUMERAL}(?=$|[\s、。,，）)])"
)
_ADDRESS = re.compile(
    rf"(?:{'|'.join(_PREFECTURES)})?[ \u3000]?"
    rf"{_NAME_CHARS}{{1,6}}?[市区町村郡](?:{_NAME_CHARS}{{1,5}}?[市区町村])?"
    # the town, with Kyoto's street and direction words (烏丸通錦小路上ル手洗水町)
    rf"{_NAME_CHARS}{{0,16}}?(?:{_STREET_NUMBER})",
    re.MULTILINE,
)
_ENGLISH_ADDRESS = re.compile(
    # a room or floor and a building before the street number: Room 1502, Azabu Garden
    # Residence, 1-9-3 …; 7F Shibuya Meridian Bldg., 2-19-4 …
    # Room 803, Belvedere Meguro, 2-16-9 …; Aoyama Terrace 1104, 2-15-9 …; Studio Kasa 2F, …
    r"(?<![A-Za-z0-9'’#-])(?:(?:(?:Room|Suite|Unit|Apt\.?|#) ?[0-9A-Z-]+|[0-9]+F),? )?"
    r"(?:(?:[A-Z][A-Za-z'’-]*\.? ){0,4}(?:Bldg\.?|Building|Residence|Tower|Heights|Mansion|House"
    r"|Court|Plaza|Hills|Garden|Palace|Square)(?: [0-9A-Z]+)?,? "
    r"|(?<=[0-9A-Z], )(?:[A-Z][A-Za-z'’-]+ ){0,3}[A-Z][A-Za-z'’-]+, "
    r"|(?:[A-Z][A-Za-z'’-]+ ){1,3}(?:[0-9]{2,4}[A-Z]?|[0-9]+F), )?"
    # (?<![0-9]): one attempt per run of digits, not one per digit (quadratic on long numbers)
    r"(?<![0-9])[0-9]+(?:-[0-9]+){1,3},? (?:[A-Z][a-z]+ )?[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?,? "
    r"[A-Z][a-z]+-(?:ku|shi|cho|machi|gun)"
    r"(?:,? (?:Tokyo|Osaka|Kyoto|Hokkaido|[A-Z][a-z]+(?:-ken|-fu|-to|-shi)?)){0,2}"
)
_BUILDING_WORD = re.compile(
    r"ビル|タワー|マンション|ハイツ|コーポ|レジデンス|ヒルズ|プラザ|センター|会館|庁舎|棟|館|荘|ハウス"
    r"|スクエア|ガーデン|パレス|コート|メゾン|ハイム|アパート|寮|公寓|大厦|会馆|ホール|スタジオ|テラス"
    r"|ヴィレッジ|ビレッジ|大樓|[0-9]+[FＦ階楼樓](?:-[A-Z])?$|[0-9]+号?室$|[0-9]{3,4}$"
)
_FLOOR_OR_ROOM = re.compile(
    r"[0-9]+(?:[FＦ階樓楼]|号?室)(?:-[A-Z])?$|[0-9]{3,4}$|[A-Z]?[0-9]{3,4}号?$|^[0-9]{1,4}[A-Z]$"
)
# An address abroad written the Western way, from the flat or building to the city or state,
# without its postcode or country: Flat 3, 41 Marchmont Crescent, London; Room 314, Hawthorne
# Hall, 1200 College Avenue, Madison, WI; No. 18 Xueyuan South Road, Haidian District, Beijing;
# 71 Robinson Road, #14-01, Singapore; 402 Sanjo-dori Kawaramachi Higashi-iru, Nakagyo-ku, Kyoto.
# A street number, capitalised words and a street word are what make it an address.
_STREET_WORD = (
    r"(?:Street|St\.|Road|Rd\.?|Avenue|Ave\.?|Boulevard|Blvd\.?|Lane|Ln\.?|Drive|Dr\.?"
    r"|Crescent|Way|Place|Pl\.|Court|Ct\.|Terrace|Close|Square|Highway|Hwy\.?|Parkway|Row"
    r"|Gardens|Mews|dori|Dori|Straße|Strasse|Calle|Rue)"
)
# A capitalised word with a small letter in it, matched without backtracking (a possessive
# quantifier after a look-ahead, starting only at a word's start), so a long run of letters costs
# one pass, not one per way of splitting it.
_CAPITALISED = r"(?<![A-Za-z'’])[A-Z](?=[A-Za-z'’]*[a-z])[A-Za-z'’]*+"
_FOREIGN_ADDRESS = re.compile(
    r"(?<![A-Za-z0-9'’#-])(?:(?:Flat|Room|Suite|Unit|Apt\.?|Apartment|#) ?[0-9A-Z][0-9A-Z-]*, ?)?"
    rf"(?:(?:{_CAPITALISED} ){{1,3}}(?:Hall|House|Building|Bldg\.?|Tower|Centre|Center|Plaza),"
    r" ?)?"
    rf"(?:No\. ?)?(?<![0-9])[0-9]+[A-Z]?(?:-[0-9]+)? (?:{_CAPITALISED}[ -]){{1,3}}{_STREET_WORD}\b"
    rf"(?: {_CAPITALISED}(?:-[a-z]+)?){{0,2}}"
    r"(?:, ?#[0-9]+-[0-9]+|, (?:Apt\.?|Suite|Unit|Room|Flat) ?[0-9A-Z-]+)?"
    rf"(?:, ?(?:{_CAPITALISED}(?:[ -]{_CAPITALISED}|-[a-z]+){{0,2}}|[A-Z]{{2}}(?![A-Za-z]))){{0,3}}"
)
# A Korean road-name address: 서울특별시 성북구 안암로 215, 과학관 612호.
_KOREAN_ADDRESS = re.compile(
    r"(?<![가-힣])[가-힣]{2,}(?:특별시|광역시|특별자치시|특별자치도|도) [가-힣]+(?:시|군|구)"
    r"(?: [가-힣]+(?:구|읍|면|동))? [가-힣0-9]+(?:로|길) ?[0-9]+(?:-[0-9]+)?"
    r"(?:, ?(?:[가-힣A-Za-z0-9]+ )?[0-9]+(?:층|호))?"
)


def _address_spans(folded: str) -> Iterable[tuple[int, int]]:
    for match in _ADDRESS.finditer(folded):
        start, end = _address_start(match.group()) + match.start(), match.end()
        while end > start and folded[end - 1] in "-の ":
            end -= 1
        if re.search(r"[0-9一二三四五六七八九十]", folded[start:end]):
            yield start, _with_building(folded, end)
    for pattern in (_ENGLISH_ADDRESS, _FOREIGN_ADDRESS, _KOREAN_ADDRESS):
        for match in pattern.finditer(folded):
            yield match.start(), _with_next_field(folded, match.end())


def _address_start(address: str) -> int:
    """Where a matched address begins: at its prefecture when it names one, else after the words
    of the sentence that ran into it (住所は東京都…, 今の住所が川崎市…)."""
    prefecture = re.search("|".join(_PREFECTURES), address)
    if prefecture:
        return prefecture.start()
    town = re.search(r"[市区町村郡]", address)
    lead = address[: town.start()] if town else address
    particles = list(re.finditer(r"[ぁ-ん]*[はがをにでのへとも](?=[一-龥々ヶ])", lead))
    return particles[-1].end() if particles else 0


def _with_building(folded: str, end: int) -> int:
    """Where an address ends once the building, floor and room after the street number are
    counted: up to three pieces on the same line, through the last that is a building name
    (ビル, 棟, スクエア...), a floor or a room, or a name followed by one; then the next line or
    field when it holds the building (〒… 尾山町10番5号⏎かなざわ信用金庫 本部ビル3階; a CSV's
    住所2 column; 芝中田2丁目14の9、芝ハイツ201)."""
    return _with_next_field(folded, _same_line_building(folded, end))


def _with_next_field(folded: str, end: int) -> int:
    field = _NEXT_FIELD.match(folded, end)
    if (
        field
        and _BUILDING_FIELD.search(field.group("field"))
        and not _LABEL_FIELD.match(field.group("field"))
        and not _SENTENCE.search(field.group("field"))
        and not _ADDRESS.search(field.group("field"))  # the next address
    ):
        return field.end("field")
    return end


_NEXT_FIELD = re.compile(
    r"[ \u3000]*(?:\n|[,，、｜|])[ \u3000]*"
    r"(?P<field>[^\n,，、｜|。（(「」]{2,32}?)(?:[でにがはを]|です)?[ \u3000]*"
    r"(?=$|[\n,，、｜|。（(「」])",
    re.MULTILINE,
)
_BUILDING_FIELD = re.compile(
    r"ビル|棟|ハイツ|マンション|タワー|レジデンス|コーポ|荘|庁舎|ヴィレッジ|ビレッジ|メゾン|ハイム"
    r"|スクエア|プラザ|テラス|大厦|公寓|Tower|Building|Bldg|Heights|Residence"
    r"|[0-9]+(?:階|[FＦ楼]|号室|室)(?![0-9A-Za-z])"
)
_SENTENCE = re.compile(r"(?<![ぁ-ん])[はがをにへで](?![ぁ-ん])|です|ます|ください|まで")
_LABEL_FIELD = re.compile(
    r"(?:TEL|Tel|tel|電話|FAX|Fax|携帯|Mail|mail|E-?mail|URL|受取人|担当|宛|〒|郵便番号)"
)


def _same_line_building(folded: str, end: int) -> int:
    rest = re.split(r"[\n、。,，（）()「」｜|]", folded[end : end + 80], maxsplit=1)[0]
    rest = _POSTAL_CUE.split(rest, maxsplit=1)[0]  # 学院南路18号 邮编100081: the code is no room
    pieces = [(piece.start(), piece.group()) for piece in re.finditer(r"[^ \u3000]+", rest)][:3]
    # 402号室で、: a particle after the room belongs to the sentence
    pieces = [
        (
            at,
            re.sub(
                r"(?<=[0-9〇一二三四五六七八九十室階FＦA-Z])(?:[ぁ-ん]+|[가-힣]+)?[.!?]?$",
                "",
                piece,
            ),
        )
        for at, piece in pieces
    ]
    taken = 0
    for number, (_offset, piece) in enumerate(pieces):
        following = pieces[number + 1][1] if number + 1 < len(pieces) else ""
        if not _BUILDING_WORD.search(piece) and re.search(r"[のはがをでにへ]$|[ぁ-ん]{2}", piece):
            break  # the sentence goes on
        if _BUILDING_WORD.search(piece) or any(map(_FLOOR_OR_ROOM.search, (piece, following))):
            taken = number + 1  # 南消防署 新庁舎 2階: through the last building word or room
    if not taken:
        return end
    offset, piece = pieces[taken - 1]
    return end + offset + len(piece)


# --- names -----------------------------------------------------------------------------------

_HONORIFIC_SUFFIXES = {"様", "さま", "さん", "氏", "殿", "ちゃん", "くん", "君", "宛", "宛て"}
_TITLES = {
    "理事", "監事", "理事長", "店長", "班長",
    "先生", "部長", "課長", "係長", "主任", "主査",
    "室長", "所長", "院長", "教授", "准教授", "社長",
    "専務", "常務", "弁護士", "税理士", "司法書士", "看護師", "師長", "事務長", "校長", "教頭",
    "議員", "議長", "市長", "代表", "センター長", "先輩", "委員", "委員長", "公証人",
}  # fmt: skip
# 後任の三浦, 副院長の栗原, 当方の鶴見: a role, の, then a proper noun.
_ROLE_THEN_NO = re.compile(r"(?:長|任|方|担当|者|員|役|師|士|輩|主|人)の$")
_NOT_NAME_ENDINGS = (
    "代理", "補佐", "株式会社", "有限会社", "工業", "商事", "運輸", "協会", "会", "者", "会社",
    "法人", "部", "課", "室", "係", "局",
    "所", "院", "店", "校", "様", "長", "員", "中",
)  # fmt: skip
_INTRODUCTIONS = ("と申します", "と言います", "といいます", "でございます", "です")
# What precedes a name in a signature, memo or form line: a department, a role, a label.
_ROLE_BEFORE_NAME = re.compile(
    r"(?:部|課|室|係|科|局|班|グループ|チーム|センター|事務所|事務局|医院|クリニック|病院|法人|大学"
    r"|学校|高校|学園|会社|役場|市役所|区役所|オフィス|窓口|担当|受付|記入|記録|対応|書記|秘書|事務長"
    r"|師長|看護師|主任|院長|所長|室長|課長|部長|係長|代表|弁護士|税理士|社労士|司法書士|行政書士"
    r"|パラリーガル|教諭|教授|研究員|サポート|記入者|担当者|報告者|発信者|入電|名義|戸名|氏名|名前"
    r"|管理|総務|経理|人事|広報|営業|企画|開発|長"
    r"|Contact|contact|From|from|タントウ|ダイヒョウ|ソウム|ケイリ|ジムキョク)[:：]?$"
)
_LABEL_BEFORE_NAME = re.compile(
    r"(?:【\s*(?:お名前|氏名|ご氏名|担当者名?|ご担当者名?|名前|申請者|依頼者|ご依頼者|フリガナ|ふりがな"
    r"|カナ|氏名カナ|氏名\(カナ\)|契約者名?|代表者名?)\s*】"
    r"|(?:お名前|氏名|ご氏名|担当者名?|名前|申請者|記入者?|作成者|対応者?|受付|記録|連絡先|担当|書記"
    r"|発信者|報告者|相手|口座名義|振込人名義|名義人?|戸名|户名|戶名|フリガナ|ふりがな|カナ|よみがな"
    r"|Account holder|Account name|Name|名義は(?=[ \u3000A-Zァ-ヴ])"
    r"|收款人)[ \u3000]*(?:[:：]|[ \u3000]|は「))"
    r"[ \u3000「]*"
)
# 禰宜 八坂 拓真 after a name label: a role, then family and given name
_ROLE_BEFORE_FULL_NAME = re.compile(
    r"([一-龥々]{1,5})[ \u3000]+(?=[一-龥々ヶ]{1,4}[ \u3000][一-龥々ヶ]{1,4}(?:$|[^一-龥々ヶ]))"
)
_READING_LABEL = re.compile(r"フリガナ|ふりがな|カナ|よみがな")
_CAPITALS_NAME = re.compile(r"(?<![A-Za-z])[A-Z]{2,}+(?: [A-Z]{2,}+){1,2}(?![A-Za-z])")
# A transcript or chat log line: "[10:02] 山口：…", "けんた：…", "野村: …"
_SPEAKER = re.compile(
    r"^[ \u3000>]*(?:\[?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\]?[ \u3000]*)?"
    r"([一-龥々]{1,4}|[ァ-ヴー]{2,8}(?:・[ァ-ヴー]{2,10})?|[ぁ-ん]{2,5})[ \u3000]*[:：]"
)
_NOT_SPEAKERS = set(
    "件名 日時 日付 時間 住所 電話 内容 例 備考 担当 議題 結論 場所 対応 回答 質問 結果 原因"
    " 状況 症状 宛先 差出人 送信者 本文 要望 補足 目的 背景 現象 環境 手順 期待 期限 金額 合計"
    " 名義 記号 番号"
    " 口座 支店 銀行 種別 氏名 名前 会社 部署 役職 所属 店舗 概要 要約 議事 決定 次回 以上"
    " 注意 理由"
    " 通訳 司会 記録 書記 講師 話者 本人 家族 相談 結び 件 返信 回答者 質問者 ユーザー メモ エラー"
    " ログ コード バージョン プラン アカウント メール".split()
)


def _speaker_is_a_name(label: str, conversation: bool, timed: bool = False) -> bool:
    """The label before a colon names a person: a proper noun, or in a chat log of several
    speakers a nickname (けんた, ユウト) that is no ordinary word (ネットワーク：, ドメイン：)."""
    if label in _NOT_SPEAKERS or label in _NOT_NAMES or label in _KATAKANA_WORDS:
        return False
    tokens = _tokens(label)
    if tokens and all(token.proper for token in tokens):
        return True
    known_word = bool(tokens) and all(token.pos2 == "普通名詞" for token in tokens)
    nickname = re.fullmatch(r"[ァ-ヴー・]{2,8}|[ぁ-ん]{2,5}", label) is not None
    return conversation and nickname and (timed or not known_word)


_KANA_OR_KANJI_NAME = re.compile(
    r"[一-龥々〆ヶ]{1,5}(?:[ \u3000][一-龥々〆ヶ]{1,4})?|["
    r"ァ-ヴー]{2,8}(?:[・ \u3000][ァ-ヴー]{2,8}){0,2}"
    r"|[ぁ-ん]{2,6}[ \u3000][ぁ-ん]{2,6}"
)
_ENGLISH_WORD = r"[A-ZÀ-Þ][a-zA-Zà-ÿ'’]*[a-zà-ÿ](?:-[A-Z][a-z]+)?"
_ENGLISH_NAME = rf"{_ENGLISH_WORD}(?: [A-Z]\.)?(?: {_ENGLISH_WORD}){{0,2}}"
_ENGLISH_CUED = re.compile(
    r"(?:\b(?:Mr|Ms|Mrs|Miss|Dr|Prof)\.?\s+|\b(?:Dear|Hi|Hello|Hey|Attn:?)\s+(?:Mr\.?\s+|Ms\.?\s+)?"
    r"|\b(?:[Mm]y name is|[Cc]ontact:|[Ff]rom:|[Cc][Cc]:)\s+)"
    rf"({_ENGLISH_NAME})"
)
# Weaker cues: the name after them must start with a known given name.
_ENGLISH_WEAKLY_CUED = re.compile(
    r"\b(?:I am|I'm|This is|[Cc]olleague|[Ee]mployee|[Mm]anager|[Ss]taff member|[Tt]hanks,?"
    r"|[Tt]hank you,?)\s+"
    rf"({_ENGLISH_NAME})"
)
_ENGLISH_PAIR = re.compile(
    rf"(?<![A-Za-z])({_ENGLISH_WORD} {_ENGLISH_WORD}(?: {_ENGLISH_WORD})?)(?![A-Za-z])"
)
_ENGLISH_SAN = re.compile(rf"\b({_ENGLISH_WORD})-(?:san|sama|sensei)\b")
_SIGN_OFF = re.compile(
    r"^\s*(?:best regards|kind regards|regards|best|thanks|thank you|many thanks|sincerely|cheers"
    r"|yours sincerely|yours truly|warm regards|br|よろしくお願い(?:いた|致)?します。?"
    r"|よろしくお願い申し上げます。?|以上(?:、よろしくお願いいたします)?。?)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
# Common capitalised words of business English that two-word "names" must not contain.
_ENGLISH_NOT_NAMES = set(
    "A An The This That These My Our Your Their We I You Hi Hello Dear Hey Thanks Thank Best Kind"
    " Regards Please Sincerely Cheers Warm Yours Koemoji Inc Ltd Co Corp Corporation Company K.K"
    " G.K LLC Group Holdings Japan Japanese Tokyo Osaka Kyoto Nagoya Yokohama Fukuoka Sapporo Kobe"
    " English Chinese Korean Asia Pacific America American Europe University College School"
    " Institute Academy Office Center Centre Department Dept Section Division Team Unit Support"
    " Service Services Customer Manager Director Officer Head Lead Chief Engineer Engineering"
    " Developer Administrator Admin Assistant Coordinator Specialist Partner Partners Associate"
    " Associates Practice Clinic Hospital Medical Health Care Law Legal Firm Trading Platform"
    " International Global National Regional Relations Affairs Resources Human Student Students"
    " Multicultural Sales Marketing Billing Accounts Account Finance Operations Product Products"
    " Store App Apps Play Meet Teams Zoom Google Microsoft Apple Slack Box Drive Cloud Web Mobile"
    " Enterprise Premium Standard Free Plan Plans Trial Invoice Number Numbers Request Requests"
    " Too Many Under Over Error Issue Problem Question Urgent Re Fw Fwd Subject Monday Tuesday"
    " Wednesday Thursday Friday Saturday Sunday January February March April May June July August"
    " September October November December Speaker Transcript Transcripts Recording Recordings"
    " Meeting Meetings Minutes Summary Export Import Settings Workspace Admin Console Portal"
    " Windows Mac Chrome Safari Edge Firefox Android Iphone iPhone iPad Word Excel Pdf PDF SRT"
    " Slides Docs Sheets Calendar Outlook Gmail Phone Voice Mail Email City Ward Prefecture Street"
    " Building Tower Floor Room Hall Park Station Again All Everyone Team Both"
    " One Home Note Date Data Name Game Mode Base Site Tone Zone Page Rate Sure Made Take Make Same"
    " Hope Gate Kansai Kanto Kyushu Tohoku Shikoku Chubu Hokuriku Kinki Okinawa Nihon"
    " Nippon Kingdom United States Republic China Korea Taiwan Singapore Vietnam Thailand"
    " Philippines Indonesia Malaysia India Australia Canada Germany France Britain England"
    " Beijing Shanghai Seoul Road Avenue District County Bank Insurance Hotel Airlines Railway"
    " Foundation Association Society Council Committee".split()
)
_CHINESE_SURNAMES = (
    "王李张張刘劉陈陳杨楊黄黃赵趙吴吳周徐孙孫马馬朱胡郭何高林罗羅郑鄭梁谢謝宋唐许許韩韓冯馮邓鄧曹彭"
    "曾肖蕭田董袁潘于蒋蔣蔡余杜叶葉程苏蘇魏吕呂丁任沈姚卢盧姜崔钟鍾谭譚陆陸汪范金石廖贾賈夏韦韋付方"
    "白邹鄒孟熊秦邱江尹薛段雷侯龙龍史陶黎贺賀顾顧毛郝龚龔邵万萬钱錢严嚴武戴莫孔向汤湯"
)
_CHINESE_NAME = re.compile(
    rf"(?:我是|我叫|我姓|联系人|聯絡人|负责人|負責人|生|者|员|員|部|室)[:：\s]*"
    rf"([{_CHINESE_SURNAMES}][一-龥]{{1,2}})(?=[。，,.！!？?\s(（]|$)"
    rf"|([{_CHINESE_SURNAMES}][一-龥]{{0,2}})"
    r"(?=先生|女士|小姐|老师|老師|经理|經理|部长|部長|课长|課長|总监|總監|主任|老板|老闆)"
    rf"|([{_CHINESE_SURNAMES}] [一-龥]{{1,2}})(?=\s|$)"
)
_KOREAN_NAME = re.compile(
    r"([가-힣]{2,4}?)(?=(?:이라고|라고) 합니다|입니다)"
    r"|([가-힣]{2,4})(?=\s?(?:님|씨|선생님|교수님|과장님|부장님|팀장님|대리님)(?![가-힣]))"
)
_NOT_KOREAN_NAMES = {
    "담당자", "고객", "관리자", "여러분", "선생", "사장", "담당", "회원", "사용자", "팀장", "교수",
    "지도교수", "부장", "과장", "대리", "저는", "제가", "안녕하세요",
}  # fmt: skip


@lru_cache(maxsize=1)
def _tagger() -> fugashi.Tagger:
    return fugashi.Tagger()


@lru_cache(maxsize=512)
def _tokens(folded: str) -> tuple[Token, ...]:
    """UniDic tokens with their offsets. Cached: the name rules look at the same text (and the
    same short candidates) several times in one call."""
    tokens, cursor = [], 0
    for word in _tagger()(folded):
        start = folded.find(word.surface, cursor)
        if start < 0:
            continue
        cursor = start + len(word.surface)
        feature = word.feature
        tokens.append(
            Token(
                start,
                cursor,
                word.surface,
                feature.pos1 or "",
                feature.pos2 or "",
                feature.pos3 or "",
            )
        )
    return tuple(tokens)


def _name_run_before(tokens: Sequence[Token], index: int, folded: str) -> tuple[int, int] | None:
    """The name ending just before tokens[index]: proper nouns (a family name, a given name),
    katakana joined by ・ or a space; None when what precedes is an ordinary word (お客様,
    ボランティアさん, 院長先生)."""
    run: list[Token] = []
    position = index - 1
    while position >= 0:
        token = tokens[position]
        gap = folded[token.end : (run[0].start if run else tokens[index].start)]
        spaced = gap.strip("・") != ""
        if gap.strip(" \u3000・") or "\n" in gap:
            break
        if spaced and not (run and token.proper and run[0].proper and len(run) == 1):
            break  # a space separates family and given name only, never a role and a name
        if token.surface in _KATAKANA_WORDS and run and not spaced:
            return None  # スタジオ・ハルモニア: the name of a firm, not a person
        if token.surface in _KATAKANA_WORDS or (token.pos2 == "普通名詞" and not token.katakana):
            break
        if token.proper or token.katakana or token.surface == "・":
            run.insert(0, token)
            position -= 1
            continue
        break
    while run and run[0].surface == "・":
        run.pop(0)
    if not run or not any(token.proper for token in run):
        return None
    return run[0].start, run[-1].end


def _followed_by_noun(tokens: Sequence[Token], index: int, folded: str) -> bool:
    """A name glued to the noun after it names a firm or a clinic (杉浦社会保険労務士法人,
    早川・小松法律事務所)."""
    position = index
    while position + 2 < len(tokens) and tokens[position + 1].surface == "・":
        position += 2  # 早川・小松: look past the partner's name
    if position + 1 >= len(tokens):
        return False
    following = tokens[position + 1]
    glued = following.start == tokens[position].end
    return glued and following.pos1 == "名詞" and following.surface not in _TITLES


def _closing_lines(lines: list[str]) -> set[int]:
    """The signature block: lines after a sign-off near the end, and the last three lines."""
    filled = [number for number, line in enumerate(lines) if line.strip()]
    closing = set(filled[-3:])
    for number in filled:
        if _SIGN_OFF.match(lines[number]) and number >= len(lines) - 12:
            closing.update(range(number + 1, min(len(lines), number + 8)))
    return closing


def _japanese_name_spans(folded: str) -> Iterable[tuple[int, int]]:
    tokens = _tokens(folded)
    for index, token in enumerate(tokens):
        honorific = token.pos1 == "接尾辞" and token.surface in _HONORIFIC_SUFFIXES
        if honorific or token.surface in _TITLES:
            anchor = index
            if index and tokens[index - 1].surface in {"）", ")"}:  # 朴 素妍（パク・ソヨン）さん
                opening = next(
                    (
                        j
                        for j in range(index - 2, max(-1, index - 12), -1)
                        if tokens[j].surface in {"（", "("}
                    ),
                    None,
                )
                anchor = opening if opening is not None else index
            run = _name_run_before(tokens, anchor, folded)
            if run:
                yield run
        elif folded.startswith(_INTRODUCTIONS, token.start) and index:
            run = _name_run_before(tokens, index, folded)
            previous = tokens[index - 1]
            before = folded[max(0, run[0] - 1) : run[0]] if run else ""
            if run and (
                not folded.startswith("です", token.start)
                or previous.person
                or (previous.pos3 == "地名" and before in {"の", "\u3000", " ", ""})
            ):
                yield run
        kanji = re.fullmatch(r"[一-龥々ヶ]{2,4}", token.surface) is not None
        glued_before = (
            index > 0
            and tokens[index - 1].end == token.start
            and tokens[index - 1].pos2 == "普通名詞"
            and tokens[index - 1].katakana
        )
        if (
            token.person
            and kanji
            and not glued_before
            and not _followed_by_noun(tokens, index, folded)
        ):
            partner = (
                index + 1 < len(tokens)
                and tokens[index + 1].person
                and folded[token.end : tokens[index + 1].start] in {"", " ", "\u3000"}
            )
            yield token.start, tokens[index + 1].end if partner else token.end
        if (
            kanji
            and token.proper
            and token.pos3 in {"人名", "地名"}
            and _ROLE_THEN_NO.search(folded[max(0, token.start - 6) : token.start])
        ):
            yield token.start, token.end
    lines = folded.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    closing = _closing_lines(lines)
    conversation = sum(1 for line in lines if _SPEAKER.match(line)) >= 2
    for number, line in enumerate(lines[1:], start=1):
        if _SIGN_OFF.match(lines[number - 1]):
            english = re.fullmatch(rf"[ \t]*({_ENGLISH_NAME})[ \t]*", line)
            if english and _english_name_ok(english.group(1)):
                yield starts[number] + english.start(1), starts[number] + english.end(1)
    # Short lines anywhere read as signature lines too (a quoted signature, a memo's last line).
    closing |= {
        number
        for number, line in enumerate(lines)
        if len(line.lstrip("> ").strip()) <= 24 and not re.search(r"[。！？!?]$", line.strip())
    }
    for number, line in enumerate(lines):
        for label in _LABEL_BEFORE_NAME.finditer(line):
            at = label.end()
            role = _ROLE_BEFORE_FULL_NAME.match(line, at)
            if role and not _looks_like_name_part(role.group(1)):
                at = role.end()
            name = (
                _KANA_OR_KANJI_NAME.match(line, at)
                or _CAPITALS_NAME.match(line, at)
                or re.compile(_ENGLISH_NAME).match(line, at)
            )
            if not name:
                continue
            after = line[name.end() : name.end() + 2]
            glued = re.match(r"[一-龥ァ-ヴーA-Za-z]", after) is not None
            company = after.startswith(("(カ", "（カ", "(ユ", "（ユ", "(ド", "（ド"))
            reading = _READING_LABEL.search(label.group()) is not None
            plausible = reading or _plausible_name(name.group()) or name.group().isascii()
            if not glued and not company and plausible:
                yield starts[number] + name.start(), starts[number] + name.end()
        speaker = _SPEAKER.match(line)
        timed = speaker is not None and ":" in line[: speaker.start(1)]
        if speaker and _speaker_is_a_name(speaker.group(1), conversation or timed, timed):
            yield starts[number] + speaker.start(1), starts[number] + speaker.end(1)
        if number not in closing:
            continue
        pieces = [piece for piece in re.split(r"[ \u3000]+", line.lstrip("> ").strip()) if piece]
        if not pieces:
            continue
        for size in (2, 1):  # a full name (two pieces) or a family name alone, at the end
            if len(pieces) < size:
                continue
            candidate = " ".join(pieces[-size:])
            before = pieces[: len(pieces) - size]
            role = bool(before) and _ROLE_BEFORE_NAME.search(before[-1]) is not None
            alone = (
                not before
                and _plausible_name(candidate)
                and not candidate.endswith(_NOT_NAME_ENDINGS + _KATAKANA_ORG_ENDINGS)
                and not candidate.startswith(_ORGANISATION_PREFIXES)
            )
            if size == 1 and not role and not alone:
                single = _tokens(candidate)
                role = len(single) == 1 and single[0].proper and len(candidate) >= 2
            kanji = (
                re.fullmatch(r"[一-龥々ヶ]{1,4}(?:[ \u3000][一-龥々ヶ]{1,4})?", candidate)
                and candidate not in _NOT_NAMES
                and not candidate.endswith(_NOT_NAME_ENDINGS)
            )
            if size == 2 and _ROLE_BEFORE_NAME.search(pieces[-2]):
                continue  # 財務課 久保田: a department and a name, not a full name
            named = (role and (kanji or _plausible_name(candidate))) or alone
            whole = (
                size == 1
                or (role and kanji)
                or all(_looks_like_name_part(piece) for piece in pieces[-2:])
            )
            if named and whole:
                position = line.rfind(pieces[-size])
                yield starts[number] + position, starts[number] + len(line.rstrip())
                break


_ORGANISATION_PREFIXES = (
    "株式会社", "有限会社", "合同会社", "一般社団法人", "一般財団法人",
    "公益社団法人", "公益財団法人",
    "社会医療法人", "医療法人", "学校法人", "社会福祉法人", "特定非営利活動法人", "NPO法人",
)  # fmt: skip
_KATAKANA_ORG_ENDINGS = (
    "ウンユ", "テン", "ショウテン", "コウギョウ", "ショウジ", "ガイシャ", "ジムショ", "ビョウイン",
    "ガッコウ", "クミアイ", "センター",
)  # fmt: skip


def _looks_like_name_part(piece: str) -> bool:
    if re.fullmatch(r"[ァ-ヴー]{2,6}", piece):
        return piece not in _KATAKANA_WORDS and not piece.endswith(_KATAKANA_ORG_ENDINGS)
    tokens = _tokens(piece)
    return len(tokens) == 1 and tokens[0].proper


def _plausible_name(candidate: str) -> bool:
    """Not a department, a role or a common word: a name is made of proper nouns, or of short
    kanji / kana pieces UniDic does not know as anything else."""
    if candidate in _NOT_NAMES:
        return False
    tokens = [token for token in _tokens(candidate.replace("\u3000", " ")) if token.surface != "・"]
    if not tokens:
        return False
    if any(token.proper for token in tokens):
        return all(token.proper or token.katakana or token.pos1 == "名詞" for token in tokens)
    ordinary = [token for token in tokens if token.pos1 != "名詞" or token.pos2 == "普通名詞"]
    return not ordinary or (
        all(token.katakana for token in tokens)
        and len(candidate.replace(" ", "")) <= 12
        and not any(token.surface in _KATAKANA_WORDS for token in tokens)
    )


_NOT_NAMES = set(
    "皆 皆さん 皆様 お客 客 お客さん 担当 担当者 ご担"
    "当者 ご担当 各位 先方 相手 大家 お医者 医者 患者"
    " 利用者 業者 事務 運転手 生徒 学生 職員 社員 上司 同僚 保護者 依頼者 依頼人 顧客 取引先 委員"
    " 市民 住民 ユーザー 管理者 作成者 話者 参加者 登壇者 発言者 回答者 受講者 講師 開発者 サポート"
    " 営業 会社 御社 貴社 弊社 当社 本社 支社 窓口 以上 不明 未定 なし 無し 同上 御中 各位 宛先"
    " 本人 ご本人 代理人 同 上記 下記 別紙 皆様方 関係者 担当課 同様 仕様 模様 多様 一様 農家 大学"
    " 人事 総務 経理 営業 広報 法務 学校 病院 組合 "
    "役所 本部 支店 店長 園長 親方 家族 両親 主人"
    " 女将 料理長 大将 班長 ガイド ドライバー 入居者 被保険者 契約者".split()
)
_KATAKANA_WORDS = set(
    "サポート センター システム チーム グループ マネージャー リーダー スタッフ オフィス クリニック"
    " ユーザー メール アカウント ログイン パスワード "
    "プラン エンタープライズ プレミアム スタンダード"
    " フリー ボランティア マイク パートナー デザイン コンサルタント エンジニア インストラクター"
    " スタジオ パートナーズ ホールディングス コミュニケーションズ ソリューションズ サービス ゲスト"
    " オーナー メンバー ホスト ゴタントウシャサマ ゴタントウシャ ゴタントウ"
    " タントウシャ サマ カクイ"
    " ミナサマ オキャクサマ".split()
)


_HONORIFIC_OR_INTRODUCTION = (
    "様", "さま", "さん", "氏", "殿", "先生", "部長", "課長", "宛", " ", "\u3000", "と申します",
    "と言います",
)  # fmt: skip
_KANJI_BEFORE_HONORIFIC = re.compile(
    r"(?:^|(?<=[ \u3000、の（(「:：]))([一-龥々]{2,3})"
    r"(?=様|さん|氏|殿|先生|部長|課長|[ \u3000]?宛|と申します|と言います)",
    re.MULTILINE,
)
_ENGLISH_BEFORE_HONORIFIC = re.compile(
    rf"(?<![A-Za-z])({_ENGLISH_NAME}|[A-Z]{{2,}}(?: [A-Z]{{2,}}){{1,2}})(?=先生|さん|様|氏)"
)
# 「髙橋 誠 <m.takahashi@example.jp>」: a name before its address, as mail headers write it.
_NAME_BEFORE_ADDRESS = re.compile(
    r"(?:^|(?<=[・\-*:：>]))[ \u3000]*"
    r"([^\s<>@・、,:：]{1,20}(?:[ \u3000][^\s<>@・、,:：]{1,20}){0,2})"
    r"[ \u3000]*<[^<>@\s]+@[^<>\s]+>",
    re.MULTILINE,
)
# 参加者：佐々木（新宿東口店）、宮原、レオン・カルバハル: a list of people.
_PEOPLE_LIST = re.compile(
    r"(?:参加者|出席者|出席|参加|登壇者|構成員|メンバー|参会者|参석자|참석자|参与者|與會者|Attendees"
    r"|Participants|参加|出席)[^:：\n]{0,12}[:：][ \u3000]*\n?[ \u3000]*([^\n]+)"
)
_LIST_ITEM_NAME = re.compile(
    r"[ \u3000]*([一-龥々]{1,4}(?:[ \u3000][一-龥々]{1,3})?"
    r"|[ァ-ヴー]{2,10}(?:・[ァ-ヴー]{2,10}){0,2}"
    r"|[가-힣]{2,4}|[A-Z][a-z]+(?: [A-Z][a-z]+){0,2})"
)
_ACCOUNT_HOLDER = re.compile(
    r"(?:普通|当座|記号番号|口座番号)[^\n]{0,30}?[0-9]{6,8}[ \u3000]+(["
    r"ァ-ヴー]{2,8}[ \u3000][ァ-ヴー]{2,8})"
)
_READING = re.compile(
    r"[（(]([ァ-ヴー]{2,8}(?:[・ \u3000][ァ-ヴー]{1,8})?"
    r"|[ぁ-ん]{2,8}(?:[ \u3000][ぁ-ん]{1,8})?)[）)]"
)


def _name_spans(folded: str) -> Iterable[tuple[int, int]]:
    found = list(_japanese_name_spans(folded))
    token_starts = {token.start: token for token in _tokens(folded)}
    for pattern in (_NAME_BEFORE_ADDRESS,):
        for match in pattern.finditer(folded):
            name = match.group(1)
            kanji_name = re.fullmatch(r"[一-龥々]{1,4}(?:[ \u3000][一-龥々]{1,4})?", name)
            if kanji_name or _plausible_name(name) or re.fullmatch(_ENGLISH_NAME, name):
                found.append((match.start(1), match.end(1)))
    for match in _PEOPLE_LIST.finditer(folded):
        offset = match.start(1)
        listed = re.split(r"[」。.!?！？]", match.group(1))[0]
        for item in re.split(r"[、,，／/]", listed):
            # 設計 土屋, ケアマネジャー 吉岡: a role, a space, then the person
            pieces = re.split(r"[ \u3000]", item.strip())
            role_first = (
                len(pieces) >= 2
                and len(pieces[0]) >= 2  # 王 静: a one-character family name, not a role
                and re.fullmatch(r"[一-龥々ァ-ヴー・]+", pieces[0]) is not None
                and not _looks_like_name_part(pieces[0])
            )
            lead = item.rfind(pieces[-1]) if role_first else 0
            name = _LIST_ITEM_NAME.match(item, lead)
            if name:
                person = _without_leading_word(name.group(1))
                start = offset + name.end(1) - len(person)
                person = _strip_role(person)
                ordinary = person in _NOT_NAMES or person in _KATAKANA_WORDS
                if person and not ordinary and not person.endswith(_LIST_ENDINGS):
                    found.append((start, start + len(person)))
            offset += len(item) + 1
    for pattern in (_KANJI_BEFORE_HONORIFIC, _ENGLISH_BEFORE_HONORIFIC, _ACCOUNT_HOLDER):
        for match in pattern.finditer(folded):
            name = match.group(1)
            after = token_starts.get(match.end(1))
            # 標準様式, 議事録様式: 様 inside a word is no honorific
            # 標準様式, 請求書宛名: 様 or 宛 inside a longer word is no honorific; 大工さん,
            # 薬剤師さん: an ordinary noun before one is no name.
            inside_word = pattern is _KANJI_BEFORE_HONORIFIC and (
                after is None
                or not folded.startswith(_HONORIFIC_OR_INTRODUCTION, after.start)
                or after.surface in {"様式", "様子", "様々", "宛名", "宛先"}
                or (
                    not folded.startswith(("と申します", "と言います"), match.end(1))
                    and all(token.pos2 == "普通名詞" for token in _tokens(name))
                )
            )
            if name not in _NOT_NAMES and not name.endswith(_NOT_NAME_ENDINGS) and not inside_word:
                found.append((match.start(1), match.end(1)))
    for pattern in (_ENGLISH_CUED, _ENGLISH_SAN, _ENGLISH_WEAKLY_CUED):
        for match in pattern.finditer(folded):
            weak = pattern is _ENGLISH_WEAKLY_CUED
            first = match.group(1).split()[0]
            if _english_name_ok(match.group(1)) and (
                not weak or first in _given_names() or (len(first) >= 4 and _is_romaji(first))
            ):
                found.append((match.start(1), match.end(1)))
    for match in _ENGLISH_PAIR.finditer(folded):
        # "Daniel Okafor" is a person because Daniel is a given name; "Push Groups" is a button.
        first = match.group(1).split()[0]
        if first in _given_names() and _english_name_ok(match.group(1)):
            found.append((match.start(1), match.end(1)))
    for match in _CHINESE_NAME.finditer(folded):
        group = next(number for number in (1, 2, 3) if match.group(number))
        found.append((match.start(group), match.end(group)))
    for match in _KOREAN_NAME.finditer(folded):
        group = 1 if match.group(1) else 2
        if match.group(group) not in _NOT_KOREAN_NAMES:
            found.append((match.start(group), match.end(group)))
    found.extend(_romanised_japanese_names(folded))
    found.extend(_quoted_chinese_names(folded))
    found.extend(list(_list_names(folded, found)))
    found.extend(list(_aliases(folded, found)))
    # The reading after a name (小野寺 真琴（おのでら まこと）) names the same person; so does a
    # proper noun listed beside a name (松岡、久米).
    for start, end in list(found):
        reading = _READING.match(folded, end)
        ordinary = reading and all(token.pos2 == "普通名詞" for token in _tokens(reading.group(1)))
        if (
            reading
            and not folded[start:end].isascii()
            and reading.group(1) not in _KATAKANA_WORDS
            and not (ordinary and re.fullmatch(r"[ァ-ヴー]+", reading.group(1)))
        ):
            found.append((reading.start(1), reading.end(1)))
    for token in _tokens(folded):
        if token.proper and token.pos3 in {"人名", "地名"}:
            before = folded[max(0, token.start - 1) : token.start]
            after = folded[token.end : token.end + 1]
            for start, end in found:
                if (before == "、" and end == token.start - 1) or (
                    after == "、" and start == token.end + 1
                ):
                    found.append((token.start, token.end))
                    break
    found = [_without_honorific(folded, start, end) for start, end in found]
    yield from found
    # A name found once is masked wherever else it stands on its own in the same text.
    for name in {folded[start:end] for start, end in found if end - start >= 2}:
        for match in re.finditer(re.escape(name), folded):
            after = folded[match.end() : match.end() + 1]
            before = folded[match.start() - 1 : match.start()] if match.start() else ""
            if not re.match(r"[一-龥々ァ-ヴーA-Za-z・]", after) and not re.match(
                r"[A-Za-z]", before
            ):
                yield match.start(), match.end()


# Hepburn (and Kunrei) syllables: what a Japanese name written in Latin letters is made of.
_ROMAJI = re.compile(
    r"(?:(?:[kgzdbpmrnh]y?|sh|ch|ts|j|f|w|y|s|t)?[aiueo]|n(?![aiueoy])|([kstpgbdmzc])(?=\1|h)"
    r"|h(?![aiueoy]))+"
)
_CAPITALISED_PAIR = re.compile(
    r"(?<![A-Za-z\-.])([A-Z][a-z]{2,}|[A-Z]{3,})[ \u3000]([A-Z][a-z]{2,}|[A-Z]{3,})(?![A-Za-z\-])"
)
# Sakura Minato Bank, Kansai Gaigo University, Minato Mirai Station: a place or a firm
_PLACE_AFTER = re.compile(
    r",? ?[A-Z][a-z]+-(?:ku|shi|cho|machi|gun)|[ -](?:Station|Line|Ward|City|Town|Bank|Branch"
    r"|University|Univ|College|School|Academy|Hospital|Clinic|Hotel|Inn|Building|Bldg|Tower"
    r"|Shrine|Temple|Park|Co|Inc|Corp|Ltd|Group|Holdings|Foundation|Association)\b"
)


def _is_romaji(word: str) -> bool:
    return _ROMAJI.fullmatch(word.lower()) is not None


def _romanised_japanese_names(folded: str) -> Iterable[tuple[int, int]]:
    """Takahiro Hoshino, Katagiri Satoshi, SHUN ISHIHARA: two capitalised words that are both
    Japanese syllables (Tokyo, Osaka and business words excluded; place names before -ku are
    addresses)."""
    for match in _CAPITALISED_PAIR.finditer(folded):
        first, second = match.group(1), match.group(2)
        words = [first.capitalize(), second.capitalize()]
        if len(first) + len(second) < 9 or any(word in _ENGLISH_NOT_NAMES for word in words):
            continue
        if _is_romaji(first) and _is_romaji(second) and not _PLACE_AFTER.match(folded, match.end()):
            yield match.start(), match.end()


_DISTINCTLY_CHINESE_SURNAMES = (
    "张張刘劉陈陳杨楊赵趙吴吳孙孫郑鄭谢謝许許韩韓冯馮"
    "邓鄧蒋蔣苏蘇吕呂卢盧钟鍾谭譚贾賈邹鄒龚龔钱錢严嚴王李"
)
_QUOTED_CHINESE_NAME = re.compile(
    rf"[「“『\"]([{_DISTINCTLY_CHINESE_SURNAMES}][一-龥]{{1,2}})[」”』\"]"
)


def _quoted_chinese_names(folded: str) -> Iterable[tuple[int, int]]:
    """「张伟」, “陈建国”: a quoted Chinese name (a surname rare at the start of a Japanese word,
    then one or two characters; 「王様」, one ordinary word, is not one)."""
    for match in _QUOTED_CHINESE_NAME.finditer(folded):
        tokens = _tokens(match.group(1))
        common_word = len(tokens) == 1 and tokens[0].pos2 == "普通名詞"
        if not (match.group(1)[0] in "王李" and common_word):
            yield match.start(1), match.end(1)


_BULLET = re.compile(r"[ \u3000>]*(?:[・\-*•●○◦▪■□]|[0-9]{1,2}[.)）])?[ \u3000]*")
_LIST_PERSON = re.compile(
    r"[一-龥々ヶ]{1,4}(?:[ \u3000][一-龥々ヶぁ-ん]{1,4})?"
    r"|[ァ-ヴー]{2,10}(?:[・ \u3000][ァ-ヴー]{2,10}){0,2}"
    r"|[가-힣]{2,4}"
    r"|[A-Z][a-z'’]+(?:-[a-zA-Z]+)?(?:[ -][A-Z][a-zA-Z'’]+(?:-[a-z]+)?){0,2}"
)
_ROLE_ENDINGS = ("師", "長", "士", "員", "者", "役", "係", "主任", "代表", "リーダー", "担当")


def _list_person(line: str) -> tuple[int, int, bool] | None:
    """Where the person stands in a list line (・岡部 茂（氏子総代）, 獣医師 岡 菜々子): after
    the bullet and a role, before a bracket; None when the line is not shaped like one."""
    start = _BULLET.match(line).end()
    end = min([line.find(bracket) for bracket in "（(" if bracket in line[start:]] or [len(line)])
    body = line[start:end].rstrip(" \u3000")
    pieces = re.split(r"[ \u3000]+", body)
    role = len(pieces) >= 2 and (pieces[0] in _TITLES or pieces[0].endswith(_ROLE_ENDINGS))
    if role and not _looks_like_name_part(pieces[0]):
        start = line.index(pieces[1], start)
        body = line[start:end].rstrip(" \u3000")
    else:
        role = False
    if not body or not _LIST_PERSON.fullmatch(body):
        return None
    return start, start + len(body), role


def _list_names(folded: str, found: Sequence[tuple[int, int]]) -> Iterable[tuple[int, int]]:
    """A list of people, one a line, where at least two lines and half of them hold a name
    already found: the other lines of the same shape are people too (ミラー・ジェイコブ among
    高千穂 彩 and 岡部 茂)."""
    covered = bytearray(len(folded))
    for start, end in found:
        covered[start:end] = b"\x01" * (end - start)
    run: list[tuple[int, int]] = []
    roles = 0
    offset = 0
    for line in [*folded.split("\n"), ""]:
        person = _list_person(line)
        if person:
            run.append((offset + person[0], offset + person[1]))
            roles += person[2]
        else:
            known = [
                span for span in run if sum(covered[span[0] : span[1]]) >= 0.8 * (span[1] - span[0])
            ]
            # 院長 吉永 健 / 獣医師 岡 菜々子: a role on every line makes one known name enough
            if roles == len(run) >= 3:
                a_list_of_people = len(known) >= 1
            else:
                a_list_of_people = len(run) >= 2 and len(known) >= 2 and 2 * len(known) >= len(run)
            if a_list_of_people:
                for start, end in run:
                    text = folded[start:end]
                    if (start, end) not in known and text not in _NOT_NAMES | _KATAKANA_WORDS:
                        if text.isascii() and not _english_name_ok(text):
                            continue
                        yield start, end
            run, roles = [], 0
        offset += len(line) + 1


_ALIAS_NAME = (
    r"(?P<kana>[ァ-ヴー]{2,10}(?:[・ \u3000][ァ-ヴー]{1,10}){0,2}"
    r"|[ぁ-ん]{2,8}(?:[ \u3000][ぁ-ん]{1,8})?)"
    r"|(?P<latin>[A-Z][a-zA-Z'’]+(?:[ -][A-Z][a-zA-Z'’]+){0,2})"
    r"|(?P<kanji>[一-龥々ヶ〆][一-龥々ヶ〆ツノケ]{0,3}(?:[ \u3000][一-龥々ヶ]{1,3})?)"
)
_ALIAS_IN_BRACKETS = re.compile(
    r"(?:様|さま|さん|氏|殿|先生)?[ \u3000]*"
    rf"[（(][ \u3000]*(?:{_ALIAS_NAME})[ \u3000]*(?P<honorific>様|さま|さん|氏)?[）)]"
)
_ALIAS_AFTER_SLASH = re.compile(
    rf"[ \u3000]*[／/][ \u3000]*(?:{_ALIAS_NAME})(?=[ \u3000]*(?:$|[（(<]))", re.MULTILINE
)
_ALIAS_BEFORE = re.compile(rf"(?:{_ALIAS_NAME})[ \u3000]*[／/][ \u3000]*$")


def _aliases(folded: str, found: Sequence[tuple[int, int]]) -> Iterable[tuple[int, int]]:
    """The same person written another way beside a found name: its reading or Latin spelling
    in brackets (坂口様（サカグチ）, 石原 駿（Shun Ishihara）, Chen Wei（陳 偉）) or after a
    slash (三ツ矢 慎吾 ／ Shingo Mitsuya). A kanji alias counts only beside a Latin name: after a
    Japanese one, brackets hold a role or a department."""
    for start, end in found:
        name = folded[start:end]
        after = _ALIAS_IN_BRACKETS.match(folded, end) or _ALIAS_AFTER_SLASH.match(folded, end)
        line_start = folded.rfind("\n", 0, start) + 1
        # an alias is at most a few dozen characters: look only at the end of the line before
        before_start = max(line_start, start - 60)
        before = _ALIAS_BEFORE.search(folded[before_start:start])
        for match, offset in ((after, 0), (before, before_start)):
            if not match:
                continue
            kind = next(group for group in ("kana", "latin", "kanji") if match.group(group))
            alias = match.group(kind)
            ordinary = all(token.pos2 == "普通名詞" for token in _tokens(alias))
            honoured = "honorific" in match.re.groupindex and match.group("honorific")
            if kind == "kana" and (
                alias in _KATAKANA_WORDS or (ordinary and "・" not in alias and not honoured)
            ):
                continue  # 工藤 彩（エリアマネージャー）: a role in brackets, not a reading
            latin_word = re.search(r"[a-z]", alias) or " " in alias  # not CEO, GM
            latin_ok = latin_word and _english_name_ok(alias) and not name.isascii()
            if kind == "latin" and not latin_ok:
                continue
            if kind == "kanji" and (not name.isascii() or alias.endswith(_NOT_NAME_ENDINGS)):
                continue
            yield offset + match.start(kind), offset + match.end(kind)


def _without_leading_word(name: str) -> str:
    """当社 藤井 -> 藤井: a list item may name the side before the person."""
    parts = re.split(r"[ \u3000]", name)
    if len(parts) == 2 and (parts[0] in _NOT_NAMES or parts[0].endswith(_NOT_NAME_ENDINGS)):
        return parts[1]
    return name


def _strip_role(name: str) -> str:
    """堀江製造課長 -> 堀江, 김민수 센터장 -> 김민수: a list item is a name, maybe with a role."""
    for title in sorted(_TITLES | _LIST_ROLES, key=len, reverse=True):
        if name.endswith(title) and len(name) > len(title):
            return name[: -len(title)].rstrip(" \u3000")
    return name if len(name) >= 2 else ""


_LIST_ENDINGS = ("ほか", "他", "以上", "者", "会社", "部", "課", "室", "店")
_LIST_ROLES = {
    "센터장",
    "팀장",
    "과장",
    "부장",
    "대리",
    "사원",
    "님",
    "理事",
    "監事",
    "理事長",
    "会計",
    "店長",
    "班長",
    "課長代理",
    "製造課長",
    "所長",
}


def _without_honorific(folded: str, start: int, end: int) -> tuple[int, int]:
    text = folded[start:end]
    for honorific in ("様", "さま", "さん", "氏", "殿"):
        if text.endswith(honorific) and len(text) > len(honorific):
            return start, end - len(honorific)
    return start, end


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    lines = GIVEN_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(name for line in lines if not line.startswith("#") for name in line.split())


def _english_name_ok(candidate: str) -> bool:
    words = [word.rstrip(".") for word in candidate.split()]
    return not any(word in _ENGLISH_NOT_NAMES for word in words)


# --- the detector ----------------------------------------------------------------------------

_DETECTORS = {
    "email": _email_spans,
    "credit_card": _card_spans,
    "my_number": _my_number_spans,
    "phone": _phone_spans,
    "bank_account": _bank_spans,
    "postal_code": _postal_spans,
    "address": _address_spans,
    "person_name": _name_spans,
}


def find_pii(text: str, kinds: Sequence[str] = PII_KINDS, use_tagger: bool = True) -> list[PiiSpan]:
    """The personal data in `text`, as non-overlapping spans in text order. Person names and
    addresses come from the rules and, where no rule found one, from the learned tagger
    (`common.pii_tagger`; `use_tagger=False` leaves it out, to measure what each adds)."""
    unknown = sorted(set(kinds) - set(PII_KINDS))
    if unknown:
        raise ValueError(f"unknown PII kinds {unknown}; known: {list(PII_KINDS)}")
    folded = fold_width(text)
    tagged = _tagged_spans(folded.text) if use_tagger and set(kinds) & set(TAGGED_KINDS) else {}
    claimed = bytearray(len(text))
    found: list[PiiSpan] = []
    for kind in sorted(kinds, key=_PRECEDENCE.__getitem__):
        spans = sorted(set(_DETECTORS[kind](folded.text)))
        spans = sorted(
            spans + [span for span in tagged.get(kind, ()) if not _overlaps(span, spans)]
        )
        for start, end in _merge(spans):
            start, end = _strip(text, *folded.original(start, end))
            if kind == "address" and not claimed[start] and any(claimed[start:end]):
                # 飯島町大字七久保1234番地2　0265-86-3318: the address stops at the phone number
                start, end = _strip(text, start, claimed.index(1, start, end))
                end = start + len(text[start:end].rstrip(" \u3000,，、｜|(（〒"))
                if end - start < 4:
                    continue
            if end <= start or any(claimed[start:end]):
                continue
            claimed[start:end] = b"\x01" * (end - start)
            found.append(PiiSpan(kind, start, end, text[start:end]))
    return sorted(found, key=lambda span: span.start)


def _overlaps(span: tuple[int, int], others: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < end and span[1] > start for start, end in others)


def _tagged_spans(folded: str) -> dict[str, list[tuple[int, int]]]:
    """The learned tagger's person names and addresses, by kind, in folded coordinates."""
    tagged: dict[str, list[tuple[int, int]]] = {}
    for kind, start, end in default_tagger().spans(folded, _tokens(folded)):
        text = folded[start:end]
        if kind == "person_name" and (text in _NOT_NAMES or not _english_name_ok(text)):
            continue  # the words the rules know are no names (HENNGE One, 皆様) are none here
        tagged.setdefault(kind, []).append((start, end))
    return tagged


def tagger_example(text: str, spans: Sequence[PiiSpan]) -> tuple[list[dict], list[str]]:
    """One labelled text as the tagger learns it: the features of its tokens and their BIO
    labels (person names and addresses), the labels read from `spans` in `text`'s offsets."""
    folded = fold_width(text)
    tokens = _tokens(folded.text)
    offsets = [folded.original(token.start, token.end) for token in tokens]
    labels = token_labels(offsets, [(span.kind, span.start, span.end) for span in spans])
    return token_features(folded.text, tokens), labels


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def mask_pii(text: str, kinds: Sequence[str] = PII_KINDS) -> MaskedText:
    """`text` with each piece of personal data replaced by its kind's token (<PHONE>, <NAME>,
    ...), and the spans that were replaced (offsets in the original)."""
    spans = find_pii(text, kinds)
    pieces, cursor = [], 0
    for span in spans:
        pieces.append(text[cursor : span.start])
        pieces.append(MASK_TOKENS[span.kind])
        cursor = span.end
    pieces.append(text[cursor:])
    return MaskedText("".join(pieces), spans)


def masked(text: str | None, kinds: Sequence[str] = PII_KINDS) -> str | None:
    """`mask_pii(text).text`, passing None and empty text through."""
    return mask_pii(text, kinds).text if text else text


# --- where masking applies -------------------------------------------------------------------

# The places personal data could be written down, each maskable on its own (settings:
# pii_masked_fields). Knowledge-base articles are not among them: they are the helpdesk's own
# published text, and their support phone numbers and addresses are meant to be read.
MASKABLE_FIELDS = (
    "resolved_ticket.subject",
    "resolved_ticket.body",
    "feedback.query",
    "feedback.actor",
    "recent_ticket.subject",
    "handoff.message",
    "logs",
)


@dataclass(frozen=True)
class PiiPolicy:
    """Which kinds of personal data are masked, in which stored fields."""

    kinds: tuple[str, ...] = PII_KINDS
    fields: frozenset[str] = frozenset(MASKABLE_FIELDS)

    def __post_init__(self) -> None:
        unknown_kinds = sorted(set(self.kinds) - set(PII_KINDS))
        unknown_fields = sorted(set(self.fields) - set(MASKABLE_FIELDS))
        if unknown_kinds or unknown_fields:
            raise ValueError(
                f"unknown PII kinds {unknown_kinds} or fields {unknown_fields}; kinds are "
                f"{list(PII_KINDS)}, fields {list(MASKABLE_FIELDS)}"
            )

    def mask(self, field: str, text: str | None) -> str | None:
        """`text` as it may be stored in `field`."""
        if field not in self.fields or not text or not self.kinds:
            return text
        return mask_pii(text, self.kinds).text


NO_MASKING = PiiPolicy(kinds=(), fields=frozenset())
