// The service's HTTP API as the viewer uses it: every request carries the API key,
// and every error becomes an ApiError whose message is the problem's title and detail.

const KEY_STORAGE = "mrnet.apiKey";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  } else {
    sessionStorage.removeItem(KEY_STORAGE);
  }
}

function withKey(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

async function problemMessage(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      const body = await response.json();
      if (body.title || body.detail) {
        return [body.title, body.detail].filter(Boolean).join(": ");
      }
    } catch {
      // not JSON after all: fall through to the status line
    }
  }
  const status = [response.status, response.statusText].filter(Boolean).join(" ");
  return `The service answered ${status}.`;
}

async function send(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: withKey(options.headers) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, `Could not reach the service (${error.message}).`);
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemMessage(response));
  }
  return response;
}

export async function getJson(path, signal) {
  return (await send(path, { signal })).json();
}

export async function getBlob(path, signal) {
  return (await send(path, { signal })).blob();
}

export async function postForm(path, form, signal) {
  return (await send(path, { method: "POST", body: form, signal })).json();
}

export function splitPath(dataset, split) {
  return `/v1/datasets/${encodeURIComponent(dataset)}/${encodeURIComponent(split)}`;
}

export function casePath(dataset, split, caseId) {
  return `${splitPath(dataset, split)}/cases/${encodeURIComponent(caseId)}`;
}
