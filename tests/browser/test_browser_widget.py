"""The chat widget on the demo help page, in real headless Chromium, by keyboard only: a
question brings the right article, 「解決しました」 is recorded; asking for a person collects
a contact and shows the ticket's priority and when to expect a reply; it fits a phone."""

import re

from conftest import Site, record_figure

# sample chat questions (data/queries) and the article that answers each (relevance 3)
QUESTIONS = [
    (
        "登録しようとしたけど確認メールがいつまでたっても来ないです。会社のメアドで登録してます",
        "kb-0001",
    ),
    ("ﾊﾟｽﾜｰﾄﾞわすれました。ﾛｸﾞｲﾝできないです。再設定のﾒｰﾙもまだきてないです", "kb-0002"),
    ("やばい昨日の役員会の議事録、まちがえて消しちゃった。。もどせる？？", "kb-0031"),
    ("Slackの非公開ﾁｬﾝﾈﾙに議事録を流したいのに、投稿先えらぶとこに出てこない", "kb-0015"),
    ("解約って月の途中でもできますか？残った日数の分は返金してもらえるんでしょうか", "kb-0026"),
]
COLLECT_SUGGESTIONS = """
window.__suggestions = [];
document.addEventListener("madoguchi:suggestions", (event) => window.__suggestions.push(event.detail));
"""
TYPING_DELAY_MS = 40  # between keystrokes: under the widget's 150 ms pause, as a person types


def _focused_text(page) -> str:  # noqa: ANN001 - a Playwright page
    return page.evaluate(
        "() => { const root = document.getElementById('madoguchi-widget').shadowRoot;"
        " return root.activeElement ? root.activeElement.textContent.trim() : ''; }"
    )


def _tab_to(page, text: str, limit: int = 20) -> None:  # noqa: ANN001
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused_text(page) == text:
            return
    raise AssertionError(f"Tab never reached the button {text!r}")


def _ask(page, question: str) -> dict:  # noqa: ANN001
    """Type a question into the open widget; the suggestions it shows for the whole text."""
    seen = page.evaluate("() => window.__suggestions.length")
    page.keyboard.type(question, delay=TYPING_DELAY_MS)
    page.wait_for_function(f"() => window.__suggestions.length > {seen}")
    page.wait_for_timeout(250)  # a later keystroke's suggestions replace earlier ones
    return page.evaluate("() => window.__suggestions[window.__suggestions.length - 1]")


def test_a_question_brings_the_right_article_and_solved_is_recorded(page, site: Site) -> None:  # noqa: ANN001
    page.add_init_script(COLLECT_SUGGESTIONS)
    page.goto(f"{site.url}/demo")
    page.keyboard.press("Tab")
    assert _focused_text(page) == "お困りですか？"
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="サポート窓口")
    assert dialog.is_visible()
    question, article = QUESTIONS[0]
    shown = _ask(page, question)
    assert article in shown["articles"], shown
    link = page.locator(f'#madoguchi-widget li[data-article-id="{article}"] a')
    assert link.get_attribute("href").endswith(f"/articles/{article}")
    assert page.locator("#madoguchi-widget mark").count() > 0  # matched terms marked
    record_figure("widget: first suggestion after typing stops", shown["latencyMs"])

    _tab_to(page, "解決しました")
    page.keyboard.press("Enter")
    page.get_by_text("お役に立ててよかったです").wait_for()
    answered = site.records.feedback_events("suggestion_answered")
    assert answered and answered[-1].query == question
    assert answered[-1].article_id == shown["articles"][0]

    record_figure("widget: answering article among the 3 shown (1 = yes)", 1)
    for question, article in QUESTIONS[1:]:
        page.keyboard.press("Escape")  # closes the panel, focus back on the launcher
        page.keyboard.press("Enter")
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        shown = _ask(page, question)
        # measured, not asserted: retrieval quality has its own evaluation (eval retrieval)
        record_figure("widget: first suggestion after typing stops", shown["latencyMs"])
        record_figure(
            "widget: answering article among the 3 shown (1 = yes)", article in shown["articles"]
        )


def test_asking_for_a_person_creates_a_ticket_with_priority_and_due_time(
    page,
    site: Site,  # noqa: ANN001
) -> None:
    page.add_init_script(COLLECT_SUGGESTIONS)
    page.goto(f"{site.url}/demo")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.type("本日朝から全社で録音が開始できません。E-5000 が出ます")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__suggestions.length > 0")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.type("担当者と話したいです")
    page.keyboard.press("Enter")  # asks for a person: the contact form opens, name focused
    page.keyboard.type("山田 花子")
    page.keyboard.press("Tab")
    page.keyboard.type("hanako.yamada@example.jp")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("全社で録音が開始できず、会議が記録できません。至急お願いします。")
    _tab_to(page, "送信する")
    page.keyboard.press("Enter")
    ticket = page.locator("#madoguchi-widget .ticket")
    ticket.wait_for()
    text = ticket.inner_text()
    assert re.search(r"優先度: P[1-4]", text), text
    assert re.search(r"担当者より .+ までにご連絡します", text), text
    ticket_id = ticket.get_attribute("data-ticket-id")
    kept = {handoff.ticket_id: handoff for handoff in site.records.handoffs(limit=10)}
    assert kept[ticket_id].email == "hanako.yamada@example.jp"
    assert kept[ticket_id].priority in text


def test_the_widget_fits_a_phone_and_talks_english_on_an_english_page(
    phone_page,
    site: Site,  # noqa: ANN001
) -> None:
    page = phone_page
    page.goto(f"{site.url}/demo")
    page.get_by_role("button", name="お困りですか？").click()
    panel = page.get_by_role("dialog").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 375
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 375
    page.evaluate("() => { document.getElementById('madoguchi-widget').remove(); }")
    english = f"""<!doctype html><html lang="en"><body><p>Help</p>
        <script src="{site.url}/widget.js" data-key="{site.keys["widget"]}"></script></body></html>"""
    page.route(f"{site.url}/english-help", lambda route: route.fulfill(
        body=english, content_type="text/html"))  # fmt: skip
    page.goto(f"{site.url}/english-help")
    page.get_by_role("button", name="Need help?").click()
    assert page.get_by_role("dialog", name="Support").is_visible()
    assert page.get_by_role("button", name="Talk to a person").is_visible()
