"""Screenshots of the chat widget, the agent console and the dashboard, desktop (1280 px) and
phone (375 px) wide, for docs/screenshots/ (`make screenshots`).

It serves a copy of the built service (var/: the database and search index `make run` built,
and the champion model), sends it two weeks of sample traffic through the API (sample test
tickets classified, widget conversations answered or handed over), finds knowledge gaps, then
photographs the pages in headless Chromium."""

import json
import random
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx2
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_server import CHROMIUM_ARGS, chromium_path, live_server  # noqa: E402

from common.settings import Settings  # noqa: E402
from triage.similar import JST  # noqa: E402

QUESTION = "ﾊﾟｽﾜｰﾄﾞわすれました。ﾛｸﾞｲﾝできないです。再設定のﾒｰﾙもまだきてないです"
TICKET = (
    "お世話になっております。本日朝から全社で録音が開始できません。E-5000 が表示されます。"
    "午後に役員会があるため至急対応をお願いします。\n\n--\n株式会社サンプル 情報システム部"
)


def _served_copy(folder: Path) -> Settings:
    built = Settings()
    if not (built.state_dir / "madoguchi.db").is_file():
        raise SystemExit("run `make build` (or `make run`) first: nothing built in var/")
    state = folder / "state"
    state.mkdir()
    shutil.copy(built.state_dir / "madoguchi.db", state / "madoguchi.db")
    shutil.copytree(built.index_dir, state / "index")
    return Settings(
        state_dir=state, encoder_cache_file=built.encoder_cache_file, auth_required=False
    )


def _send_traffic(url: str, settings: Settings) -> None:
    random.seed(7)
    now = datetime.now(JST)
    rows = [json.loads(line) for line in (settings.data_dir / "tickets" / "test.jsonl").open()]
    tickets = []
    for row in rows[:160]:
        day = random.choices(range(14), weights=[5, 6, 6, 5, 4, 4, 5, 5, 6, 4, 3, 3, 4, 4])[0]
        created = (now - timedelta(days=day)).replace(
            hour=random.randint(8, 19), minute=random.randint(0, 59)
        )
        created = min(created, now - timedelta(minutes=5))
        tickets.append({
            "ticket_id": row["id"], "subject": row.get("subject", ""), "body": row["body"],
            "channel": row.get("channel", "email"), "created_at": created.isoformat(),
        })  # fmt: skip
    with httpx2.Client(base_url=url, timeout=120) as client:
        client.post("/v1/classify/batch", json={"tickets": tickets}).raise_for_status()
        queries = [
            json.loads(line) for line in (settings.data_dir / "queries" / "queries.jsonl").open()
        ]
        for query in queries[:60]:
            answer = client.post("/v1/suggest", json={"text": query["text"]}).json()
            if answer["decision"] == "answer" and random.random() < 0.8:
                client.post("/v1/feedback", json={"kind": "suggestion_answered", "query": query["text"],
                            "article_id": answer["articles"][0]["id"]}).raise_for_status()  # fmt: skip
            elif random.random() < 0.5:
                client.post("/v1/handoff", json={"name": "テスト 利用者", "email": "user@example.jp",
                            "message": query["text"][:300]}).raise_for_status()  # fmt: skip
    from cli.records_commands import knowledge_gaps

    knowledge_gaps(settings, None, True, False)


def _photograph(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for name, viewport in (("desktop", (1280, 860)), ("mobile", (375, 760))):
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                locale="ja-JP",
                timezone_id="Asia/Tokyo",
                device_scale_factor=1,
            )
            page = context.new_page()
            page.goto(f"{url}/demo")
            page.get_by_role("button", name="お困りですか？").click()
            page.get_by_label("ご質問").type(QUESTION, delay=20)
            page.locator("#madoguchi-widget ol.articles li").first.wait_for()
            page.wait_for_timeout(400)
            page.screenshot(path=out / f"widget-{name}.png")
            if name == "desktop":
                page.get_by_role("button", name="担当者に相談する").click()
                page.get_by_label("お名前").fill("山田 花子")
                page.get_by_label("メールアドレス").fill("hanako.yamada@example.jp")
                page.get_by_role("button", name="送信する").click()
                page.locator("#madoguchi-widget .ticket").wait_for()
                page.screenshot(path=out / "widget-handoff-desktop.png")
            page.goto(f"{url}/console")
            page.get_by_label("本文（メールやチャットをそのまま貼り付けられます）").fill(TICKET)
            page.get_by_role("button", name="分類する").click()
            page.locator(".field").first.wait_for()
            page.wait_for_timeout(1200)
            page.screenshot(path=out / f"console-{name}.png", full_page=True)
            page.goto(f"{url}/console/dashboard")
            page.wait_for_selector("body[data-loaded=true]")
            page.screenshot(path=out / f"dashboard-{name}.png", full_page=True)
            context.close()
        browser.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        settings = _served_copy(Path(folder))
        with live_server(settings) as url:
            _send_traffic(url, settings)
            _photograph(url, out)
    for path in sorted(out.glob("*.png")):
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
