"""Rules that overrule the triage model: an outage, a leak or lost data is critical, recorded
with the rule's id and reason; a what-if, a question or a resolved incident is not; a rules file
that names a value outside the label lists is refused."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from common.labels import LabelSet
from common.settings import PROJECT_ROOT, Settings
from triage.classifier import prepare_text, ticket_text
from triage.model import apply_rules
from triage.rules import DEFAULT_RULES_FILE, RuleBook, sentences

LABELS = LabelSet.from_file(Settings().labels_file)
RULES = RuleBook.from_file(label_set=LABELS)
CLASSES = {name: LABELS.values(name) for name in ("type", "urgency", "impact", "queue")}


def model_says_low_urgency_how_to() -> dict[str, np.ndarray]:
    """A model that reads every ticket as a calm how-to question for the frontline."""

    def leaning(field: str, value: str) -> np.ndarray:
        row = np.full(len(CLASSES[field]), 0.05)
        row[CLASSES[field].index(value)] = 1.0
        return row / row.sum()

    return {
        "type": leaning("type", "how_to"),
        "urgency": leaning("urgency", "low"),
        "impact": leaning("impact", "individual"),
        "queue": leaning("queue", "frontline"),
    }


def triage(text: str) -> dict:
    return apply_rules(
        CLASSES,
        model_says_low_urgency_how_to(),
        RULES.decisions(prepare_text(text)),
        thresholds={},
        rule_precision={"service-outage": {"urgency": 0.9}},
    )


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        (
            "【至急】今朝から全社員がSSOでログインできません（E-4010）。約300名です。",
            "service-outage",
        ),
        (
            "8:40 入電\n・院内のどの端末からも Koemoji に接続できない\n・10時から会議",
            "service-outage",
        ),
        (
            "Since 9:00 everyone in our office cannot log in. The whole company is blocked.",
            "service-outage",
        ),
        ("顧客との面談記録が外部に流出しています。至急対応をお願いします。", "security-incident"),
        (
            "管理者アカウントが乗っ取られ、見覚えのないユーザーが招待されています。",
            "security-incident",
        ),
        ("社用のiPadが盗まれました。Koemojiにログインしたままです。", "stolen-device"),
        ("昨日の取締役会の録音が一覧から消えました。ゴミ箱にもありません。", "data-loss"),
        ("ｱｯﾌﾟﾃﾞｰﾄ後に看護部の文字起こしデータが消失しています", "data-loss"),
        # Chinese (simplified and traditional), Korean and English tickets arrive too
        ("从今天早上开始，所有同事都登录不了，显示E-5000。", "service-outage"),
        ("今天下午全公司都無法使用，客戶會議馬上要開始了。", "service-outage"),
        ("오늘 아침부터 직원 전원이 로그인이 안 됩니다.", "service-outage"),
        ("我们的会议录音被泄露到了外部网站上。", "security-incident"),
        ("관리자 계정이 탈취되었습니다. 모르는 API 키가 생성되어 있습니다.", "security-incident"),
        (
            "Any API key can read transcripts of other workspaces: a cross-tenant leak.",
            "security-incident",
        ),
        ("昨天的会议录音全部不见了，回收站里也没有。", "data-loss"),
        ("어제 녹음한 회의 파일이 사라졌습니다.", "data-loss"),
    ],
)
def test_an_incident_ticket_is_made_critical_by_its_rule(text: str, rule_id: str) -> None:
    urgency = triage(text)["urgency"]
    assert urgency.value == "critical"
    assert urgency.decided_by == f"rule:{rule_id}"
    assert urgency.top_value == "low" and urgency.model_decision == "low"
    assert "/" in urgency.reason and "「" in urgency.reason  # Japanese / English, with evidence


def test_a_security_incident_also_routes_to_security() -> None:
    fields = triage("不正アクセスの形跡があります。海外のIPから管理者でログインされています。")
    assert fields["type"].value == "security" and fields["queue"].value == "security"
    assert fields["type"].decided_by == "rule:security-incident"
    assert fields["impact"].decided_by == "model"  # a rule only decides what it sets


def test_a_rule_decision_carries_the_rules_measured_precision_as_confidence() -> None:
    urgency = triage("全員ログインできない状態です。")["urgency"]
    assert urgency.confidence == 0.9


@pytest.mark.parametrize(
    "text",
    [
        "もしサービスが停止したら、全員ログインできなくなりますか？",
        "障害時の連絡先を教えてください。全員が使えない場合の手順を知りたいです。",
        "来月サービス停止予定と聞きました。全社で使えない時間帯はありますか",
        "録音が消えたら復元できますか？",
        "情報漏えいを防ぐための設定を教えてください。",
        "朝から全員ログインできない状態でしたが、先ほど復旧しました。",
        "先日の障害で全員使えなかった分、返金はありますか。",
        "見覚えのないログインがないか確認する方法はありますか",
        "このままだと来週から誰もログインできません。設定を確認してください。",
        "如果服务器停止，所有同事都登录不了吗？",
        "她以前有过个人信息被泄露的经历，所以很担心。",
        "만약 서버가 멈추면 직원 전원이 로그인이 안 되나요?",
        "오전에 모든 직원이 로그인이 안 되었는데 지금은 복구되었습니다.",
    ],
)
def test_a_hypothetical_question_or_resolved_incident_fires_no_rule(text: str) -> None:
    assert RULES.matches(prepare_text(text)) == []
    assert triage(text)["urgency"].decided_by == "model"


def test_conditions_must_meet_in_one_sentence() -> None:
    text = "全員に共有したいのでご相談です。\n\n別件ですが、私だけログインできない日がありました"
    assert RULES.matches(prepare_text(text)) == []


def test_sentences_split_on_japanese_stops_line_breaks_and_bullets() -> None:
    assert sentences("止まりました。再起動しても駄目です\n・全員 ・10時から") == [
        "止まりました。",
        "再起動しても駄目です",
        "・全員",
        "・10時から",
    ]


def test_a_rules_file_setting_a_value_outside_the_label_lists_is_refused(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    document["rules"][0]["set"] = {"urgency": "emergency"}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="emergency"):
        RuleBook.from_file(path, label_set=LABELS)


def test_a_rule_naming_an_unknown_negation_is_refused(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    document["rules"][0]["unless"] = ["sarcasm"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="sarcasm"):
        RuleBook.from_file(path, label_set=LABELS)


def test_on_the_sample_training_tickets_the_rules_are_mostly_right_about_critical() -> None:
    """A guard against a rule edit that makes the rules fire everywhere: on train, at least
    three in four tickets a rule calls critical are labelled critical, and the rules find at
    least 40 % of the critical tickets on their own."""
    lines = (PROJECT_ROOT / "data" / "tickets" / "train.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in lines.splitlines()]
    fired = [
        bool(RULES.decisions(prepare_text(ticket_text(row["subject"], row["body"]))))
        for row in rows
    ]
    critical = [row["urgency"] == "critical" for row in rows]
    hits = sum(f and c for f, c in zip(fired, critical, strict=True))
    assert hits / sum(fired) >= 0.75
    assert hits / sum(critical) >= 0.40
