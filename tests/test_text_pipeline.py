"""The Japanese text pipeline on messy, realistic input: normalisation, e-mail clean-up, tokens,
content words and language detection."""

import pytest

from common.text import (
    analyze,
    clean_email,
    content_words,
    detect_language,
    normalize,
    tokenize,
)

# --- normalisation -----------------------------------------------------------------------------

NORMALIZATION_CASES = [
    # (what a customer typed, what the pipeline must read)
    ("ﾊﾟｽﾜｰﾄﾞﾘｾｯﾄのﾒｰﾙが届きません", "パスワードリセットのメールが届きません"),
    ("ｶﾞｲﾄﾞに従ってｾｯﾄｱｯﾌﾟしました", "ガイドに従ってセットアップしました"),
    ("エラーコードはＥ－１０２３です", "エラーコードはE-1023です"),
    ("営業時間は９：００～１８：００ですか", "営業時間は9:00〜18:00ですか"),
    ("平日9:00〜18:00に電話します", "平日9:00〜18:00に電話します"),
    ("電話番号は０９０ー１２３４ー５６７８です", "電話番号は090-1234-5678です"),
    ("TEL：03−1234−5678", "TEL:03-1234-5678"),
    ("録音が止まります…😢", "録音が止まります…😢"),
    ("お知らせℹ️をご確認ください", "お知らせℹ️をご確認ください"),
    ("ありがとうございます🙇‍♀️🙏🏻", "ありがとうございます🙇‍♀️🙏🏻"),
    ("サーバーのメンテナンス", "サーバーのメンテナンス"),
    ("Ｚｏｏｍ　連携が　できない", "Zoom 連携が できない"),
    ("請求書の宛名を㈱サンプルに", "請求書の宛名を(株)サンプルに"),
    ("ｺﾞﾐ箱\u200bから復元\ufeffしたい", "ゴミ箱から復元したい"),
    ("1行目\r\n2行目\r\n\r\n\r\n\r\n3行目", "1行目\n2行目\n\n3行目"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZATION_CASES)
def test_normalize_reads_what_the_customer_meant(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(("raw", "_expected"), NORMALIZATION_CASES)
def test_normalize_is_idempotent(raw: str, _expected: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once


# --- e-mail clean-up -----------------------------------------------------------------------

SIGNATURE_WITH_RULES = """お世話になっております。
録音したファイルをアップロードするとE-1023が出ます。
mp4で1時間程度のファイルです。

よろしくお願いいたします。

━━━━━━━━━━━━━━━━━━
株式会社サンプル商事　総務部
山田　太郎
〒100-0001 東京都千代田区千代田1-1
TEL：０３－１２３４－５６７８
Mail: yamada@example.jp
━━━━━━━━━━━━━━━━━━"""

SIGNATURE_WITHOUT_RULES = """Koemoji サポートご担当者様

先月分の請求書（PDF）の宛名を「医療法人さくら会」に変更して再発行いただけますか。
経理の締めが25日なので、それまでにいただけると助かります。

何卒よろしくお願いいたします。

医療法人さくら会 事務局
佐藤 花子
TEL 06-6123-4567 / FAX 06-6123-4568
hanako.sato@sakura-kai.example.jp"""

RFC_SIGNATURE = """APIで429が返ってきます。Retry-Afterは見ています。
1分あたりの上限を教えてください。

--
Kenji Ito
Backend engineer, Example Tech Inc.
https://example-tech.example.com"""

OUTLOOK_REPLY = """承知しました。明日の朝もう一度試してみます。
それでもだめなら電話します。

________________________________
差出人: Koemoji サポート <support@koemoji.example>
送信日時: 2026年11月20日 10:00
宛先: 山田 太郎 <yamada@example.jp>
件名: RE: 録音について

山田様
お問い合わせありがとうございます。ブラウザのキャッシュを削除してお試しください。"""

ORIGINAL_MESSAGE = """Still broken after clearing the cache. Our whole sales team is blocked.

-----Original Message-----
From: Koemoji Support
Sent: Thursday, November 19, 2026 4:12 PM
Subject: RE: Teams integration

Please clear your browser cache and try again."""

JAPANESE_ORIGINAL_MESSAGE = """先ほどの件、Edgeでも同じでした。

-----元のメッセージ-----
差出人: Koemojiサポート
件名: Re: SSOログイン

Chromeでお試しいただけますでしょうか。"""

INLINE_REPLY = """ご確認ありがとうございます。回答をインラインで記載します。

2026年11月20日(金) 10:00 Koemojiサポート <support@koemoji.example>:
> 1. ブラウザは何をお使いですか？
Chromeです。
> 2. エラーコードは表示されますか？
E-1023と出ます。"""

GMAIL_REPLY_ENGLISH = """Thanks, that fixed it!

On Fri, Nov 20, 2026 at 10:00 AM Koemoji Support <support@koemoji.example> wrote:
> Please re-authorise the Zoom app from the integrations page.
> Regards, Koemoji Support"""

HTML_MAIL = """<html><head><style>p{margin:0}</style></head><body>
<p>お世話になります。</p><p>Teams連携で<b>E-3007</b>が出ます。<br>再認証しても直りません。</p>
<div class="gmail_quote">On Mon, Nov 16, 2026 Koemoji wrote:<blockquote>前回のご案内です。</blockquote></div>
</body></html>"""

OUTLOOK_HTML_MAIL = """<html><body><div>会議の自動参加が今朝から動きません。</div>
<div>部署全員（15名）が影響を受けています。</div>
<div id="appendonsend"></div><hr>
<div id="divRplyFwdMsg"><b>From:</b> Koemoji Support<br><b>Sent:</b> Monday</div>
</body></html>"""

MOBILE_CHAT = "録音止まった😭 どうすればいい？\n\niPhoneから送信"


@pytest.mark.parametrize(
    ("mail", "kept", "gone", "removed_kinds"),
    [
        (SIGNATURE_WITH_RULES, "E-1023が出ます", "yamada@example.jp", ["signature"]),
        (SIGNATURE_WITHOUT_RULES, "25日なので", "06-6123-4567", ["signature"]),
        (RFC_SIGNATURE, "1分あたりの上限", "Backend engineer", ["signature"]),
        (OUTLOOK_REPLY, "電話します", "キャッシュを削除", ["earlier_message"]),
        (
            ORIGINAL_MESSAGE,
            "whole sales team is blocked",
            "clear your browser",
            ["earlier_message"],
        ),
        (JAPANESE_ORIGINAL_MESSAGE, "Edgeでも同じでした", "Chromeでお試し", ["earlier_message"]),
        (INLINE_REPLY, "E-1023と出ます", "何をお使いですか", ["quoted_reply"]),
        (GMAIL_REPLY_ENGLISH, "that fixed it", "re-authorise", ["quoted_reply"]),
        (HTML_MAIL, "再認証しても直りません", "前回のご案内", ["quoted_reply"]),
        (OUTLOOK_HTML_MAIL, "部署全員(15名)", "Sent:", ["quoted_reply"]),
        (MOBILE_CHAT, "どうすればいい?", "iPhoneから送信", ["mobile_footer"]),
    ],
)
def test_clean_email_keeps_the_customers_words_and_drops_the_rest(
    mail: str, kept: str, gone: str, removed_kinds: list[str]
) -> None:
    cleaned = clean_email(mail)
    assert kept in cleaned.text
    assert gone not in cleaned.text
    assert [kind for kind, _ in cleaned.removed] == removed_kinds


def test_inline_answers_between_quotes_survive() -> None:
    cleaned = clean_email(INLINE_REPLY).text
    assert "Chromeです。" in cleaned
    assert "E-1023と出ます。" in cleaned
    assert "Koemojiサポート <support@koemoji.example>" not in cleaned


def test_html_mail_becomes_lines_of_text_without_markup() -> None:
    cleaned = clean_email(HTML_MAIL).text
    assert cleaned.splitlines() == [
        "お世話になります。",
        "Teams連携でE-3007が出ます。",
        "再認証しても直りません。",
    ]


def test_closing_words_right_above_a_signature_are_kept() -> None:
    cleaned = clean_email(SIGNATURE_WITHOUT_RULES).text
    assert cleaned.endswith("何卒よろしくお願いいたします。")
    assert "佐藤 花子" not in cleaned


def test_a_mail_that_is_only_a_quote_is_kept_rather_than_emptied() -> None:
    forwarded_only = "> 録音が消えました\n> 至急確認してください"
    assert clean_email(forwarded_only).text == normalize(forwarded_only)


def test_a_short_message_with_a_company_name_is_not_taken_for_a_signature() -> None:
    message = "株式会社サンプルの山田です。\nSSOでログインできません。"
    assert clean_email(message).text == message


def test_phone_memo_without_signature_is_left_alone() -> None:
    memo = (
        "お客様より入電。Teams会議の自動参加が昨日から動かないとのこと。\n折返し希望（14時以降）。"
    )
    assert clean_email(memo).text == normalize(memo)
    assert clean_email(memo).removed == []


# --- tokens and content words --------------------------------------------------------------


def test_tokens_carry_lemma_and_part_of_speech() -> None:
    tokens = tokenize("録音が途中で止まってしまいました")
    by_surface = {token.surface: token for token in tokens}
    assert by_surface["止まっ"].lemma == "止まる"
    assert by_surface["止まっ"].pos == "動詞"
    assert by_surface["録音"].pos == "名詞"


def test_half_width_katakana_is_tokenised_as_the_word_it_spells() -> None:
    assert "パスワード" in content_words("ﾊﾟｽﾜｰﾄﾞを忘れました")


def test_unidic_english_gloss_is_not_part_of_the_lemma() -> None:
    lemmas = {token.lemma for token in tokenize("アプリが落ちる")}
    assert "アプリ" in lemmas
    assert not any("-" in lemma for lemma in lemmas)


@pytest.mark.parametrize(
    ("text", "must_have", "must_not_have"),
    [
        (
            "Zoom連携の録画が取り込まれません",
            {"zoom", "連携", "録画", "取り込む"},
            {"の", "が", "ます"},
        ),
        ("SSOでサインインできないことがあります", {"sso", "サイン"}, {"こと", "出来る", "有る"}),
        ("請求書を再発行していただけますか", {"請求", "書", "発行"}, {"頂く", "為る", "を"}),
        ("山田様から議事録の件で連絡がありました", {"山田", "議事", "録", "連絡"}, {"様", "件"}),
        (
            "I cannot log in with SSO since this morning",
            {"sso", "log", "morning"},
            {"i", "with", "in"},
        ),
        ("エラーコード1023が表示された", {"エラー", "コード", "1023", "表示"}, {"た", "が"}),
    ],
)
def test_content_words_keep_topic_words_and_drop_grammar(
    text: str, must_have: set[str], must_not_have: set[str]
) -> None:
    words = set(content_words(text))
    assert must_have <= words, f"missing {must_have - words} in {words}"
    assert not (must_not_have & words), f"grammar words {must_not_have & words} kept"


# --- language ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("パスワードを忘れてしまいました。再設定の方法を教えてください。", "ja"),
        ("SSOでloginできない", "ja"),
        (
            'お世話になっております。\nTraceback (most recent call last):\n  File "sync.py", line 3\n'
            "KeyError: 'access_token'\nrequests.exceptions.HTTPError: 401 Client Error",
            "ja",
        ),
        ("I cannot log in with single sign-on since this morning.", "en"),
        ("Our invoice for October shows the wrong company name, please reissue it.", "en"),
        ("录音文件上传失败，显示错误E-1023，请问怎么解决？", "zh"),
        ("我们公司想要开具增值税发票，可以吗？", "zh"),
        ("회의록을 PDF로 내보내는 방법을 알려주세요.", "ko"),
        ("로그인이 안 돼요. 비밀번호를 바꿨는데도 안 됩니다.", "ko"),
        ("Bonjour, je ne peux pas me connecter à mon compte depuis hier.", "other"),
        ("E-1023", "other"),
    ],
)
def test_language_is_detected(text: str, language: str) -> None:
    assert detect_language(text).language == language


def test_language_of_an_email_is_judged_on_the_customers_words() -> None:
    mail = "Zoom連携が切れました。\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n" + (
        "Please re-authorise the app from the settings page. " * 10
    )
    assert analyze(mail).language.language == "ja"


def test_analyze_runs_the_whole_pipeline() -> None:
    analysis = analyze(SIGNATURE_WITH_RULES)
    assert analysis.language.language == "ja"
    assert "1023" in analysis.content_words
    assert "yamada" not in " ".join(analysis.content_words)
    assert "TEL:03-1234-5678" in analysis.normalized


# --- cases found by running the pipeline over the sample tickets ------------------------------


def test_phone_memo_lines_with_contact_details_are_content_not_a_signature() -> None:
    memo = (
        "お客様より入電。昨日削除した録音を戻したいとのこと。\n\n"
        "対象ユーザー:yamane.k@haruta.example.jp\n削除した時間:1/19 17時台(本人談)\n"
        "→エンジニアリングへ調査依頼。本日中に一次報告すると約束。折返し 03-0000-8841"
    )
    cleaned = clean_email(memo)
    assert "yamane.k@haruta.example.jp" in cleaned.text
    assert "折返し 03-0000-8841" in cleaned.text
    assert cleaned.removed == []


def test_web_form_fields_are_kept() -> None:
    form = (
        "Word書き出しで話者名が消えます。\n\n録音ID:rec_3b9d77e1\n【環境】PC(Windows11)、Edge\n"
        "(ちなみにPDFで書き出すとちゃんと名前が入っています)\n"
        "【お名前】株式会社フジミ電設 営業企画課 菅野\n【メール】kanno@fujimi.example.jp"
    )
    cleaned = clean_email(form).text
    assert "【環境】PC(Windows11)、Edge" in cleaned
    assert "PDFで書き出すとちゃんと名前が入っています" in cleaned


def test_english_sign_off_with_company_is_a_signature() -> None:
    mail = (
        "Our SAML login fails with E-4010 since the certificate rollover.\n\n"
        "Best regards,\nSarah Lindqvist\nIT Lead, Brightwater Analytics Japan G.K."
    )
    cleaned = clean_email(mail)
    assert cleaned.text.endswith("Best regards,")
    assert [kind for kind, _ in cleaned.removed] == ["signature"]


def test_name_and_address_under_a_blank_line_is_a_signature() -> None:
    mail = "請求に影響するかどうかだけ教えてください。\n\n相沢 ひかる\naizawa.hikaru@example.com"
    assert clean_email(mail).text == "請求に影響するかどうかだけ教えてください。"


def test_html_source_line_breaks_do_not_split_the_signature() -> None:
    html = (
        "<html><body><p>許可が必要なドメインを教えてください。</p><p>――――――――<br>\n"
        "ひまわり総合病院 医療情報部<br>\n石川 直樹<br>\nTEL 052-793-5110<br>\n――――――――</p>"
        "</body></html>"
    )
    assert clean_email(html).text == "許可が必要なドメインを教えてください。"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "我想升级到Standard，但是信用卡一直显示「決済に失敗しました」。请问你们支持银联卡吗？",
            "zh",
        ),
        ("결제하려고 하는데 「決済に失敗しました」라고 나옵니다. 카드를 바꿔야 하나요?", "ko"),
    ],
)
def test_a_quoted_japanese_error_does_not_make_the_message_japanese(
    text: str, language: str
) -> None:
    assert detect_language(text).language == language
