"""Personal data in Japanese tickets: each kind found as real tickets write it, look-alikes left
alone, the labelled sets' recall and precision, POST /v1/mask, and nothing unmasked reaching the
database or the logs after the sample tickets go through the API."""

import io
import json
import logging
import re
import unicodedata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from api.app import create_app
from common.json_logging import JsonFormatter, MaskingFormatter, configure_logging
from common.pii import (
    NO_MASKING,
    PiiPolicy,
    find_pii,
    luhn_is_valid,
    mask_pii,
    my_number_is_valid,
)
from common.pii_tagger import TAGGER_FILE, TAGGER_FOLDER, PiiTagger
from common.settings import PROJECT_ROOT, Settings
from common.storage import create_database_engine, read_manifest, sha256_of_file
from training.pii_evaluation import evaluate_pii, read_labelled_pii

LABELLED = PROJECT_ROOT / "tests" / "data"
# Floors for the held-out sets, a little under what each measured (tests/data/README.md): PE
# 0.8825 / 0.9775 untouched (0.9608 / 0.9813 once tuned on); PF 0.8343 / 0.9892 untouched by the
# rules, 0.8994 / 0.9673 with the tagger (session 9), 0.9236 / 0.9678 once its address misses
# were read (session 10); PI, written blind in session 10 and never tuned on nor trained on,
# 0.9516 / 0.9600.
HELD_OUT_FLOOR = {"recall": 0.87, "precision": 0.95}
HELD_OUT_PF_FLOOR = {"recall": 0.91, "precision": 0.95}
HELD_OUT_PI_FLOOR = {"recall": 0.94, "precision": 0.95}


def kinds_found(text: str) -> list[tuple[str, str]]:
    return [(span.kind, span.text) for span in find_pii(text)]


# -- each kind -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["03-1234-5678", "090-1234-5678", "０９０－１２３４－５６７８", "(03)1234-5678",
     "03（1234）5678", "+81-90-1234-5678", "+81 3 1234 5678", "0120-123-456", "09012345678"],
)  # fmt: skip
def test_phone_numbers_in_every_japanese_format_are_found(number: str) -> None:
    assert kinds_found(f"折り返しは {number} までお願いします。") == [("phone", number)]


def test_numbers_that_only_look_like_phone_numbers_are_left_alone() -> None:
    text = "契約番号 KM-2026-004512、請求額 ¥1,234,567、2026-04-01 09:30 に E-2090、v3.12.1"
    assert find_pii(text) == []


def test_my_number_needs_its_check_digit() -> None:
    assert my_number_is_valid("220761135856")
    assert not my_number_is_valid("220761135857")
    assert kinds_found("マイナンバーは 2207 6113 5856 です") == [("my_number", "2207 6113 5856")]
    assert find_pii("取引ID 220761135857 をご確認ください") == []


def test_card_numbers_must_pass_luhn() -> None:
    assert luhn_is_valid("4111111111111111") and not luhn_is_valid("4111111111111112")
    assert kinds_found("カード 4111-1111-1111-1111 で決済") == [
        ("credit_card", "4111-1111-1111-1111")
    ]
    assert find_pii("ライセンスキー 4111-1111-1111-1112") == []


def test_bank_accounts_postal_codes_and_addresses_are_found_by_their_context() -> None:
    text = (
        "振込先：みずほ銀行 渋谷支店 普通 1234567\n"
        "〒150-0002 東京都渋谷区渋谷2-21-1 渋谷ヒカリエ 8F\n"
        "ゆうちょ銀行 記号番号 10170-45829061"
    )
    assert kinds_found(text) == [
        ("bank_account", "1234567"),
        ("postal_code", "150-0002"),
        ("address", "東京都渋谷区渋谷2-21-1 渋谷ヒカリエ 8F"),
        ("bank_account", "10170-45829061"),
    ]
    assert find_pii("大阪の支店と札幌から3名が参加します。在庫は1234567個") == []


def test_names_are_found_by_honorifics_signatures_and_forms_but_not_common_nouns() -> None:
    text = (
        "Koemoji サポートご担当者様\n\nいつもお世話になっております。総務部の田村と申します。\n"
        "先日は佐藤様にご対応いただきました。お客様や皆様、大家さんへの説明に使っています。\n\n"
        "--\n株式会社ミドリ設計 総務部\n田村 健一\nTEL 03-0000-1162"
    )
    names = [span.text for span in find_pii(text) if span.kind == "person_name"]
    assert names == ["田村", "佐藤", "田村 健一"]


def test_a_name_written_another_way_beside_it_is_the_same_person() -> None:
    memo = "4/22 入電 坂口様（サカグチ）より。\n石原 駿（Shun Ishihara）\nChen Wei（陳 偉）"
    assert [s.text for s in find_pii(memo) if s.kind == "person_name"] == [
        "坂口", "サカグチ", "石原 駿", "Shun Ishihara", "Chen Wei", "陳 偉",
    ]  # fmt: skip
    signature = "情報システム課\n三ツ矢 慎吾 ／ Shingo Mitsuya\n工藤 彩（エリアマネージャー）様"
    names = [s.text for s in find_pii(signature) if s.kind == "person_name"]
    assert "Shingo Mitsuya" in names and "エリアマネージャー" not in names


def test_a_list_of_people_one_a_line_is_read_as_a_whole() -> None:
    text = (
        "参加者は以下の4名です。\n\n院長 吉永 健\n獣医師 岡 菜々子\n"
        "獣医師 Lee Seo-yeon（研修中）\n動物看護師 真鍋 りく\n\nよろしくお願いします。"
    )
    names = [s.text for s in find_pii(text) if s.kind == "person_name"]
    assert names == ["吉永 健", "岡 菜々子", "Lee Seo-yeon", "真鍋 りく"]
    features = "ご要望：\n・議事録\n・要約\n・翻訳"
    assert find_pii(features) == []


def test_japanese_names_in_latin_letters_but_not_places_or_firms() -> None:
    text = (
        "Regards from Takahiro Hoshino. Our bank is Sakura Minato Bank, and HENNGE One is the IdP."
    )
    assert [s.text for s in find_pii(text) if s.kind == "person_name"] == ["Takahiro Hoshino"]
    assert [s.text for s in find_pii("出力「张伟」→ 納品では「張偉」。「王道」は別") if s.kind == "person_name"] == [
        "张伟", "張偉",
    ]  # fmt: skip


def test_postal_codes_after_a_romanised_prefecture_or_a_cue_in_other_scripts() -> None:
    english = "2-14-6 Kamiyagi, Hanyu-shi, Saitama 348-0041\nTicket 552-0193 is still open."
    assert [s.text for s in find_pii(english) if s.kind == "postal_code"] == ["348-0041"]
    for cued in ("ゆうびんばんごう 994-0044", "邮编：530-0001", "우편번호 231-0013"):
        assert [s.text for s in find_pii(cued) if s.kind == "postal_code"] == [cued[-8:]], cued


def test_addresses_keep_their_room_and_leave_the_sentence_around_them() -> None:
    assert kinds_found("住所は東京都豊島区池袋本町2-18-6 メゾン池袋 402号室で、以上です") == [
        ("address", "東京都豊島区池袋本町2-18-6 メゾン池袋 402号室")
    ]
    assert kinds_found("今の住所が川崎市中原区小杉町3-264 グランドメゾン小杉 1207号室です") == [
        ("address", "川崎市中原区小杉町3-264 グランドメゾン小杉 1207号室")
    ]
    english = "Address: 3F Kotobuki Bldg., 1-12-7 Jingumae, Shibuya-ku, Tokyo"
    assert kinds_found(english) == [
        ("address", "3F Kotobuki Bldg., 1-12-7 Jingumae, Shibuya-ku, Tokyo")
    ]


def test_addresses_abroad_and_their_postcodes() -> None:
    cases = {
        "Flat 3, 41 Marchmont Crescent, London\nWC1N 1PZ, United Kingdom": (
            "Flat 3, 41 Marchmont Crescent, London",
            "WC1N 1PZ",
        ),
        "Room 314, Hawthorne Hall, 1200 College Avenue, Madison, WI 53706": (
            "Room 314, Hawthorne Hall, 1200 College Avenue, Madison, WI",
            "53706",
        ),
        "71 Robinson Road, #14-01, Singapore 068895": (
            "71 Robinson Road, #14-01, Singapore",
            "068895",
        ),
        "연구실 주소: 서울특별시 성북구 안암로 215, 과학관 612호 (우편번호 02842)": (
            "서울특별시 성북구 안암로 215, 과학관 612호",
            "02842",
        ),
        "北京市海淀区学院南路18号 邮编100081": ("北京市海淀区学院南路18号", "100081"),
        "Room 803, Belvedere Meguro, 2-16-9 Kamiosaki, Shinagawa-ku, Tokyo 141-0021": (
            "Room 803, Belvedere Meguro, 2-16-9 Kamiosaki, Shinagawa-ku, Tokyo",
            "141-0021",
        ),
    }
    for written, (address, postcode) in cases.items():
        found = kinds_found(written)
        assert ("address", address) in found, (written, found)
        assert ("postal_code", postcode) in found, (written, found)
    # a street word alone is no address, and a five-digit number needs an address or a cue
    assert find_pii("We met on Main Street yesterday; order 53706 shipped.") == []


def test_an_address_takes_its_building_line_and_stops_at_the_next_piece_of_data() -> None:
    signature = "〒920-0918\n石川県金沢市尾山町10番5号\nかなざわ信用金庫 本部ビル3階\n076-232-1185"
    assert kinds_found(signature) == [
        ("postal_code", "920-0918"),
        ("address", "石川県金沢市尾山町10番5号\nかなざわ信用金庫 本部ビル3階"),
        ("phone", "076-232-1185"),
    ]
    row = "中森 哲｜〒514-0033｜三重県津市丸之内26-8 丸之内プラザ402｜059-228-4610"
    assert ("address", "三重県津市丸之内26-8 丸之内プラザ402") in kinds_found(row)
    listed = "分団長　鈴木 作治　長野県上伊那郡飯島町大字七久保1234番地2　0265-86-3318"
    assert ("address", "長野県上伊那郡飯島町大字七久保1234番地2") in kinds_found(listed)
    assert ("phone", "0265-86-3318") in kinds_found(listed)
    csv = "山岸 和夫,9200853,石川県金沢市本町2丁目15-1,本町スクエア 12F\n"
    assert ("address", "石川県金沢市本町2丁目15-1,本町スクエア 12F") in kinds_found(csv)
    assert ("postal_code", "9200853") in kinds_found(csv)
    # the next field is a sentence or another address, not a building
    two = "豊田市挙母町二丁目百十三ノ二、使用の本拠は同市西町五丁目八ノ七 メゾン西町三〇一です。"
    assert [text for kind, text in kinds_found(two) if kind == "address"] == [
        "豊田市挙母町二丁目百十三ノ二",
        "同市西町五丁目八ノ七 メゾン西町三〇一",
    ]
    kyoto = "京都市中京区新京極通四条上る中之町五百六十五番地 ことのはビル三階"
    assert kinds_found(f"住所：〒604-8042 {kyoto}") == [
        ("postal_code", "604-8042"),
        ("address", kyoto),
    ]
    assert kinds_found("郵便番号が862-0950で、熊本市中央区水前寺三丁目1-2です") == [
        ("postal_code", "862-0950"),
        ("address", "熊本市中央区水前寺三丁目1-2"),
    ]


def test_bank_accounts_after_a_kana_cue_or_a_comma() -> None:
    assert ("bank_account", "0648215") in kinds_found("ﾖｷﾝｼｭﾓｸ: ﾌﾂｳ\nｺｳｻﾞﾊﾞﾝｺﾞｳ: 0648215")
    spoken = "お振込先は、みちのく信用金庫本店、普通預金、2107734、口座名義は"
    assert ("bank_account", "2107734") in kinds_found(spoken)


def test_english_chinese_and_korean_names_have_their_own_cues() -> None:
    english = "Hi Koemoji team,\n\nplease contact Mr. Tanaka.\n\nKind regards,\nDaniel Okafor"
    assert [s.text for s in find_pii(english) if s.kind == "person_name"] == [
        "Tanaka",
        "Daniel Okafor",
    ]
    assert [
        s.text for s in find_pii("您好，我叫王伟，是人事部的负责人。") if s.kind == "person_name"
    ] == ["王伟"]
    korean = "안녕하세요. 박지훈이라고 합니다."
    assert [s.text for s in find_pii(korean) if s.kind == "person_name"] == ["박지훈"]


def test_spans_point_into_the_original_text_even_in_half_width_kana() -> None:
    text = "ﾃﾞﾝﾜ ﾊ ０３－１２３４－５６７８ ﾏﾃﾞ｡ ｵｵﾀ"
    for span in find_pii(text):
        assert text[span.start : span.end] == span.text
    assert ("phone", "０３－１２３４－５６７８") in kinds_found(text)


def test_masking_replaces_each_piece_with_its_kind() -> None:
    result = mask_pii("山田様、090-1234-5678 か taro@example.jp へ")
    assert result.text == "<NAME>様、<PHONE> か <EMAIL> へ"
    assert result.counts() == {"person_name": 1, "phone": 1, "email": 1}
    only_phones = mask_pii("山田様、090-1234-5678", kinds=["phone"])
    assert only_phones.text == "山田様、<PHONE>"


def test_a_policy_masks_only_its_fields_and_refuses_unknown_ones() -> None:
    policy = PiiPolicy(fields=frozenset({"feedback.query"}))
    assert policy.mask("feedback.query", "090-1234-5678") == "<PHONE>"
    assert policy.mask("feedback.actor", "090-1234-5678") == "090-1234-5678"
    assert NO_MASKING.mask("feedback.query", "090-1234-5678") == "090-1234-5678"
    with pytest.raises(ValueError, match="unknown PII kinds"):
        PiiPolicy(kinds=("phone", "blood_type"))
    with pytest.raises(ValueError):
        Settings(pii_masked_fields=["ticket.everything"])


# -- the labelled sets ---------------------------------------------------------------------


@pytest.mark.parametrize("use_tagger", [False, True], ids=["rules alone", "with the tagger"])
def test_the_development_set_reaches_the_promised_recall_and_precision(use_tagger: bool) -> None:
    """The tagger learned from this set, so with it the figure is in-sample; the rules alone
    must keep the promise too."""
    rows = read_labelled_pii(LABELLED / "pii_dev.jsonl")
    result = evaluate_pii(rows, {row.id: find_pii(row.text, use_tagger=use_tagger) for row in rows})
    assert result["overall"]["recall"] >= 0.95, result["overall"]
    assert result["overall"]["precision"] >= 0.90, result["overall"]
    for kind in ("phone", "email", "my_number", "credit_card"):
        assert result["kinds"][kind]["recall"] >= 0.95, (kind, result["kinds"][kind])


@pytest.mark.parametrize(
    ("file", "floor"),
    [
        ("pii_heldout.jsonl", HELD_OUT_FLOOR),
        ("pii_heldout_pf.jsonl", HELD_OUT_PF_FLOOR),
        ("pii_heldout_pi.jsonl", HELD_OUT_PI_FLOOR),
    ],
)
def test_the_held_out_sets_stay_at_what_they_measured_before_the_rules_saw_them(
    file: str, floor: dict[str, float]
) -> None:
    """A floor, not the promise: each held-out set was measured once, untouched (see
    tests/data/README.md); a change that drops below that measurement is a regression."""
    result = evaluate_pii(read_labelled_pii(LABELLED / file))
    assert result["overall"]["recall"] >= floor["recall"], result["overall"]
    assert result["overall"]["precision"] >= floor["precision"], result["overall"]
    for kind in ("phone", "email", "my_number", "credit_card"):
        assert result["kinds"][kind]["recall"] >= 0.95, (kind, result["kinds"][kind])


# -- the learned tagger --------------------------------------------------------------------


@pytest.mark.parametrize("file", ["pii_heldout_pf.jsonl", "pii_heldout_pi.jsonl"])
def test_the_tagger_finds_names_on_unseen_writing_that_the_rules_miss(file: str) -> None:
    """PF and PI were written by writers the tagger did not learn from (PI: nor the rules)."""
    rows = read_labelled_pii(LABELLED / file)
    rules = evaluate_pii(rows, {row.id: find_pii(row.text, use_tagger=False) for row in rows})
    both = evaluate_pii(rows, {row.id: find_pii(row.text) for row in rows})
    assert both["kinds"]["person_name"]["recall"] > rules["kinds"]["person_name"]["recall"]
    assert both["kinds"]["address"]["recall"] >= rules["kinds"]["address"]["recall"]
    assert both["overall"]["recall"] >= rules["overall"]["recall"] + 0.02, (rules, both)
    assert both["overall"]["precision"] >= 0.95, both["overall"]


def test_the_committed_tagger_is_what_its_manifest_says_and_its_data_still_match() -> None:
    """Editing a labelled set the tagger learned from, without `madoguchi pii train-tagger`,
    fails here rather than leaving a model that no longer matches its data."""
    manifest = read_manifest(TAGGER_FOLDER)
    assert manifest["kind"] == "pii-tagger"
    assert manifest["model_file"] == TAGGER_FILE and (TAGGER_FOLDER / TAGGER_FILE).is_file()
    assert [item["file"] for item in manifest["trained_on"]] == [
        "pii_dev.jsonl",
        "pii_heldout.jsonl",
        "pii_tagger_pg.jsonl",
        "pii_tagger_ph.jsonl",
        "pii_tagger_pj.jsonl",
    ]
    for item in manifest["trained_on"]:
        assert sha256_of_file(LABELLED / item["file"]) == item["sha256"], item["file"]


def test_train_tagger_makes_again_the_model_that_is_committed(tmp_path: Path) -> None:
    """`madoguchi pii train-tagger` from the labelled sets gives a model that tags the unseen
    set exactly as the committed one does (CRFsuite's training is deterministic)."""
    from typer.testing import CliRunner

    from cli.main import app

    destination = tmp_path / "tagger"
    result = CliRunner().invoke(
        app, ["pii", "train-tagger", "--destination", str(destination), "--json"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout.strip().splitlines()[-1])
    trained_on = [LABELLED / item["file"] for item in manifest["trained_on"]]
    assert manifest["texts"] == sum(len(read_labelled_pii(path)) for path in trained_on)
    assert manifest["labelled_spans"] > 3000
    assert read_manifest(destination)["trained_on"] == read_manifest(TAGGER_FOLDER)["trained_on"]
    fresh, committed = PiiTagger(destination / TAGGER_FILE), PiiTagger(TAGGER_FOLDER / TAGGER_FILE)
    from common.pii import _tokens, fold_width

    differing = 0
    for row in read_labelled_pii(LABELLED / "pii_heldout_pf.jsonl"):
        folded = fold_width(row.text).text
        tokens = _tokens(folded)
        differing += fresh.spans(folded, tokens) != committed.spans(folded, tokens)
    assert differing == 0


def test_a_missing_tagger_model_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="madoguchi pii train-tagger"):
        PiiTagger(tmp_path / TAGGER_FILE)


# -- the API, the database and the logs ---------------------------------------------------


def test_mask_route_returns_the_masked_text_and_the_spans(client: TestClient) -> None:
    response = client.post("/v1/mask", json={"text": "田中様の携帯は 080-1111-2222 です"})
    assert response.status_code == 200
    body = response.json()
    assert body["masked"] == "<NAME>様の携帯は <PHONE> です"
    assert body["counts"] == {"person_name": 1, "phone": 1}
    assert body["spans"][1] == {"kind": "phone", "start": 8, "end": 21, "text": "080-1111-2222"}
    refused = client.post("/v1/mask", json={"text": "x", "kinds": ["blood_type"]})
    assert refused.status_code == 422


# Hashes and ids are hex: a number inside a word is no phone number.
PHONE = re.compile(r"(?<![0-9A-Za-z])0[0-9]{1,4}[-(]?[0-9]{1,4}[-)]?[0-9]{4}(?![0-9A-Za-z])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
TWELVE_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9A-Za-z])")


def unmasked(text: str) -> list[str]:
    """Phone numbers, e-mail addresses and valid マイナンバー left in `text`, found by plain
    patterns independent of common.pii (full-width digits folded first)."""
    folded = unicodedata.normalize("NFKC", text)
    numbers = [
        match.group()
        for match in TWELVE_DIGITS.finditer(folded)
        if my_number_is_valid(re.sub(r"[^0-9]", "", match.group()))
    ]
    return PHONE.findall(folded) + EMAIL.findall(folded) + numbers


def sample_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_after_the_sample_tickets_go_through_the_api_no_phone_email_or_my_number_is_stored_or_logged(
    seeded_settings: Settings, triage_model_folder: Path
) -> None:
    seeded_settings.triage_model = triage_model_folder
    tickets = sample_rows(PROJECT_ROOT / "data" / "tickets" / "test.jsonl")
    resolved = sample_rows(PROJECT_ROOT / "data" / "exports" / "resolved-2026-08-to-11.jsonl")
    sent = "\n".join(row["subject"] + "\n" + row["body"] for row in tickets + resolved)
    assert len(unmasked(sent)) > 100  # the sample tickets do carry such data
    log = io.StringIO()
    configure_logging("INFO", True, seeded_settings.pii_policy)
    logging.getLogger().handlers[0].setStream(log)
    try:
        with TestClient(create_app(seeded_settings)) as client:
            for start in range(0, len(tickets), 100):
                batch = [
                    {"ticket_id": row["id"], "subject": row["subject"], "body": row["body"]}
                    for row in tickets[start : start + 100]
                ]
                assert client.post("/v1/classify/batch", json={"tickets": batch}).status_code == 200
            exported = [
                {
                    "ticket_id": row["id"],
                    "subject": row["subject"],
                    "body": row["body"],
                    "labels": {name: row[name] for name in ("type", "urgency", "impact", "queue")},
                }
                for row in resolved
            ]
            stored = client.post("/v1/tickets/resolved", json={"tickets": exported})
            assert stored.json()["stored"] == len(resolved)
            for row in tickets[:40]:
                feedback = {
                    "kind": "suggestion_handed_over",
                    "query": row["body"],
                    "actor": "窓口 山田 yamada@example.jp 03-1234-5678",
                }
                assert client.post("/v1/feedback", json=feedback).status_code == 201
            logging.getLogger("madoguchi.test").warning("callback failed for %s", sent[:2000])
    finally:
        logging.getLogger().handlers.clear()
    engine = create_database_engine(seeded_settings.database_url)
    written = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            if table.startswith("article"):  # the helpdesk's own published articles
                continue
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                written.extend(str(value) for value in row if isinstance(value, str))
    engine.dispose()
    assert len(written) > 1000
    assert unmasked("\n".join(written)) == []
    assert "callback failed" in log.getvalue()
    assert unmasked(log.getvalue()) == []


def test_log_lines_are_masked_and_api_keys_cut_to_their_id() -> None:
    formatter = MaskingFormatter(JsonFormatter(), PiiPolicy())
    record = logging.makeLogRecord(
        {"msg": "from 090-1234-5678 with mdg_0a1b2c3d4e5f_SECRETsecret-xyz", "levelname": "INFO"}
    )
    line = formatter.format(record)
    assert "090-1234-5678" not in line and "SECRETsecret" not in line
    assert "<PHONE>" in line and "mdg_0a1b2c3d4e5f_" in line
