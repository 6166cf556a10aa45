// The login page: POST /api/login with the operator token (empty: the client certificate).

const form = document.getElementById("login-form") as HTMLFormElement;
const input = document.getElementById("token") as HTMLInputElement;
const error = document.getElementById("login-error") as HTMLElement;
const submit = document.getElementById("login-submit") as HTMLButtonElement;

function showError(message: string): void {
  error.textContent = message;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

/** Where to go after login: the page that sent us here when it is one of ours. */
function next(): string {
  const target = new URLSearchParams(window.location.search).get("next") ?? "/";
  return target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  submit.disabled = true;
  try {
    const resp = await fetch("/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: input.value.trim() }),
    });
    if (resp.ok) {
      window.location.assign(next());
      return;
    }
    let message = `Sign-in failed (${resp.status}).`;
    try {
      const body = await resp.json();
      if (body.message) message = body.message;
    } catch {
      // Keep the status line.
    }
    showError(message);
  } catch (e) {
    showError(`The manager cannot be reached: ${(e as Error).message}`);
  } finally {
    submit.disabled = false;
  }
});

input.focus();
