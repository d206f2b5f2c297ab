// Shared by the console and the dashboard: the API key (kept for this browser tab only),
// calls that turn problem+json answers into readable errors, and the login form.

const KEY_STORAGE = "madoguchi.api_key";

export const authRequired = () => document.body.dataset.authRequired === "true";
const storedKey = () => sessionStorage.getItem(KEY_STORAGE) || "";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, answer && answer.detail);
  return answer;
}

const SCOPES = ["widget", "read", "write", "admin"];

// Resolves with the session ({scope, name, …}) once a key with `needed` scope is in hand;
// until then shows the login form in `main` (emptied again when the key is accepted).
export function login(needed, main) {
  return new Promise((resolve) => {
    const accept = (session) => {
      main.replaceChildren();
      if (session.name) {
        const tenant = session.tenant && session.tenant !== "default" ? ` · ${session.tenant}` : "";
        document.getElementById("who").textContent = `${session.name}（${session.scope}${tenant}）`;
      }
      resolve(session);
    };
    const showForm = (problem) => {
      main.innerHTML = `
        <form class="card login" id="login-form">
          <h2>ログイン</h2>
          <p class="muted">API キー（スコープ ${needed} 以上）を入力してください。キーはこのタブを閉じると消えます。</p>
          <label for="api-key">API キー</label>
          <input id="api-key" type="password" autocomplete="off" required placeholder="mdg_…">
          <div class="row"><button class="primary" type="submit">ログイン</button></div>
          <p class="status error" role="alert"></p>
        </form>`;
      main.querySelector(".status").textContent = problem || "";
      const form = main.querySelector("#login-form");
      form.querySelector("input").focus();
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const value = form.querySelector("input").value.trim();
        if (!value) return;
        sessionStorage.setItem(KEY_STORAGE, value);
        check();
      });
    };
    const check = async () => {
      if (!authRequired()) return accept({ auth_required: false, scope: "admin", name: null });
      if (!storedKey()) return showForm("");
      try {
        const session = await api("GET", "/v1/session");
        if (SCOPES.indexOf(session.scope) < SCOPES.indexOf(needed)) {
          throw new ApiError(403, `このキー（${session.name}）の権限は ${session.scope} です。${needed} 以上のキーが必要です。`);
        }
        accept(session);
      } catch (error) {
        sessionStorage.removeItem(KEY_STORAGE);
        showForm(error.status === 401 ? "キーが正しくないか、失効しています。" : error.message);
      }
    };
    check();
  });
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function formatJst(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat("ja-JP", {
    timeZone: "Asia/Tokyo", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
}

export function countdown(iso, now = Date.now()) {
  const left = Math.round((new Date(iso).getTime() - now) / 1000);
  const sign = left < 0 ? "超過 " : "残り ";
  let seconds = Math.abs(left);
  const days = Math.floor(seconds / 86400); seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
  const pad = (n) => String(n).padStart(2, "0");
  return { text: `${sign}${days ? `${days}日 ` : ""}${pad(hours)}:${pad(minutes)}:${pad(seconds)}`, late: left < 0 };
}
