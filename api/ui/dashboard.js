// The dashboard: volumes by type and priority per day (stacked bars drawn as SVG in the page),
// auto-apply share, deflection and hand-over, SLA deadlines at risk, knowledge gaps.
import { api, escapeHtml, formatJst, login } from "/ui/common.js";

const main = document.getElementById("main");
const PALETTE = ["#0b5cad", "#2e7d32", "#d35400", "#8e24aa", "#00838f", "#c62828", "#6d4c41", "#607d8b", "#f9a825"];
const PRIORITY_COLOURS = { P1: "#b00020", P2: "#d35400", P3: "#0b5cad", P4: "#607d8b", none: "#9e9e9e" };
let names = {};

function percent(share) {
  return share.share === null ? "—" : `${Math.round(share.share * 1000) / 10}%`;
}

function kpi(label, number, sub) {
  return `<div class="kpi"><div class="label">${escapeHtml(label)}</div><div class="number">${escapeHtml(number)}</div><div class="sub">${escapeHtml(sub)}</div></div>`;
}

// A stacked bar chart: one bar per day, one colour per key; a table beside it for screen readers.
function stackedBars(container, days, pick, keys, colour, labelOf, title) {
  const width = 560, height = 220, left = 34, bottom = 26, top = 10;
  const totals = days.map((day) => keys.reduce((sum, key) => sum + (pick(day)[key] || 0), 0));
  const max = Math.max(1, ...totals);
  const step = (width - left - 6) / Math.max(1, days.length);
  const barWidth = Math.max(3, step * 0.7);
  const y = (value) => top + (height - top - bottom) * (1 - value / max);
  const parts = [];
  for (const tick of [0, Math.ceil(max / 2), max]) {
    parts.push(`<line x1="${left}" x2="${width}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e5ea"/>`);
    parts.push(`<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">${tick}</text>`);
  }
  days.forEach((day, index) => {
    let base = 0;
    const x = left + index * step + (step - barWidth) / 2;
    for (const key of keys) {
      const value = pick(day)[key] || 0;
      if (!value) continue;
      parts.push(`<rect x="${x}" y="${y(base + value)}" width="${barWidth}" height="${y(base) - y(base + value)}" fill="${colour(key)}"><title>${escapeHtml(day.date)} ${escapeHtml(labelOf(key))}: ${value}</title></rect>`);
      base += value;
    }
    if (days.length <= 16 || index % Math.ceil(days.length / 10) === 0) {
      parts.push(`<text x="${x + barWidth / 2}" y="${height - 8}" text-anchor="middle">${escapeHtml(day.date.slice(5).replace("-", "/"))}</text>`);
    }
  });
  const legend = keys.map((key) => `<span><i style="background:${colour(key)}"></i>${escapeHtml(labelOf(key))}</span>`).join("");
  const rows = days.map((day) => `<tr><th scope="row">${escapeHtml(day.date)}</th>${keys.map((key) => `<td>${pick(day)[key] || 0}</td>`).join("")}</tr>`).join("");
  container.innerHTML = `
    <svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeHtml(title)}">${parts.join("")}</svg>
    <div class="legend">${legend}</div>
    <div class="sr-only"><table><caption>${escapeHtml(title)}</caption><tr><th>日付</th>${keys.map((k) => `<th>${escapeHtml(labelOf(k))}</th>`).join("")}</tr>${rows}</table></div>`;
}

function render(data) {
  document.getElementById("window").textContent = `${formatJst(data.since)} 〜 ${formatJst(data.until)}（JST）`;
  document.getElementById("kpis").innerHTML = [
    kpi("分類したチケット", `${data.tickets}`, `${data.window_days} 日間`),
    kpi("自動適用の割合（項目）", percent(data.auto_apply_decisions),
      Object.entries(data.auto_apply_by_field).map(([field, share]) => `${(names.__fields && names.__fields[field]) || field} ${percent(share)}`).join(" · ")
      + ` ／ 全項目 ${percent(data.auto_apply)}`),
    kpi("自己解決率（ディフレクション）", percent(data.deflection), `「解決しました」${data.deflection.count} / ${data.deflection.out_of} 会話`),
    kpi("担当者への引き継ぎ率", percent(data.handover), `引き継ぎ ${data.handover.count} / ${data.handover.out_of} 会話`),
    kpi("SLA リスク", `${data.sla_due_soon + data.sla_passed}`, `${data.due_soon_hours} 時間以内 ${data.sla_due_soon} · 期限超過 ${data.sla_passed}`),
  ].join("");
  const types = [...new Set(data.volumes.flatMap((d) => Object.keys(d.by_type)))].sort();
  const typeColour = (key) => PALETTE[types.indexOf(key) % PALETTE.length];
  stackedBars(document.getElementById("by-type"), data.volumes, (d) => d.by_type, types, typeColour,
    (key) => (names.type && names.type[key]) || key, "種別ごとの件数（日別）");
  const priorities = [...new Set(data.volumes.flatMap((d) => Object.keys(d.by_priority)))].sort();
  stackedBars(document.getElementById("by-priority"), data.volumes, (d) => d.by_priority, priorities,
    (key) => PRIORITY_COLOURS[key] || "#9e9e9e", (key) => key, "優先度ごとの件数（日別）");

  const risk = document.getElementById("at-risk");
  risk.innerHTML = data.sla_at_risk.length
    ? `<table><tr><th>期限</th><th>状態</th><th>優先度</th><th>件名</th></tr>${data.sla_at_risk.map((item) => `
        <tr><td>${formatJst(item.due)}<br><span class="muted">${item.clock === "first_response" ? "初回回答" : "解決"}</span></td>
        <td>${item.state === "passed" ? `<span class="badge review">超過</span>` : `<span class="badge rule">間近</span>`}</td>
        <td>${escapeHtml(item.priority)}</td><td>${escapeHtml(item.subject)}<br><span class="muted">${escapeHtml(item.ticket_id)}</span></td></tr>`).join("")}</table>`
    : `<p class="muted">${data.due_soon_hours} 時間以内に期限が来るチケットはありません。</p>`;

  const gaps = data.knowledge_gaps;
  const gapList = gaps.gaps.length
    ? `<ol>${gaps.gaps.map((gap) => `<li><strong>${gap.keywords.map(escapeHtml).join("、")}</strong> <span class="muted">${gap.size} 件（直近30日 ${gap.recent} 件）· 最も近い記事 ${escapeHtml(gap.nearest_article || "—")}</span>${gap.representatives.length ? `<br><span class="muted">例: ${escapeHtml(gap.representatives[0])}</span>` : ""}</li>`).join("")}</ol>
       <p class="muted">集計: ${formatJst(gaps.generated_at)}（<code>madoguchi kb-gaps</code> で更新）</p>`
    : `<p class="muted">まだ集計していません。<code>madoguchi kb-gaps</code> を実行すると、記事で解決できなかったチケットのまとまりがここに出ます。</p>`;
  const questions = gaps.handed_over_questions.length
    ? `<h3 style="font-size:13px;margin:10px 0 4px">最近担当者に引き継がれた質問</h3><ul class="plain">${gaps.handed_over_questions.map((q) => `<li>${escapeHtml(q)}</li>`).join("")}</ul>`
    : "";
  document.getElementById("gaps").innerHTML = gapList + questions;
}

async function load() {
  const days = document.getElementById("days").value;
  try {
    render(await api("GET", `/v1/dashboard?days=${days}`));
  } catch (error) {
    document.getElementById("kpis").innerHTML = `<p class="status error" role="alert">${escapeHtml(error.message)}</p>`;
  }
}

async function start() {
  await login("read", main);
  main.append(document.getElementById("dashboard-template").content.cloneNode(true));
  try {
    const answer = await api("GET", "/v1/labels");
    names = Object.fromEntries(answer.fields.map((f) => [f.field, Object.fromEntries(f.values.map((v) => [v.value, v.display_name]))]));
    names.__fields = Object.fromEntries(answer.fields.map((f) => [f.field, f.display_name]));
  } catch {
    names = {};
  }
  document.getElementById("days").addEventListener("change", load);
  await load();
  document.body.dataset.loaded = "true";
}

start();
