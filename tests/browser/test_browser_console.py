"""The agent console and the dashboard in real headless Chromium: log in with a key, classify a
pasted ticket, correct a label (the feedback row exists), accept one, attach an article; the
dashboard draws its charts; both fit 375 px."""

from conftest import Site

TICKET = (
    "お世話になっております。本日朝から全社で録音が開始できません。E-5000 が表示されます。"
    "至急対応をお願いします。\n\n--\n株式会社サンプル 情報システム部 佐藤"
)


def _log_in(page, site: Site, path: str) -> None:  # noqa: ANN001
    page.goto(f"{site.url}{path}")
    page.get_by_label("API キー").fill(site.keys["write"])
    page.keyboard.press("Enter")


def test_an_agent_corrects_a_label_and_the_feedback_row_exists(page, site: Site) -> None:  # noqa: ANN001
    _log_in(page, site, "/console")
    page.get_by_label("本文（メールやチャットをそのまま貼り付けられます）").fill(TICKET)
    page.get_by_role("button", name="分類する").click()
    type_card = page.locator('.field[data-field="type"]')
    type_card.wait_for()
    predicted = type_card.locator(".current").inner_text()
    assert page.locator(".priority .p").inner_text() in {"P1", "P2", "P3", "P4"}
    assert page.locator(".countdown").first.inner_text().startswith(("残り", "超過"))
    ticket_id = page.locator("#result h2 .muted").inner_text().strip("（）")

    correction = type_card.locator(".alternatives button").first
    corrected_to = correction.get_attribute("data-value")
    correction.click()
    page.get_by_text("記録しました").wait_for()
    rows = [
        event
        for event in site.records.feedback_events("label_corrected")
        if event.ticket_id == ticket_id
    ]
    assert [(row.field, row.value) for row in rows] == [("type", corrected_to)]
    assert rows[0].previous_value != corrected_to and predicted.strip()
    assert "修正済み" in type_card.locator(".current").inner_text()

    page.locator('.field[data-field="impact"] .accept').click()
    page.wait_for_function(
        "() => document.querySelector('.field[data-field=impact] .accept').disabled"
    )
    accepted = site.records.feedback_events("label_accepted")
    assert any(row.ticket_id == ticket_id and row.field == "impact" for row in accepted)

    page.locator(".attach").first.click()
    page.wait_for_function("() => document.querySelector('.attach').disabled")
    attached = site.records.feedback_events("article_attached")
    assert any(row.ticket_id == ticket_id for row in attached)


def test_the_console_keyboard_only_classifies_a_ticket(page, site: Site) -> None:  # noqa: ANN001
    # The label names arrive after the form is shown; hold them back until the ticket is typed, so
    # that a late answer moving the focus (keystrokes landing in the wrong field) shows up here.
    held_label_requests = []
    page.route("**/v1/labels", lambda route: held_label_requests.append(route))
    _log_in(page, site, "/console")
    page.wait_for_function("() => document.activeElement?.id === 'subject'")  # focused at login
    page.keyboard.type("請求書の宛名変更")
    page.keyboard.press("Tab")
    page.keyboard.type("来月から請求書の宛名を新しい社名に変えてください。")
    assert len(held_label_requests) == 1
    with page.expect_request("**/v1/handoffs*"):  # asked for once the labels are in
        held_label_requests[0].continue_()
    page.unroute("**/v1/labels")
    assert page.evaluate("() => document.activeElement.id") == "body"
    assert page.locator("#subject").input_value() == "請求書の宛名変更"
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "classify":
            break
    assert page.evaluate("() => document.activeElement.id") == "classify"
    page.keyboard.press("Enter")
    page.locator('.field[data-field="queue"]').wait_for()


def test_the_dashboard_draws_its_charts_and_figures(page, site: Site) -> None:  # noqa: ANN001
    _log_in(page, site, "/console/dashboard")
    page.wait_for_selector("body[data-loaded=true]")
    assert page.locator("#by-type svg rect").count() > 0
    assert page.locator("#by-priority svg rect").count() > 0
    figures = page.locator(".kpi").all_inner_texts()
    assert any("自動適用" in figure for figure in figures)
    assert any("ディフレクション" in figure for figure in figures)
    page.get_by_label("期間").select_option("7")
    page.wait_for_timeout(300)
    assert "7 日間" in page.locator(".kpi").first.inner_text()


def test_console_and_dashboard_fit_a_phone(phone_page, site: Site) -> None:  # noqa: ANN001
    page = phone_page
    for path in ("/console", "/console/dashboard"):
        page.goto(f"{site.url}{path}")
        if page.get_by_label("API キー").count():
            page.get_by_label("API キー").fill(site.keys["write"])
            page.keyboard.press("Enter")
        page.locator(".grid, .kpis").first.wait_for()
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 375, path
