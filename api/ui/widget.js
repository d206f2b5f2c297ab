/* madoguchi chat widget: one script tag puts a help chat on any page.
 *
 *   <script src="https://madoguchi.example.jp/widget.js" data-key="mdg_…" defer></script>
 *
 * data-key   a `widget` API key (madoguchi keys create --scope widget); leave out when the
 *            service runs without authentication
 * data-plan  the SLA plan of tickets handed over from this page (default: the service's)
 * data-lang  ja or en (default: the page's <html lang>)
 * data-api   the service's address (default: where this script was loaded from)
 *
 * The customer types; suggested articles appear as they stop typing; they answer
 * 「解決しました / 解決しません」 (sent as feedback); when no article fits, or they ask for a
 * person, a form collects name, e-mail and message and creates a ticket through triage, and the
 * widget says when to expect the reply. Plain JavaScript, no build step, styles kept inside a
 * shadow root so the page's CSS and the widget's never meet.
 *
 * The host element fires `madoguchi:suggestions` (detail: {latencyMs, decision, articles}) each
 * time suggestions are shown; latencyMs runs from the last keystroke to the suggestions on screen.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || document.getElementById("madoguchi-widget")) return;

  const DEBOUNCE_MS = 150;
  const MIN_CHARS = 2;
  const ASKS_FOR_PERSON =
    /(担当者|担当の方|オペレーター?|人と話|人間と|有人|窓口の方|電話で話|talk to (a |an )?(person|human|agent)|speak to (a |an )?(person|human|agent)|real person|operator)/i;

  const TEXT = {
    ja: {
      open: "お困りですか？",
      title: "サポート窓口",
      close: "閉じる",
      intro: "ご質問を入力してください。入力に合わせて関連する記事をお探しします。",
      askLabel: "ご質問",
      placeholder: "例: 録音がアップロードできません",
      send: "送信",
      searching: "お探ししています…",
      found: (count) => `関連する記事が ${count} 件見つかりました。`,
      none: "お探しの内容に合う記事が見つかりませんでした。",
      handoffHint: "ぴったりの記事が見つからないかもしれません。担当者におつなぎできます。",
      matched: "一致した語",
      question: "この記事で解決しましたか？",
      solved: "解決しました",
      notSolved: "解決しません",
      thanks: "お役に立ててよかったです。ほかにご質問があれば入力してください。",
      sorry: "お役に立てず申し訳ありません。担当者におつなぎします。",
      person: "担当者に相談する",
      formTitle: "担当者への問い合わせ",
      name: "お名前",
      email: "メールアドレス",
      message: "お問い合わせ内容",
      submit: "送信する",
      cancel: "キャンセル",
      sending: "送信しています…",
      created: (id) => `お問い合わせを受け付けました（受付番号 ${id}）。`,
      priority: (p) => `優先度: ${p}`,
      dueBy: (when) => `担当者より ${when} までにご連絡します。`,
      noSla: "担当者より順次ご連絡します（ご契約のプランには回答時間の目安がありません）。",
      failed: "送信できませんでした。",
      unavailable: "ただいま記事を検索できません。しばらくしてからお試しください。",
      required: "入力してください",
      link: "記事を開く",
    },
    en: {
      open: "Need help?",
      title: "Support",
      close: "Close",
      intro: "Type your question; we look for articles that answer it as you type.",
      askLabel: "Your question",
      placeholder: "e.g. My recording will not upload",
      send: "Send",
      searching: "Searching…",
      found: (count) => `${count} article${count === 1 ? "" : "s"} found.`,
      none: "No article matches your question.",
      handoffHint: "We may not have an article for this. A person can help you.",
      matched: "Matched",
      question: "Did this solve your problem?",
      solved: "Yes, solved",
      notSolved: "No, not solved",
      thanks: "Glad it helped. Ask anything else here.",
      sorry: "Sorry it did not help. A person will take it from here.",
      person: "Talk to a person",
      formTitle: "Contact a person",
      name: "Name",
      email: "E-mail",
      message: "Message",
      submit: "Send",
      cancel: "Cancel",
      sending: "Sending…",
      created: (id) => `We have your request (number ${id}).`,
      priority: (p) => `Priority: ${p}`,
      dueBy: (when) => `A person will reply by ${when}.`,
      noSla: "A person will reply as soon as possible (your plan has no reply-time target).",
      failed: "Could not send.",
      unavailable: "Articles cannot be searched right now. Please try again shortly.",
      required: "Please fill this in",
      link: "Open the article",
    },
  };

  const pageLanguage = (script.dataset.lang || document.documentElement.lang || "ja").toLowerCase();
  const lang = pageLanguage.startsWith("ja") ? "ja" : "en";
  const t = TEXT[lang];
  const apiBase = (script.dataset.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  const key = script.dataset.key || "";
  const plan = script.dataset.plan || "";

  const STYLE = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, "Hiragino Sans", "Noto Sans CJK JP", "Noto Sans JP", "Yu Gothic", sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 999px;
      padding: 12px 20px; background: #0b5cad; color: #fff; font-size: 15px; font-weight: 600; cursor: pointer;
      box-shadow: 0 4px 14px rgba(0,0,0,.25); }
    .launcher:focus-visible, button:focus-visible, a:focus-visible, textarea:focus-visible, input:focus-visible {
      outline: 3px solid #f5a623; outline-offset: 2px; }
    .panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483001; width: 380px; max-height: min(640px, calc(100vh - 40px));
      display: flex; flex-direction: column; background: #fff; color: #1d1d1f; border-radius: 12px;
      box-shadow: 0 10px 40px rgba(0,0,0,.3); overflow: hidden; font-size: 14px; line-height: 1.6; }
    .panel[hidden] { display: none; }
    header { display: flex; align-items: center; justify-content: space-between; padding: 10px 14px; background: #0b5cad; color: #fff; }
    header h2 { margin: 0; font-size: 16px; }
    .close { background: transparent; color: #fff; border: 0; font-size: 22px; line-height: 1; cursor: pointer; padding: 4px 8px; }
    .body { padding: 12px 14px; overflow-y: auto; flex: 1; }
    .intro { margin: 0 0 8px; color: #444; }
    label { display: block; font-weight: 600; margin: 6px 0 2px; }
    textarea, input { width: 100%; padding: 8px; border: 1px solid #8a8a8f; border-radius: 6px; font-size: 15px; }
    textarea { resize: vertical; min-height: 56px; }
    .row { display: flex; gap: 8px; margin-top: 8px; flex-wrap: wrap; }
    button.primary, button.secondary { border-radius: 6px; padding: 8px 14px; font-size: 14px; cursor: pointer; }
    button.primary { background: #0b5cad; color: #fff; border: 1px solid #0b5cad; }
    button.secondary { background: #fff; color: #0b5cad; border: 1px solid #0b5cad; }
    .status { margin: 8px 0 0; color: #333; min-height: 1.2em; }
    .status.error { color: #b00020; }
    ol.articles { list-style: none; margin: 8px 0 0; padding: 0; }
    ol.articles li { border: 1px solid #dcdce0; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; }
    ol.articles a { color: #0b5cad; font-weight: 600; text-decoration: underline; }
    .snippet { margin: 4px 0 0; color: #333; font-size: 13px; }
    mark { background: #ffe58a; color: inherit; padding: 0 1px; }
    .terms { margin: 2px 0 0; font-size: 12px; color: #555; }
    .verdict { margin-top: 4px; }
    .verdict p { margin: 0; font-weight: 600; }
    .hint { background: #fff4e5; border-left: 4px solid #f5a623; padding: 6px 8px; margin-top: 8px; }
    form.handoff { border-top: 1px solid #dcdce0; margin-top: 10px; padding-top: 6px; }
    form.handoff h3 { margin: 4px 0; font-size: 15px; }
    .ticket { background: #eef6ee; border-left: 4px solid #2e7d32; padding: 8px 10px; margin-top: 10px; }
    .ticket p { margin: 2px 0; }
    .person-row { border-top: 1px solid #eee; padding: 8px 14px; background: #fafafa; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    @media (max-width: 480px) {
      .panel { right: 0; bottom: 0; width: 100vw; max-height: 100vh; height: 100vh; border-radius: 0; }
      .launcher { right: 12px; bottom: 12px; }
    }`;

  const host = document.createElement("div");
  host.id = "madoguchi-widget";
  host.setAttribute("lang", lang);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>${STYLE}</style>
    <button class="launcher" type="button" aria-expanded="false" aria-controls="mdg-panel"></button>
    <section class="panel" id="mdg-panel" role="dialog" aria-labelledby="mdg-title" hidden>
      <header><h2 id="mdg-title"></h2><button class="close" type="button">×</button></header>
      <div class="body">
        <p class="intro"></p>
        <form class="ask" novalidate>
          <label for="mdg-question"></label>
          <textarea id="mdg-question" rows="2" autocomplete="off"></textarea>
          <div class="row"><button class="primary send" type="submit"></button></div>
        </form>
        <div class="results" aria-live="polite"></div>
        <div class="verdict" hidden>
          <p></p>
          <div class="row"><button class="primary solved" type="button"></button><button class="secondary not-solved" type="button"></button></div>
        </div>
        <form class="handoff" hidden novalidate>
          <h3></h3>
          <label for="mdg-name"></label><input id="mdg-name" name="name" autocomplete="name" required>
          <label for="mdg-email"></label><input id="mdg-email" name="email" type="email" autocomplete="email" required>
          <label for="mdg-message"></label><textarea id="mdg-message" name="message" rows="3" required></textarea>
          <div class="row"><button class="primary" type="submit"></button><button class="secondary cancel" type="button"></button></div>
        </form>
        <p class="status" role="status"></p>
      </div>
      <div class="person-row"><button class="secondary person" type="button"></button></div>
    </section>`;
  const $ = (selector) => root.querySelector(selector);
  const launcher = $(".launcher");
  const panel = $(".panel");
  const question = $("#mdg-question");
  const results = $(".results");
  const verdict = $(".verdict");
  const handoffForm = $("form.handoff");
  const status = $(".status");

  launcher.textContent = t.open;
  $("#mdg-title").textContent = t.title;
  $(".close").setAttribute("aria-label", t.close);
  $(".intro").textContent = t.intro;
  $("label[for=mdg-question]").textContent = t.askLabel;
  question.placeholder = t.placeholder;
  $(".send").textContent = t.send;
  verdict.querySelector("p").textContent = t.question;
  $(".solved").textContent = t.solved;
  $(".not-solved").textContent = t.notSolved;
  handoffForm.querySelector("h3").textContent = t.formTitle;
  $("label[for=mdg-name]").textContent = t.name;
  $("label[for=mdg-email]").textContent = t.email;
  $("label[for=mdg-message]").textContent = t.message;
  handoffForm.querySelector("button[type=submit]").textContent = t.submit;
  $(".cancel").textContent = t.cancel;
  $(".person").textContent = t.person;

  let lastInputAt = 0;
  let debounce = null;
  let inFlight = null;
  let shown = null; // {query, articles, decision}

  function headers() {
    const sent = { "Content-Type": "application/json" };
    if (key) sent.Authorization = `Bearer ${key}`;
    return sent;
  }

  async function call(path, body) {
    const response = await fetch(`${apiBase}${path}`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.detail || `${response.status}`);
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  function say(message, isError = false) {
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    question.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  function render(query, answer, startedAt) {
    results.replaceChildren();
    shown = { query, articles: answer.articles, decision: answer.decision };
    const summary = document.createElement("p");
    summary.className = "sr-only";
    summary.textContent = answer.articles.length ? t.found(answer.articles.length) : t.none;
    results.append(summary);
    if (answer.articles.length) {
      const list = document.createElement("ol");
      list.className = "articles";
      for (const article of answer.articles) {
        const item = document.createElement("li");
        item.dataset.articleId = article.id;
        const link = document.createElement("a");
        link.href = article.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = article.title;
        link.setAttribute("aria-label", `${article.title}（${t.link}）`);
        const snippet = document.createElement("p");
        snippet.className = "snippet";
        snippet.innerHTML = article.snippet; // HTML-escaped by the service; matches in <mark>
        item.append(link, snippet);
        if (article.matched_terms.length) {
          const terms = document.createElement("p");
          terms.className = "terms";
          terms.textContent = `${t.matched}: ${article.matched_terms.join("、")}`;
          item.append(terms);
        }
        list.append(item);
      }
      results.append(list);
    }
    if (answer.decision === "handoff") {
      const hint = document.createElement("p");
      hint.className = "hint";
      hint.textContent = t.handoffHint;
      results.append(hint);
    }
    verdict.hidden = answer.articles.length === 0;
    const latencyMs = Math.round(performance.now() - startedAt);
    host.dataset.lastLatencyMs = String(latencyMs);
    host.dispatchEvent(
      new CustomEvent("madoguchi:suggestions", {
        bubbles: true,
        composed: true,
        detail: { latencyMs, decision: answer.decision, articles: answer.articles.map((a) => a.id) },
      }),
    );
  }

  async function suggest(startedAt) {
    const query = question.value.trim();
    if (query.length < MIN_CHARS) {
      results.replaceChildren();
      verdict.hidden = true;
      shown = null;
      return null;
    }
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(`${apiBase}/v1/suggest`, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({ text: query, top_k: 3 }),
        signal: controller.signal,
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.detail || `${response.status}`);
      if (controller.signal.aborted || query !== question.value.trim()) return null;
      say("");
      render(query, answer, startedAt);
      return answer;
    } catch (error) {
      if (error.name !== "AbortError") say(t.unavailable, true);
      return null;
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        results.setAttribute("aria-busy", "false");
      }
    }
  }

  function showHandoff(reason) {
    handoffForm.hidden = false;
    verdict.hidden = true;
    const message = $("#mdg-message");
    if (!message.value) message.value = question.value.trim();
    if (reason) say(reason);
    $("#mdg-name").focus();
  }

  function hideHandoff() {
    handoffForm.hidden = true;
    question.focus();
  }

  function feedback(kind, articleId) {
    if (!shown) return Promise.resolve(null);
    const event = { kind, query: shown.query };
    if (articleId) event.article_id = articleId;
    return call("/v1/feedback", event).catch((error) => {
      say(`${t.failed} ${error.message}`, true);
      return null;
    });
  }

  function formatDue(iso) {
    const when = new Date(iso);
    return new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
      timeZone: "Asia/Tokyo",
      month: "long",
      day: "numeric",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
    }).format(when) + (lang === "ja" ? "" : " JST");
  }

  launcher.addEventListener("click", open);
  $(".close").addEventListener("click", close);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });

  question.addEventListener("input", () => {
    lastInputAt = performance.now();
    clearTimeout(debounce);
    const startedAt = lastInputAt;
    debounce = setTimeout(() => suggest(startedAt), DEBOUNCE_MS);
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("form.ask").requestSubmit();
    }
  });
  $("form.ask").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(debounce);
    const text = question.value.trim();
    if (!text) return;
    if (ASKS_FOR_PERSON.test(text)) {
      showHandoff(t.sorry);
      return;
    }
    const answer = await suggest(performance.now());
    if (answer && answer.decision === "handoff") showHandoff(t.handoffHint);
  });

  $(".solved").addEventListener("click", async () => {
    const top = shown && shown.articles[0];
    const stored = await feedback("suggestion_answered", top && top.id);
    if (stored) {
      verdict.hidden = true;
      say(t.thanks);
      question.focus(); // the button just pressed is gone; keep the keyboard user in the chat
    }
  });
  $(".not-solved").addEventListener("click", async () => {
    const top = shown && shown.articles[0];
    if (top) await feedback("article_dismissed", top.id);
    showHandoff(t.sorry);
  });
  $(".person").addEventListener("click", () => showHandoff(""));
  $(".cancel").addEventListener("click", hideHandoff);

  handoffForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = ["name", "email", "message"].map((name) => handoffForm.elements[name]);
    for (const field of fields) {
      const missing = !field.value.trim() || !field.checkValidity();
      field.setAttribute("aria-invalid", String(missing));
      if (missing) {
        say(`${field.labels[0].textContent}: ${t.required}`, true);
        field.focus();
        return;
      }
    }
    const [name, email, message] = fields.map((field) => field.value.trim());
    const body = { name, email, message, page_url: location.href, language: lang };
    if (shown && shown.query && shown.query !== message) body.question = shown.query;
    if (plan) body.plan = plan;
    say(t.sending);
    try {
      const ticket = await call("/v1/handoff", body);
      handoffForm.hidden = true;
      handoffForm.reset();
      const card = document.createElement("div");
      card.className = "ticket";
      card.dataset.ticketId = ticket.ticket_id;
      for (const line of [
        t.created(ticket.ticket_id),
        ticket.priority ? t.priority(ticket.priority) : null,
        ticket.first_response_due ? t.dueBy(formatDue(ticket.first_response_due)) : t.noSla,
      ]) {
        if (!line) continue;
        const paragraph = document.createElement("p");
        paragraph.textContent = line;
        card.append(paragraph);
      }
      results.replaceChildren(card);
      verdict.hidden = true;
      say("");
      card.setAttribute("tabindex", "-1");
      card.focus();
    } catch (error) {
      say(`${t.failed} ${error.message}`, true);
    }
  });

  const mount = () => document.body.append(host);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
