// The REST API: bearer token, and problem+json errors whose `detail` is what the operator reads.

const TOKEN_KEY = "kerbside.console.token";

/** A refusal or failure, with the server's sentence as the message. */
export class ApiError extends Error {
  constructor(message, { status = 0, problem = {} } = {}) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

export const auth = {
  // Per tab, gone when it closes: a console is often a shared screen.
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  onLoggedOut: () => {},
};

/** "?a=1&b=2" from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function send(path, { method = "GET", json, form, accept = "application/json" } = {}) {
  // Revalidate (ETags make it cheap): the zones feed says max-age=10, the console wants now.
  const init = { method, headers: { Accept: accept }, cache: "no-cache" };
  if (auth.token) init.headers.Authorization = `Bearer ${auth.token}`;
  if (form) init.body = new URLSearchParams(form);
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError("The server cannot be reached; check the connection and try again.");
  }
  if (response.ok) return response;
  const body = (response.headers.get("Content-Type") || "").includes("json")
    ? await response.json().catch(() => null)
    : null;
  const detail =
    body && typeof body.detail === "string"
      ? body.detail
      : `The server answered ${response.status} ${response.statusText}.`.replace(" .", ".");
  if (response.status === 401 && auth.token) {
    auth.token = null;
    auth.onLoggedOut(detail);
  }
  throw new ApiError(detail, { status: response.status, problem: body || {} });
}

/** Call the API; resolves to the JSON body (null for 204), rejects with an ApiError. */
export async function call(path, options = {}) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  return response.json();
}

/** The body as text (CSV). */
export async function text(path) {
  const response = await send(path, { accept: "text/csv, */*" });
  return response.text();
}

/** Fetch with the token and hand the file to the browser's downloads. */
export async function download(path, filename) {
  const response = await send(path, { accept: "text/csv, */*" });
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Read a small CSV (no quoted commas in our exports) into objects keyed by the header. */
export function parseCsv(body) {
  const lines = body.trim().split(/\r?\n/).filter(Boolean);
  if (lines.length === 0) return [];
  const header = lines[0].split(",");
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ""]));
  });
}
