// The agent console: classify a pasted or handed-over ticket, show every field with its
// confidence, alternatives and reasons, SLA countdowns, similar tickets and suggested articles;
// accept or correct a label and attach an article with one click (each sent as feedback).
import { api, countdown, escapeHtml, formatJst, login } from "/ui/common.js";

const FIELD_ORDER = ["type", "urgency", "impact", "queue"];
const main = document.getElementById("main");
let labels = {};      // field -> {display_name, values: {value: display_name}}
let session = null;
let current = null;   // {response, text}
let timer = null;

const displayName = (field, value) => (labels[field] && labels[field].values[value]) || value;

function say(element, message, isError = false) {
  element.textContent = message;
  element.classList.toggle("error", isError);
}

async function sendFeedback(event, done) {
  const status = document.getElementById("feedback-status");
  try {
    const stored = await api("POST", "/v1/feedback", { ...event, actor: session.name || "console" });
    say(status, `記録しました（フィードバック #${stored.id}）`);
    done && done(stored);
  } catch (error) {
    say(status, `記録できませんでした: ${error.message}`, true);
  }
}

function fieldCard(name, field) {
  const card = document.createElement("section");
  card.className = "field";
  card.dataset.field = name;
  const percent = Math.round(field.confidence * 100);
  const decided = field.decided_by.startsWith("rule") ? `<span class="badge rule">ルール</span>` : "";
  const badge = field.auto_apply
    ? `<span class="badge auto">自動適用</span>`
    : `<span class="badge review">要確認</span>`;
  card.innerHTML = `
    <h3>${escapeHtml((labels[name] && labels[name].display_name) || name)}</h3>
    <p class="value"><span class="current">${escapeHtml(displayName(name, field.value))}</span>${badge}${decided}</p>
    <div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${percent}"
         aria-label="${escapeHtml(name)} の確信度"><span style="width:${percent}%"></span></div>
    <p class="muted">確信度 ${percent}%${field.reason ? ` — ${escapeHtml(field.reason)}` : ""}</p>
    <div class="alternatives" role="group" aria-label="${escapeHtml(name)} を修正"></div>
    <div class="actions"><button type="button" class="accept">この値で確定</button></div>`;
  const alternatives = card.querySelector(".alternatives");
  const values = Object.keys((labels[name] && labels[name].values) || {});
  const confidences = Object.fromEntries(field.alternatives.map((a) => [a.value, a.confidence]));
  const ordered = [...field.alternatives.map((a) => a.value), ...values.filter((v) => !(v in confidences))];
  for (const value of ordered) {
    if (value === field.value) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.value = value;
    const share = value in confidences ? ` ${Math.round(confidences[value] * 100)}%` : "";
    button.textContent = `${displayName(name, value)}${share}`;
    button.setAttribute("aria-label", `${displayName(name, value)} に修正`);
    button.addEventListener("click", () => {
      const previous = card.dataset.value || field.value;
      sendFeedback(
        { kind: "label_corrected", ticket_id: current.response.ticket_id, field: name, value, previous_value: previous },
        () => {
          card.dataset.value = value;
          card.querySelector(".current").textContent = `${displayName(name, value)}（修正済み）`;
          card.classList.add("accepted");
        },
      );
    });
    alternatives.append(button);
  }
  card.querySelector(".accept").addEventListener("click", () => {
    const value = card.dataset.value || field.value;
    sendFeedback({ kind: "label_accepted", ticket_id: current.response.ticket_id, field: name, value }, () => {
      card.classList.add("accepted");
      card.querySelector(".accept").disabled = true;
      card.querySelector(".accept").textContent = "確定済み";
    });
  });
  return card;
}

function renderCountdowns() {
  for (const element of document.querySelectorAll("[data-due]")) {
    const { text, late } = countdown(element.dataset.due);
    element.textContent = text;
    element.classList.toggle("late", late);
  }
}

function render(response, articles) {
  const result = document.getElementById("result");
  result.replaceChildren();
  const sla = response.sla;
  const priority = response.priority.value || "—";
  const head = document.createElement("section");
  head.className = "card";
  head.innerHTML = `
    <h2>優先度と SLA <span class="muted">（${escapeHtml(response.ticket_id)}）</span></h2>
    <div class="priority">
      <span class="p ${escapeHtml(priority)}" aria-label="優先度 ${escapeHtml(priority)}">${escapeHtml(priority)}</span>
      <div>
        <div>初回回答 ${sla.first_response_due ? `${formatJst(sla.first_response_due)} <span class="countdown" data-due="${sla.first_response_due}"></span>` : "期限なし"}</div>
        <div>解決 ${sla.resolution_due ? `${formatJst(sla.resolution_due)} <span class="countdown" data-due="${sla.resolution_due}"></span>` : "期限なし"}</div>
        <div class="muted">プラン ${escapeHtml(sla.plan)}${sla.note ? ` — ${escapeHtml(sla.note)}` : ""}</div>
      </div>
      <div class="muted">エスカレーション: ${response.escalation_path.map(escapeHtml).join(" → ") || "—"}</div>
    </div>
    ${response.major_incident.possible_major_incident ? `<p class="status error">大規模障害の可能性: ${response.major_incident.window_minutes} 分以内に似たチケットが ${response.major_incident.similar_in_window} 件</p>` : ""}`;
  result.append(head);

  const fields = document.createElement("section");
  fields.className = "card";
  fields.innerHTML = `<h2>分類</h2><div class="fields"></div>`;
  const names = [...FIELD_ORDER.filter((n) => n in response.fields), ...Object.keys(response.fields).filter((n) => !FIELD_ORDER.includes(n))];
  for (const name of names) fields.querySelector(".fields").append(fieldCard(name, response.fields[name]));
  result.append(fields);

  const reasons = document.createElement("section");
  reasons.className = "card";
  reasons.innerHTML = `<h2>判断の理由</h2><ul class="plain">${response.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>`;
  result.append(reasons);

  const similar = document.createElement("section");
  similar.className = "card";
  similar.innerHTML = `<h2>似た未解決チケット</h2>` + (response.similar_tickets.length
    ? `<ul class="plain">${response.similar_tickets.map((s) => `<li>${escapeHtml(s.subject)} <span class="muted">${escapeHtml(s.ticket_id)} · ${escapeHtml(displayName("type", s.type))} · ${escapeHtml(s.priority)} · 類似度 ${s.similarity.toFixed(2)}</span></li>`).join("")}</ul>`
    : `<p class="muted">ありません。</p>`);
  result.append(similar);

  const suggestions = document.createElement("section");
  suggestions.className = "card";
  suggestions.innerHTML = `<h2>おすすめの記事</h2>`;
  if (!articles || !articles.articles.length) {
    suggestions.innerHTML += `<p class="muted">${articles ? "合う記事がありません。" : "記事を検索できませんでした。"}</p>`;
  } else {
    const list = document.createElement("ul");
    list.className = "plain";
    for (const article of articles.articles) {
      const item = document.createElement("li");
      item.dataset.articleId = article.id;
      item.innerHTML = `<a href="${escapeHtml(article.url)}" target="_blank" rel="noopener">${escapeHtml(article.title)}</a>
        <span class="muted">${escapeHtml(article.id)}</span>
        <p class="snippet">${article.snippet}</p>
        <button type="button" class="attach">この記事を添付</button>`;
      item.querySelector(".attach").addEventListener("click", (event) => {
        sendFeedback({ kind: "article_attached", ticket_id: response.ticket_id, article_id: article.id, query: current.text.slice(0, 2000) }, () => {
          event.target.disabled = true;
          event.target.textContent = "添付済み";
        });
      });
      list.append(item);
    }
    suggestions.append(list);
    suggestions.insertAdjacentHTML("beforeend", `<p class="muted">回答の判断: ${articles.decision === "answer" ? "記事で回答できます" : "担当者の対応が必要です"}（確信度 ${Math.round(articles.confidence * 100)}%）</p>`);
  }
  result.append(suggestions);
  renderCountdowns();
  clearInterval(timer);
  timer = setInterval(renderCountdowns, 1000);
}

async function classify(ticket) {
  const status = document.getElementById("form-status");
  say(status, "分類しています…");
  document.getElementById("classify").disabled = true;
  try {
    const text = `${ticket.subject}\n${ticket.body}`.trim();
    const [response, articles] = await Promise.all([
      api("POST", "/v1/classify", ticket),
      api("POST", "/v1/suggest", { text: text.slice(0, 5000), top_k: 3 }).catch(() => null),
    ]);
    current = { response, text };
    render(response, articles);
    // on a phone the result sits below the form: bring it into view
    if (window.matchMedia("(max-width: 760px)").matches) document.getElementById("result").scrollIntoView();
    say(status, `分類しました（モデル ${response.model_version}）`);
  } catch (error) {
    say(status, `分類できませんでした: ${error.message}`, true);
  } finally {
    document.getElementById("classify").disabled = false;
  }
}

async function loadHandoffs() {
  const list = document.getElementById("handoffs");
  try {
    const { handoffs } = await api("GET", "/v1/handoffs?limit=10");
    list.replaceChildren();
    if (!handoffs.length) list.innerHTML = `<li class="muted">まだありません。</li>`;
    for (const ticket of handoffs) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.innerHTML = `<strong>${escapeHtml(ticket.priority || "—")}</strong> ${escapeHtml(ticket.message.slice(0, 60))}
        <br><span class="muted">${escapeHtml(ticket.name)} &lt;${escapeHtml(ticket.email)}&gt; · ${formatJst(ticket.created_at)}</span>`;
      button.addEventListener("click", () => {
        const form = document.getElementById("ticket-form");
        form.subject.value = (ticket.question || "").slice(0, 80);
        form.body.value = ticket.message;
        form.channel.value = "chat";
        if (ticket.plan) form.plan.value = ticket.plan;
        form.requestSubmit();
      });
      item.append(button);
      list.append(item);
    }
  } catch (error) {
    list.innerHTML = `<li class="status error">${escapeHtml(error.message)}</li>`;
  }
}

async function start() {
  session = await login("write", main);
  main.append(document.getElementById("console-template").content.cloneNode(true));
  // Focus the first field at once, before anything is fetched: keystrokes typed right after
  // logging in must not land on the page.
  document.getElementById("subject").focus();
  const plans = document.body.dataset.plans.split(",").filter(Boolean);
  const select = document.getElementById("plan");
  for (const plan of plans) {
    const option = new Option(plan, plan, false, plan === document.body.dataset.defaultPlan);
    select.append(option);
  }
  try {
    const answer = await api("GET", "/v1/labels");
    labels = Object.fromEntries(answer.fields.map((f) => [f.field, {
      display_name: f.display_name,
      values: Object.fromEntries(f.values.map((v) => [v.value, v.display_name])),
    }]));
  } catch (error) {
    say(document.getElementById("form-status"), `ラベルを読めませんでした: ${error.message}`, true);
  }
  document.getElementById("ticket-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const body = form.body.value.trim();
    if (!body) {
      say(document.getElementById("form-status"), "本文を入力してください", true);
      form.body.focus();
      return;
    }
    classify({ subject: form.subject.value.trim(), body, plan: form.plan.value, channel: form.channel.value });
  });
  loadHandoffs();
}

start();
